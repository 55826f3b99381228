#!/usr/bin/env bash
# The README's main job: a fictional user (examples/user.toml: profile,
# writing history, private facts, activity log) and one writing task, run
# with every strategy side by side; then what left the device, from the
# audit log. MODEL is a GGUF path or hf://OWNER/REPO/FILE.gguf; it plays
# both roles here (same weights, different conditioning: the local model
# sees the context, the cloud only the public instruction). Set CLOUD to
# another model (path, hf:// or local:PATH, or an OpenAI-compatible URL)
# to use a separate cloud model.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: build/demo.sh MODEL}"
cloud="${CLOUD:-local:$model}"
out="${DEMO_OUT:-demo-out}"
mkdir -p "$out"
audit="$out/audit.jsonl"
rm -f "$audit"

# Fetch (or find) the model once, with a clear message when offline.
bin/cogen model info "$model" >/dev/null

task="Write a short newsletter for the bakery's spring menu that mentions Olav the sourdough starter turning twelve and hints at the plans for a second bakery in Bodø."
echo "Task (private: it names two private facts): $task"
echo
# Fusion max: at each token the fused distribution leans on whichever
# model is surer, so the heat maps show where each model led.
for s in llm slm sketch logits speculative; do
	echo "== strategy $s"
	bin/cogen --log-level warn generate --strategy "$s" --slm "$model" --llm "$cloud" \
		--user examples/user.toml --max-tokens 96 --cloud-max-tokens 96 --seed 1 --fusion max \
		--audit "$audit" --trace "$out/trace-$s.html" "$task" 2>&1 | grep -v '^audit: '
	echo
done
echo "== what the cloud saw"
echo "(slm sent nothing: the local model wrote alone)"
bin/cogen --log-level warn audit seen "$audit" --slm "$model" --user examples/user.toml
echo
echo "== every request that left the device (bin/cogen audit show $audit)"
bin/cogen audit show "$audit"
bin/cogen audit verify "$audit"
echo
echo "Per-token heat maps (red: the local model led, blue: the cloud; hover for both models' top choices):"
for s in slm sketch logits speculative; do
	[ -f "$out/trace-$s.html" ] && echo "  $out/trace-$s.html"
done

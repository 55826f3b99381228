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

task="Write a short newsletter for the bakery's spring menu: mention that Olav the sourdough starter turns twelve and hint at the plans for a second bakery in Bodø."
echo "Task (private: names a private fact): $task"
echo
for s in llm slm sketch logits speculative; do
	echo "== strategy $s"
	bin/cogen generate --strategy "$s" --slm "$model" --llm "$cloud" \
		--user examples/user.toml --max-tokens 96 --cloud-max-tokens 96 --seed 1 \
		--audit "$audit" --trace "$out/trace-$s.html" "$task" 2>&1 | grep -v '^audit: '
	echo
done
echo "== what left the device (bin/cogen audit show $audit)"
bin/cogen audit show "$audit" | tail -n 12
bin/cogen audit verify "$audit"
echo "Per-token heat map of the logits run: $out/trace-logits.html"

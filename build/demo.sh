#!/usr/bin/env bash
# The README's main job: run cogen on a model. MODEL is a GGUF path or an
# hf://OWNER/REPO/FILE.gguf reference (downloaded once into the cache).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: build/demo.sh MODEL}"

echo "== cogen model info $model"
bin/cogen model info "$model"
echo
echo "== cogen generate (greedy, 64 tokens)"
bin/cogen generate --slm "$model" --max-tokens 64 "Write one sentence about keeping notes private:"

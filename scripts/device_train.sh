#!/usr/bin/env bash
# Train a model from scratch on a borrowed GPU in one command, and bring it back.
#
# Through the session's device tool (the corpus and tokenizer are ignored paths, so they are carried):
#   run(command="bash scripts/device_train.sh", timeout_s=600,
#       carry=["runs/corpus4/train.jsonl.gz", "runs/corpus4/valid.jsonl.gz", "runs/tokenizer.json"])
# or by hand on any CUDA machine: OUT=runs/device-out bash scripts/device_train.sh
#
# CONFIG (default engine/train/configs/gpu_d384.json) runs for its time_budget_minutes of wall clock
# (torch.compile and validation included), the learning rate annealed over that budget; extra
# arguments go to engine.train.train (e.g. --max-steps 50 for a smoke run). Under $OUT: gpu.txt,
# train.log, log.jsonl (the learning curve), config.json (with tokens_seen), model_from.txt and the fp16 weights in
# pieces of at most 15 MB (the device tool brings back files of at most 16 MiB). Rebuild the model
# folder here with:
#   mkdir -p runs/gpu && cp DIR/config.json runs/gpu/ && cat DIR/model.safetensors.part* > runs/gpu/model.safetensors \
#     && cp runs/tokenizer.json runs/gpu/
# If the run dies before its end, the newest snapshot (written every checkpoint_minutes) comes back instead.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
CONFIG=${CONFIG:-engine/train/configs/gpu_d384.json}
OUT=${OUT:?set OUT to the folder the results go to}
RUN=${RUN:-/tmp/dg-lsp-run}
mkdir -p "$OUT"
for f in $(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['corpus']+'/train.jsonl.gz', c['corpus']+'/valid.jsonl.gz', c['tokenizer'])" "$CONFIG"); do
  [ -f "$f" ] || { echo "missing $f: build the corpus and carry it (see the top of this script)" >&2; exit 2; }
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, tokenizers, safetensors; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'tokenizers', tokenizers.__version__)" \
  | tee -a "$OUT/gpu.txt" || exit 2
python3 -m engine.train.train --config "$CONFIG" --out "$RUN" --device cuda "$@" 2>&1 | tee "$OUT/train.log"
rc=${PIPESTATUS[0]}
cp "$RUN/log.jsonl" "$OUT/" 2>/dev/null
model="$RUN/final"
[ -f "$model/model.safetensors" ] || model=$(ls -d "$RUN"/snapshot-* 2>/dev/null | sort | tail -1)
if [ -n "$model" ] && [ -f "$model/model.safetensors" ]; then
  cp "$model/config.json" "$OUT/"
  echo "$model" > "$OUT/model_from.txt"  # final, or the snapshot it fell back to
  split -b 15000000 -d "$model/model.safetensors" "$OUT/model.safetensors.part"
else
  echo "no model was written" >&2
fi
exit "$rc"

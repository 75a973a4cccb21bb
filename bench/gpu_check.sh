#!/usr/bin/env bash
# GPU check (issue 17), for a machine with an NVIDIA GPU; CPU-only machines cannot run it.
#   1. bench/train_throughput.py for ViT-B-32 at 224 px in bf16: rsvl vs open_clip_train.main on
#      the same generated shards and batch, plus the raw step limit and rsvl fp32;
#   2. a 50-step FSDP smoke run of rsvl's trainer on every GPU (train/configs/accelerate-fsdp.yaml);
# and prints samples/s and peak GPU memory (nvidia-smi sampled every 0.5 s) of each part.
#     bash bench/gpu_check.sh                 # BATCH=128 STEPS=50 OUT=bench/results/gpu_check
# Results: OUT/throughput.json, OUT/fsdp/log.jsonl, OUT/summary.txt (what it prints).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/results/gpu_check}
BATCH=${BATCH:-128}
STEPS=${STEPS:-50}
WORKERS=${WORKERS:-4}
export HF_HUB_OFFLINE=1
command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi here (needs an NVIDIA GPU)" >&2; exit 2; }
mkdir -p "$OUT"
GPUS=$(nvidia-smi -L | wc -l)
DEVICE=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)

watch_memory() {  # sample the used GPU memory (MiB, all GPUs summed) into $1 until killed
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$1" &
  WATCH=$!
}
peak_memory() { kill "$WATCH" 2>/dev/null || true; sort -n "$1" | tail -1; }

watch_memory "$OUT/memory-throughput.csv"
$PY bench/train_throughput.py --model ViT-B-32 --image-px 256 --precision bf16 --batch "$BATCH" \
    --steps "$STEPS" --bf16-steps "$STEPS" --workers "$WORKERS" --threads 4 --repeats 2 \
    --out "$OUT/throughput.json" | tee "$OUT/throughput.txt"
THROUGHPUT_MEM=$(peak_memory "$OUT/memory-throughput.csv")

$PY -c "import sys; sys.path.insert(0, 'bench'); from pathlib import Path; \
from train_throughput import make_shards; make_shards(Path('$OUT/shards'), $BATCH * $GPUS * ($STEPS + 1), size=256)"
rm -rf "$OUT/fsdp"
watch_memory "$OUT/memory-fsdp.csv"
$PY -m accelerate.commands.launch --config_file train/configs/accelerate-fsdp.yaml \
    --num_processes "$GPUS" --mixed_precision bf16 -m rsvl.training.launch \
    --set model.spec=ViT-B-32 --set data.train="$OUT/shards" --set run.out_dir="$OUT/fsdp" \
    --set run.max_steps="$STEPS" --set data.batch_size="$BATCH" --set data.workers="$WORKERS" \
    --set run.mixed_precision=bf16 --set run.log_every=5 --set run.progress=false \
    --set run.trackers=[] --set optim.warmup_steps=10
FSDP_MEM=$(peak_memory "$OUT/memory-fsdp.csv")
FSDP_SPEED=$($PY -c "import json, statistics; log = [json.loads(l) for l in open('$OUT/fsdp/log.jsonl')]; \
print(statistics.median(e['samples_per_s'] for e in log if 'samples_per_s' in e))")

{
  echo "device: $GPUS x $DEVICE"
  grep -E "samples/s|ratio" "$OUT/throughput.txt"
  echo "throughput runs: peak GPU memory ${THROUGHPUT_MEM} MiB (largest run)"
  echo "FSDP smoke run, $STEPS steps on $GPUS GPU(s), batch $BATCH per GPU, bf16: median ${FSDP_SPEED} samples/s, peak GPU memory ${FSDP_MEM} MiB; export: $(ls "$OUT/fsdp/export")"
} | tee "$OUT/summary.txt"

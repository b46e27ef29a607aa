#!/bin/bash
# Train motion models on a rented GPU machine that has neither POSECAST_DATA nor this project's
# dependencies (one short session: every config runs side by side on the one GPU).
#
# Here, before the session (the folder is carried with the working tree; keep it git-ignored):
#   posecast corpus pack runs/gpu/corpus.pack          # lossless, about 21 MB
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d runs/gpu/whl pydantic pydantic_core annotated-types typing-inspection roma
#   cp CONFIG.yaml ... runs/gpu/                       # each with max_minutes and lr_by_time: true
# There (working tree root; OUTDIR comes back):
#   bash benchmarks/gpu_train.sh runs/gpu OUTDIR CONFIG.yaml ...
# Memory: a rollout loss (st-transformer params.rollout_frames K) keeps K full passes for the backward pass:
# d_model 64, 3 layers, K = 10, batch 32 peaked at 14 GB (CPU run); size batch x K to the card when several
# configs share it.
# Per config: OUTDIR/NAME.log and OUTDIR/NAME.tgz (the run's best/ weights, metrics.jsonl, run.json), ready
# for `benchmarks/ship_model.py`. The same configs train on the CPU with `posecast train --config` (or here:
# DEVICE=cpu bash benchmarks/gpu_train.sh ... for a dry run).
set -u
GPU=$1; OUTDIR=$2; shift 2
if ls "$GPU"/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/pc-site \
    "$GPU"/whl/*.whl || exit 3
fi
export PYTHONPATH=$PWD/src:/tmp/pc-site PYTHONUNBUFFERED=1
python3 -m posecast corpus unpack "$GPU/corpus.pack" /tmp/pc-corpus.npz || exit 4
export POSECAST_CORPUS_FILE=/tmp/pc-corpus.npz
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
names=()
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml); names+=("$name")
  python3 -m posecast train --model "$(sed -n 's/^model: *//p' "$cfg")" --config "$cfg" --out "/tmp/pc-runs/$name" \
    --set device=${DEVICE:-cuda} --no-resume > "$OUTDIR/$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do
  tar -czf "$OUTDIR/$name.tgz" -C "/tmp/pc-runs/$name" --exclude=last --exclude='train_state.pt' . 2>/dev/null
  echo "== $name"; tail -n 4 "$OUTDIR/$name.log"
done

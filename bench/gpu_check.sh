#!/usr/bin/env bash
# The GPU check and benchmark, in two halves: nothing is built on the GPU machine.
#
#   bash bench/gpu_check.sh prepare [ARCH]   here: build; compile every e2e fixture for ARCH
#                                            (default sm_90a) with its inputs and references
#                                            (plus int8/int4 Mixtral artifacts referenced by
#                                            the host artifact of the same --quantize flags),
#                                            and the benchmark shapes that fit the carry
#                                            budget (tiny and the *-fit shapes, bf16), into
#                                            bench/gpu/ with the runtime and moec-bench
#   bash bench/gpu_check.sh run              on the GPU machine (numpy; torch/onnxruntime for
#                                            the peers): nvidia-smi, every fixture vs its
#                                            reference at the bf16 tolerance, then moec-bench
#                                            on each shape and bench/peers.py beside it;
#                                            results in bench/gpu/results/
#
# With the workplace's device tool: prepare here, then run
#   bash bench/gpu_check.sh run   with carry = ["bench/gpu"]
# copy bench/gpu/results/*.json and *.png to $OUT to bring them back, and append what it
# prints, with the date and device, to bench/RESULTS.md. The full published shapes do not
# fit (bench/README.md, "What the GPU measures"); BENCH_FULL=1 times the peers on them too.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=bench/gpu
BUILD_DIR=${BUILD_DIR:-build}
# tiny and one scaled shape per published model (bench/shapes/make_shapes.py).
BENCH_SHAPES=${BENCH_SHAPES:-"tiny mixtral-8x7b-fit qwen3-30b-a3b-fit deepseek-v3-fit"}
BENCH_TOKENS=${BENCH_TOKENS:-1,16,64,256,4096}

case "${1:-}" in
  prepare)
    arch=${2:-sm_90a}
    bash scripts/build.sh >/dev/null
    rm -rf "$GPU_DIR" && mkdir -p "$GPU_DIR/bin" "$GPU_DIR/bench" "$GPU_DIR/shapes"
    cp "$BUILD_DIR/tools/moec-run/moec-run" "$BUILD_DIR/tools/moec-bench/moec-bench" \
       "$GPU_DIR/bin/"
    cp -L "$BUILD_DIR/runtime/libmoert.so" "$GPU_DIR/bin/libmoert.so.0"
    # --quantized: int8/int4 artifacts of the Mixtral fixture and decoder, with references
    # from the host artifacts compiled with the same flags (run here with moec-run).
    python3 test/e2e/gpu_e2e.py prepare --moec "$BUILD_DIR/tools/moec/moec" --arch "$arch" \
      --out "$GPU_DIR/artifacts" --quantized --moec-run "$BUILD_DIR/tools/moec-run/moec-run"
    echo "gpu_check: prepared $(ls "$GPU_DIR/artifacts" | grep -c '\.moe$') artifacts for $arch"
    # The shapes: generated here (float32 ONNX), compiled for the GPU in bf16; only the
    # shape files and routers travel (the GPU side regenerates the ONNX for the peers from
    # the same seeds), so the carry holds the artifacts and little else.
    tmp=$(mktemp -d)
    python3 bench/shapes/make_shapes.py --out "$tmp" $BENCH_SHAPES
    for name in $BENCH_SHAPES; do
      if "$BUILD_DIR/tools/moec/moec" compile "$tmp/$name.onnx" --target "$arch" \
           --precision bf16 -o "$GPU_DIR/bench/$name.moe" -q 2>"$GPU_DIR/bench/$name.log"; then
        rm -f "$GPU_DIR/bench/$name.log"
      else
        code=$?
        # A shape moec cannot compile yet is recorded, not fatal: bench/README.md lists it.
        [ "$code" -gt 128 ] && echo "moec was killed by signal $((code - 128))" >>"$GPU_DIR/bench/$name.log"
        echo "gpu_check: $name does not compile for $arch (exit $code): $(tail -c 300 \
          "$GPU_DIR/bench/$name.log" | tr '\n' ' ')" | tee -a "$GPU_DIR/bench/compile_errors.txt"
        rm -f "$GPU_DIR/bench/$name.moe"
      fi
      cp "$tmp/$name.shape.json" "$tmp/$name".router*.npy "$GPU_DIR/shapes/"
    done
    rm -rf "$tmp"
    size=$(du -sm "$GPU_DIR" | cut -f1)
    echo "gpu_check: prepared $(ls "$GPU_DIR/bench" | grep -c '\.moe$') benchmark artifacts;" \
         "$GPU_DIR is $size MiB (the carry limit is 64 MiB with the rest of the tree)"
    [ "$size" -lt 60 ] || { echo "gpu_check: $GPU_DIR is too large to carry" >&2; exit 2; }
    ;;
  run)
    [ -d "$GPU_DIR/artifacts" ] || { echo "gpu_check: run 'prepare' first" >&2; exit 2; }
    echo "gpu_check: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
    export LD_LIBRARY_PATH="$PWD/$GPU_DIR/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    status=0
    python3 test/e2e/gpu_e2e.py run --moec-run "$GPU_DIR/bin/moec-run" \
      --artifacts "$GPU_DIR/artifacts" || status=$?
    # cuBLAS for moec-bench's peak GEMM: the toolkit's, else the one PyTorch ships.
    cublas_dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))' 2>/dev/null || true)
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/cuda/lib64${cublas_dir:+:$cublas_dir}"
    results=$GPU_DIR/results
    rm -rf "$results" && mkdir -p "$results"
    [ -f "$GPU_DIR/bench/compile_errors.txt" ] && cat "$GPU_DIR/bench/compile_errors.txt"
    for artifact in "$GPU_DIR"/bench/*.moe; do
      [ -e "$artifact" ] || continue
      name=$(basename "$artifact" .moe)
      "$GPU_DIR/bin/moec-bench" "$artifact" --shape-info "$GPU_DIR/shapes/$name.shape.json" \
        --tokens "$BENCH_TOKENS" --json "$results/$name.moec.json" \
        --dump-inputs "$results/$name.inputs" || status=$?
    done
    python3 bench/peers.py --shapes "$GPU_DIR/shapes" --results "$results" \
      ${BENCH_FULL:+--full} || status=$?
    python3 bench/plot.py "$results"/*.moec.json -o "$results/roofline.png" || true
    rm -rf "$results"/*.inputs # GBs of inputs; the JSON files are the results
    exit $status
    ;;
  *)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac

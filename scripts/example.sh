#!/usr/bin/env bash
# The main job on the bundled example: set up, build, compile the Mixtral-style
# MoE block in test/models for the host, run it, and compare with onnxruntime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
python3 test/e2e/run_example.py --moec "$BUILD_DIR/tools/moec/moec" \
  --moec-run "$BUILD_DIR/tools/moec-run/moec-run" --work-dir "$BUILD_DIR/example"

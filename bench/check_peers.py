#!/usr/bin/env python3
"""Checks that the PyTorch peer of bench/peers.py computes the same layer as the ONNX shape.

Developer-only (needs torch, which CI does not install): runs peers.TorchLayer.eager on the
CPU in float32 — the code path the GPU run times, without bf16 rounding, which flips
near-tie routing decisions — and compares it with onnxruntime (graph optimizations off) on
the same random tokens. Expect about 1e-6 of the output scale.

    python3 bench/shapes/make_shapes.py tiny deepseek-v3-fit --out /tmp/shapes
    python3 bench/check_peers.py /tmp/shapes tiny deepseek-v3-fit
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

TOLERANCE = 1e-4  # of the output scale; float32 sums of <= 2 * 4096 products


def check(shapes_dir, name):
    onnx_path = os.path.join(shapes_dir, name + ".onnx")
    with open(os.path.join(shapes_dir, name + ".shape.json")) as f:
        info = json.load(f)
    weights = peers.load_onnx_weights(onnx_path)
    # TorchLayer stores weights as torch.bfloat16; keep them exact for this check.
    bf16 = torch.bfloat16
    torch.bfloat16 = torch.float32
    try:
        layer = peers.TorchLayer(torch, info, weights, "cpu")
    finally:
        torch.bfloat16 = bf16
    x = np.random.default_rng(0).standard_normal((16, info["hidden"])).astype(np.float32)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    out = layer.eager(torch.tensor(x)).numpy()
    err = float(np.abs(out - ref).max() / np.abs(ref).max())
    print(f"{name}: torch eager vs onnxruntime {err:.2e} of the output scale")
    return err <= TOLERANCE


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    ok = all([check(sys.argv[1], name) for name in sys.argv[2:]])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

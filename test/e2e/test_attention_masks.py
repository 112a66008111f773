#!/usr/bin/env python3
"""Causal attention over [T, T] scores written in plain ONNX ops, with the mask values exporters
use, compiled for the host (raised to moe.self_attention) and run against onnxruntime.

A masked score is filled with -inf, the float32 minimum, -1e9 (hand-written attention), the
float16 minimum -65504 (fp16 exports) or -1e4 (older exports), either as the Where that replaces
the scores or as an additive mask. moec skips the masked keys; onnxruntime computes their
softmax weight, exp(fill + s - max), which underflows to exactly 0 in float32 for all of these
(moec-raise-attention's kMaskedBelow). Fresh N(0, 1) inputs at T = 1, 6 and 19; criterion
e2e_common.REL_TOL: max|moec - ort| <= 1e-4 * max|ort| (float32 dot products of length 8 and a
softmax over at most 19 terms: rounding is ~1e-7 of scale). A bias above -1e4 (-50) is no mask
and must be refused with a one-line error. A padding mask read from an `attention_mask` input is
compiled as all ones, with the input removed.
"""

import os
import subprocess
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as common  # noqa: E402

HEADS, HEAD = 4, 8
FILLS = {"neg_inf": -np.inf, "f32_min": float(np.finfo(np.float32).min), "minus_1e9": -1e9,
         "f16_min": -65504.0, "minus_1e4": -1e4}


def attention_model(path, fill, additive, padding_input=False):
    """o = Softmax(masked(q kᵀ / sqrt(8))) v with the causal mask built from Shape(q)."""
    c = lambda name, value, dtype=np.int64: helper.make_tensor(  # noqa: E731
        name, TensorProto.INT64 if dtype == np.int64 else TensorProto.FLOAT,
        np.shape(value), np.asarray(value, dtype).ravel().tolist())
    inits = [c("zero", 0), c("one", 1), c("ax0", [0]), c("ax1", [1]),
             c("scale", 1.0 / np.sqrt(HEAD), np.float32), c("fill", fill, np.float32),
             c("zf", 0.0, np.float32)]
    nodes = [
        helper.make_node("Shape", ["q"], ["tdim"], start=2, end=3),
        helper.make_node("Squeeze", ["tdim", "ax0"], ["t"]),
        helper.make_node("Range", ["zero", "t", "one"], ["ar"]),
        helper.make_node("Unsqueeze", ["ar", "ax1"], ["rows"]),
        helper.make_node("Unsqueeze", ["ar", "ax0"], ["cols"]),
        helper.make_node("LessOrEqual", ["cols", "rows"],
                         ["causal" if padding_input else "keep"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["scaled"]),
    ]
    if padding_input:
        # keep = causal AND attention_mask[key] (transformers' padding mask).
        nodes += [helper.make_node("Cast", ["attention_mask"], ["pad"], to=TensorProto.BOOL),
                  helper.make_node("And", ["causal", "pad"], ["keep"])]
    if additive:
        nodes += [helper.make_node("Where", ["keep", "zf", "fill"], ["mask"]),
                  helper.make_node("Add", ["scaled", "mask"], ["masked"])]
    else:
        nodes += [helper.make_node("Where", ["keep", "scaled", "fill"], ["masked"])]
    nodes += [helper.make_node("Softmax", ["masked"], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["o"])]
    io = lambda name: helper.make_tensor_value_info(  # noqa: E731
        name, TensorProto.FLOAT, [1, HEADS, "T", HEAD])
    inputs = [io("q"), io("k"), io("v")]
    if padding_input:
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, "T"]))
    graph = helper.make_graph(nodes, "attention", inputs, [io("o")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, path)


class AttentionMasks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.work = common.work_dir("attention_masks")

    def _run(self, args):
        return subprocess.run(args, capture_output=True, text=True,
                              timeout=common.TOOL_TIMEOUT_S)

    def test_mask_fills_match_onnxruntime(self):
        import onnxruntime as ort
        for (label, fill) in FILLS.items():
            for additive in (False, True):
                with self.subTest(fill=label, additive=additive):
                    stem = os.path.join(self.work, f"{label}_{'add' if additive else 'where'}")
                    attention_model(stem + ".onnx", fill, additive)
                    proc = self._run([common.Config.moec, "compile", stem + ".onnx", "--target",
                                      "host", "--emit", "moe-mlir", "-o", stem + ".mlir"])
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    with open(stem + ".mlir") as f:
                        self.assertIn("moe.self_attention", f.read())
                    proc = self._run([common.Config.moec, "compile", stem + ".onnx", "--target",
                                      "host", "-o", stem + ".moe"])
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    sess = ort.InferenceSession(stem + ".onnx",
                                                providers=["CPUExecutionProvider"])
                    for tokens in (1, 6, 19):
                        rng = np.random.default_rng(500 + tokens)
                        feeds = {n: rng.standard_normal((1, HEADS, tokens, HEAD))
                                 .astype(np.float32) for n in ("q", "k", "v")}
                        want = sess.run(None, feeds)[0].astype(np.float64)
                        args = [common.Config.moec_run, stem + ".moe",
                                "--output", f"o={stem}_T{tokens}_o.npy"]
                        for name, value in feeds.items():
                            np.save(f"{stem}_T{tokens}_{name}.npy", value)
                            args += ["--input", f"{name}={stem}_T{tokens}_{name}.npy"]
                        proc = self._run(args)
                        self.assertEqual(proc.returncode, 0, proc.stderr)
                        out = np.load(f"{stem}_T{tokens}_o.npy").astype(np.float64)
                        scale = np.max(np.abs(want))
                        self.assertLessEqual(np.max(np.abs(out - want)), common.REL_TOL * scale,
                                             f"{label} T={tokens}")

    def test_attention_mask_input_is_removed(self):
        """A padding mask read from an attention_mask input: moec compiles the attention without
        padding, removes the input (so padding cannot be passed and silently ignored) and says
        so; the result equals onnxruntime's with a mask of ones."""
        import onnxruntime as ort
        stem = os.path.join(self.work, "padding_input")
        attention_model(stem + ".onnx", float(np.finfo(np.float32).min), False,
                        padding_input=True)
        proc = self._run([common.Config.moec, "compile", stem + ".onnx", "--target", "host",
                          "-o", stem + ".moe"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("the input attention_mask is removed", proc.stdout)
        info = self._run([common.Config.moec_run, stem + ".moe", "--info"])
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn("inputs (3):", info.stdout)
        self.assertNotIn("  attention_mask:", info.stdout)
        sess = ort.InferenceSession(stem + ".onnx", providers=["CPUExecutionProvider"])
        tokens = 9
        rng = np.random.default_rng(77)
        feeds = {n: rng.standard_normal((1, HEADS, tokens, HEAD)).astype(np.float32)
                 for n in ("q", "k", "v")}
        want = sess.run(None, dict(feeds, attention_mask=np.ones((1, tokens), np.int64)))[0]
        args = [common.Config.moec_run, stem + ".moe", "--output", f"o={stem}_o.npy"]
        for name, value in feeds.items():
            np.save(f"{stem}_{name}.npy", value)
            args += ["--input", f"{name}={stem}_{name}.npy"]
        proc = self._run(args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = np.load(f"{stem}_o.npy").astype(np.float64)
        self.assertLessEqual(np.max(np.abs(out - want)), common.REL_TOL * np.max(np.abs(want)))

    def test_bias_is_refused(self):
        path = os.path.join(self.work, "bias.onnx")
        attention_model(path, -50.0, additive=True)
        proc = self._run([common.Config.moec, "compile", path, "--target", "host", "-o",
                          os.path.join(self.work, "bias.moe")])
        self.assertNotEqual(proc.returncode, 0)
        self.assertLess(proc.returncode, 128, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(path, lines[0])
        self.assertIn("Softmax", lines[0])
        self.assertIn("the mask adds a bias other than 0 and <= -1e4 (-50", lines[0])


if __name__ == "__main__":
    argv = common.parse_args()
    unittest.main(argv=argv)

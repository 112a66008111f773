#!/usr/bin/env python3
"""Weight-only int8 and int4 (`moec compile --quantize int8|int4 [--group-size G]`), host target.

Two references per fixture, on fresh random inputs at several T:

1. Exact arithmetic: the fixture with every weight moec quantizes replaced by its
   dequantized value, computed here in numpy by the rule moec-quantize-weights documents
   (scale = float32(max|w| of the block) / qmax, q = clamp(rint(w / scale), -qmax, qmax),
   qmax = 127 for int8 and 7 for int4, one block per `group` elements along the reduction
   axis), run by onnxruntime. moec must match
   it at the suite's float32 tolerance (e2e_common.REL_TOL = 1e-4 of the output scale): the
   only difference left is the order of float32 additions. A wrong scale, layout, block or
   rounding shows here.
2. Quality: the original float fixture. Rounding moves each weight by at most half a step
   (max|w| / (2 qmax) of its block); through two GEMMs and the activation that gives output
   errors of about 1e-2 of the output scale for int8 on these O(1) fixtures (bound 2e-2).
   int4's step is 18x coarser: for Gaussian rows max|w| is about 2.5 sigma, so the step is
   0.36 sigma and the rounding error about 0.1 sigma rms per weight; through two GEMMs the
   output's rms error is about 10% of its scale and the worst of 64 tokens x H outputs
   3-4x that (measured 0.11-0.29). Bound 0.4: int4 is a bandwidth format whose accuracy a
   model's own evaluation must judge; the exact check above is what proves the arithmetic.

Also: the artifact shrinks by at least 70% of the float32 bytes of the weights quantized
(int8 is 1/4 of them, plus one float32 scale per block), and GPU targets refuse the flag.
"""

import json
import os
import re
import unittest
import zlib

import numpy as np
import onnx
import onnxruntime as ort

import e2e_common as common

QUALITY_TOL = {"int8": 2e-2, "int4": 0.4}
QMAX = {"int8": 127, "int4": 7}
TOKEN_COUNTS = (1, 7, 64)
# Fixtures with weights moec quantizes and an onnxruntime reference.
FIXTURES = ("mixtral_moe_node.onnx", "moe_node_variants/odd_sizes.onnx",
            "moe_node_variants/gelu_bias.onnx", "rmsnorm/opset23.onnx")
CONFIGS = (("int8", 0), ("int8", 16), ("int4", 16), ("int4", 0))


def _seed(*parts):
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def quantize_rows(w, group, qmax):
    """Dequantized copy of w (float32, quantized along its last axis), moec's rule."""
    w = np.asarray(w, dtype=np.float32)
    cols = w.shape[-1]
    g = cols if group <= 0 else min(group, cols)
    out = np.empty_like(w)
    for b0 in range(0, cols, g):
        block = w[..., b0:b0 + g]
        amax = np.abs(block).max(axis=-1, keepdims=True).astype(np.float32)
        scale = (amax / np.float32(qmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1))
        q = np.clip(np.rint(block / safe), -qmax, qmax)
        q = np.where(scale > 0, q, 0).astype(np.float32)
        out[..., b0:b0 + g] = q * scale
    return out


def quantized_weights(model):
    """{initializer name: how moec quantizes it}: the MoE node's fc weights along their last
    axis; MatMul weights [K, N] per output column (moec stores them [N, K]), except the
    router's, which stays float."""
    plan = {}
    for node in model.graph.node:
        if node.op_type == "MoE":
            for slot in (2, 4, 6):
                if len(node.input) > slot and node.input[slot]:
                    plan[node.input[slot]] = "last"
        elif node.op_type == "MatMul" and node.input[1] != "router.weight":
            plan[node.input[1]] = "columns"
    return plan


def dequantized_model(model, group, qmax):
    out = onnx.ModelProto()
    out.CopyFrom(model)
    plan = quantized_weights(out)
    for init in out.graph.initializer:
        how = plan.get(init.name)
        if how is None:
            continue
        w = onnx.numpy_helper.to_array(init).astype(np.float32)
        dq = (quantize_rows(w, group, qmax) if how == "last"
              else quantize_rows(w.T, group, qmax).T)
        init.CopyFrom(onnx.numpy_helper.from_array(np.ascontiguousarray(dq), init.name))
    return out


class Int8(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("quantized")

    def _compile(self, rel, tag, *extra):
        path = os.path.join(self.dir, f"{tag}.moe")
        result = common.compile_model(common.model_path(rel), path, *extra)
        self.assertEqual(result.returncode, 0, common.describe(result))
        return path

    def test_matches_exact_dequantized_reference_and_stays_close_to_float(self):
        for rel in FIXTURES:
            model = onnx.load(common.model_path(rel))
            for fmt, group in CONFIGS:
                tag = f"{rel.replace('/', '_')}_{fmt}_g{group}"
                artifact = self._compile(rel, tag, "--quantize", fmt, "--group-size", str(group))
                exact = ort.InferenceSession(
                    dequantized_model(model, group, QMAX[fmt]).SerializeToString(),
                    providers=["CPUExecutionProvider"])
                for tokens in TOKEN_COUNTS:
                    with self.subTest(fixture=rel, format=fmt, group=group, tokens=tokens):
                        x = common.make_inputs(model, tokens, _seed(rel, fmt, group, tokens))
                        x_path = os.path.join(self.dir, f"{tag}_x{tokens}.npy")
                        y_path = os.path.join(self.dir, f"{tag}_y{tokens}.npy")
                        np.save(x_path, x)
                        run = common.run_model(artifact, [("input", x_path)],
                                               [("output", y_path)])
                        self.assertEqual(run.returncode, 0, common.describe(run))
                        out = np.load(y_path)
                        ref = exact.run(["output"], {"input": x})[0]
                        ok, max_abs, scale = common.compare(out, ref)
                        self.assertTrue(ok, f"vs dequantized reference: {max_abs:.3g} > "
                                            f"{common.REL_TOL} * {scale:.3g}")
                        float_ref = common.reference_output(rel, "onnxruntime", x)
                        err = np.abs(out - float_ref).max() / np.abs(float_ref).max()
                        self.assertLess(err, QUALITY_TOL[fmt], f"{fmt} error vs the float model")

    def test_artifact_shrinks_by_the_quantized_bytes(self):
        rel = "mixtral_moe_node.onnx"
        model = onnx.load(common.model_path(rel))
        plan = quantized_weights(model)
        float_bytes = sum(4 * int(np.prod(i.dims)) for i in model.graph.initializer
                          if i.name in plan)
        f32 = os.path.getsize(self._compile(rel, "size_f32"))
        q8 = os.path.getsize(self._compile(rel, "size_q8", "--quantize", "int8"))
        q4 = os.path.getsize(self._compile(rel, "size_q4", "--quantize", "int4"))
        self.assertGreaterEqual(f32 - q8, 0.7 * float_bytes,
                                f"float32 artifact {f32} B, int8 {q8} B, "
                                f"quantized weights {float_bytes} B as float32")
        # int4: an eighth of the float32 bytes plus one scale per row.
        self.assertGreaterEqual(f32 - q4, 0.82 * float_bytes,
                                f"float32 artifact {f32} B, int4 {q4} B, "
                                f"quantized weights {float_bytes} B as float32")

    def test_gpu_targets_refuse_the_flag(self):
        result = common.run_tool([common.Config.moec, "compile",
                                  common.model_path("mixtral_moe_node.onnx"), "--target",
                                  "sm_90a", "--quantize", "int8", "-o",
                                  os.path.join(self.dir, "gpu.moe")])
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, common.describe(result))
        self.assertIn("--quantize int8 is implemented for --target host only", result.stderr)

    def test_bad_values_are_refused(self):
        for flags, message in ((["--quantize", "int3"], "--quantize must be none, int8 or int4"),
                               (["--quantize", "int8", "--group-size", "-4"],
                                "--group-size must be >= 0")):
            result = common.run_tool([common.Config.moec, "compile",
                                      common.model_path("mixtral_moe_node.onnx"), *flags,
                                      "-o", os.path.join(self.dir, "bad.moe")])
            self.assertEqual(result.returncode, 1, common.describe(result))
            self.assertIn(message, result.stderr)


class PerLayerConfig(unittest.TestCase):
    """--quantize-config on the Mixtral decoder fixture: attention in float, the experts in
    int4 groups of 16, the lm head in int8. The raised IR shows exactly that (the router
    stays float even though its node is under /moe/), the artifact shrinks, the model
    generates, and its logits stay within the int4 bound of this file (0.4 of scale) of the
    float model's. A bad config is a one-line error naming the file."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("quantize_config")
        cls.src = os.path.join(common.Config.models, "decoder", "mixtral.onnx")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_rules_pick_each_layer_format(self):
        config = self.write("mixed.json", json.dumps({"rules": [
            {"match": "/attn/", "format": "none"},
            {"match": "/moe/", "format": "int4", "group_size": 16},
            {"match": "lm_head", "format": "int8"}]}))
        ir = common.run_tool([common.Config.moec, "compile", self.src, "--target", "host",
                              "--quantize-config", config, "--emit", "moe-mlir"])
        self.assertEqual(ir.returncode, 0, common.describe(ir))
        # Two layers x (fc1, fc2) in int4; the head in int8; no attention weight quantized.
        self.assertEqual(ir.stdout.count("bits = 4 : i64"), 4, ir.stdout[-2000:])
        self.assertEqual(len(re.findall(r"moe\.dequantize [^\n]*block_size = 64 : i64}", ir.stdout)),
                         1)
        self.assertNotRegex(ir.stdout, r"moe\.dequantize[^\n]*tensor<8x64xf32>")  # router
        out = {}
        for tag, extra in (("float", []), ("mixed", ["--quantize-config", config])):
            moe_file = os.path.join(self.dir, tag + ".moe")
            result = common.compile_model(self.src, moe_file, *extra)
            self.assertEqual(result.returncode, 0, common.describe(result))
            logits = os.path.join(self.dir, tag + ".logits.npy")
            run = common.run_tool([common.Config.moec_run, moe_file, "--generate", 1,
                                   "--prompt", "117,103,95,73,67", "--logits-out", logits])
            self.assertEqual(run.returncode, 0, common.describe(run))
            out[tag] = (os.path.getsize(moe_file), np.load(logits))
        self.assertLess(out["mixed"][0], out["float"][0] * 0.6)
        err = float(np.abs(out["mixed"][1] - out["float"][1]).max())
        self.assertLessEqual(err, 0.4 * float(np.abs(out["float"][1]).max()))

    def test_bad_config_is_one_line(self):
        for text, message in (("{", "not valid JSON"),
                              ('{"rules": [{"match": "x"}]}', 'needs string "match" and "format"'),
                              ('{"rules": [{"match": "x", "format": "int8", "group": 4}]}',
                               "unknown key 'group'")):
            config = self.write("bad.json", text)
            result = common.run_tool([common.Config.moec, "compile", self.src, "--target", "host",
                                      "--quantize-config", config, "-o",
                                      os.path.join(self.dir, "bad.moe")])
            self.assertEqual(result.returncode, 1, common.describe(result))
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn("quantization config", result.stderr)
            self.assertIn(message, result.stderr)
        config = self.write("ok.json", '{"rules": []}')
        result = common.run_tool([common.Config.moec, "compile", self.src, "--target", "sm_90a",
                                  "--quantize-config", config, "-o",
                                  os.path.join(self.dir, "gpu.moe")])
        self.assertEqual(result.returncode, 1, common.describe(result))
        self.assertIn("--quantize-config is implemented for --target host only", result.stderr)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

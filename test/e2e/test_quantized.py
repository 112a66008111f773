#!/usr/bin/env python3
"""Weight-only int8, int4 and fp8 (`moec compile --quantize int8|int4|fp8 [--group-size G]`),
host target.

Two references per fixture, on fresh random inputs at several T:

1. Exact arithmetic: the fixture with every weight moec quantizes replaced by its
   dequantized value, computed here in numpy by the rule moec-quantize-weights documents
   (scale = float32(max|w| of the block) / qmax, q = clamp(rint(w / scale), -qmax, qmax),
   qmax = 127 for int8 and 7 for int4; fp8: qmax = 448 and q = E4M3FN(w / scale), below;
   one block per `group` elements along the reduction axis), run by onnxruntime. moec must
   match
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
   fp8 (E4M3FN, scale = max|w| / 448, q = the float32 quotient rounded to nearest even by
   ml_dtypes.float8_e4m3fn after clipping to +-448) has a 3-bit mantissa: every weight moves
   by at most 2^-4 of its own magnitude (half a step of 2^-3 relative to the power of two
   below it; the subnormals, below 2^-6 * scale, by at most 2^-10 * scale). The residuals
   are spread evenly over their step, about 2.5% of the weights' rms (2^-3 / sqrt(12) of the
   power of two, averaged over the mantissa), so each GEMM adds an rms error of ~2.5% of its
   output's rms, ~3.5% after two; the worst of up to 64 tokens x H outputs is 3-4 sigma,
   ~0.12 of the rms, i.e. 0.04-0.08 of max|ref| (one token's few outputs have a max close to
   their rms). Measured 0.015-0.075 on these fixtures; bound 0.15, 2x the worst measured and
   still well below int4's 0.4.

Also: the artifact shrinks by at least 70% of the float32 bytes of the weights quantized
(int8 and fp8 are 1/4 of them, plus one float32 scale per block); GPU targets are covered by
test_cuda_quantized.py. An fp8 QDQ graph (DequantizeLinear of float8e4m3fn initializers,
per axis into MatMul, opset-21 blocks into Gemm, and an e5m2 weight that moec folds to
floats) matches onnxruntime and float64, with its E4M3FN weights kept in fp8.
"""

import json
import os
import re
import unittest
import zlib

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort

import e2e_common as common

QUALITY_TOL = {"int8": 2e-2, "int4": 0.4, "fp8": 0.15}
QMAX = {"int8": 127, "int4": 7, "fp8": 448}
TOKEN_COUNTS = (1, 7, 64)
# Fixtures with weights moec quantizes and an onnxruntime reference.
FIXTURES = ("mixtral_moe_node.onnx", "moe_node_variants/odd_sizes.onnx",
            "moe_node_variants/gelu_bias.onnx", "rmsnorm/opset23.onnx")
CONFIGS = (("int8", 0), ("int8", 16), ("int4", 16), ("int4", 0), ("fp8", 0), ("fp8", 16))


def _seed(*parts):
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def quantize_rows(w, group, qmax):
    """Dequantized copy of w (float32, quantized along its last axis), moec's rule; qmax 448
    is fp8 E4M3FN."""
    w = np.asarray(w, dtype=np.float32)
    cols = w.shape[-1]
    g = cols if group <= 0 else min(group, cols)
    out = np.empty_like(w)
    for b0 in range(0, cols, g):
        block = w[..., b0:b0 + g]
        amax = np.abs(block).max(axis=-1, keepdims=True).astype(np.float32)
        scale = (amax / np.float32(qmax)).astype(np.float32)
        safe = np.where(scale > 0, scale, np.float32(1))
        if qmax == QMAX["fp8"]:
            q = np.clip(block / safe, -qmax, qmax).astype(ml_dtypes.float8_e4m3fn)
        else:
            q = np.clip(np.rint(block / safe), -qmax, qmax)
        q = np.where(scale > 0, q.astype(np.float32), 0).astype(np.float32)
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
        f8 = os.path.getsize(self._compile(rel, "size_f8", "--quantize", "fp8"))
        self.assertGreaterEqual(f32 - q8, 0.7 * float_bytes,
                                f"float32 artifact {f32} B, int8 {q8} B, "
                                f"quantized weights {float_bytes} B as float32")
        self.assertGreaterEqual(f32 - f8, 0.7 * float_bytes,
                                f"float32 artifact {f32} B, fp8 {f8} B, "
                                f"quantized weights {float_bytes} B as float32")
        # int4: an eighth of the float32 bytes plus one scale per row.
        self.assertGreaterEqual(f32 - q4, 0.82 * float_bytes,
                                f"float32 artifact {f32} B, int4 {q4} B, "
                                f"quantized weights {float_bytes} B as float32")

    def test_bad_values_are_refused(self):
        for flags, message in ((["--quantize", "int3"],
                                "--quantize must be none, int8, int4 or fp8"),
                               (["--quantize", "int8", "--group-size", "-4"],
                                "--group-size must be >= 0")):
            result = common.run_tool([common.Config.moec, "compile",
                                      common.model_path("mixtral_moe_node.onnx"), *flags,
                                      "-o", os.path.join(self.dir, "bad.moe")])
            self.assertEqual(result.returncode, 1, common.describe(result))
            self.assertIn(message, result.stderr)


def _fp8_qdq_model():
    """x [T, 16] -> MatMul by DequantizeLinear(float8e4m3fn [16, 24], per-axis scale [24],
    axis 1) -> Gemm (transB) by DequantizeLinear(float8e4m3fn [32, 24], opset-21 blocks of 8
    along axis 1, scale [32, 3]) -> MatMul by DequantizeLinear(float8e5m2 [32, 8], one
    scale) -> output [T, 8]. Returns the model and its three weights in float64."""
    rng = np.random.default_rng(_seed("fp8_qdq"))
    tp = onnx.TensorProto
    inits, weights = [], []
    for name, shape, dtype, onnx_type, scale_shape in (
            ("w1", (16, 24), ml_dtypes.float8_e4m3fn, tp.FLOAT8E4M3FN, (24,)),
            ("w2", (32, 24), ml_dtypes.float8_e4m3fn, tp.FLOAT8E4M3FN, (32, 3)),
            ("w3", (32, 8), ml_dtypes.float8_e5m2, tp.FLOAT8E5M2, ())):
        # Values spread over the format's range (E4M3 to 448), never NaN or inf.
        q = (rng.standard_normal(shape) * 64).clip(-400, 400).astype(dtype)
        scale = rng.uniform(0.002, 0.02, scale_shape).astype(np.float32)
        # w3 in the typed field (int32_data, one bit pattern each), the others as raw bytes:
        # both ways onnx stores float8 tensors.
        typed = name == "w3"
        inits.append(onnx.helper.make_tensor(name, onnx_type, shape,
                                             q.astype(np.float32).ravel() if typed
                                             else q.tobytes(), raw=not typed))
        assert bool(len(inits[-1].int32_data)) == typed
        inits.append(onnx.numpy_helper.from_array(scale, name + "_scale"))
        dq = q.astype(np.float64)
        if name == "w1":
            dq = dq * scale[None, :]
        elif name == "w2":
            dq = dq * np.repeat(scale, 8, axis=1)
        else:
            dq = dq * float(scale)
        weights.append(dq)
    nodes = [
        onnx.helper.make_node("DequantizeLinear", ["w1", "w1_scale"], ["w1_f"], axis=1,
                              name="/dq1"),
        onnx.helper.make_node("DequantizeLinear", ["w2", "w2_scale"], ["w2_f"], axis=1,
                              block_size=8, name="/dq2"),
        onnx.helper.make_node("DequantizeLinear", ["w3", "w3_scale"], ["w3_f"], name="/dq3"),
        onnx.helper.make_node("MatMul", ["input", "w1_f"], ["h1"], name="/mm1"),
        onnx.helper.make_node("Gemm", ["h1", "w2_f"], ["h2"], transB=1, name="/gemm2"),
        onnx.helper.make_node("MatMul", ["h2", "w3_f"], ["output"], name="/mm3"),
    ]
    graph = onnx.helper.make_graph(
        nodes, "fp8_qdq",
        [onnx.helper.make_tensor_value_info("input", tp.FLOAT, ["T", 16])],
        [onnx.helper.make_tensor_value_info("output", tp.FLOAT, ["T", 8])], inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model, weights


class Fp8(unittest.TestCase):
    """fp8 beyond the fixture sweep above: pre-quantized float8 QDQ graphs, and the compile
    report's bytes for fp8 experts."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("quantized_fp8")

    def test_qdq_graph_keeps_e4m3_weights_and_matches_onnxruntime(self):
        model, (w1, w2, w3) = _fp8_qdq_model()
        src = os.path.join(self.dir, "fp8_qdq.onnx")
        onnx.save(model, src)
        ir = common.run_tool([common.Config.moec, "compile", src, "--target", "host",
                              "--emit", "moe-mlir"])
        self.assertEqual(ir.returncode, 0, common.describe(ir))
        # Both E4M3FN weights stay fp8 (no requantization); the E5M2 one is folded.
        self.assertEqual(len(re.findall(r"moe\.dequantize [^\n]*\(tensor<\d+x\d+xf8E4M3FN>",
                                        ir.stdout)), 2, ir.stdout[-3000:])
        self.assertNotIn("f8E5M2>, tensor", ir.stdout)
        # The linears read the E4M3FN bytes themselves, the [K, N] MatMul weight included
        # (transposed to [N, K] once at compile time): no dequantize launch. (The E5M2
        # weight was folded to floats above.)
        for target in ("host", "sm_90a"):
            launches = common.run_tool([common.Config.moec, "compile", src, "--target", target,
                                        "--emit", "kernel-mlir"])
            self.assertEqual(launches.returncode, 0, common.describe(launches))
            self.assertNotIn('"dequantize"', launches.stdout, target)
            self.assertEqual(launches.stdout.count('"linear"'), 3, target)
        artifact = os.path.join(self.dir, "fp8_qdq.moe")
        result = common.compile_model(src, artifact)
        self.assertEqual(result.returncode, 0, common.describe(result))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        for tokens in TOKEN_COUNTS:
            with self.subTest(tokens=tokens):
                x = common.make_inputs(model, tokens, _seed("fp8_qdq", tokens))
                x_path = os.path.join(self.dir, f"fp8_qdq_x{tokens}.npy")
                y_path = os.path.join(self.dir, f"fp8_qdq_y{tokens}.npy")
                np.save(x_path, x)
                run = common.run_model(artifact, [("input", x_path)], [("output", y_path)])
                self.assertEqual(run.returncode, 0, common.describe(run))
                out = np.load(y_path)
                exact = ((x.astype(np.float64) @ w1) @ w2.T) @ w3
                ref = session.run(["output"], {"input": x})[0]
                # onnxruntime reads the float8 DequantizeLinear as ONNX defines it.
                ok, max_abs, scale = common.compare(ref, exact)
                self.assertTrue(ok and max_abs <= 1e-5 * scale, "onnxruntime vs float64")
                for name, want in (("onnxruntime", ref), ("float64", exact)):
                    ok, max_abs, scale = common.compare(out, want)
                    self.assertTrue(ok, f"vs {name}: {max_abs:.3g} > {common.REL_TOL} * "
                                        f"{scale:.3g}")

    def test_report_counts_fp8_bytes(self):
        rel = "mixtral_moe_node.onnx"
        model = onnx.load(common.model_path(rel))
        dims = {i.name: list(i.dims) for i in model.graph.initializer}
        (moe,) = [n for n in model.graph.node if n.op_type == "MoE"]
        group = 16
        values = scales = 0
        for slot in (2, 4, 6):
            if len(moe.input) > slot and moe.input[slot]:
                shape = dims[moe.input[slot]]
                values += int(np.prod(shape))
                scales += int(np.prod(shape[:-1])) * -(-shape[-1] // group)
        report_path = os.path.join(self.dir, "fp8_report.json")
        result = common.compile_model(common.model_path(rel),
                                      os.path.join(self.dir, "fp8_report.moe"), "--quantize",
                                      "fp8", "--group-size", str(group), "--report", report_path)
        self.assertEqual(result.returncode, 0, common.describe(result))
        with open(report_path) as f:
            report = json.load(f)
        (launch,) = [l for l in report["launches"] if l["kernel"] == "moe_experts"]
        # One byte a value plus a float32 scale per block of 16.
        self.assertEqual(launch["weight_bytes"], values + 4 * scales)


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


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

#!/usr/bin/env python3
"""Range, CumSum, ScatterND, Cos, Sin, LessOrEqual and GreaterOrEqual end to end.

ONNX's node tests (test/onnx_node) check these ops at fixed shapes; here they run where
exported decoders use them, on the token count T: rotary angles from position ids
Range(0, T, 1), cumulative sums along T, a slice assignment (ScatterND) into a [T, H]
tensor, comparisons feeding a mask. The model is compiled once for the host and run
for several T on fresh random inputs against onnxruntime; for each GPU architecture the
same model compiles (NVRTC, in process; no GPU needed) when the build has NVRTC.

    python3 test/e2e/test_decoder_ops.py --moec PATH --moec-run PATH [--no-cuda]
"""

import os
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import e2e_common as common

HIDDEN = 8
HALF = 4
NO_CUDA = "--no-cuda" in sys.argv
if NO_CUDA:
    sys.argv.remove("--no-cuda")


def build_model(rng):
    """x [T, 8] -> rotary cos/sin [T, 4], cumsums, ScatterND, comparisons, a static Range."""
    def const(name, value):
        return helper.make_node("Constant", [], [name], name=name,
                                value=numpy_helper.from_array(np.asarray(value), name))

    inv_freq = (1.0 / (10000 ** (np.arange(HALF, dtype=np.float32) / HALF))).reshape(1, HALF)
    updates = rng.uniform(-1, 1, size=(2, HIDDEN)).astype(np.float32)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        const("zero", np.array(0, np.int64)),
        const("one", np.array(1, np.int64)),
        helper.make_node("Gather", ["shape", "zero"], ["t"], name="t", axis=0),
        helper.make_node("Cast", ["t"], ["t64"], name="t64", to=TensorProto.INT64),
        helper.make_node("Range", ["zero", "t64", "one"], ["pos"], name="pos"),
        helper.make_node("Cast", ["pos"], ["posf"], name="posf", to=TensorProto.FLOAT),
        const("axes1", np.array([1], np.int64)),
        helper.make_node("Unsqueeze", ["posf", "axes1"], ["col"], name="col"),
        const("inv_freq", inv_freq),
        helper.make_node("Mul", ["col", "inv_freq"], ["angles"], name="angles"),
        helper.make_node("Cos", ["angles"], ["cos"], name="cos"),
        helper.make_node("Sin", ["angles"], ["sin"], name="sin"),
        const("axis0", np.array(0, np.int64)),
        const("axis1", np.array(-1, np.int32)),
        helper.make_node("CumSum", ["x", "axis0"], ["cum_t"], name="cum_t"),
        helper.make_node("CumSum", ["x", "axis1"], ["cum_h"], name="cum_h", exclusive=1,
                         reverse=1),
        const("rows", np.array([[2], [-3]], np.int64)),  # rows 2 and T - 3
        const("updates", updates),
        helper.make_node("ScatterND", ["x", "rows", "updates"], ["scattered"], name="scatter",
                         reduction="add"),
        const("fzero", np.array(0.0, np.float32)),
        helper.make_node("LessOrEqual", ["x", "fzero"], ["le"], name="le"),
        helper.make_node("GreaterOrEqual", ["cum_t", "scattered"], ["ge"], name="ge"),
        const("fstart", np.array(0.5, np.float32)),
        const("flimit", np.array(3.0, np.float32)),
        const("fdelta", np.array(0.25, np.float32)),
        helper.make_node("Range", ["fstart", "flimit", "fdelta"], ["steps"], name="steps"),
        helper.make_node("Add", ["pos", "one"], ["pos1"], name="pos1"),
    ]
    f32 = TensorProto.FLOAT
    outputs = [
        helper.make_tensor_value_info("cos", f32, ["T", HALF]),
        helper.make_tensor_value_info("sin", f32, ["T", HALF]),
        helper.make_tensor_value_info("cum_t", f32, ["T", HIDDEN]),
        helper.make_tensor_value_info("cum_h", f32, ["T", HIDDEN]),
        helper.make_tensor_value_info("scattered", f32, ["T", HIDDEN]),
        helper.make_tensor_value_info("le", TensorProto.BOOL, ["T", HIDDEN]),
        helper.make_tensor_value_info("ge", TensorProto.BOOL, ["T", HIDDEN]),
        helper.make_tensor_value_info("steps", f32, [10]),
        helper.make_tensor_value_info("pos1", TensorProto.INT64, ["T"]),
    ]
    graph = helper.make_graph(nodes, "decoder_ops",
                              [helper.make_tensor_value_info("x", f32, ["T", HIDDEN])], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


class DecoderOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("decoder-ops")
        cls.model_path = os.path.join(cls.dir, "decoder_ops.onnx")
        onnx.save(build_model(np.random.default_rng(2024)), cls.model_path)

    def test_host_matches_onnxruntime(self):
        artifact = os.path.join(self.dir, "decoder_ops.moe")
        result = common.compile_model(self.model_path, artifact)
        self.assertEqual(result.returncode, 0, common.describe(result))
        session = common.ort_session(self.model_path)
        names = [o.name for o in session.get_outputs()]
        rng = np.random.default_rng(11)
        for tokens in (3, 7, 16):
            with self.subTest(tokens=tokens):
                x = rng.uniform(-1, 1, size=(tokens, HIDDEN)).astype(np.float32)
                x_path = os.path.join(self.dir, f"x_{tokens}.npy")
                np.save(x_path, x)
                outs = [(n, os.path.join(self.dir, f"{n}_{tokens}.npy")) for n in names]
                result = common.run_model(artifact, [("x", x_path)], outs)
                self.assertEqual(result.returncode, 0, common.describe(result))
                refs = session.run(None, {"x": x})
                for (name, path), ref in zip(outs, refs):
                    got = np.load(path)
                    self.assertEqual(got.dtype, ref.dtype, name)
                    self.assertEqual(got.shape, ref.shape, name)
                    if ref.dtype == np.bool_ or ref.dtype == np.int64:
                        # ge compares two float sums that may round differently in
                        # the last bit: allow a flip only where they are that close.
                        if name == "ge":
                            cum, scat = refs[names.index("cum_t")], refs[names.index("scattered")]
                            near = np.abs(cum - scat) <= 1e-5 * (1 + np.abs(cum))
                            np.testing.assert_array_equal(got[~near], ref[~near], err_msg=name)
                        else:
                            np.testing.assert_array_equal(got, ref, err_msg=name)
                    else:
                        # float32: cos/sin of angles <= 16 rad (a few ulp between libms),
                        # running sums of <= 16 terms of magnitude <= 1 (one rounding a
                        # term): 1e-5 absolute on values of magnitude <= 16.
                        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5, err_msg=name)

    @unittest.skipIf(NO_CUDA, "the build has no NVRTC")
    def test_cuda_compiles(self):
        for arch in ("sm_80", "sm_90a"):
            with self.subTest(arch=arch):
                out = os.path.join(self.dir, f"decoder_ops_{arch}.moe")
                result = common.run_tool([common.Config.moec, "compile", self.model_path,
                                          "--target", arch, "--precision", "f32", "-o", out])
                self.assertEqual(result.returncode, 0, common.describe(result))


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

#!/usr/bin/env python3
"""DeepSeek-V3's sigmoid router (moec-raise-sigmoid-router -> moe.router {scoring = "sigmoid"})
against onnxruntime.

Router-only graphs expose the routing itself: logits in, the chosen expert ids and their
weights out, in the ONNX forms exporters write (selection bias or none, group-limited
selection or none, the group mask built with ConstantOfShape + Mul by ones or with Expand,
Where on the mask or on its Not with -inf, renormalized or not, scaled or not), at
DeepSeek-V3's own router size (256 experts, 8 groups, top-4 groups, k = 8) and small ones.
Each must raise to exactly one sigmoid moe.router (no TopK left) and give onnxruntime's ids
exactly (ties go to the lower index on both sides) and its weights within 1e-5 of scale (a
float32 sigmoid, a sum of <= 8 terms and a division: a few ulps). The whole tiny DeepSeek
layer of bench/shapes (router handed to com.microsoft.MoE as a log-scatter, shared expert)
must match onnxruntime at the e2e tolerance (1e-4 of scale) and compile for sm_90a without
spills.
"""

import os
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "shapes"))
import e2e_common as common  # noqa: E402

F32 = TensorProto.FLOAT
# --no-cuda (a build without NVRTC): skip the sm_90a compile.
NO_CUDA = "--no-cuda" in sys.argv
if NO_CUDA:
    sys.argv.remove("--no-cuda")


def const(name, array):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def router_graph(experts, k, groups=1, topk_groups=1, bias=True, normalize=True, scaling=None,
                 expand=False, inverted=False, direct=False, seed=0):
    """logits [T, E] -> (weights [T, k], ids [T, k]) in plain ONNX ops."""
    rng = np.random.default_rng(seed)
    n = helper.make_node
    nodes = [n("Sigmoid", ["logits"], ["s"])]
    sel = "s"
    if bias:
        nodes += [const("bias", rng.uniform(-0.05, 0.05, experts).astype(np.float32)),
                  n("Add", ["s", "bias"], ["b"])]
        sel = "b"
    if groups > 1:
        per = experts // groups
        nodes += [
            const("gshape", np.array([-1, groups, per], np.int64)),
            n("Reshape", [sel, "gshape"], ["g3"]),
            const("two", np.array([2], np.int64)),
            n("TopK", ["g3", "two"], ["top2", "_top2i"], axis=-1),
            const("last", np.array([-1], np.int64)),
            n("ReduceSum", ["top2", "last"], ["gscore"], keepdims=0),
            const("tg", np.array([topk_groups], np.int64)),
            n("TopK", ["gscore", "tg"], ["_gv", "gidx"], axis=-1, sorted=0),
            n("Shape", ["gscore"], ["gs_shape"]),
            n("Shape", ["gidx"], ["gi_shape"]),
            n("ConstantOfShape", ["gi_shape"], ["ones"],
              value=helper.make_tensor("one", F32, [1], [1.0])),
            const("axis2", np.array([2], np.int64)),
        ]
        if expand:
            nodes += [const("zero", np.array(0.0, np.float32)),
                      n("Expand", ["zero", "gs_shape"], ["zeros"])]
        else:
            nodes += [n("ConstantOfShape", ["gs_shape"], ["zeros"],
                        value=helper.make_tensor("z", F32, [1], [0.0]))]
        nodes += [n("ScatterElements", ["zeros", "gidx", "ones"], ["gmask"], axis=1),
                  n("Unsqueeze", ["gmask", "axis2"], ["gmask3"])]
        if expand:
            nodes += [const("bshape", np.array([1, groups, per], np.int64)),
                      n("Expand", ["gmask3", "bshape"], ["emask3"])]
        else:
            nodes += [const("ones3", np.ones((1, 1, per), np.float32)),
                      n("Mul", ["gmask3", "ones3"], ["emask3"])]
        nodes += [const("flat", np.array([-1, experts], np.int64)),
                  n("Reshape", ["emask3", "flat"], ["emask"]),
                  n("Cast", ["emask"], ["keep"], to=TensorProto.BOOL)]
        if inverted:
            nodes += [n("Not", ["keep"], ["drop"]),
                      const("neg", np.array(-np.inf, np.float32)),
                      n("Where", ["drop", "neg", sel], ["masked"])]
        else:
            nodes += [const("neg", np.array(-1e30, np.float32)),
                      n("Where", ["keep", sel, "neg"], ["masked"])]
        sel = "masked"
    if direct:
        # Flint's form: the top k of the sigmoid scores are the weights (no gather).
        assert sel == "s"
        nodes += [const("k", np.array([k], np.int64)),
                  n("TopK", [sel, "k"], ["w", "ids"], axis=-1)]
    else:
        nodes += [const("k", np.array([k], np.int64)),
                  n("TopK", [sel, "k"], ["_tv", "ids"], axis=-1),
                  n("GatherElements", ["s", "ids"], ["w"], axis=1)]
    w = "w"
    if normalize:
        nodes += [const("lastk", np.array([-1], np.int64)),
                  n("ReduceSum", ["w", "lastk"], ["wsum"], keepdims=1),
                  n("Div", ["w", "wsum"], ["wn"])]
        w = "wn"
    if scaling is not None:
        nodes += [const("scale", np.array(scaling, np.float32)),
                  n("Mul", [w, "scale"], ["ws"])]
        w = "ws"
    nodes += [n("Identity", [w], ["weights"])]
    graph = helper.make_graph(
        nodes, "sigmoid_router", [helper.make_tensor_value_info("logits", F32, ["tokens", experts])],
        [helper.make_tensor_value_info("weights", F32, ["tokens", k]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, ["tokens", k])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


CASES = {
    "deepseek_v3_size": dict(experts=256, k=8, groups=8, topk_groups=4, scaling=2.5),
    "groups_expand_inverted": dict(experts=16, k=2, groups=4, topk_groups=1, expand=True,
                                   inverted=True),
    "no_groups_no_bias": dict(experts=8, k=2, bias=False, normalize=False),
    "topk_values_renormalized": dict(experts=8, k=3, bias=False, direct=True, scaling=1.5),
    "groups_no_normalize": dict(experts=12, k=3, groups=3, topk_groups=2, normalize=False,
                                scaling=1.5),
}


class SigmoidRouter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("sigmoid_router")

    def run_moec(self, moe_file, feeds, outputs, tag):
        inputs, outs = [], []
        for name, value in feeds.items():
            path = os.path.join(self.dir, f"{tag}.{name}.npy")
            np.save(path, value)
            inputs.append((name, path))
        for name in outputs:
            outs.append((name, os.path.join(self.dir, f"{tag}.out.{name}.npy")))
        result = common.run_model(moe_file, inputs, outs)
        self.assertEqual(result.returncode, 0, common.describe(result))
        return {name: np.load(path) for name, path in outs}

    def test_router_forms(self):
        for name, spec in CASES.items():
            with self.subTest(case=name):
                src = os.path.join(self.dir, name + ".onnx")
                onnx.save(router_graph(seed=len(name), **spec), src)
                ir = common.run_tool([common.Config.moec, "compile", src, "--target", "host",
                                      "--emit", "moe-mlir"])
                self.assertEqual(ir.returncode, 0, common.describe(ir))
                self.assertEqual(ir.stdout.count('scoring = "sigmoid"'), 1, ir.stdout[-3000:])
                self.assertNotIn("onnx.TopK", ir.stdout)
                moe_file = os.path.join(self.dir, name + ".moe")
                result = common.compile_model(src, moe_file)
                self.assertEqual(result.returncode, 0, common.describe(result))
                session = common.ort_session(src)
                for tokens in (1, 7, 64):
                    logits = np.random.default_rng(tokens).standard_normal(
                        (tokens, spec["experts"])).astype(np.float32) * 2
                    want_w, want_ids = session.run(None, {"logits": logits})
                    got = self.run_moec(moe_file, {"logits": logits}, ("weights", "ids"),
                                        f"{name}_T{tokens}")
                    np.testing.assert_array_equal(got["ids"], want_ids, f"{name} T={tokens}")
                    ok, err, scale = common.compare(got["weights"], want_w)
                    self.assertLessEqual(err, 1e-5 * scale, f"{name} T={tokens} weights")

    def test_deepseek_layer(self):
        import make_shapes
        spec = dict(hidden=32, inter=16, experts=16, top_k=4, shared_experts=1, shared_inter=16,
                    routing="sigmoid_grouped_topk", groups=4, topk_groups=2, routed_scaling=2.5,
                    seed=4242)
        src = make_shapes.write_shape("deepseek_tiny", spec, self.dir)
        ir = common.run_tool([common.Config.moec, "compile", src, "--target", "host", "--emit",
                              "moe-mlir"])
        self.assertEqual(ir.returncode, 0, common.describe(ir))
        self.assertEqual(ir.stdout.count("moe.router"), 1, "one router: the sigmoid one feeds "
                                                           "the experts directly")
        self.assertIn('scoring = "sigmoid"', ir.stdout)
        moe_file = os.path.join(self.dir, "deepseek_tiny.moe")
        result = common.compile_model(src, moe_file)
        self.assertEqual(result.returncode, 0, common.describe(result))
        session = common.ort_session(src)
        for tokens in (1, 7, 64):
            x = np.random.default_rng(100 + tokens).standard_normal((tokens, 32)).astype(np.float32)
            want = session.run(None, {"input": x})[0]
            got = self.run_moec(moe_file, {"input": x}, ("output",), f"layer_T{tokens}")["output"]
            ok, err, scale = common.compare(got, want)
            self.assertTrue(ok, f"T={tokens}: max err {err:.3g} vs scale {scale:.3g}")
        if not NO_CUDA:
            gpu = common.run_tool([common.Config.moec, "compile", src, "--target", "sm_90a",
                                   "--fail-on-spills", "-o", os.path.join(self.dir, "ds90.moe")])
            self.assertEqual(gpu.returncode, 0, common.describe(gpu))


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

#!/usr/bin/env python3
"""moec-raise-dense-moe end to end: a densely computed MoE block (every expert on every
token, scaled by a routing weight that is zero outside the top k) becomes moe.router +
moe.experts, runs only the selected experts, and still computes what onnxruntime computes.

1. The fixture test/models/mixtral_moe_decomposed.onnx (E = 8, k = 2, SwiGLU) raises to
   exactly one moe.experts with no dense expert GEMM left, and needs fewer kernel launches
   than its dense form. The dense count is measured, not recorded: the same pass list that
   `moec compile --print-pipeline` prints, up to memory planning, is run by moec-opt with
   and without moec-raise-dense-moe, and the kernel.launch ops are counted. (moec-opt does
   not register `cse`, so both runs leave it out; `moec compile`'s own count is printed
   beside them.) On 2026-11-23 the counts were 64 dense and 6 raised.
2. Small models built here with random weights cover the other forms the pass accepts
   (Where selections, keepdims, Add trees, biases, TopK-then-Softmax, no renormalization,
   Relu/silu experts, Gemm and Transpose weights) and one near miss it must leave dense
   (experts of different structure). Each is compiled for the host, run by moec-run on
   fresh N(0, 1) inputs at several T and compared with onnxruntime on the same graph at
   the suite's tolerance (e2e_common.REL_TOL = 1e-4 of the output scale: float32 dot
   products of length <= 24 and a different summation order of at most k = 2 terms).
   Tokens whose k-th and (k+1)-th routing probabilities are within 1e-4 are redrawn,
   since float32 rounding may legitimately choose the other expert there.
"""

import argparse
import os
import re
import sys
import unittest
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import e2e_common as common
import moe_reference

FIXTURE = "mixtral_moe_decomposed.onnx"
TOKEN_COUNTS = (1, 6, 40)
MOEC_OPT = os.environ.get("MOEC_OPT")


def _seed(*parts):
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def _count_experts(ir):
    return len(re.findall(r"= moe\.experts ", ir))


# --- 1. the fixture ------------------------------------------------------------------------

class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("dense_moe")
        cls.model = common.model_path(FIXTURE)

    def test_raised_ir_has_one_grouped_expert_op_and_no_dense_expert(self):
        result = common.run_tool([common.Config.moec, "compile", self.model, "--emit", "moe-mlir"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        ir = result.stdout
        self.assertEqual(_count_experts(ir), 1, ir)
        self.assertEqual(len(re.findall(r"= moe\.router ", ir)), 1, ir)
        # The fixture's expert weights are [32, 48] (w1, w3) and [48, 32] (w2); the router's
        # is [8, 32]. No GEMM of any kind may read an expert weight any more, nor may any of
        # the per-expert initializers survive.
        for line in ir.splitlines():
            if re.search(r"onnx\.MatMul|onnx\.Gemm|moe\.linear|moe\.matmul", line):
                self.assertNotRegex(line, r"tensor<(32x48|48x32)xf32>", line)
        self.assertNotIn("dense_resource<experts.", ir)

    def _launches_by_moec_opt(self, onnx_mlir, pipeline):
        out = os.path.join(self.dir, "kernel.mlir")
        result = common.run_tool([MOEC_OPT, onnx_mlir, f"--pass-pipeline={pipeline}", "-o", out])
        self.assertEqual(result.returncode, 0, common.describe(result))
        with open(out) as f:
            return len(re.findall(r"= kernel\.launch ", f.read()))

    def test_fewer_kernel_launches_than_the_dense_form(self):
        if not MOEC_OPT or not os.access(MOEC_OPT, os.X_OK):
            self.skipTest("no moec-opt given (--moec-opt PATH or $MOEC_OPT)")
        artifact = os.path.join(self.dir, "fixture.moe")
        result = common.run_tool([common.Config.moec, "compile", self.model, "--target", "host",
                                  "-o", artifact, "--print-pipeline"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        printed = result.stdout + result.stderr
        moec_launches = int(re.search(r"(\d+) kernel launches", printed).group(1))
        pipeline = re.search(r"pipeline: (.+)", printed).group(1)
        self.assertIn("moec-raise-dense-moe,", pipeline)
        # Up to memory planning (emission and the artifact need no second run); no cse.
        pipeline = pipeline[:pipeline.index(",moec-emit-")] + ")"
        pipeline = pipeline.replace(",cse", "")
        onnx_mlir = os.path.join(self.dir, "fixture.onnx.mlir")
        result = common.run_tool([common.Config.moec, "compile", self.model, "--emit", "onnx-mlir",
                                  "--print-weights", "-o", onnx_mlir])
        self.assertEqual(result.returncode, 0, common.describe(result))
        raised = self._launches_by_moec_opt(onnx_mlir, pipeline)
        dense = self._launches_by_moec_opt(onnx_mlir, pipeline.replace("moec-raise-dense-moe,", ""))
        print(f"\n{FIXTURE}: kernel launches dense {dense}, raised {raised} "
              f"(moec compile reports {moec_launches})", file=sys.stderr)
        self.assertGreater(raised, 0)
        self.assertLess(raised, dense)


# --- 2. generated variants, against onnxruntime ----------------------------------------------

class Builder:
    """One dense MoE block: x [T, H] -> y [T, H], router logits = x @ router [H, E]."""

    def __init__(self, rng, experts, hidden, inter, k):
        self.rng, self.E, self.H, self.I, self.k = rng, experts, hidden, inter, k
        self.nodes, self.inits = [], []
        self.add_init("router", self.rng.standard_normal((hidden, experts)))
        self.node("MatMul", ["input", "router"], "logits")
        self.const("k", np.array([k], np.int64))
        self.const("last", np.array([-1], np.int64))
        self.const("col_axis", np.array([1], np.int64))
        self.const("col_shape", np.array([-1, 1], np.int64))
        self.const("zero", np.array(0.0, np.float32))

    def add_init(self, name, value):
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def const(self, name, value):
        self.nodes.append(helper.make_node("Constant", [], [name],
                                           value=numpy_helper.from_array(value, name)))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def router(self, form):
        """(weights, indices) of the top k, as `form` computes them."""
        if form == "topk_softmax":
            self.nodes.append(helper.make_node("TopK", ["logits", "k"], ["v", "idx"], axis=-1))
            return self.node("Softmax", ["v"], "w", axis=-1), "idx"
        self.node("Softmax", ["logits"], "probs", axis=-1)
        self.nodes.append(helper.make_node("TopK", ["probs", "k"], ["v", "idx"], axis=-1))
        if form == "plain":
            return "v", "idx"
        self.node("ReduceSum", ["v", "last"], "vsum", keepdims=1)
        return self.node("Div", ["v", "vsum"], "w"), "idx"

    def select(self, e, w, idx, form, column):
        eid = self.const(f"id{e}", np.array(e, np.int64))
        eq = self.node("Equal", [idx, eid], f"is{e}")
        if form == "where":
            sel = self.node("Where", [eq, w, "zero"], f"sel{e}")
        else:
            f = self.node("Cast", [eq], f"isf{e}", to=TensorProto.FLOAT)
            sel = self.node("Mul", [w, f], f"sel{e}")
        if column == "keepdims":
            return self.node("ReduceSum", [sel, "last"], f"rw{e}", keepdims=1)
        r = self.node("ReduceSum", [sel, "last"], f"r{e}", keepdims=0)
        if column == "reshape":
            return self.node("Reshape", [r, "col_shape"], f"rw{e}")
        return self.node("Unsqueeze", [r, "col_axis"], f"rw{e}")

    def linear(self, name, x, n_in, n_out, form, bias):
        scale = 1.0 / np.sqrt(n_in)
        if form == "gemm":  # nn.Linear exported as Gemm(x, W[out, in], b, transB = 1)
            w = self.add_init(name, self.rng.standard_normal((n_out, n_in)) * scale)
            inputs = [x, w]
            if bias:
                inputs.append(self.add_init(name + ".b", self.rng.standard_normal(n_out) * 0.1))
            return self.node("Gemm", inputs, name + ".y", transB=1)
        if form == "transpose":  # MatMul(x, Transpose(W[out, in]))
            w = self.add_init(name, self.rng.standard_normal((n_out, n_in)) * scale)
            w = self.node("Transpose", [w], name + ".t", perm=[1, 0])
        else:
            w = self.add_init(name, self.rng.standard_normal((n_in, n_out)) * scale)
        y = self.node("MatMul", [x, w], name + ".y")
        if bias:
            b = self.add_init(name + ".b", self.rng.standard_normal(n_out) * 0.1)
            y = self.node("Add", [b, y], name + ".out")
        return y

    def silu(self, g, name):
        s = self.node("Sigmoid", [g], name + ".sig")
        return self.node("Mul", [s, g], name)

    def ffn(self, e, act, forms, bias):
        p = f"experts.{e}"
        g = self.linear(p + ".w1", "input", self.H, self.I, forms[0], bias)
        if act == "swiglu":
            u = self.linear(p + ".w3", "input", self.H, self.I, forms[0], bias)
            h = self.node("Mul", [u, self.silu(g, p + ".silu")], p + ".h")
        elif act == "silu":
            h = self.silu(g, p + ".silu")
        else:
            h = self.node("Relu", [g], p + ".h")
        return self.linear(p + ".w2", h, self.I, self.H, forms[1], bias)

    def model(self, name, terms, tree):
        if tree == "pairs":  # (t0 + t1) + (t2 + t3) + ...
            while len(terms) > 1:
                terms = [self.node("Add", terms[i:i + 2], f"sum{len(self.nodes)}")
                         if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
        else:
            acc = terms[0]
            for t in terms[1:]:
                acc = self.node("Add", [acc, t], f"sum{len(self.nodes)}")
            terms = [acc]
        self.node("Identity", terms, "output")
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["tokens", self.H])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["tokens", self.H])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


# name: (router, selection(e), column(e), activation(e), (fc1 form, fc2 form), bias, tree,
#        E, k, raised)
VARIANTS = {
    "swiglu_where_keepdims_bias_pairs": ("renorm", lambda e: "where", lambda e: "keepdims",
                                         lambda e: "swiglu", ("matmul", "matmul"), True, "pairs",
                                         4, 2, True),
    "topk_softmax_relu_gemm_transpose": ("topk_softmax", lambda e: "cast",
                                         lambda e: "reshape" if e % 2 else "unsqueeze",
                                         lambda e: "relu", ("gemm", "transpose"), True, "chain",
                                         4, 2, True),
    "plain_top1_silu": ("plain", lambda e: "where" if e % 2 else "cast", lambda e: "unsqueeze",
                        lambda e: "silu", ("transpose", "gemm"), False, "chain", 3, 1, True),
    # Near miss: expert 2 is a Relu expert among silu ones; must stay dense and still be right.
    "miss_structure_differs": ("renorm", lambda e: "cast", lambda e: "unsqueeze",
                               lambda e: "relu" if e == 2 else "silu", ("matmul", "matmul"),
                               False, "chain", 4, 2, False),
}

HIDDEN, INTER = 16, 24


def build_variant(name):
    router, sel, col, act, forms, bias, tree, experts, k, _ = VARIANTS[name]
    b = Builder(np.random.default_rng(_seed("weights", name)), experts, HIDDEN, INTER, k)
    w, idx = b.router(router)
    terms = []
    for e in range(experts):
        rw = b.select(e, w, idx, sel(e), col(e))
        y = b.ffn(e, act(e), forms, bias)
        # Routing weight on either side of the scaling Mul.
        terms.append(b.node("Mul", [rw, y] if e % 2 else [y, rw], f"scaled{e}"))
    return b.model(name, terms, tree), k


def make_inputs(model, k, tokens, seed):
    router = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "router"))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((tokens, HIDDEN)).astype(np.float32)
    for _ in range(100):
        redraw = np.any(x == 0, axis=1)
        redraw |= moe_reference.routing_margin(x.astype(np.float64) @ router, k) < \
            common.MIN_ROUTING_MARGIN
        if not redraw.any():
            return x
        x[redraw] = rng.standard_normal((int(redraw.sum()), HIDDEN)).astype(np.float32)
    raise RuntimeError("could not draw inputs without near-tie routing decisions")


class Variants(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("dense_moe_variants")

    def test_variants_match_onnxruntime(self):
        for name, spec in VARIANTS.items():
            with self.subTest(variant=name):
                model, k = build_variant(name)
                path = os.path.join(self.dir, f"{name}.onnx")
                onnx.save(model, path)
                ir = common.run_tool([common.Config.moec, "compile", path, "--emit", "moe-mlir"])
                self.assertEqual(ir.returncode, 0, common.describe(ir))
                self.assertEqual(_count_experts(ir.stdout), 1 if spec[-1] else 0, ir.stdout)
                artifact = os.path.join(self.dir, f"{name}.moe")
                result = common.compile_model(path, artifact)
                self.assertEqual(result.returncode, 0, common.describe(result))
                session = common.ort_session(path)
                for tokens in TOKEN_COUNTS:
                    x = make_inputs(model, k, tokens, _seed("input", name, tokens))
                    in_path = os.path.join(self.dir, f"{name}_in{tokens}.npy")
                    out_path = os.path.join(self.dir, f"{name}_out{tokens}.npy")
                    np.save(in_path, x)
                    run = common.run_model(artifact, [("input", in_path)], [("output", out_path)])
                    self.assertEqual(run.returncode, 0, common.describe(run))
                    ref = session.run(["output"], {"input": x})[0]
                    ok, max_abs, scale = common.compare(np.load(out_path), ref)
                    self.assertTrue(ok, f"{name} T={tokens}: max|out-ref| = {max_abs:.3g} > "
                                        f"{common.REL_TOL} * {scale:.3g}")


if __name__ == "__main__":
    # No abbreviations: "--moec" (the compiler) must not be taken for "--moec-opt".
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--moec-opt")
    known, rest = parser.parse_known_args(sys.argv[1:])
    if known.moec_opt:
        MOEC_OPT = os.path.abspath(known.moec_opt)
    unittest.main(argv=common.parse_args(sys.argv[:1] + rest))

#!/usr/bin/env python3
"""Attention with a fixed-capacity KV cache (com.microsoft.GroupQueryAttention -> moe.attention)
compiled for the host and run step by step against onnxruntime.

Each case is one GroupQueryAttention node whose inputs are all graph inputs, so the test can
drive a whole generation: a prompt (the first call, total_sequence_length == S), then decode
and multi-token steps that feed the previous step's present cache back as the past. Every
step compares the output and the cache rows [0, total) with onnxruntime's. The cache starts
as random values (not zeros): rows at or beyond the current length must never be read.

Pass criterion (e2e_common.REL_TOL): max|moec - ort| <= 1e-4 * max|ort| for the attention
output (float32 dot products of length head_size, a softmax over at most `capacity` terms and
a weighted sum of as many rows: rounding is ~1e-6 of scale), and the same for the cache rows
(the rotated keys are exactly one float32 multiply-add pair per element away from each other).

The refusals (forms moec cannot run) must be one-line compile errors naming the node, and a
step that overflows the cache must fail at run time without writing past the buffer.
"""

import os
import sys
import unittest
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as common  # noqa: E402

MS = "com.microsoft"


def rotary_cache(rows, rotary_dim, theta=10000.0):
    inv = 1.0 / theta ** (np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)
    angles = np.arange(rows, dtype=np.float64)[:, None] * inv[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def save_inputs(directory, tag, feeds):
    """Writes each feed to <tag>.<name>.npy; the (name, path) list moec-run takes."""
    inputs = []
    for name, value in feeds.items():
        path = os.path.join(directory, f"{tag}.{name}.npy")
        np.save(path, value)
        inputs.append((name, path))
    return inputs


class Case:
    """One GroupQueryAttention graph: every input is a graph input except the rotary
    caches, which are initializers as model builders write them."""

    def __init__(self, name, heads=4, kv_heads=2, head=16, capacity=16, batch=1,
                 rotary_dim=None, interleaved=0, packed=False, scale=None, softcap=None,
                 window=None, rotary_op=False):
        self.name, self.heads, self.kv_heads, self.head = name, heads, kv_heads, head
        self.capacity, self.batch, self.packed = capacity, batch, packed
        self.rotary_dim = rotary_dim
        # rotary_op: q and k rotated by com.microsoft.RotaryEmbedding nodes fed by a
        # position_ids input, GroupQueryAttention without do_rotary (older genai graphs).
        self.rotary_op = rotary_op
        self.interleaved = interleaved
        attrs = dict(num_heads=heads, kv_num_heads=kv_heads)
        if rotary_dim and not rotary_op:
            attrs.update(do_rotary=1, rotary_interleaved=interleaved)
        if scale is not None:
            attrs["scale"] = scale
        if softcap is not None:
            attrs["softcap"] = softcap
        if window is not None:
            attrs["local_window_size"] = window
        self.attrs = attrs

    def model(self):
        b, n, kv, hd, c = self.batch, self.heads, self.kv_heads, self.head, self.capacity
        f32 = TensorProto.FLOAT
        q_width = (n + 2 * kv) * hd if self.packed else n * hd
        inputs = [helper.make_tensor_value_info("query", f32, [b, "tokens", q_width])]
        names = ["query"]
        if not self.packed:
            inputs += [helper.make_tensor_value_info(x, f32, [b, "tokens", kv * hd])
                       for x in ("key", "value")]
            names += ["key", "value"]
        else:
            names += ["", ""]
        inputs += [helper.make_tensor_value_info(x, f32, [b, kv, c, hd])
                   for x in ("past_key", "past_value")]
        inputs += [helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [b]),
                   helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
        names += ["past_key", "past_value", "seqlens_k", "total_sequence_length"]
        inits, nodes = [], []
        if self.rotary_dim:
            cos, sin = rotary_cache(c, self.rotary_dim)
            inits = [helper.make_tensor("cos_cache", f32, cos.shape, cos.ravel()),
                     helper.make_tensor("sin_cache", f32, sin.shape, sin.ravel())]
            if not self.rotary_op:
                names += ["cos_cache", "sin_cache"]
        if self.rotary_op:
            inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                                        [b, "tokens"]))
            for slot, heads_here in ((0, n), (1, kv)):
                rotated = names[slot] + "_rot"
                nodes.append(helper.make_node(
                    "RotaryEmbedding", [names[slot], "position_ids", "cos_cache", "sin_cache"],
                    [rotated], domain=MS, name=f"/layers.0/attn/{names[slot]}_rotary",
                    num_heads=heads_here, rotary_embedding_dim=self.rotary_dim,
                    interleaved=self.interleaved))
                names[slot] = rotated
        node = helper.make_node("GroupQueryAttention", names,
                                ["output", "present_key", "present_value"], domain=MS,
                                name="/layers.0/attn/GroupQueryAttention", **self.attrs)
        nodes.append(node)
        outputs = [helper.make_tensor_value_info("output", f32, [b, "tokens", n * hd]),
                   helper.make_tensor_value_info("present_key", f32, [b, kv, c, hd]),
                   helper.make_tensor_value_info("present_value", f32, [b, kv, c, hd])]
        graph = helper.make_graph(nodes, self.name, inputs, outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid(MS, 1)])
        model.ir_version = 8
        return model

    def step_inputs(self, rng, tokens, totals, first):
        """Fresh N(0, 1) q/k/v for `tokens` new tokens per batch row; totals[b] is the row's
        length after the step."""
        b, n, kv, hd = self.batch, self.heads, self.kv_heads, self.head
        feeds = {}
        if self.packed:
            feeds["query"] = rng.standard_normal((b, tokens, (n + 2 * kv) * hd)).astype(np.float32)
        else:
            feeds["query"] = rng.standard_normal((b, tokens, n * hd)).astype(np.float32)
            feeds["key"] = rng.standard_normal((b, tokens, kv * hd)).astype(np.float32)
            feeds["value"] = rng.standard_normal((b, tokens, kv * hd)).astype(np.float32)
        if self.rotary_op:
            feeds["position_ids"] = np.array([[t - tokens + i for i in range(tokens)]
                                              for t in totals], np.int64)
        feeds["seqlens_k"] = np.array([t - 1 for t in totals], np.int32)
        feeds["total_sequence_length"] = np.array(tokens if first else max(totals), np.int32)
        return feeds


# (case, steps): each step is the number of new tokens; the first step is the prompt.
CASES = [
    (Case("gqa_rotary", rotary_dim=16), [5, 1, 1, 3, 1]),
    (Case("mha_packed_interleaved_partial", heads=2, kv_heads=2, head=32, rotary_dim=16,
          interleaved=1, packed=True), [7, 1, 2]),
    (Case("gqa4_no_rotary_scale", heads=8, kv_heads=2, head=32, scale=0.05), [4, 1, 1]),
    (Case("softcap_window", rotary_dim=16, softcap=2.0, window=3), [6, 1, 1, 2]),
    (Case("single_token_prompt_fills_cache", capacity=8, rotary_dim=16), [1, 1, 3, 1, 2]),
    (Case("rotary_embedding_ops_partial_interleaved", head=32, rotary_dim=16, interleaved=1,
          rotary_op=True), [5, 1, 2]),
]


class AttentionSteps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("attention")

    def run_case(self, case, steps):
        src = os.path.join(self.dir, case.name + ".onnx")
        onnx.save(case.model(), src)
        moe_file = os.path.join(self.dir, case.name + ".moe")
        result = common.compile_model(src, moe_file)
        self.assertEqual(result.returncode, 0, common.describe(result))
        session = common.ort_session(src)
        rng = np.random.default_rng(zlib.crc32(case.name.encode()))
        shape = (case.batch, case.kv_heads, case.capacity, case.head)
        past_k = rng.standard_normal(shape).astype(np.float32)
        past_v = rng.standard_normal(shape).astype(np.float32)
        total = 0
        for index, tokens in enumerate(steps):
            total += tokens
            feeds = case.step_inputs(rng, tokens, [total] * case.batch, first=index == 0)
            feeds.update(past_key=past_k, past_value=past_v)
            ref = dict(zip(("output", "present_key", "present_value"), session.run(None, feeds)))
            got = self.run_moec(moe_file, feeds, f"{case.name}_{index}")
            for name in ("output", "present_key", "present_value"):
                want, have = ref[name], got[name]
                if name != "output":
                    want, have = want[:, :, :total], have[:, :, :total]
                ok, err, scale = common.compare(have, want)
                self.assertTrue(ok, f"{case.name} step {index} (S={tokens}, total={total}) "
                                    f"{name}: max err {err:.3g} vs scale {scale:.3g}")
            # moec's present cache is the next step's past; onnxruntime's rows beyond the
            # length are not specified, so both continue from moec's.
            past_k, past_v = got["present_key"], got["present_value"]

    def run_moec(self, moe_file, feeds, tag):
        inputs, outputs = save_inputs(self.dir, tag, feeds), []
        for name in ("output", "present_key", "present_value"):
            outputs.append((name, os.path.join(self.dir, f"{tag}.out.{name}.npy")))
        result = common.run_model(moe_file, inputs, outputs)
        self.assertEqual(result.returncode, 0, common.describe(result))
        return {name: np.load(path) for name, path in outputs}

    def test_cases(self):
        for case, steps in CASES:
            with self.subTest(case=case.name):
                self.run_case(case, steps)

    def test_cache_overflow_fails_at_run_time(self):
        case = Case("overflow", capacity=8, rotary_dim=16)
        src = os.path.join(self.dir, "overflow.onnx")
        onnx.save(case.model(), src)
        moe_file = os.path.join(self.dir, "overflow.moe")
        result = common.compile_model(src, moe_file)
        self.assertEqual(result.returncode, 0, common.describe(result))
        rng = np.random.default_rng(7)
        shape = (1, case.kv_heads, case.capacity, case.head)
        feeds = case.step_inputs(rng, 3, [10], first=False)  # 7 cached + 3 new > 8
        feeds.update(past_key=rng.standard_normal(shape).astype(np.float32),
                     past_value=rng.standard_normal(shape).astype(np.float32))
        result = common.run_model(moe_file, save_inputs(self.dir, "overflow", feeds))
        self.assertNotEqual(result.returncode, 0, common.describe(result))
        self.assertIn("attention", result.stderr)
        self.assertIn("total_sequence_length is out of range", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)


class AttentionInPlace(unittest.TestCase):
    """present_key/present_value may share past_key/past_value's buffers only when nothing
    else reads the past: a graph that also returns the past (an Identity) gets no in-place
    declaration for that cache."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("attention_inplace")

    def info(self, model, tag):
        src = os.path.join(self.dir, tag + ".onnx")
        onnx.save(model, src)
        moe_file = os.path.join(self.dir, tag + ".moe")
        result = common.compile_model(src, moe_file)
        self.assertEqual(result.returncode, 0, common.describe(result))
        result = common.run_tool([common.Config.moec_run, moe_file, "--info"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        return result.stdout

    def test_declared_only_when_safe(self):
        model = Case("inplace", rotary_dim=16).model()
        out = self.info(model, "inplace")
        self.assertIn("present_key: float32 [1, 2, 16, 16] (may share the buffer of input "
                      "'past_key')", out)
        self.assertIn("(may share the buffer of input 'past_value')", out)
        model.graph.node.append(helper.make_node("Identity", ["past_key"], ["past_key_copy"]))
        model.graph.output.append(helper.make_tensor_value_info(
            "past_key_copy", TensorProto.FLOAT, [1, 2, 16, 16]))
        out = self.info(model, "past_read_twice")
        self.assertNotIn("input 'past_key')", out)
        self.assertIn("(may share the buffer of input 'past_value')", out)


def refused(case_attrs=None, drop=(), extra_inputs=()):
    """A GroupQueryAttention graph with attributes changed or inputs removed/added."""
    model = Case("refused", rotary_dim=16).model()
    node = model.graph.node[0]
    for key, value in (case_attrs or {}).items():
        node.attribute.append(helper.make_attribute(key, value))
    for slot in drop:
        node.input[slot] = ""
    for name in extra_inputs:
        while len(node.input) < 10:
            node.input.append("")
        node.input.append(name)
        model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1]))
    return model


class AttentionRefusals(unittest.TestCase):
    """Forms moec has no kernel for: a one-line compile error naming the node."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("attention_refused")

    def check(self, model, tag, message):
        src = os.path.join(self.dir, tag + ".onnx")
        onnx.save(model, src)
        result = common.compile_model(src, os.path.join(self.dir, tag + ".moe"))
        self.assertNotEqual(result.returncode, 0, common.describe(result))
        err = result.stderr.strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("GroupQueryAttention", err)
        self.assertIn(message, err)

    def test_refusals(self):
        self.check(refused(drop=(3, 4)), "no_past", "needs past_key and past_value")
        self.check(refused({"smooth_softmax": 1}), "smooth", "smooth_softmax")
        self.check(refused(extra_inputs=("attention_bias",)), "bias", "attention_bias")
        self.check(refused(drop=(7, 8)), "rotary_no_cache", "cos_cache")


class RotaryEmbeddingOp(unittest.TestCase):
    """com.microsoft.RotaryEmbedding alone (moe.rotary) against onnxruntime: 3-D input with
    num_heads (full, partial, interleaved), 3-D without num_heads (head size from the cos
    cache), 4-D [B, N, S, H], per-token positions and the one-offset form, batch 2; T = 1, 6.
    Rotation is two float32 multiply-adds per element: 1e-4 of scale is ample. A position
    beyond the tables is a one-line run-time error."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("rotary")

    def model(self, name, shape, positions_shape, rows, rotary_dim, **attrs):
        f32 = TensorProto.FLOAT
        cos, sin = rotary_cache(rows, rotary_dim, theta=500.0)
        node = helper.make_node("RotaryEmbedding", ["input", "position_ids", "cos", "sin"],
                                ["output"], domain=MS, name="/attn/rotary", **attrs)
        graph = helper.make_graph(
            [node], name,
            [helper.make_tensor_value_info("input", f32, shape),
             helper.make_tensor_value_info("position_ids", TensorProto.INT64, positions_shape)],
            [helper.make_tensor_value_info("output", f32, shape)],
            [helper.make_tensor("cos", f32, cos.shape, cos.ravel()),
             helper.make_tensor("sin", f32, sin.shape, sin.ravel())])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid(MS, 1)])
        model.ir_version = 8
        src = os.path.join(self.dir, name + ".onnx")
        onnx.save(model, src)
        moe_file = os.path.join(self.dir, name + ".moe")
        result = common.compile_model(src, moe_file)
        self.assertEqual(result.returncode, 0, common.describe(result))
        return src, moe_file

    def run_both(self, src, moe_file, feeds, tag):
        want = common.ort_session(src).run(None, feeds)[0]
        out = os.path.join(self.dir, f"{tag}.out.npy")
        result = common.run_model(moe_file, save_inputs(self.dir, tag, feeds), [("output", out)])
        self.assertEqual(result.returncode, 0, common.describe(result))
        ok, err, scale = common.compare(np.load(out), want)
        self.assertTrue(ok, f"{tag}: max err {err:.3g} vs scale {scale:.3g}")

    def test_forms(self):
        rng = np.random.default_rng(5)
        forms = [  # name, shape (T as "tokens"), positions, batch, attributes
            ("full", ["b", "tokens", 64], "per_token", 1, dict(num_heads=4), 16),
            ("partial_interleaved", ["b", "tokens", 64], "per_token", 2,
             dict(num_heads=2, rotary_embedding_dim=16, interleaved=1), 16),
            ("no_num_heads", ["b", "tokens", 48], "per_token", 1, {}, 16),
            ("heads_first", ["b", 3, "tokens", 16], "per_token", 1, dict(interleaved=1), 16),
            ("offset", ["b", "tokens", 64], "offset", 1, dict(num_heads=4), 16),
        ]
        for name, shape, pos_form, batch, attrs, rotary_dim in forms:
            with self.subTest(form=name):
                dims = [batch if d == "b" else d for d in shape]
                pos_shape = [batch, "tokens"] if pos_form == "per_token" else [1]
                src, moe_file = self.model(name, dims, pos_shape, 40, rotary_dim, **attrs)
                for tokens in (1, 6):
                    concrete = [tokens if d == "tokens" else d for d in dims]
                    x = rng.standard_normal(concrete).astype(np.float32)
                    if pos_form == "per_token":
                        pos = rng.integers(0, 40, size=(batch, tokens)).astype(np.int64)
                    else:
                        pos = np.array([40 - tokens], np.int64)
                    self.run_both(src, moe_file, {"input": x, "position_ids": pos},
                                  f"{name}_T{tokens}")

    def test_position_out_of_range(self):
        src, moe_file = self.model("range", [1, "tokens", 32], [1, "tokens"], 8, 16,
                                   num_heads=2)
        feeds = {"input": np.ones((1, 2, 32), np.float32),
                 "position_ids": np.array([[3, 8]], np.int64)}
        result = common.run_model(moe_file, save_inputs(self.dir, "range", feeds))
        self.assertEqual(result.returncode, 2, common.describe(result))
        self.assertIn("position id is outside the rotary cos/sin tables", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

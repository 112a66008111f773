#!/usr/bin/env python3
"""Checks the decoder fixtures in test/models/decoder/ (written by make_decoder_models.py): each
graph has the onnxruntime-genai form the docs describe, and onnxruntime's greedy loop
(ort_greedy.py) reproduces the transformers reference saved beside it. That proves fixture and
reference agree, so a later moec mismatch on them is moec's. numpy + onnxruntime only.

    python3 test/models/decoder/test_decoder_fixtures.py [-v]
"""

import json
import os
import sys
import unittest

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import ort_greedy  # noqa: E402


def _manifest():
    with open(os.path.join(HERE, "manifest.json")) as f:
        return json.load(f)


def _ref(name):
    with np.load(os.path.join(HERE, f"{name}.ref.npz")) as z:
        return {k: z[k] for k in z.files}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class DecoderFixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifest = _manifest()
        cls.models = cls.manifest["models"]

    def test_manifest_lists_every_file(self):
        on_disk = {f[:-len(".onnx")] for f in os.listdir(HERE) if f.endswith(".onnx")}
        self.assertEqual(on_disk, set(self.models))
        self.assertEqual(on_disk, {"mixtral", "qwen2_moe"})
        for name in on_disk:
            self.assertTrue(os.path.exists(os.path.join(HERE, f"{name}.ref.npz")), name)

    def test_graph_form(self):
        """The interface and the contrib ops the e2e tests rely on; a regenerated fixture that
        drifted from the genai form fails here, not deep inside a moec run."""
        for name, entry in self.models.items():
            with self.subTest(model=name):
                m = onnx.load(os.path.join(HERE, f"{name}.onnx"))
                cfg, cap = entry["config"], entry["capacity"]
                kv_shape = [1, cfg["num_key_value_heads"], cap, cfg["head_dim"]]

                def dims(v):
                    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                ins = {v.name: dims(v) for v in m.graph.input}
                outs = {v.name: dims(v) for v in m.graph.output}
                want_in = {"input_ids": [1, "tokens"], "seqlens_k": [1],
                           "total_sequence_length": []}
                want_out = {"logits": [1, "tokens", cfg["vocab_size"]]}
                for i in range(cfg["num_hidden_layers"]):
                    for kv in ("key", "value"):
                        want_in[f"past_key_values.{i}.{kv}"] = kv_shape
                        want_out[f"present.{i}.{kv}"] = kv_shape
                self.assertEqual(ins, want_in)
                self.assertEqual(outs, want_out)
                by_op = {}
                for n in m.graph.node:
                    by_op.setdefault((n.domain, n.op_type), []).append(n)
                gqa = by_op[("com.microsoft", "GroupQueryAttention")]
                moe = by_op[("com.microsoft", "MoE")]
                self.assertEqual(len(gqa), cfg["num_hidden_layers"])
                self.assertEqual(len(moe), cfg["num_hidden_layers"])
                for n in gqa:
                    a = _attrs(n)
                    self.assertEqual((a["do_rotary"], a["rotary_interleaved"], a["num_heads"],
                                      a["kv_num_heads"]),
                                     (1, 0, cfg["num_attention_heads"],
                                      cfg["num_key_value_heads"]), n.name)
                for n in moe:
                    a = _attrs(n)
                    self.assertEqual((a["activation_type"], a["swiglu_fusion"], a["k"]),
                                     (b"swiglu", 1, cfg["num_experts_per_tok"]), n.name)
                self.assertEqual(len(by_op[("", "SimplifiedLayerNormalization")]), 1)
                self.assertEqual(len(by_op[("com.microsoft", "SkipSimplifiedLayerNormalization")]),
                                 2 * cfg["num_hidden_layers"])
                self.assertEqual(gqa[0].name, "/model/layers.0/attn/GroupQueryAttention")

    def test_references_are_not_trivial(self):
        """A near-constant reference, a near-tied greedy choice or a run that repeats one
        token would let a wrong graph (or an ignored cache) pass."""
        for name in self.models:
            with self.subTest(model=name):
                ref = _ref(name)
                self.assertEqual(ref["prompt"].shape, (5,))
                self.assertEqual(ref["hf_tokens"].shape, (8,))
                self.assertGreater(float(np.std(ref["hf_prefill_logits"])), 0.05)
                steps = ref["hf_step_logits"].astype(np.float64)
                np.testing.assert_array_equal(steps.argmax(-1), ref["hf_tokens"])
                top2 = np.sort(steps, axis=-1)[:, -2:]
                margin = (top2[:, 1] - top2[:, 0]) / np.abs(steps).max(-1)
                self.assertGreaterEqual(margin.min(), 1e-3)
                self.assertGreaterEqual(len(set(ref["hf_tokens"].tolist())), 5)

    def test_onnxruntime_greedy_matches_transformers(self):
        """Prefill + 7 decode steps in onnxruntime (CPU, default optimizations) against
        transformers' generate: max|ort - hf| / max|hf| <= the manifest's tolerance (1e-4:
        float32 rounding through two layers, measured <= 1e-6) and the same tokens."""
        for name, entry in self.models.items():
            with self.subTest(model=name):
                ref = _ref(name)
                tol = entry["ort_vs_hf"]["tolerance"]
                run = ort_greedy.greedy(os.path.join(HERE, f"{name}.onnx"), ref["prompt"],
                                        ref["hf_tokens"].size)
                errs = ort_greedy.compare(run, ref)
                self.assertLessEqual(errs["prefill"], tol)
                for s, e in enumerate(errs["steps"]):
                    self.assertLessEqual(e, tol, f"step {s}")
                np.testing.assert_array_equal(run.tokens, ref["hf_tokens"])

    def test_positions_beyond_the_length_are_ignored(self):
        """A NaN-filled initial cache gives the same logits bit for bit."""
        name = "mixtral"
        ref = _ref(name)
        sess = ort_greedy.session(os.path.join(HERE, f"{name}.onnx"))
        clean = ort_greedy.greedy(sess, ref["prompt"], 3)
        dirty = ort_greedy.greedy(sess, ref["prompt"], 3, past_fill=float("nan"))
        np.testing.assert_array_equal(clean.step_logits, dirty.step_logits)

    def test_capacity_overflow_is_refused(self):
        sess = ort_greedy.session(os.path.join(HERE, "mixtral.onnx"))
        self.assertEqual(ort_greedy.capacity(sess), 32)
        with self.assertRaisesRegex(ValueError, "capacity 32"):
            ort_greedy.greedy(sess, np.arange(30), 4)


if __name__ == "__main__":
    unittest.main()

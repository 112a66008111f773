#!/usr/bin/env python3
"""Whole decoders (test/models/decoder: Mixtral and Qwen2-MoE from transformers, written in
onnxruntime-genai form with GroupQueryAttention, the MoE contrib op and a KV cache) compiled
for the host and checked against transformers and onnxruntime:

  * the raised IR has exactly one moe.experts (and one moe.attention) per decoder layer;
  * the prompt's logits (one moec-run call) match transformers' and onnxruntime's;
  * `moec-run --generate 8` produces transformers' greedy tokens, and the logits row each
    step chose from matches the reference's;
  * a prompt plus new tokens that overflow the cache is refused before anything runs.

Tolerance (e2e_common.REL_TOL): max|moec - ref| <= 1e-4 * max|ref| on logits. Both sides
compute in float32; the references agree with each other to ~8e-7 (manifest.json), and the
greedy tokens are only compared where the fixture script checked that the top-1 logit beats
the top-2 by >= 1e-3 of scale at every step, so a float32 rounding difference cannot flip one.
"""

import os
import re
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as common  # noqa: E402

NEW_TOKENS = 8


def attention_mask_form(model):
    """The fixture rewritten into the form onnxruntime-genai's builder writes for CPU: an
    attention_mask [1, total_sequence_length] input instead of seqlens_k and
    total_sequence_length, which the graph computes (ReduceSum - 1, Cast; Shape, Gather,
    Cast), and caches with symbolic lengths (past_sequence_length in,
    total_sequence_length out). onnxruntime runs it as a growing cache."""
    from onnx import TensorProto, helper
    g = model.graph
    keep = [i for i in g.input if i.name not in ("seqlens_k", "total_sequence_length")]
    del g.input[:]
    g.input.extend(keep)
    g.input.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                                 [1, "total_sequence_length"]))
    for port, dim in ((g.input, "past_sequence_length"), (g.output, "total_sequence_length")):
        for value in port:
            if value.name.startswith(("past_key_values.", "present.")):
                shape_dim = value.type.tensor_type.shape.dim[2]
                shape_dim.ClearField("dim_value")
                shape_dim.dim_param = dim
    g.initializer.extend([helper.make_tensor("mask_one", TensorProto.INT64, [], [1]),
                          helper.make_tensor("mask_axes", TensorProto.INT64, [1], [1])])
    prefix = "/model/attn_mask_reformat/"
    nodes = [
        helper.make_node("ReduceSum", ["attention_mask", "mask_axes"], ["mask_sum"],
                         keepdims=0, name=prefix + "ReduceSum"),
        helper.make_node("Sub", ["mask_sum", "mask_one"], ["mask_sum_m1"], name=prefix + "Sub"),
        helper.make_node("Cast", ["mask_sum_m1"], ["seqlens_k"], to=TensorProto.INT32,
                         name=prefix + "Cast"),
        helper.make_node("Shape", ["attention_mask"], ["mask_shape"], name=prefix + "Shape"),
        helper.make_node("Gather", ["mask_shape", "mask_one"], ["total_i64"], axis=0,
                         name=prefix + "Gather"),
        helper.make_node("Cast", ["total_i64"], ["total_sequence_length"],
                         to=TensorProto.INT32, name=prefix + "Cast_1"),
    ]
    old = list(g.node)
    del g.node[:]
    g.node.extend(nodes + old)
    return model


def decoder_dir():
    return os.path.join(common.Config.models, "decoder")


class DecoderFixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("decoder")
        sys.path.insert(0, decoder_dir())
        import ort_greedy  # noqa: E402  (numpy + onnxruntime; beside the fixtures)
        cls.ort_greedy = ort_greedy

    def models(self):
        names = sorted(n[:-5] for n in os.listdir(decoder_dir()) if n.endswith(".onnx"))
        self.assertTrue(names, "no decoder fixtures")
        return names

    def compile(self, name):
        src = os.path.join(decoder_dir(), name + ".onnx")
        moe_file = os.path.join(self.dir, name + ".moe")
        if not os.path.exists(moe_file):
            result = common.compile_model(src, moe_file)
            self.assertEqual(result.returncode, 0, common.describe(result))
        return src, moe_file

    def layers(self, name):
        src = os.path.join(decoder_dir(), name + ".onnx")
        import onnx
        model = onnx.load(src, load_external_data=False)
        return sum(1 for n in model.graph.node if n.op_type == "GroupQueryAttention")

    def test_raised_ir(self):
        for name in self.models():
            with self.subTest(model=name):
                src = os.path.join(decoder_dir(), name + ".onnx")
                result = common.run_tool([common.Config.moec, "compile", src, "--target", "host",
                                          "--emit", "moe-mlir"])
                self.assertEqual(result.returncode, 0, common.describe(result))
                layers = self.layers(name)
                self.assertGreaterEqual(layers, 2)
                self.assertEqual(len(re.findall(r"= moe\.experts ", result.stdout)), layers)
                self.assertEqual(len(re.findall(r"= moe\.attention ", result.stdout)), layers)
                self.assertNotIn("onnx.ms.", result.stdout)

    def test_prefill_logits(self):
        for name in self.models():
            with self.subTest(model=name):
                _, moe_file = self.compile(name)
                ref = np.load(os.path.join(decoder_dir(), name + ".ref.npz"))
                prompt = ref["prompt"].astype(np.int64)
                ort = self.ort_greedy.greedy(os.path.join(decoder_dir(), name + ".onnx"),
                                             prompt, new_tokens=1)
                feeds = {"input_ids": prompt[None, :],
                         "seqlens_k": np.array([len(prompt) - 1], np.int32),
                         "total_sequence_length": np.array(len(prompt), np.int32)}
                rng = np.random.default_rng(11)
                inputs = []
                for key, value in feeds.items():
                    inputs.append((key, self.save(f"{name}.{key}", value)))
                # The caches hold random values: nothing at or past the prompt may be read.
                for cache in self.cache_names(moe_file):
                    shape = self.cache_shape(name)
                    value = rng.standard_normal(shape).astype(np.float32)
                    inputs.append((cache, self.save(f"{name}.{cache}", value)))
                out = os.path.join(self.dir, f"{name}.logits.npy")
                result = common.run_model(moe_file, inputs, [("logits", out)])
                self.assertEqual(result.returncode, 0, common.describe(result))
                logits = np.load(out)
                for label, want in (("transformers", ref["hf_prefill_logits"]),
                                    ("onnxruntime", ort.prefill_logits)):
                    ok, err, scale = common.compare(logits, want)
                    self.assertTrue(ok, f"{name} prefill vs {label}: max err {err:.3g} "
                                        f"vs scale {scale:.3g}")

    def test_generate(self):
        for name in self.models():
            with self.subTest(model=name):
                _, moe_file = self.compile(name)
                ref = np.load(os.path.join(decoder_dir(), name + ".ref.npz"))
                prompt = ",".join(str(int(t)) for t in ref["prompt"])
                tokens_out = os.path.join(self.dir, f"{name}.tokens.npy")
                logits_out = os.path.join(self.dir, f"{name}.step_logits.npy")
                result = common.run_tool([common.Config.moec_run, moe_file, "--generate",
                                          NEW_TOKENS, "--prompt", prompt, "--tokens-out",
                                          tokens_out, "--logits-out", logits_out])
                self.assertEqual(result.returncode, 0, common.describe(result))
                want = [int(t) for t in ref["hf_tokens"][:NEW_TOKENS]]
                self.assertEqual(result.stdout.split(), [str(t) for t in want])
                self.assertEqual(np.load(tokens_out).tolist(), want)
                ok, err, scale = common.compare(np.load(logits_out),
                                                ref["hf_step_logits"][:NEW_TOKENS])
                self.assertTrue(ok, f"{name} step logits: max err {err:.3g} vs {scale:.3g}")

    def test_caches_update_in_place(self):
        """Each present cache may share its past's buffer (the attention append then writes
        only the new rows); --generate relies on it, so its tokens above cover that path."""
        for name in self.models():
            with self.subTest(model=name):
                _, moe_file = self.compile(name)
                result = common.run_tool([common.Config.moec_run, moe_file, "--info"])
                self.assertEqual(result.returncode, 0, common.describe(result))
                caches = self.cache_names(moe_file)
                self.assertTrue(caches)
                for past in caches:
                    present = "present." + past[len("past_key_values."):]
                    self.assertIn(f"{present}: float32", result.stdout)
                    self.assertIn(f"(may share the buffer of input '{past}')", result.stdout)

    def test_attention_mask_form(self):
        """The genai CPU form (mask input, in-graph seqlens/total, symbolic cache lengths)
        compiles once its two lengths are bound to the capacity, and --generate (which then
        feeds a capacity-long mask: ones for the cached tokens) reproduces transformers'
        tokens. onnxruntime, running the same graph as a growing cache, checks the rewrite."""
        import onnx
        import onnxruntime as ort
        for name in self.models():
            with self.subTest(model=name):
                ref = np.load(os.path.join(decoder_dir(), name + ".ref.npz"))
                model = attention_mask_form(onnx.load(os.path.join(decoder_dir(),
                                                                   name + ".onnx")))
                src = os.path.join(self.dir, name + ".mask.onnx")
                onnx.save(model, src)
                # onnxruntime: growing cache, mask of the current length.
                session = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
                caches = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
                          for i in session.get_inputs() if i.name.startswith("past_key_values.")}
                outputs = [o.name for o in session.get_outputs()]
                ids, total, tokens = ref["prompt"][None, :].astype(np.int64), 0, []
                for _ in range(NEW_TOKENS):
                    total += ids.shape[1]
                    feeds = dict(caches, input_ids=ids,
                                 attention_mask=np.ones((1, total), np.int64))
                    named = dict(zip(outputs, session.run(None, feeds)))
                    caches = {k: named["present." + k[len("past_key_values."):]] for k in caches}
                    tokens.append(int(np.argmax(named["logits"][0, -1])))
                    ids = np.array([[tokens[-1]]], np.int64)
                want = [int(t) for t in ref["hf_tokens"][:NEW_TOKENS]]
                self.assertEqual(tokens, want, "the rewritten graph in onnxruntime")
                # Unbound, the error says which symbols to bind.
                result = common.compile_model(src, os.path.join(self.dir, name + ".unbound.moe"))
                self.assertNotEqual(result.returncode, 0)
                lines = result.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, result.stderr)
                self.assertIn("--bind-dim past_sequence_length=", lines[0])
                self.assertIn("--bind-dim total_sequence_length=", lines[0])
                # moec: both lengths bound to the capacity.
                capacity = self.cache_shape(name)[2]
                moe_file = os.path.join(self.dir, name + ".mask.moe")
                result = common.compile_model(src, moe_file, "--bind-dim",
                                              f"past_sequence_length={capacity}", "--bind-dim",
                                              f"total_sequence_length={capacity}")
                self.assertEqual(result.returncode, 0, common.describe(result))
                logits_out = os.path.join(self.dir, f"{name}.mask.step_logits.npy")
                result = common.run_tool([common.Config.moec_run, moe_file, "--generate",
                                          NEW_TOKENS, "--prompt",
                                          ",".join(str(int(t)) for t in ref["prompt"]),
                                          "--logits-out", logits_out])
                self.assertEqual(result.returncode, 0, common.describe(result))
                self.assertEqual(result.stdout.split(), [str(t) for t in want])
                ok, err, scale = common.compare(np.load(logits_out),
                                                ref["hf_step_logits"][:NEW_TOKENS])
                self.assertTrue(ok, f"{name} mask form step logits: {err:.3g} vs {scale:.3g}")

    def test_generate_overflow_refused(self):
        name = self.models()[0]
        _, moe_file = self.compile(name)
        capacity = self.cache_shape(name)[2]
        result = common.run_tool([common.Config.moec_run, moe_file, "--generate", capacity,
                                  "--prompt", "1,2"])
        self.assertEqual(result.returncode, 2, common.describe(result))
        self.assertIn(f"the KV cache holds {capacity} positions", result.stderr)
        self.assertEqual(result.stdout, "")

    def save(self, tag, value):
        path = os.path.join(self.dir, tag + ".npy")
        np.save(path, value)
        return path

    def cache_names(self, moe_file):
        import onnx
        name = os.path.basename(moe_file)[:-4]
        model = onnx.load(os.path.join(decoder_dir(), name + ".onnx"), load_external_data=False)
        return [i.name for i in model.graph.input if i.name.startswith("past_key_values.")]

    def cache_shape(self, name):
        import onnx
        model = onnx.load(os.path.join(decoder_dir(), name + ".onnx"), load_external_data=False)
        for i in model.graph.input:
            if i.name.startswith("past_key_values."):
                return [d.dim_value for d in i.type.tensor_type.shape.dim]
        self.fail(f"{name}: no cache input")


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

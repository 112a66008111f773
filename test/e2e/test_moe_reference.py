#!/usr/bin/env python3
"""Verifies moe_reference.py (float64) against onnxruntime's CPU com.microsoft.MoE.

Every configuration onnxruntime runs is compared: each activation, k from 1 to E,
normalisation on/off, every bias combination, SwiGLU interleaved with default and
gpt-oss-style alpha/beta/limit, 2-D and 3-D input, zero tokens. Configurations the
installed onnxruntime refuses (separate FC3, swiglu_fusion 0 and 2 on CPU in 1.32) are
still tried: if a later onnxruntime runs them, they are compared too; while it refuses
they are reported as skipped, and the e2e suite relies on the reference alone for them.

    python3 test/e2e/test_moe_reference.py [unittest args]
"""

import itertools
import unittest

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import e2e_common as common
import moe_reference

# The reference is float64 and onnxruntime float32 with dot products of length <= 24 here:
# their difference is a few float32 ulps of the output scale (observed ~3e-7), so a
# tolerance 10x tighter than the e2e one still leaves a wide margin.
REF_TOL = 1e-5

HIDDEN, INTER, EXPERTS = 12, 20, 6


def _case(rng, *, activation, k, normalize, fc1_bias, fc2_bias, fusion=1, fc3=False,
          fc3_bias=False, alpha=None, beta=None, limit=None, tokens=9, gain=1.0,
          batch_shape=None):
    """A single-node MoE model plus its inputs and the reference's keyword arguments."""
    gated = activation == "swiglu"
    fc1_rows = 2 * INTER if gated and fusion in (1, 2) else INTER
    arrays = {
        "fc1_experts_weights": rng.standard_normal((EXPERTS, fc1_rows, HIDDEN)) * gain
        / np.sqrt(HIDDEN),
        "fc1_experts_bias": rng.standard_normal((EXPERTS, fc1_rows)) * 0.5 if fc1_bias else None,
        "fc2_experts_weights": rng.standard_normal((EXPERTS, HIDDEN, INTER)) / np.sqrt(INTER),
        "fc2_experts_bias": rng.standard_normal((EXPERTS, HIDDEN)) * 0.5 if fc2_bias else None,
        "fc3_experts_weights": rng.standard_normal((EXPERTS, INTER, HIDDEN)) * gain
        / np.sqrt(HIDDEN) if fc3 else None,
        "fc3_experts_bias": rng.standard_normal((EXPERTS, INTER)) * 0.5 if fc3_bias else None,
    }
    arrays = {n: None if a is None else a.astype(np.float32) for n, a in arrays.items()}
    lead = batch_shape or (tokens,)
    x = rng.standard_normal((*lead, HIDDEN)).astype(np.float32)
    logits = (rng.standard_normal((int(np.prod(lead)), EXPERTS)) * 1.5).astype(np.float32)

    attrs = {"k": k, "activation_type": activation, "normalize_routing_weights": normalize}
    if gated:
        attrs["swiglu_fusion"] = fusion
    for name, value in (("activation_alpha", alpha), ("activation_beta", beta),
                        ("swiglu_limit", limit)):
        if value is not None:
            attrs[name] = value
    order = ["fc1_experts_weights", "fc1_experts_bias", "fc2_experts_weights",
             "fc2_experts_bias", "fc3_experts_weights", "fc3_experts_bias"]
    names = ["x", "router"] + [n if arrays[n] is not None else "" for n in order]
    while names[-1] == "":
        names.pop()
    node = helper.make_node("MoE", names, ["y"], domain="com.microsoft", **attrs)
    x_dims = ["B", "S", HIDDEN] if batch_shape else ["T", HIDDEN]
    graph = helper.make_graph(
        [node], "moe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_dims),
         helper.make_tensor_value_info("router", TensorProto.FLOAT, ["N", EXPERTS])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, x_dims)],
        [numpy_helper.from_array(a, n) for n, a in arrays.items() if a is not None])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    kwargs = dict(moe_reference.moe_attributes(node))
    kwargs.update({
        "fc1_weights": arrays["fc1_experts_weights"], "fc1_bias": arrays["fc1_experts_bias"],
        "fc2_weights": arrays["fc2_experts_weights"], "fc2_bias": arrays["fc2_experts_bias"],
        "fc3_weights": arrays["fc3_experts_weights"], "fc3_bias": arrays["fc3_experts_bias"]})
    return model, x, logits, kwargs


def _ort(model, x, logits):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x, "router": logits})[0]


class ReferenceMatchesOnnxruntime(unittest.TestCase):
    def _check(self, seed, **config):
        rng = np.random.default_rng(seed)
        model, x, logits, kwargs = _case(rng, **config)
        expected = _ort(model, x, logits)
        got = moe_reference.moe(x, logits, **kwargs)
        self.assertEqual(got.shape, expected.shape)
        if expected.size:
            err = np.abs(got - expected).max() / np.abs(expected).max()
            self.assertLess(err, REF_TOL, f"{config}: relative error {err:.3g}")

    def test_elementwise_activations(self):
        grid = itertools.product(("relu", "gelu", "silu", "identity"), (1, 2, EXPERTS), (0, 1),
                                 (False, True), (False, True))
        for seed, (act, k, norm, b1, b2) in enumerate(grid):
            with self.subTest(activation=act, k=k, normalize=norm, fc1_bias=b1, fc2_bias=b2):
                # gain 2 spreads pre-activations over gelu's curved region and relu's kink.
                self._check(seed, activation=act, k=k, normalize=norm, fc1_bias=b1,
                            fc2_bias=b2, gain=2.0)

    def test_swiglu_interleaved(self):
        params = [(None, None, None), (1.702, 1.0, 7.0), (1.702, 1.0, 1.5), (0.5, -0.25, None)]
        grid = itertools.product(params, (1, 2, 4), (0, 1), (False, True))
        for seed, ((alpha, beta, limit), k, norm, bias) in enumerate(grid, start=1000):
            with self.subTest(alpha=alpha, beta=beta, limit=limit, k=k, normalize=norm,
                              bias=bias):
                # gain 4 makes |pre-activation| exceed the limits often, so clamps matter.
                self._check(seed, activation="swiglu", k=k, normalize=norm, fc1_bias=bias,
                            fc2_bias=bias, alpha=alpha, beta=beta, limit=limit, gain=4.0)

    def test_three_dimensional_input(self):
        self._check(2000, activation="silu", k=2, normalize=1, fc1_bias=True, fc2_bias=False,
                    batch_shape=(2, 5))

    def test_zero_tokens(self):
        self._check(2001, activation="swiglu", k=2, normalize=1, fc1_bias=False,
                    fc2_bias=False, tokens=0)

    def test_configurations_onnxruntime_cpu_may_refuse(self):
        cases = {
            "swiglu_fusion=0 with fc3": dict(fusion=0, fc3=True),
            "swiglu_fusion=0 with fc3 and biases": dict(fusion=0, fc3=True, fc3_bias=True,
                                                        fc1_bias=True, fc2_bias=True),
            "swiglu_fusion=2": dict(fusion=2),
        }
        for seed, (what, extra) in enumerate(cases.items(), start=3000):
            with self.subTest(what):
                config = dict(activation="swiglu", k=2, normalize=1, fc1_bias=False,
                              fc2_bias=False)
                config.update(extra)
                try:
                    self._check(seed, **config)
                except Exception as err:  # onnxruntime's refusal: nothing to compare with
                    if "onnxruntime" not in type(err).__module__:
                        raise
                    self.skipTest(f"onnxruntime CPU refuses {what}; "
                                  f"the reference alone covers it")


class ReferenceSelfChecks(unittest.TestCase):
    """Properties that hold whatever onnxruntime does."""

    def test_swiglu_defaults_are_mixtral_silu_times_up(self):
        rng = np.random.default_rng(1)
        g, l = rng.standard_normal(100), rng.standard_normal(100)
        np.testing.assert_allclose(moe_reference.swiglu(g, l), g / (1 + np.exp(-g)) * l,
                                   rtol=1e-12)

    def test_fusions_agree_on_the_same_weights(self):
        rng = np.random.default_rng(2)
        model, x, logits, kw = _case(rng, activation="swiglu", k=2, normalize=1,
                                     fc1_bias=True, fc2_bias=True, fusion=1)
        base = moe_reference.moe(x, logits, **kw)
        gate, lin = kw["fc1_weights"][:, 0::2], kw["fc1_weights"][:, 1::2]
        gate_b, lin_b = kw["fc1_bias"][:, 0::2], kw["fc1_bias"][:, 1::2]
        concat = dict(kw, swiglu_fusion=2, fc1_weights=np.concatenate([gate, lin], axis=1),
                      fc1_bias=np.concatenate([gate_b, lin_b], axis=1))
        separate = dict(kw, swiglu_fusion=0, fc1_weights=gate, fc1_bias=gate_b,
                        fc3_weights=lin, fc3_bias=lin_b)
        np.testing.assert_allclose(moe_reference.moe(x, logits, **concat), base, rtol=1e-12)
        np.testing.assert_allclose(moe_reference.moe(x, logits, **separate), base, rtol=1e-12)

    def test_bad_configurations_raise(self):
        rng = np.random.default_rng(3)
        _, x, logits, kw = _case(rng, activation="relu", k=2, normalize=0, fc1_bias=False,
                                 fc2_bias=False)
        for bad in (dict(k=0), dict(k=EXPERTS + 1), dict(activation_type="tanh"),
                    dict(use_sparse_mixer=1), dict(fc1_weights=kw["fc1_weights"][:, :-1])):
            with self.subTest(bad=list(bad)):
                with self.assertRaises(ValueError):
                    moe_reference.moe(x, logits, **dict(kw, **bad))


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

#!/usr/bin/env python3
"""Checks the fixture models themselves, without moec: they are what make_models.py writes,
small, well-formed, agree with each other where they should, and each one is sensitive to
what it claims to exercise (so an e2e pass on it means something).

    python3 test/e2e/test_fixtures.py [--models DIR] [unittest args]
"""

import copy
import math
import os
import subprocess
import sys
import unittest
from unittest import mock

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

import e2e_common as common
import moe_reference

MAX_FIXTURE_BYTES = 200 * 1024
# A fixture "exercises" an attribute when getting it wrong moves the output by at least
# this many times the e2e tolerance.
DISCRIMINATION_FACTOR = 10


def _moe_node(model):
    return next(n for n in model.graph.node if n.op_type == "MoE")


def _set_attr(model, name, value):
    node = _moe_node(model)
    for attr in list(node.attribute):
        if attr.name == name:
            node.attribute.remove(attr)
    if value is not None:
        node.attribute.append(onnx.helper.make_attribute(name, value))


def _replace_init(model, name, fn):
    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(
                fn(numpy_helper.to_array(init)), name))
            return
    raise KeyError(name)


def _drop_input(model, index):
    node = _moe_node(model)
    if len(node.input) > index:
        node.input[index] = ""


def _gelu_erf(h):
    erf = np.vectorize(math.erf)
    return 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))


def near_misses(model):
    """(what, model or None, patch) pairs: the fixture with one thing done wrong."""
    attrs = moe_reference.moe_attributes(_moe_node(model))
    node_inputs = list(_moe_node(model).input)
    misses = []

    def variant(what, edit):
        m = copy.deepcopy(model)
        edit(m)
        misses.append((what, m, None))

    variant("normalize_routing_weights flipped",
            lambda m: _set_attr(m, "normalize_routing_weights",
                                1 - attrs["normalize_routing_weights"]))
    experts = numpy_helper.to_array(next(
        i for i in model.graph.initializer if i.name == "fc2_experts_weights")).shape[0]
    if attrs["k"] < experts:
        variant("k + 1", lambda m: _set_attr(m, "k", attrs["k"] + 1))
    if attrs["k"] > 1:
        variant("k - 1", lambda m: _set_attr(m, "k", attrs["k"] - 1))
    for index, what in ((3, "fc1 bias ignored"), (5, "fc2 bias ignored"),
                        (7, "fc3 bias ignored")):
        if len(node_inputs) > index and node_inputs[index]:
            variant(what, lambda m, i=index: _drop_input(m, i))
    misses.append(("router softmax skipped (logits used as weights)", model,
                   mock.patch.object(moe_reference, "softmax", lambda logits: logits)))
    act = attrs["activation_type"]
    if act == "gelu":
        misses.append(("gelu in erf form instead of tanh", model,
                       mock.patch.object(moe_reference, "_gelu_tanh", _gelu_erf)))
    if act == "swiglu":
        fusion = attrs["swiglu_fusion"]
        if fusion == 1:
            variant("gate/linear order swapped in interleaved fc1",
                    lambda m: _replace_init(m, "fc1_experts_weights",
                                            lambda w: w.reshape(w.shape[0], -1, 2, w.shape[2])
                                            [:, :, ::-1].reshape(w.shape)))
            variant("fc1 read as concatenated instead of interleaved",
                    lambda m: _set_attr(m, "swiglu_fusion", 2))
        elif fusion == 2:
            variant("fc1 read as interleaved instead of concatenated",
                    lambda m: _set_attr(m, "swiglu_fusion", 1))
        if attrs["swiglu_limit"] is not None:
            variant("swiglu_limit ignored", lambda m: _set_attr(m, "swiglu_limit", None))
        if attrs["activation_alpha"] != 1.0:
            variant("activation_alpha ignored",
                    lambda m: _set_attr(m, "activation_alpha", None))
        if attrs["activation_beta"] != 0.0:
            variant("activation_beta ignored", lambda m: _set_attr(m, "activation_beta", None))
    elif act != "identity":
        variant("activation ignored (identity)",
                lambda m: _set_attr(m, "activation_type", "identity"))
    return misses


class FixtureFiles(unittest.TestCase):
    def test_make_models_reproduces_committed_bytes(self):
        script = os.path.join(common.Config.models, "make_models.py")
        result = subprocess.run([sys.executable, script, "--check", "--out",
                                 common.Config.models], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_every_fixture_is_small_and_well_formed(self):
        for rel, entry in common.load_manifest().items():
            with self.subTest(fixture=rel):
                path = common.model_path(rel)
                self.assertLess(os.path.getsize(path), MAX_FIXTURE_BYTES)
                if entry["external_data"]:
                    data = os.path.join(os.path.dirname(path), entry["external_data"])
                    self.assertLess(os.path.getsize(data), MAX_FIXTURE_BYTES)
                # A fixture may use an op onnxruntime registers but onnx does not know
                # (manifest "onnx_checker": false); everything else passes the checker.
                if entry.get("onnx_checker", True):
                    onnx.checker.check_model(path)
                model = onnx.load(path)
                opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
                self.assertEqual(opsets["ai.onnx"], entry.get("opset", 17))
                if "com.microsoft" in opsets:
                    self.assertEqual(opsets["com.microsoft"], 1)
                for value in (model.graph.input[0], model.graph.output[0]):
                    dims = value.type.tensor_type.shape.dim
                    self.assertEqual([d.dim_param for d in dims], ["tokens", ""])
                    self.assertEqual(dims[1].dim_value, entry["hidden"])
                self.assertEqual([i.name for i in model.graph.input], ["input"])
                self.assertEqual([o.name for o in model.graph.output], ["output"])


class FixturesAgree(unittest.TestCase):
    """Models that describe the same block must compute the same function."""

    def _agree(self, a, b, tokens=64, seed=11):
        x = common.make_inputs(onnx.load(common.model_path(a)), tokens, seed)
        out_a = common.reference_output(a, "onnxruntime", x)
        out_b = common.reference_output(b, "onnxruntime", x)
        ok, max_abs, scale = common.compare(out_b, out_a)
        self.assertTrue(ok, f"{a} vs {b}: max_abs_err {max_abs:.3g}, scale {scale:.3g}")

    def test_decomposed_matches_moe_node(self):
        self._agree("mixtral_moe_node.onnx", "mixtral_moe_decomposed.onnx")

    def test_external_data_matches_inline(self):
        self._agree("mixtral_moe_node.onnx", "mixtral_moe_external.onnx")


class FixturesDiscriminate(unittest.TestCase):
    """Each near miss of each MoE-node fixture must fail the e2e criterion by a wide margin."""

    def test_near_misses_are_far_outside_tolerance(self):
        for rel in sorted(common.load_manifest()):
            model = onnx.load(common.model_path(rel))
            # The MoE-node fixtures the reference evaluator reads: the block on the input,
    # weights as initializers.
            inits = {t.name for t in model.graph.initializer}
            if not any(n.op_type == "MoE" and n.input[0] == "input" and n.input[2] in inits
                       for n in model.graph.node):
                continue
            x = common.make_inputs(model, 64, 23)
            good = moe_reference.evaluate(model, {"input": x})["output"]
            scale = np.abs(good).max()
            for what, bad_model, patch in near_misses(model):
                with self.subTest(fixture=rel, near_miss=what):
                    if patch:
                        with patch:
                            bad = moe_reference.evaluate(bad_model, {"input": x})["output"]
                    else:
                        bad = moe_reference.evaluate(bad_model, {"input": x})["output"]
                    rel_err = np.abs(bad - good).max() / scale
                    self.assertGreater(rel_err, DISCRIMINATION_FACTOR * common.REL_TOL,
                                       f"{rel}: '{what}' moves the output by only "
                                       f"{rel_err:.2e} of its scale")


class NormFixturesDiscriminate(unittest.TestCase):
    """Each RMSNorm fixture fails the e2e criterion by a wide margin if a norm ignores its
    weight, or (where the fixture is built for it) its epsilon. Evaluated with onnxruntime on
    edited copies of the fixture."""

    def _rel_err(self, rel, edit):
        model = onnx.load(common.model_path(rel))
        x = common.make_inputs(model, 64, 31)
        good = common.reference_output(rel, "onnxruntime", x)
        bad_model = onnx.ModelProto()
        bad_model.CopyFrom(model)
        edit(bad_model)
        bad = ort.InferenceSession(bad_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"]).run(
                                       ["output"], {"input": x})[0]
        return np.abs(bad - good).max() / np.abs(good).max()

    def test_ignoring_a_norm_weight_is_caught(self):
        for rel in sorted(common.load_manifest()):
            if not rel.startswith("rmsnorm/"):
                continue
            model = onnx.load(common.model_path(rel))
            for init in model.graph.initializer:
                if not init.name.endswith("norm.weight"):
                    continue

                def ones(m, name=init.name):
                    t = next(t for t in m.graph.initializer if t.name == name)
                    t.CopyFrom(onnx.numpy_helper.from_array(
                        np.ones_like(onnx.numpy_helper.to_array(t)), name))
                with self.subTest(fixture=rel, weight=init.name):
                    self.assertGreater(self._rel_err(rel, ones),
                                       DISCRIMINATION_FACTOR * common.REL_TOL)

    def test_ignoring_epsilon_is_caught(self):
        def no_epsilon(m):
            for node in m.graph.node:
                if node.op_type == "RMSNormalization":
                    for a in node.attribute:
                        if a.name == "epsilon":
                            a.f = 0.0
        self.assertGreater(self._rel_err("rmsnorm/opset23.onnx", no_epsilon),
                           DISCRIMINATION_FACTOR * common.REL_TOL)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

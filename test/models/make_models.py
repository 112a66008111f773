#!/usr/bin/env python3
"""Writes moec's fixture models (small, deterministic) with the onnx Python API.

    python3 test/models/make_models.py            # (re)write the fixtures next to this script
    python3 test/models/make_models.py --check    # regenerate into a temp dir, compare bytes
    python3 test/models/make_models.py --out DIR  # write somewhere else

Every model takes `input` (tokens, H) float32 with the symbolic dimension `tokens` and returns
`output` (tokens, H). Opsets: ai.onnx 17, com.microsoft 1. Each fixture draws its weights from
its own fixed seed, so adding a fixture never changes another one's bytes. manifest.json
lists every fixture with the reference a test must compare it against:
  "onnxruntime"  onnxruntime's CPU provider runs the model;
  "numpy"        it does not (separate FC3, swiglu_fusion 2): test/e2e/moe_reference.py.

Weight scales are chosen so every pre-activation is O(1) (std 1/sqrt(fan_in)) and the
router spreads tokens over all experts; a few fixtures scale up on purpose so that an
attribute (gelu's tanh form, swiglu_limit) changes the output by far more than the e2e
tolerance (test_fixtures.py checks that each one does).
"""

import argparse
import filecmp
import json
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MS_DOMAIN = "com.microsoft"
MS_OPSET = 1
IR_VERSION = 8  # the IR version that introduced opset 17; keeps the files readable by older parsers
TOKENS = "tokens"
FLOAT = TensorProto.FLOAT


def _weights(rng, shape, fan_in, gain=1.0):
    return (rng.standard_normal(shape) * (gain / np.sqrt(fan_in))).astype(np.float32)


def _model(nodes, initializers, hidden, name, extra_opsets=((MS_DOMAIN, MS_OPSET),), opset=OPSET,
           ir_version=IR_VERSION, check=True):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", FLOAT, [TOKENS, hidden])],
        [helper.make_tensor_value_info("output", FLOAT, [TOKENS, hidden])],
        initializers)
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, version) for domain, version in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="moec-make-models",
                              producer_version="1")
    model.ir_version = ir_version
    if check:
        onnx.checker.check_model(model)
    return model


# --- MoE-node models ------------------------------------------------------------------------

class MoESpec:
    """One com.microsoft.MoE block: router MatMul -> MoE node."""

    def __init__(self, seed, hidden, inter, experts, k, activation, normalize=0,
                 swiglu_fusion=0, fc1_bias=False, fc2_bias=False, fc3=False, fc3_bias=False,
                 alpha=None, beta=None, limit=None, fc1_gain=1.0, fc1_bias_shift=0.0,
                 router_gain=1.5):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def fc1_rows(self):
        fused = self.activation == "swiglu" and self.swiglu_fusion in (1, 2)
        return 2 * self.inter if fused else self.inter


def mixtral_expert_weights(rng, hidden, inter, experts):
    """Mixtral-style expert weights as PyTorch stores them: gate/up (I, H), down (H, I)."""
    gate = np.stack([_weights(rng, (inter, hidden), hidden) for _ in range(experts)])
    up = np.stack([_weights(rng, (inter, hidden), hidden) for _ in range(experts)])
    down = np.stack([_weights(rng, (hidden, inter), inter) for _ in range(experts)])
    return gate, up, down


def interleave_gate_up(gate, up):
    """fc1 for swiglu_fusion=1: row 2i is gate row i, row 2i+1 is up (linear) row i."""
    experts, inter, hidden = gate.shape
    fc1 = np.empty((experts, 2 * inter, hidden), dtype=gate.dtype)
    fc1[:, 0::2] = gate
    fc1[:, 1::2] = up
    return fc1


def mixtral_weights(seed, hidden=32, inter=48, experts=8):
    """The router (H, E) and expert weights shared by the Mixtral node/decomposed fixtures."""
    rng = np.random.default_rng(seed)
    router = _weights(rng, (hidden, experts), hidden, 1.5)
    gate, up, down = mixtral_expert_weights(rng, hidden, inter, experts)
    return router, gate, up, down


MIXTRAL_SEED = 1001


def _moe_graph(spec, router, tensors, name):
    """router MatMul + MoE node over the named expert tensors (dict name -> array)."""
    inits = [numpy_helper.from_array(router, "router.weight")]
    inits += [numpy_helper.from_array(v, k) for k, v in tensors.items()]
    order = ["fc1_experts_weights", "fc1_experts_bias", "fc2_experts_weights",
             "fc2_experts_bias", "fc3_experts_weights", "fc3_experts_bias"]
    moe_inputs = ["input", "router_logits"] + [n if n in tensors else "" for n in order]
    while moe_inputs[-1] == "":
        moe_inputs.pop()
    attrs = {"k": spec.k, "activation_type": spec.activation,
             "normalize_routing_weights": spec.normalize}
    if spec.activation == "swiglu":
        attrs["swiglu_fusion"] = spec.swiglu_fusion
    for attr, value in (("activation_alpha", spec.alpha), ("activation_beta", spec.beta),
                        ("swiglu_limit", spec.limit)):
        if value is not None:
            attrs[attr] = float(value)
    nodes = [
        helper.make_node("MatMul", ["input", "router.weight"], ["router_logits"],
                         name="/block/router/MatMul"),
        helper.make_node("MoE", moe_inputs, ["output"], name="/block/moe/MoE",
                         domain=MS_DOMAIN, **attrs),
    ]
    return _model(nodes, inits, spec.hidden, name)


def moe_node_model(spec, name):
    rng = np.random.default_rng(spec.seed)
    h, i, e = spec.hidden, spec.inter, spec.experts
    router = _weights(rng, (h, e), h, spec.router_gain)
    tensors = {"fc1_experts_weights": _weights(rng, (e, spec.fc1_rows(), h), h, spec.fc1_gain)}
    if spec.fc1_bias:
        tensors["fc1_experts_bias"] = (_weights(rng, (e, spec.fc1_rows()), 4)
                                       + np.float32(spec.fc1_bias_shift))
    tensors["fc2_experts_weights"] = _weights(rng, (e, h, i), i)
    if spec.fc2_bias:
        tensors["fc2_experts_bias"] = _weights(rng, (e, h), 4)
    if spec.fc3:
        tensors["fc3_experts_weights"] = _weights(rng, (e, i, h), h, spec.fc1_gain)
        if spec.fc3_bias:
            tensors["fc3_experts_bias"] = _weights(rng, (e, i), 4)
    return _moe_graph(spec, router, tensors, name)


def mixtral_moe_node():
    """Mixtral block as one MoE node: E=8, k=2, renormalised, SwiGLU interleaved in fc1."""
    router, gate, up, down = mixtral_weights(MIXTRAL_SEED)
    spec = MoESpec(MIXTRAL_SEED, 32, 48, 8, 2, "swiglu", normalize=1, swiglu_fusion=1)
    tensors = {"fc1_experts_weights": interleave_gate_up(gate, up),
               "fc2_experts_weights": down}
    return _moe_graph(spec, router, tensors, "mixtral_moe_node")


# name -> (spec, reference, what it exercises)
VARIANTS = {
    "relu_k1": (MoESpec(2001, 16, 32, 4, 1, "relu"), "onnxruntime",
                "relu, k=1 (Switch-style), no renormalisation"),
    # gelu's tanh and erf forms differ most (5e-4) around -2.7, where gelu itself is tiny:
    # the shifted fc1 bias puts many pre-activations there so the two differ by >10x the
    # e2e tolerance.
    "gelu_bias": (MoESpec(2002, 16, 32, 4, 2, "gelu", fc1_bias=True, fc1_gain=0.75,
                          fc1_bias_shift=-2.5), "onnxruntime",
                  "gelu (tanh form, not erf), fc1 bias; pre-activations centred near -2.5 "
                  "where the two gelu forms differ most"),
    "silu_norm": (MoESpec(2003, 16, 32, 4, 2, "silu", normalize=1, fc2_bias=True),
                  "onnxruntime", "silu, k=2 renormalised, fc2 bias"),
    "identity": (MoESpec(2004, 16, 32, 4, 2, "identity", fc1_bias=True, fc2_bias=True),
                 "onnxruntime",
                 "identity activation (experts are plain two-layer affine maps), fc1/fc2 "
                 "biases"),
    "odd_sizes": (MoESpec(2005, 24, 40, 5, 3, "swiglu", normalize=1, swiglu_fusion=1),
                  "onnxruntime", "H=24, I=40, E=5, k=3: nothing a multiple of 8 or a power of 2"),
    "swiglu_limit": (MoESpec(2006, 16, 32, 4, 2, "swiglu", normalize=1, swiglu_fusion=1,
                             alpha=1.702, beta=1.0, limit=3.0, fc1_gain=3.0), "onnxruntime",
                     "gpt-oss SwiGLU: alpha=1.702, beta=1, swiglu_limit=3 with pre-activations "
                     "large enough that the clamp is active"),
    "swiglu_concat": (MoESpec(2007, 16, 32, 4, 2, "swiglu", normalize=0, swiglu_fusion=2,
                              fc1_bias=True), "numpy",
                      "swiglu_fusion=2 (fc1 = [gate | linear]), fc1 bias, no renormalisation; "
                      "onnxruntime CPU refuses fusion 2"),
}

FC3_SPEC = MoESpec(3001, 32, 48, 8, 2, "swiglu", normalize=1, swiglu_fusion=0, fc1_bias=True,
                   fc2_bias=True, fc3=True, fc3_bias=True)


# --- the same Mixtral block in plain ONNX ops -------------------------------------------------

def _const(name, array):
    return helper.make_node("Constant", [], [name], name=f"/const/{name}",
                            value=numpy_helper.from_array(np.asarray(array), name))


def mixtral_moe_decomposed():
    """The Mixtral block of mixtral_moe_node.onnx, same weights, as exporters write it densely:
    every expert runs on every token and is scaled by its routing weight (0 if not chosen)."""
    hidden, inter, experts, k = 32, 48, 8, 2
    router, gate, up, down = mixtral_weights(MIXTRAL_SEED)
    inits = [numpy_helper.from_array(np.ascontiguousarray(router.T), "router.weight")]  # (E, H)
    nodes = [
        # hidden_states.view(-1, H): Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
        helper.make_node("Shape", ["input"], ["in_shape"], name="/block/Shape"),
        _const("zero_i64", np.array(0, dtype=np.int64)),
        helper.make_node("Gather", ["in_shape", "zero_i64"], ["num_tokens"], axis=0,
                         name="/block/Gather"),
        _const("axes0", np.array([0], dtype=np.int64)),
        helper.make_node("Unsqueeze", ["num_tokens", "axes0"], ["num_tokens_1d"],
                         name="/block/Unsqueeze"),
        _const("hidden_1d", np.array([hidden], dtype=np.int64)),
        helper.make_node("Concat", ["num_tokens_1d", "hidden_1d"], ["flat_shape"], axis=0,
                         name="/block/Concat"),
        helper.make_node("Reshape", ["input", "flat_shape"], ["x"], name="/block/Reshape"),
        # Router: nn.Linear keeps (E, H); the exporter transposes it for MatMul.
        helper.make_node("Transpose", ["router.weight"], ["router_wt"], perm=[1, 0],
                         name="/block/router/Transpose"),
        helper.make_node("MatMul", ["x", "router_wt"], ["router_logits"],
                         name="/block/router/MatMul"),
        helper.make_node("Softmax", ["router_logits"], ["router_probs"], axis=-1,
                         name="/block/Softmax"),
        _const("k", np.array([k], dtype=np.int64)),
        helper.make_node("TopK", ["router_probs", "k"], ["topk_probs", "topk_idx"], axis=-1,
                         largest=1, sorted=1, name="/block/TopK"),
        _const("axes_last", np.array([-1], dtype=np.int64)),
        helper.make_node("ReduceSum", ["topk_probs", "axes_last"], ["topk_sum"], keepdims=1,
                         name="/block/ReduceSum"),
        helper.make_node("Div", ["topk_probs", "topk_sum"], ["topk_weights"], name="/block/Div"),
        _const("zero_f32", np.array(0.0, dtype=np.float32)),
        _const("axes1", np.array([1], dtype=np.int64)),
    ]
    acc = None
    for e in range(experts):
        p = f"/block/experts.{e}"
        for w_name, w in ((f"experts.{e}.w1", gate[e].T), (f"experts.{e}.w3", up[e].T),
                          (f"experts.{e}.w2", down[e].T)):
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w), w_name))
        nodes += [
            _const(f"expert_id_{e}", np.array(e, dtype=np.int64)),
            helper.make_node("Equal", ["topk_idx", f"expert_id_{e}"], [f"is_{e}"],
                             name=f"{p}/Equal"),
        ]
        # Exporters write this selection either way; both appear so a raise pass sees both.
        if e % 2 == 0:
            nodes += [
                helper.make_node("Cast", [f"is_{e}"], [f"is_{e}_f"], to=FLOAT, name=f"{p}/Cast"),
                helper.make_node("Mul", [f"is_{e}_f", "topk_weights"], [f"sel_{e}"],
                                 name=f"{p}/Mul_select"),
            ]
        else:
            nodes.append(helper.make_node("Where", [f"is_{e}", "topk_weights", "zero_f32"],
                                          [f"sel_{e}"], name=f"{p}/Where"))
        nodes += [
            helper.make_node("ReduceSum", [f"sel_{e}", "axes_last"], [f"rw_{e}"], keepdims=0,
                             name=f"{p}/ReduceSum"),
            helper.make_node("Unsqueeze", [f"rw_{e}", "axes1"], [f"rw_{e}_col"],
                             name=f"{p}/Unsqueeze"),
            helper.make_node("MatMul", ["x", f"experts.{e}.w1"], [f"g_{e}"],
                             name=f"{p}/w1/MatMul"),
            helper.make_node("Sigmoid", [f"g_{e}"], [f"sg_{e}"], name=f"{p}/Sigmoid"),
            helper.make_node("Mul", [f"g_{e}", f"sg_{e}"], [f"silu_{e}"], name=f"{p}/Mul_silu"),
            helper.make_node("MatMul", ["x", f"experts.{e}.w3"], [f"u_{e}"],
                             name=f"{p}/w3/MatMul"),
            helper.make_node("Mul", [f"silu_{e}", f"u_{e}"], [f"h_{e}"], name=f"{p}/Mul_up"),
            helper.make_node("MatMul", [f"h_{e}", f"experts.{e}.w2"], [f"y_{e}"],
                             name=f"{p}/w2/MatMul"),
            helper.make_node("Mul", [f"y_{e}", f"rw_{e}_col"], [f"wy_{e}"],
                             name=f"{p}/Mul_route"),
        ]
        if acc is None:
            acc = f"wy_{e}"
        else:
            nodes.append(helper.make_node("Add", [acc, f"wy_{e}"], [f"acc_{e}"],
                                          name=f"{p}/Add"))
            acc = f"acc_{e}"
    # Back to the caller's shape (a no-op here, as in exported graphs).
    nodes.append(helper.make_node("Reshape", [acc, "in_shape"], ["output"],
                                  name="/block/Reshape_out"))
    return _model(nodes, inits, hidden, "mixtral_moe_decomposed", extra_opsets=())


# --- models the compiler must refuse ---------------------------------------------------------

def invalid_nonzero():
    """A supported router MatMul followed by NonZero (data-dependent shape): unsupported op."""
    rng = np.random.default_rng(4001)
    hidden = 8
    w = numpy_helper.from_array(_weights(rng, (hidden, hidden), hidden), "w")
    nodes = [helper.make_node("MatMul", ["input", "w"], ["h"], name="/block/MatMul"),
             helper.make_node("NonZero", ["h"], ["nz"], name="/block/NonZero"),
             helper.make_node("Cast", ["nz"], ["nz_f"], to=FLOAT, name="/block/Cast")]
    graph = helper.make_graph(nodes, "invalid_nonzero",
                              [helper.make_tensor_value_info("input", FLOAT, [TOKENS, hidden])],
                              [helper.make_tensor_value_info("nz_f", FLOAT, [2, "nnz"])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def invalid_custom_domain():
    """One node of a domain nobody implements: com.example.FancyMoE (domain version 1)."""
    hidden = 8
    nodes = [helper.make_node("FancyMoE", ["input"], ["output"], name="/block/fancy",
                              domain="com.example", experts=4)]
    return _model(nodes, [], hidden, "invalid_custom_domain",
                  extra_opsets=(("com.example", 1),))


def invalid_two_symbolic_dims():
    """Input (batch, tokens, H): two symbolic dimensions break the one-token-dim convention."""
    hidden = 8
    nodes = [helper.make_node("Relu", ["input"], ["output"], name="/block/Relu")]
    graph = helper.make_graph(
        nodes, "invalid_two_symbolic_dims",
        [helper.make_tensor_value_info("input", FLOAT, ["batch", TOKENS, hidden])],
        [helper.make_tensor_value_info("output", FLOAT, ["batch", TOKENS, hidden])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# --- RMSNorm models ------------------------------------------------------------------------------

def _norm_weight(rng, hidden):
    """An RMSNorm weight far enough from 1 that ignoring it moves the output."""
    return (1.0 + 0.5 * rng.standard_normal(hidden)).astype(np.float32)


def rmsnorm_decomposed_moe():
    """Pre-norm MoE block as torch.onnx writes LlamaRMSNorm: Pow/ReduceMean/Add/Sqrt/Reciprocal/
    Mul/Mul, then router MatMul + MoE node on the normed tokens, then the residual Add."""
    rng = np.random.default_rng(5001)
    hidden, inter, experts, k = 32, 48, 4, 2
    spec = MoESpec(5001, hidden, inter, experts, k, "swiglu", normalize=1, swiglu_fusion=1)
    inits = [
        numpy_helper.from_array(_norm_weight(rng, hidden), "norm.weight"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
        numpy_helper.from_array(_weights(rng, (hidden, experts), hidden, 1.5), "router.weight"),
        numpy_helper.from_array(_weights(rng, (experts, 2 * inter, hidden), hidden),
                                "fc1_experts_weights"),
        numpy_helper.from_array(_weights(rng, (experts, hidden, inter), inter),
                                "fc2_experts_weights"),
    ]
    nodes = [
        helper.make_node("Pow", ["input", "two"], ["sq"], name="/norm/Pow"),
        helper.make_node("ReduceMean", ["sq"], ["mean"], axes=[-1], keepdims=1,
                         name="/norm/ReduceMean"),
        helper.make_node("Add", ["mean", "eps"], ["var_eps"], name="/norm/Add"),
        helper.make_node("Sqrt", ["var_eps"], ["rms"], name="/norm/Sqrt"),
        helper.make_node("Reciprocal", ["rms"], ["inv_rms"], name="/norm/Reciprocal"),
        helper.make_node("Mul", ["input", "inv_rms"], ["normalized"], name="/norm/Mul"),
        helper.make_node("Mul", ["norm.weight", "normalized"], ["normed"], name="/norm/Mul_1"),
        helper.make_node("MatMul", ["normed", "router.weight"], ["router_logits"],
                         name="/block/router/MatMul"),
        helper.make_node("MoE", ["normed", "router_logits", "fc1_experts_weights", "",
                                 "fc2_experts_weights"], ["moe_out"], name="/block/moe/MoE",
                         domain=MS_DOMAIN, k=spec.k, activation_type="swiglu",
                         normalize_routing_weights=1, swiglu_fusion=1),
        helper.make_node("Add", ["input", "moe_out"], ["output"], name="/block/residual"),
    ]
    return _model(nodes, inits, hidden, "rmsnorm_decomposed_moe")


def rmsnorm_ort_ops():
    """onnxruntime's norm contrib ops as onnxruntime-genai graphs use them: a
    SkipSimplifiedLayerNormalization (residual + bias, with its sum output) feeding a
    SimplifiedLayerNormalization (registered by onnxruntime in the ai.onnx domain)."""
    rng = np.random.default_rng(5002)
    hidden = 24
    inits = [
        numpy_helper.from_array(_weights(rng, (hidden, hidden), hidden), "proj.weight"),
        numpy_helper.from_array(_norm_weight(rng, hidden), "skip_norm.weight"),
        numpy_helper.from_array(_weights(rng, (hidden,), 4), "skip_norm.bias"),
        numpy_helper.from_array(_norm_weight(rng, hidden), "final_norm.weight"),
    ]
    nodes = [
        helper.make_node("MatMul", ["input", "proj.weight"], ["proj"], name="/proj/MatMul"),
        helper.make_node("SkipSimplifiedLayerNormalization",
                         ["input", "proj", "skip_norm.weight", "skip_norm.bias"],
                         ["normed", "", "", "residual"], name="/skip_norm",
                         domain=MS_DOMAIN, epsilon=1e-5),
        helper.make_node("SimplifiedLayerNormalization", ["normed", "final_norm.weight"],
                         ["final"], name="/final_norm", axis=-1, epsilon=1e-6),
        helper.make_node("Add", ["final", "residual"], ["output"], name="/out"),
    ]
    # onnx's checker does not know SimplifiedLayerNormalization (an onnxruntime op in
    # the ai.onnx domain), so this one model is not checked.
    return _model(nodes, inits, hidden, "rmsnorm_ort_ops", check=False)


def rmsnorm_opset23():
    """ONNX's own RMSNormalization (opset 23) over the hidden axis, between two linears. The
    first linear is scaled so that mean(x^2) is about epsilon: a norm that drops or misplaces
    epsilon is off by far more than the e2e tolerance."""
    rng = np.random.default_rng(5003)
    hidden = 20
    inits = [
        numpy_helper.from_array(_weights(rng, (hidden, hidden), hidden, gain=1e-3), "up.weight"),
        numpy_helper.from_array(_norm_weight(rng, hidden), "norm.weight"),
        numpy_helper.from_array(_weights(rng, (hidden, hidden), hidden), "down.weight"),
    ]
    nodes = [
        helper.make_node("MatMul", ["input", "up.weight"], ["up"], name="/up/MatMul"),
        helper.make_node("RMSNormalization", ["up", "norm.weight"], ["normed"], name="/norm",
                         epsilon=1e-6),
        helper.make_node("MatMul", ["normed", "down.weight"], ["output"], name="/down/MatMul"),
    ]
    return _model(nodes, inits, hidden, "rmsnorm_opset23", extra_opsets=(), opset=23,
                  ir_version=11)


# --- pre-quantized (QDQ) models ------------------------------------------------------------------

def _int8_per_axis(w, axis):
    """Symmetric int8 of w with one scale per index of `axis` (the per-axis QDQ form)."""
    reduce_axes = tuple(a for a in range(w.ndim) if a != axis)
    scale = (np.abs(w).max(axis=reduce_axes) / 127.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def _int8_blocked(w, axis, block):
    """Symmetric int8 of w with one scale per `block` elements along `axis` (opset 21 form)."""
    moved = np.moveaxis(w, axis, -1)
    n = moved.shape[-1]
    blocks = -(-n // block)
    padded = np.zeros(moved.shape[:-1] + (blocks * block,), np.float32)
    padded[..., :n] = moved
    grouped = padded.reshape(moved.shape[:-1] + (blocks, block))
    scale = (np.abs(grouped).max(axis=-1) / 127.0).astype(np.float32)
    q = np.clip(np.rint(grouped / scale[..., None]), -127, 127).reshape(padded.shape)[..., :n]
    return (np.moveaxis(q.astype(np.int8), -1, axis),
            np.ascontiguousarray(np.moveaxis(scale, -1, axis)))


def qdq_linears():
    """Two QDQ linears as quantization tools write them (opset 17): a per-output-channel int8
    weight (DequantizeLinear axis=1 feeding MatMul), Relu, a per-tensor int8 weight feeding
    Gemm with transB, and an asymmetric uint8 weight with a zero point (moec folds that one
    to floats)."""
    rng = np.random.default_rng(6001)
    hidden, inner = 24, 40
    w1 = _weights(rng, (hidden, inner), hidden)
    q1, s1 = _int8_per_axis(w1, 1)
    w2 = _weights(rng, (hidden, inner), inner)  # Gemm transB: [N, K]
    s2 = np.array(np.abs(w2).max() / 127.0, np.float32)
    q2 = np.clip(np.rint(w2 / s2), -127, 127).astype(np.int8)
    w3 = _weights(rng, (hidden, hidden), hidden)
    s3 = ((w3.max(axis=0) - w3.min(axis=0)) / 255.0).astype(np.float32)
    z3 = np.clip(np.rint(-w3.min(axis=0) / s3), 0, 255).astype(np.uint8)
    q3 = np.clip(np.rint(w3 / s3) + z3, 0, 255).astype(np.uint8)
    inits = [numpy_helper.from_array(v, n) for v, n in (
        (q1, "up.weight_quantized"), (s1, "up.weight_scale"),
        (q2, "down.weight_quantized"), (s2, "down.weight_scale"),
        (q3, "out.weight_quantized"), (s3, "out.weight_scale"), (z3, "out.weight_zero_point"))]
    nodes = [
        helper.make_node("DequantizeLinear", ["up.weight_quantized", "up.weight_scale"],
                         ["up.weight"], axis=1, name="/up/DequantizeLinear"),
        helper.make_node("MatMul", ["input", "up.weight"], ["up"], name="/up/MatMul"),
        helper.make_node("Relu", ["up"], ["act"], name="/act"),
        helper.make_node("DequantizeLinear", ["down.weight_quantized", "down.weight_scale"],
                         ["down.weight"], name="/down/DequantizeLinear"),
        helper.make_node("Gemm", ["act", "down.weight"], ["down"], transB=1, name="/down/Gemm"),
        helper.make_node("DequantizeLinear",
                         ["out.weight_quantized", "out.weight_scale", "out.weight_zero_point"],
                         ["out.weight"], axis=1, name="/out/DequantizeLinear"),
        helper.make_node("MatMul", ["down", "out.weight"], ["output"], name="/out/MatMul"),
    ]
    return _model(nodes, inits, hidden, "qdq_linears", extra_opsets=())


def qdq_moe_blocked():
    """com.microsoft.MoE whose expert weights are block-quantized int8 (DequantizeLinear of
    opset 21, block_size 16 along the reduction axis), SwiGLU interleaved, renormalized."""
    spec = MoESpec(6002, 32, 40, 4, 2, "swiglu", normalize=1, swiglu_fusion=1)
    rng = np.random.default_rng(spec.seed)
    h, i, e = spec.hidden, spec.inter, spec.experts
    router = _weights(rng, (h, e), h, spec.router_gain)
    fc1 = _weights(rng, (e, 2 * i, h), h)
    fc2 = _weights(rng, (e, h, i), i)
    q1, s1 = _int8_blocked(fc1, 2, 16)
    q2, s2 = _int8_blocked(fc2, 2, 16)
    inits = [numpy_helper.from_array(v, n) for v, n in (
        (router, "router.weight"), (q1, "fc1_quantized"), (s1, "fc1_scale"),
        (q2, "fc2_quantized"), (s2, "fc2_scale"))]
    nodes = [
        helper.make_node("DequantizeLinear", ["fc1_quantized", "fc1_scale"],
                         ["fc1_experts_weights"], axis=2, block_size=16, name="/fc1/Dequantize"),
        helper.make_node("DequantizeLinear", ["fc2_quantized", "fc2_scale"],
                         ["fc2_experts_weights"], axis=2, block_size=16, name="/fc2/Dequantize"),
        helper.make_node("MatMul", ["input", "router.weight"], ["router_logits"],
                         name="/block/router/MatMul"),
        helper.make_node("MoE", ["input", "router_logits", "fc1_experts_weights", "",
                                 "fc2_experts_weights"], ["output"], name="/block/moe/MoE",
                         domain=MS_DOMAIN, k=spec.k, activation_type="swiglu",
                         normalize_routing_weights=1, swiglu_fusion=1),
    ]
    return _model(nodes, inits, h, "qdq_moe_blocked", opset=21, ir_version=10)


def _nbits(w, bits, block, zero_points):
    """MatMulNBits tensors for w [K, N]: B uint8 [N, k_blocks, block * bits / 8] (4-bit values
    two per byte, low nibble first), scales [N * k_blocks], and (with zero_points) asymmetric
    zero points (4-bit: packed two per byte per row) -- the layout onnxruntime reads."""
    k, n = w.shape
    blocks = -(-k // block)
    padded = np.zeros((n, blocks * block), np.float32)
    padded[:, :k] = w.T
    grouped = padded.reshape(n, blocks, block)
    top = (1 << bits) - 1
    if zero_points:
        lo, hi = grouped.min(axis=-1), grouped.max(axis=-1)
        scale = ((hi - lo) / top).astype(np.float32)
        zp = np.clip(np.rint(-lo / scale), 0, top).astype(np.uint8)
    else:
        scale = (np.abs(grouped).max(axis=-1) / (top // 2)).astype(np.float32)
        zp = np.full((n, blocks), 1 << (bits - 1), np.uint8)
    q = np.clip(np.rint(grouped / scale[..., None]) + zp[..., None], 0, top).astype(np.uint8)
    if bits == 4:
        q = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    tensors = {"B": q, "scales": scale.reshape(-1)}
    if zero_points:
        if bits == 4:
            zpad = np.zeros((n, 2 * (-(-blocks // 2))), np.uint8)
            zpad[:, :blocks] = zp
            zp = (zpad[:, 0::2] | (zpad[:, 1::2] << 4)).astype(np.uint8)
        tensors["zero_points"] = zp.reshape(-1)
    return tensors


def qdq_matmul_nbits():
    """onnxruntime-genai style 4-bit weights: com.microsoft.MatMulNBits (bits 4, block 16, packed
    asymmetric zero points), Relu, MatMulNBits (bits 4, default zero point: kept packed), Relu,
    MatMulNBits (bits 8, default zero point, bias, K = 40 not a multiple of the block)."""
    rng = np.random.default_rng(6003)
    hidden, inner = 32, 40
    up = _nbits(_weights(rng, (hidden, inner), hidden), 4, 16, True)
    down = _nbits(_weights(rng, (inner, hidden), inner), 8, 16, False)
    mid = _nbits(_weights(rng, (inner, inner), inner), 4, 16, False)
    bias = _weights(rng, (hidden,), 4)
    inits = [numpy_helper.from_array(v, f"up.{k}") for k, v in up.items()]
    inits += [numpy_helper.from_array(v, f"down.{k}") for k, v in down.items()]
    inits += [numpy_helper.from_array(v, f"mid.{k}") for k, v in mid.items()]
    inits.append(numpy_helper.from_array(bias, "down.bias"))
    nodes = [
        helper.make_node("MatMulNBits", ["input", "up.B", "up.scales", "up.zero_points"], ["up"],
                         domain=MS_DOMAIN, K=hidden, N=inner, bits=4, block_size=16,
                         name="/up/MatMulNBits"),
        helper.make_node("Relu", ["up"], ["act0"], name="/act0"),
        helper.make_node("MatMulNBits", ["act0", "mid.B", "mid.scales"], ["mid"],
                         domain=MS_DOMAIN, K=inner, N=inner, bits=4, block_size=16,
                         name="/mid/MatMulNBits"),
        helper.make_node("Relu", ["mid"], ["act"], name="/act"),
        helper.make_node("MatMulNBits", ["act", "down.B", "down.scales", "", "", "down.bias"],
                         ["output"], domain=MS_DOMAIN, K=inner, N=hidden, bits=8, block_size=16,
                         name="/down/MatMulNBits"),
    ]
    return _model(nodes, inits, hidden, "qdq_matmul_nbits")


def _qmoe_weight(w, bits, block):
    """QMoE tensors for w [E, rows, cols]: uint8 [E, rows, cols * bits / 8] (4-bit two per byte,
    low nibble first) around the default zero point 2^(bits - 1), and scales [E, rows] (block
    0) or [E, rows, cols / block]."""
    e, rows, cols = w.shape
    g = block or cols
    grouped = w.reshape(e, rows, cols // g, g)
    qmax = (1 << (bits - 1)) - 1
    scale = (np.abs(grouped).max(axis=-1) / qmax).astype(np.float32)
    q = np.clip(np.rint(grouped / scale[..., None]), -qmax, qmax).astype(np.int64)
    q = (q + (1 << (bits - 1))).astype(np.uint8).reshape(e, rows, cols)
    if bits == 4:
        q = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return q, (scale if block else scale[..., 0])


def qmoe_model(name, seed, bits, block, activation, swiglu_fusion=0):
    """com.microsoft.QMoE as onnxruntime-genai exports quantized MoE models: router MatMul, then
    QMoE with expert weights quantized to `bits` (default zero points), per row or in blocks."""
    spec = MoESpec(seed, 32, 32, 4, 2, activation, normalize=1, swiglu_fusion=swiglu_fusion)
    rng = np.random.default_rng(seed)
    h, i, e = spec.hidden, spec.inter, spec.experts
    router = _weights(rng, (h, e), h, spec.router_gain)
    q1, s1 = _qmoe_weight(_weights(rng, (e, spec.fc1_rows(), h), h), bits, block)
    q2, s2 = _qmoe_weight(_weights(rng, (e, h, i), i), bits, block)
    inits = [numpy_helper.from_array(v, n) for v, n in (
        (router, "router.weight"), (q1, "fc1_q"), (s1, "fc1_scales"), (q2, "fc2_q"),
        (s2, "fc2_scales"))]
    attrs = {"k": spec.k, "activation_type": activation, "normalize_routing_weights": 1,
             "expert_weight_bits": bits}
    if block:
        attrs["block_size"] = block
    if activation == "swiglu":
        attrs["swiglu_fusion"] = swiglu_fusion
    nodes = [
        helper.make_node("MatMul", ["input", "router.weight"], ["router_logits"],
                         name="/block/router/MatMul"),
        helper.make_node("QMoE", ["input", "router_logits", "fc1_q", "fc1_scales", "", "fc2_q",
                                  "fc2_scales"], ["output"], name="/block/moe/QMoE",
                         domain=MS_DOMAIN, **attrs),
    ]
    return _model(nodes, inits, h, name)


# --- writing -----------------------------------------------------------------------------------

def build_all():
    """[(relative path, model, manifest entry or None, external data file or None)]."""
    out = [
        ("mixtral_moe_node.onnx", mixtral_moe_node(),
         {"reference": "onnxruntime", "hidden": 32,
          "exercises": "Mixtral block as com.microsoft.MoE: E=8, k=2, renormalised, SwiGLU "
                       "with gate/linear interleaved in fc1 (swiglu_fusion=1), H=32, I=48"},
         None),
        ("moe_node_fc3.onnx", moe_node_model(FC3_SPEC, "moe_node_fc3"),
         {"reference": "numpy", "hidden": 32,
          "exercises": "SwiGLU with separate fc1 (gate) and fc3 (linear), swiglu_fusion=0, "
                       "biases on fc1/fc2/fc3; onnxruntime CPU has no FC3"},
         None),
    ]
    for name, (spec, reference, exercises) in VARIANTS.items():
        out.append((f"moe_node_variants/{name}.onnx", moe_node_model(spec, name),
                    {"reference": reference, "hidden": spec.hidden, "exercises": exercises},
                    None))
    out.append(("mixtral_moe_decomposed.onnx", mixtral_moe_decomposed(),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "the Mixtral block in plain ONNX ops (MatMul router, Softmax, "
                              "TopK, ReduceSum/Div, Equal/Cast/Mul and Where selection, SiLU "
                              "gate, Unsqueeze/Mul/Add combine), plus Shape->Gather->Unsqueeze"
                              "->Concat->Reshape and Transpose; same weights as "
                              "mixtral_moe_node.onnx"},
                None))
    out.append(("mixtral_moe_external.onnx", mixtral_moe_node(),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "mixtral_moe_node.onnx with its weights in external data "
                              "(mixtral_moe_external.onnx.data)"},
                "mixtral_moe_external.onnx.data"))
    out.append(("rmsnorm/decomposed_moe.onnx", rmsnorm_decomposed_moe(),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "pre-norm MoE block: LlamaRMSNorm as torch.onnx decomposes it "
                              "(Pow, ReduceMean, Add eps, Sqrt, Reciprocal, Mul, Mul weight), "
                              "router + MoE node on the normed tokens, residual Add"},
                None))
    out.append(("rmsnorm/ort_ops.onnx", rmsnorm_ort_ops(),
                {"reference": "onnxruntime", "hidden": 24,
                 "onnx_checker": False,
                 "exercises": "com.microsoft.SkipSimplifiedLayerNormalization with bias and its "
                              "input_skip_bias_sum output, then SimplifiedLayerNormalization "
                              "(ai.onnx domain, as onnxruntime registers it; onnx's checker "
                              "does not know it)"},
                None))
    out.append(("rmsnorm/opset23.onnx", rmsnorm_opset23(),
                {"reference": "onnxruntime", "hidden": 20, "opset": 23,
                 "exercises": "ONNX RMSNormalization (opset 23, IR 11) between two linears, "
                              "mean square of its input near epsilon so epsilon matters"},
                None))
    out.append(("qdq/linears.onnx", qdq_linears(),
                {"reference": "onnxruntime", "hidden": 24,
                 "exercises": "QDQ int8 weights: per-output-channel DequantizeLinear feeding "
                              "MatMul, per-tensor feeding Gemm transB, and an asymmetric uint8 "
                              "weight with a zero point"},
                None))
    out.append(("qdq/moe_blocked.onnx", qdq_moe_blocked(),
                {"reference": "onnxruntime", "hidden": 32, "opset": 21,
                 "exercises": "com.microsoft.MoE with int8 expert weights dequantized block-wise "
                              "(opset 21, block_size 16 along the reduction axis)"},
                None))
    out.append(("qdq/matmul_nbits.onnx", qdq_matmul_nbits(),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "com.microsoft.MatMulNBits: 4-bit with packed zero points, "
                              "4-bit with the default zero point (kept packed), and 8-bit with "
                              "the default zero point, a bias and K = 40 (a partial last block)"},
                None))
    out.append(("qdq/qmoe_int4_swiglu.onnx",
                qmoe_model("qmoe_int4_swiglu", 6004, 4, 16, "swiglu", swiglu_fusion=1),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "com.microsoft.QMoE: 4-bit experts in blocks of 16 (default zero "
                              "point), SwiGLU interleaved, renormalized"},
                None))
    out.append(("qdq/qmoe_int8_relu.onnx", qmoe_model("qmoe_int8_relu", 6005, 8, 0, "relu"),
                {"reference": "onnxruntime", "hidden": 32,
                 "exercises": "com.microsoft.QMoE: 8-bit experts, one scale per row, relu"},
                None))
    out.append(("invalid/nonzero.onnx", invalid_nonzero(), None, None))
    out.append(("invalid/custom_domain_op.onnx", invalid_custom_domain(), None, None))
    out.append(("invalid/two_symbolic_dims.onnx", invalid_two_symbolic_dims(), None, None))
    return out


EXTERNAL_ALIGNMENT = 64


def save_with_external_data(model, path, location, min_bytes=1024):
    """Moves every initializer of at least min_bytes into `location` (beside `path`).

    Written by hand rather than with onnx.save_model(save_as_external_data=True), which
    refuses when a file named `location` exists relative to the *current* directory and
    appends to an existing data file. Each tensor starts at a multiple of 64 bytes, so the
    importer's offset handling is exercised with offsets other than 0.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    blob = bytearray()
    for tensor in model.graph.initializer:
        if len(tensor.raw_data) < min_bytes:
            continue
        blob += b"\0" * (-len(blob) % EXTERNAL_ALIGNMENT)
        offset, length = len(blob), len(tensor.raw_data)
        blob += tensor.raw_data
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    with open(os.path.join(os.path.dirname(path), location), "wb") as f:
        f.write(bytes(blob))
    onnx.save_model(model, path)


def write_all(out_dir):
    manifest = {}
    for rel, model, entry, external in build_all():
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if external:
            save_with_external_data(model, path, external)
        else:
            onnx.save_model(model, path)
        if entry is not None:
            manifest[rel] = dict(entry, external_data=external)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


def _all_files(root):
    files = set()
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n.endswith((".onnx", ".data", ".json")):
                files.add(os.path.relpath(os.path.join(dirpath, n), root))
    return files


def check(models_dir):
    """0 when models_dir holds exactly the bytes this script writes."""
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        expected = _all_files(tmp)
        problems = [f"missing: {r}" for r in sorted(expected - _all_files(models_dir))]
        problems += [f"differs: {r}" for r in sorted(expected & _all_files(models_dir))
                     if not filecmp.cmp(os.path.join(tmp, r), os.path.join(models_dir, r),
                                        shallow=False)]
    for p in problems:
        print(f"make_models.py --check: {p}", file=sys.stderr)
    return 1 if problems else 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=here, help="directory to write (default: beside me)")
    parser.add_argument("--check", action="store_true",
                        help="verify --out already holds what this script would write")
    args = parser.parse_args()
    if args.check:
        return check(args.out)
    for rel in sorted(write_all(args.out)):
        print(f"wrote {os.path.join(args.out, rel)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

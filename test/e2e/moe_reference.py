"""Float64 numpy reference for the com.microsoft.MoE contrib op (domain version 1).

This is the oracle the end-to-end tests use wherever onnxruntime's CPU provider cannot run a
model (separate FC3 weights, swiglu_fusion 0 or 2), and it is itself checked against
onnxruntime on every configuration onnxruntime does run (test_moe_reference.py).

Semantics, per token row x (length H), as onnxruntime 1.32 implements them (checked
empirically, not only read from the docs):

  routing
    p = softmax(router_probs[t])            # router_probs holds LOGITS despite its name
    top = the k experts with the largest p  # ties: lower expert index first (see _top_k)
    w   = p[top]
    if normalize_routing_weights: w = w / sum(w)   # renormalise over the chosen k only

  expert e (fc1: (E, f*I, H), fc2: (E, H, I), fc3: (E, I, H); f = 2 for fused SwiGLU else 1)
    h = fc1[e] @ x + fc1_bias[e]
    non-gated:  a = act(h), act in
        relu      max(h, 0)
        gelu      0.5*h*(1 + tanh(sqrt(2/pi)*(h + 0.044715*h^3)))   # the TANH form, not erf
        silu      h * sigmoid(h)
        identity  h
    swiglu: split h into gate g and linear l (length I each):
        swiglu_fusion=1  interleaved: g = h[0::2], l = h[1::2]   (row 2i is gate i, 2i+1 linear i)
        swiglu_fusion=2  concatenated: g = h[:I], l = h[I:]
        swiglu_fusion=0  g = h (fc1 is (E, I, H)), l = fc3[e] @ x + fc3_bias[e]
        G = min(g, limit)              # gate clamped from above only
        L = clip(l, -limit, limit)     # linear clamped on both sides
        a = G * sigmoid(alpha * G) * (L + beta)
      defaults: alpha (activation_alpha) = 1.0, beta (activation_beta) = 0.0, limit
      (swiglu_limit) = +inf (no clamp). With the defaults this is Mixtral's
      silu(gate) * up; gpt-oss uses alpha=1.702, beta=1.0, limit=7.0.
    y_e = fc2[e] @ a + fc2_bias[e]

  output[t] = sum over chosen experts of w_e * y_e

use_sparse_mixer is not modelled (ValueError), nor is the legacy fc1 layout (E, H, I)
that older onnxruntime releases accepted.
"""

import math

import numpy as np
from onnx import numpy_helper

MS_DOMAIN = "com.microsoft"
ACTIVATIONS = ("relu", "gelu", "silu", "identity", "swiglu")


def _sigmoid(v):
    # Written with exp(-|v|) so large |v| neither overflows nor loses the small tail.
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _gelu_tanh(h):
    return 0.5 * h * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h ** 3)))


def _elementwise_activation(h, activation_type):
    if activation_type == "relu":
        return np.maximum(h, 0.0)
    if activation_type == "gelu":
        return _gelu_tanh(h)
    if activation_type == "silu":
        return h * _sigmoid(h)
    if activation_type == "identity":
        return h
    raise ValueError(f"unsupported MoE activation_type '{activation_type}'")


def swiglu(gate, linear, alpha=1.0, beta=0.0, limit=None):
    """G * sigmoid(alpha * G) * (L + beta) with G = min(gate, limit), L = clip(linear, ±limit)."""
    if limit is not None and math.isfinite(limit):
        gate = np.minimum(gate, limit)
        linear = np.clip(linear, -limit, limit)
    return gate * _sigmoid(alpha * gate) * (linear + beta)


def softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _top_k(probs, k):
    """Indices (T, k) of the k largest entries per row, largest first.

    A stable sort on the negated values puts the lower expert index first on exact ties.
    onnxruntime's partial_sort gives no tie guarantee, so test inputs avoid near-ties
    (see routing_margin) instead of depending on any tie order.
    """
    return np.argsort(-probs, axis=-1, kind="stable")[:, :k]


def routing_weights(router_logits, k, normalize):
    """(experts (T, k) int64, weights (T, k) float64) chosen for each token."""
    probs = softmax(np.asarray(router_logits, dtype=np.float64))
    experts = _top_k(probs, k)
    weights = np.take_along_axis(probs, experts, axis=-1)
    if normalize:
        weights = weights / weights.sum(axis=-1, keepdims=True)
    return experts, weights


def routing_margin(router_logits, k):
    """Per token, the gap between the k-th and (k+1)-th softmax probability.

    A float32 implementation may pick a different expert when this gap is within rounding,
    so tests redraw such tokens; the gap is +inf when every expert is chosen.
    """
    probs = np.sort(softmax(np.asarray(router_logits, dtype=np.float64)), axis=-1)[:, ::-1]
    if k >= probs.shape[-1]:
        return np.full(probs.shape[0], np.inf)
    return probs[:, k - 1] - probs[:, k]


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def moe(x, router_logits, fc1_weights, fc2_weights, fc1_bias=None, fc2_bias=None,
        fc3_weights=None, fc3_bias=None, *, k=1, activation_type="relu",
        normalize_routing_weights=0, swiglu_fusion=0, activation_alpha=1.0,
        activation_beta=0.0, swiglu_limit=None, use_sparse_mixer=0):
    """com.microsoft.MoE in float64. x is (T, H) or (B, S, H); returns the same shape."""
    if use_sparse_mixer:
        raise ValueError("use_sparse_mixer is not modelled by this reference")
    if activation_type not in ACTIVATIONS:
        raise ValueError(f"unsupported MoE activation_type '{activation_type}'")
    x = _f64(x)
    out_shape = x.shape
    x = x.reshape(-1, x.shape[-1])
    router_logits = _f64(router_logits)
    router_logits = router_logits.reshape(x.shape[0], router_logits.shape[-1])
    fc1_weights, fc2_weights = _f64(fc1_weights), _f64(fc2_weights)
    fc1_bias, fc2_bias = _f64(fc1_bias), _f64(fc2_bias)
    fc3_weights, fc3_bias = _f64(fc3_weights), _f64(fc3_bias)

    tokens, hidden = x.shape
    num_experts = router_logits.shape[1]
    inter = fc2_weights.shape[2]
    gated = activation_type == "swiglu"
    if gated and swiglu_fusion not in (0, 1, 2):
        raise ValueError(f"swiglu_fusion must be 0, 1 or 2, got {swiglu_fusion}")
    fused = gated and swiglu_fusion in (1, 2)
    fc1_rows = 2 * inter if fused else inter
    if fc1_weights.shape != (num_experts, fc1_rows, hidden):
        raise ValueError(f"fc1_experts_weights has shape {fc1_weights.shape}, "
                         f"expected {(num_experts, fc1_rows, hidden)}")
    if fc2_weights.shape != (num_experts, hidden, inter):
        raise ValueError(f"fc2_experts_weights has shape {fc2_weights.shape}, "
                         f"expected {(num_experts, hidden, inter)}")
    if gated and swiglu_fusion == 0 and fc3_weights is None:
        raise ValueError("swiglu with swiglu_fusion=0 needs fc3_experts_weights")
    if not 1 <= k <= num_experts:
        raise ValueError(f"k={k} must be in [1, {num_experts}]")

    experts, weights = routing_weights(router_logits, k, normalize_routing_weights)
    out = np.zeros((tokens, hidden))
    for e in range(num_experts):
        rows, slot = np.nonzero(experts == e)
        if rows.size == 0:
            continue
        xe = x[rows]
        h = xe @ fc1_weights[e].T
        if fc1_bias is not None:
            h = h + fc1_bias[e]
        if not gated:
            a = _elementwise_activation(h, activation_type)
        else:
            if swiglu_fusion == 1:
                gate, linear = h[:, 0::2], h[:, 1::2]
            elif swiglu_fusion == 2:
                gate, linear = h[:, :inter], h[:, inter:]
            else:
                gate = h
                linear = xe @ fc3_weights[e].T
                if fc3_bias is not None:
                    linear = linear + fc3_bias[e]
            a = swiglu(gate, linear, activation_alpha, activation_beta, swiglu_limit)
        y = a @ fc2_weights[e].T
        if fc2_bias is not None:
            y = y + fc2_bias[e]
        out[rows] += weights[rows, slot][:, None] * y
    return out.reshape(out_shape)


def moe_attributes(node):
    """The MoE node's attributes as keyword arguments of moe(), defaults filled in."""
    attrs = {"k": 1, "activation_type": "relu", "normalize_routing_weights": 0,
             "swiglu_fusion": 0, "activation_alpha": 1.0, "activation_beta": 0.0,
             "swiglu_limit": None, "use_sparse_mixer": 0}
    for attr in node.attribute:
        if attr.name not in attrs:
            continue
        if attr.type == attr.INT:
            attrs[attr.name] = int(attr.i)
        elif attr.type == attr.FLOAT:
            attrs[attr.name] = float(attr.f)
        elif attr.type == attr.STRING:
            attrs[attr.name] = attr.s.decode()
    return attrs


_MOE_INPUTS = ("x", "router_logits", "fc1_weights", "fc1_bias", "fc2_weights", "fc2_bias",
               "fc3_weights", "fc3_bias")


def evaluate(model, feeds):
    """Runs a model built from MatMul, Transpose and com.microsoft.MoE nodes in float64.

    This is deliberately tiny: the MoE-node fixtures are a router MatMul feeding one MoE
    node, and anything else is refused rather than guessed at.
    """
    values = {name: _f64(v) for name, v in feeds.items()}
    for init in model.graph.initializer:
        values[init.name] = numpy_helper.to_array(init).astype(np.float64)
    for node in model.graph.node:
        args = [values[n] if n else None for n in node.input]
        if node.domain in ("", "ai.onnx") and node.op_type == "MatMul":
            result = args[0] @ args[1]
        elif node.domain in ("", "ai.onnx") and node.op_type == "Transpose":
            perm = [a.ints for a in node.attribute if a.name == "perm"]
            result = np.transpose(args[0], list(perm[0]) if perm else None)
        elif node.domain == MS_DOMAIN and node.op_type == "MoE":
            kwargs = dict(zip(_MOE_INPUTS, args + [None] * (8 - len(args))))
            result = moe(**kwargs, **moe_attributes(node))
        else:
            raise ValueError(f"reference evaluator does not support node '{node.name}' "
                             f"({node.domain or 'ai.onnx'}.{node.op_type})")
        values[node.output[0]] = result
    return {o.name: values[o.name] for o in model.graph.output}

#!/usr/bin/env python3
"""Writes the benchmark shapes: one MoE layer each (router + experts + combine) as ONNX with
random weights and a symbolic token dimension, plus the shape file moec-bench reads.

    python3 bench/shapes/make_shapes.py --out bench/shapes/generated tiny mixtral-8x7b-fit
    python3 bench/shapes/make_shapes.py --list

For each NAME: NAME.onnx, NAME.onnx.data (float32 weights as external data, each tensor at a
64-byte-aligned offset), NAME.shape.json and NAME.router.npy (see shape_info.py). Weights are
N(0, 1/fan_in) from numpy's default_rng(seed of the shape), so pre-activations are O(1) for
N(0, 1) inputs and the router spreads tokens over the experts. The full sizes are large
(float32: Mixtral 5.6 GB, Qwen3 2.4 GB, DeepSeek-V3 45 GB): --max-gib refuses what exceeds it.

Graph forms (what moec imports, as test/models/make_models.py writes it):
  softmax_topk (Mixtral, Qwen3, tiny): router MatMul -> com.microsoft.MoE (SwiGLU with gate and
    up interleaved in fc1, swiglu_fusion=1, normalize_routing_weights=1).
  sigmoid_grouped_topk (DeepSeek-V3): the router in plain ONNX ops (Sigmoid, selection bias,
    groups scored by their two best experts, top groups, top-k inside them, weights = the
    unbiased sigmoid scores renormalised and scaled by 2.5), handed to com.microsoft.MoE as
    log-weights on the chosen experts and -1e30 elsewhere (its softmax then reproduces those
    weights exactly), plus one always-on shared SwiGLU expert.
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shape_info import write_shape_file  # noqa: E402

OPSET, MS_DOMAIN, IR_VERSION = 17, "com.microsoft", 8
FLOAT = TensorProto.FLOAT

# name: published sizes (REFERENCE.md). "fit" variants below are derived.
PUBLISHED = {
    "mixtral-8x7b": dict(hidden=4096, inter=14336, experts=8, top_k=2, seed=7001),
    "qwen3-30b-a3b": dict(hidden=2048, inter=768, experts=128, top_k=8, seed=7002),
    "deepseek-v3": dict(hidden=7168, inter=2048, experts=256, top_k=8, shared_experts=1,
                        shared_inter=2048, routing="sigmoid_grouped_topk", groups=8,
                        topk_groups=4, routed_scaling=2.5, seed=7003),
}
# A shape that runs in seconds on one host core (bench/host_bench.py, CI).
TINY = dict(hidden=128, inter=256, experts=8, top_k=2, seed=7000)
# Budget of one "-fit" shape's weights in bf16: three fit shapes, the runtime, moec-bench and
# the test fixtures must travel together in the GPU machine's 64 MiB carry.
FIT_BYTES = 10 << 20


def fit_variant(spec):
    """The published shape scaled to FIT_BYTES of bf16 weights: the same hidden size and
    routing rule, at most 16 routed experts, top-k scaled with E (at least 2), and the expert
    FFN width cut to the largest multiple of 16 (at least 16) that fits. It measures the
    same dispatch, router and GEMM K=H at far smaller expert GEMMs: the latency regime."""
    fit = dict(spec)
    e = min(spec["experts"], 16)
    fit["experts"] = e
    fit["top_k"] = max(min(2, spec["top_k"]), round(spec["top_k"] * e / spec["experts"]))
    if spec.get("routing") == "sigmoid_grouped_topk":
        fit["groups"] = min(spec["groups"], e // 2)
        fit["topk_groups"] = max(1, spec["topk_groups"] * fit["groups"] // spec["groups"])
    per_unit = 2 * 3 * spec["hidden"] * (e + spec.get("shared_experts", 0))
    fit["inter"] = max(16, FIT_BYTES // per_unit // 16 * 16)
    if spec.get("shared_experts"):
        fit["shared_inter"] = fit["inter"]
    fit["seed"] = spec["seed"] + 100
    return fit


SHAPES = {"tiny": TINY}
for _name, _spec in PUBLISHED.items():
    SHAPES[_name] = _spec
    SHAPES[_name + "-fit"] = fit_variant(_spec)


def describe(name, spec):
    return (f"{name}: H={spec['hidden']} I={spec['inter']} E={spec['experts']} "
            f"top-{spec['top_k']} shared={spec.get('shared_experts', 0)} "
            f"{spec.get('routing', 'softmax_topk')}, float32 "
            f"{float32_bytes(spec) / 2**30:.2f} GiB")


def float32_bytes(spec):
    h, i, e = spec["hidden"], spec["inter"], spec["experts"]
    s, i_s = spec.get("shared_experts", 0), spec.get("shared_inter", 0)
    return 4 * (3 * h * i * e + 3 * h * i_s * s + h * e)


class ExternalData:
    """Appends float32 initializers to NAME.onnx.data at 64-byte-aligned offsets, generating
    big tensors one leading slice at a time so that memory stays small."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "wb")
        self.offset = 0
        self.initializers = []

    def add(self, name, shape, make_slice):
        pad = (-self.offset) % 64
        self.file.write(b"\0" * pad)
        self.offset += pad
        start = self.offset
        for index in range(shape[0]):
            data = np.asarray(make_slice(index), dtype=np.float32)
            assert data.shape == tuple(shape[1:]), (name, data.shape, shape)
            self.file.write(data.tobytes())
            self.offset += data.nbytes
        tensor = TensorProto(name=name, data_type=FLOAT, dims=list(shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", os.path.basename(self.path)), ("offset", str(start)),
                           ("length", str(self.offset - start))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.initializers.append(tensor)

    def close(self):
        self.file.close()


def _normal(rng, shape, fan_in):
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(1.0 / np.sqrt(fan_in))


def _const(name, array):
    return helper.make_node("Constant", [], [name], name=f"/const/{name}",
                            value=onnx.numpy_helper.from_array(np.asarray(array), name))


def expert_weights(ext, rng, prefix, h, i, e):
    """fc1 (E, 2I, H) with gate row j at 2j and up row j at 2j+1; fc2 (E, H, I)."""
    def fc1(_):
        gate, up = _normal(rng, (i, h), h), _normal(rng, (i, h), h)
        rows = np.empty((2 * i, h), dtype=np.float32)
        rows[0::2], rows[1::2] = gate, up
        return rows
    ext.add(f"{prefix}fc1_experts_weights", (e, 2 * i, h), fc1)
    ext.add(f"{prefix}fc2_experts_weights", (e, h, i), lambda _: _normal(rng, (h, i), i))


def moe_node(router_probs, output, spec, normalize=1):
    return helper.make_node(
        "MoE", ["input", router_probs, "fc1_experts_weights", "", "fc2_experts_weights"],
        [output], name="/block/moe/MoE", domain=MS_DOMAIN, k=spec["top_k"],
        activation_type="swiglu", swiglu_fusion=1, normalize_routing_weights=normalize)


def softmax_graph(spec, ext, rng):
    h, e = spec["hidden"], spec["experts"]
    router = _normal(rng, (h, e), h) * np.float32(1.5)
    ext.add("router.weight", (h, e), lambda row: router[row])
    expert_weights(ext, rng, "", h, spec["inter"], e)
    nodes = [helper.make_node("MatMul", ["input", "router.weight"], ["router_logits"],
                              name="/block/router/MatMul"),
             moe_node("router_logits", "output", spec)]
    return nodes, router, None


def deepseek_graph(spec, ext, rng):
    h, e, k = spec["hidden"], spec["experts"], spec["top_k"]
    g, tg, i_s = spec["groups"], spec["topk_groups"], spec["shared_inter"]
    router = _normal(rng, (h, e), h) * np.float32(1.5)
    bias = rng.uniform(-0.05, 0.05, size=e).astype(np.float32)
    ext.add("router.weight", (h, e), lambda row: router[row])
    ext.add("router.bias", (e,), lambda j: bias[j].reshape(()))
    expert_weights(ext, rng, "", h, spec["inter"], e)
    ext.add("shared.gate", (h, i_s), lambda row: _normal(rng, (i_s,), h))
    ext.add("shared.up", (h, i_s), lambda row: _normal(rng, (i_s,), h))
    ext.add("shared.down", (i_s, h), lambda row: _normal(rng, (h,), i_s))
    n = helper.make_node
    nodes = [
        n("MatMul", ["input", "router.weight"], ["logits"], name="/router/MatMul"),
        n("Sigmoid", ["logits"], ["scores"], name="/router/Sigmoid"),
        n("Add", ["scores", "router.bias"], ["biased"], name="/router/AddBias"),
        _const("group_shape", np.array([-1, g, e // g], dtype=np.int64)),
        n("Reshape", ["biased", "group_shape"], ["grouped"], name="/router/GroupReshape"),
        _const("two", np.array([2], dtype=np.int64)),
        n("TopK", ["grouped", "two"], ["group_top2", "group_top2_idx"], axis=-1,
          name="/router/GroupTop2"),
        _const("last_axis", np.array([-1], dtype=np.int64)),
        n("ReduceSum", ["group_top2", "last_axis"], ["group_scores"], keepdims=0,
          name="/router/GroupScore"),
        _const("topk_groups", np.array([tg], dtype=np.int64)),
        n("TopK", ["group_scores", "topk_groups"], ["_group_vals", "group_idx"], axis=-1,
          name="/router/TopGroups"),
        n("Shape", ["group_scores"], ["group_scores_shape"], name="/router/Shape0"),
        n("ConstantOfShape", ["group_scores_shape"], ["group_zeros"],
          value=helper.make_tensor("zero", FLOAT, [1], [0.0]), name="/router/Zeros"),
        n("Shape", ["group_idx"], ["group_idx_shape"], name="/router/Shape1"),
        n("ConstantOfShape", ["group_idx_shape"], ["group_ones"],
          value=helper.make_tensor("one", FLOAT, [1], [1.0]), name="/router/Ones"),
        n("ScatterElements", ["group_zeros", "group_idx", "group_ones"], ["group_mask"], axis=1,
          name="/router/GroupMask"),
        _const("axis2", np.array([2], dtype=np.int64)),
        n("Unsqueeze", ["group_mask", "axis2"], ["group_mask3"], name="/router/Unsqueeze"),
        _const("ones_per_group", np.ones((1, 1, e // g), dtype=np.float32)),
        n("Mul", ["group_mask3", "ones_per_group"], ["expert_mask3"], name="/router/Expand"),
        _const("flat_shape", np.array([-1, e], dtype=np.int64)),
        n("Reshape", ["expert_mask3", "flat_shape"], ["expert_mask"], name="/router/FlatMask"),
        n("Cast", ["expert_mask"], ["keep"], to=TensorProto.BOOL, name="/router/Cast"),
        _const("neg_big", np.array(-1e30, dtype=np.float32)),
        n("Where", ["keep", "biased", "neg_big"], ["masked"], name="/router/Mask"),
        _const("k", np.array([k], dtype=np.int64)),
        n("TopK", ["masked", "k"], ["_topk_vals", "topk_idx"], axis=-1, name="/router/TopK"),
        n("GatherElements", ["scores", "topk_idx"], ["topk_scores"], axis=1,
          name="/router/Gather"),
        n("ReduceSum", ["topk_scores", "last_axis"], ["topk_sum"], keepdims=1,
          name="/router/Sum"),
        n("Div", ["topk_scores", "topk_sum"], ["topk_weights"], name="/router/Normalize"),
        n("Log", ["topk_weights"], ["topk_log"], name="/router/Log"),
        n("Shape", ["logits"], ["logits_shape"], name="/router/Shape2"),
        n("ConstantOfShape", ["logits_shape"], ["all_neg"],
          value=helper.make_tensor("neg", FLOAT, [1], [-1e30]), name="/router/NegFill"),
        n("ScatterElements", ["all_neg", "topk_idx", "topk_log"], ["moe_logits"], axis=1,
          name="/router/Scatter"),
        moe_node("moe_logits", "routed_unscaled", spec),
        _const("routed_scaling", np.array(spec["routed_scaling"], dtype=np.float32)),
        n("Mul", ["routed_unscaled", "routed_scaling"], ["routed"], name="/moe/Scale"),
        n("MatMul", ["input", "shared.gate"], ["sg"], name="/shared/gate"),
        n("Sigmoid", ["sg"], ["sg_sig"], name="/shared/Sigmoid"),
        n("Mul", ["sg", "sg_sig"], ["sg_act"], name="/shared/SiLU"),
        n("MatMul", ["input", "shared.up"], ["su"], name="/shared/up"),
        n("Mul", ["sg_act", "su"], ["sh"], name="/shared/Mul"),
        n("MatMul", ["sh", "shared.down"], ["shared_out"], name="/shared/down"),
        n("Add", ["routed", "shared_out"], ["output"], name="/block/Add"),
    ]
    return nodes, router, bias


def write_shape(name, spec, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    ext = ExternalData(onnx_path + ".data")
    rng = np.random.default_rng(spec["seed"])
    grouped = spec.get("routing") == "sigmoid_grouped_topk"
    try:
        nodes, router, bias = (deepseek_graph if grouped else softmax_graph)(spec, ext, rng)
    finally:
        ext.close()
    h = spec["hidden"]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", FLOAT, ["tokens", h])],
        [helper.make_tensor_value_info("output", FLOAT, ["tokens", h])], ext.initializers)
    model = helper.make_model(graph, producer_name="moec-bench-shapes", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET),
                                             helper.make_opsetid(MS_DOMAIN, 1)])
    model.ir_version = IR_VERSION
    with open(onnx_path, "wb") as f:
        f.write(model.SerializeToString())
    onnx.checker.check_model(onnx_path)
    info = {"name": name, "source": name + ".onnx", "hidden": h, "inter": spec["inter"],
            "experts": spec["experts"], "top_k": spec["top_k"],
            "shared_experts": spec.get("shared_experts", 0),
            "shared_inter": spec.get("shared_inter", 0), "matrices_per_expert": 3,
            "activation": "swiglu", "routing": spec.get("routing", "softmax_topk"),
            "groups": spec.get("groups", 1), "topk_groups": spec.get("topk_groups", 1),
            "routed_scaling": spec.get("routed_scaling", 1.0), "input": "input",
            "router_name": "router.weight", "seed": spec["seed"]}
    write_shape_file(info, router, os.path.join(out_dir, name + ".shape.json"), bias)
    return onnx_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="shapes to write (default: tiny)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "generated"))
    parser.add_argument("--list", action="store_true", help="list the shapes and exit")
    parser.add_argument("--max-gib", type=float, default=8.0,
                        help="refuse shapes whose float32 weights exceed this (default 8)")
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in SHAPES.items():
            print(describe(name, spec))
        return 0
    for name in args.names or ["tiny"]:
        if name not in SHAPES:
            print(f"make_shapes: error: unknown shape '{name}' (see --list)", file=sys.stderr)
            return 2
        spec = SHAPES[name]
        if float32_bytes(spec) > args.max_gib * 2**30:
            print(f"make_shapes: error: {describe(name, spec)} exceeds --max-gib "
                  f"{args.max_gib}", file=sys.stderr)
            return 2
        path = write_shape(name, spec, args.out)
        print(f"make_shapes: wrote {path} ({describe(name, spec)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

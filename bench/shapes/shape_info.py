#!/usr/bin/env python3
"""Shape files: what moec-bench (and bench/peers.py) need to know about an MoE layer.

A shape file is a flat JSON object (documented in bench/README.md) beside a .npy of the
router weight (H, E). make_shapes.py writes one per generated shape; this module also
derives one from any ONNX file whose layer is a router MatMul feeding com.microsoft.MoE
(the form of test/models/*.onnx):

    python3 bench/shapes/shape_info.py MODEL.onnx OUT.shape.json
"""

import json
import os
import sys

import numpy as np


def write_shape_file(info, router, out_json, router_bias=None):
    """Writes `info` (dict) as OUT.shape.json with the router weight (H, E) and the optional
    selection bias (E,) as .npy files beside it; returns the dict written."""
    info = dict(info)
    stem = os.path.basename(out_json)
    stem = stem[:-len(".shape.json")] if stem.endswith(".shape.json") else stem
    directory = os.path.dirname(os.path.abspath(out_json))
    os.makedirs(directory, exist_ok=True)
    router = np.ascontiguousarray(router, dtype=np.float32)
    if router.shape != (info["hidden"], info["experts"]):
        raise ValueError(f"{out_json}: router weight is {router.shape}, expected "
                         f"(hidden, experts) = ({info['hidden']}, {info['experts']})")
    np.save(os.path.join(directory, stem + ".router.npy"), router)
    info["router_weight"] = stem + ".router.npy"
    if router_bias is not None:
        np.save(os.path.join(directory, stem + ".router_bias.npy"),
                np.asarray(router_bias, dtype=np.float32))
        info["router_bias"] = stem + ".router_bias.npy"
    with open(out_json, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")
    return info


def _attr(node, name, default):
    import onnx
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def describe_moe_onnx(path):
    """(info, router) for an ONNX file whose MoE layer is MatMul(x, W) -> com.microsoft.MoE.
    Raises ValueError naming the file when the graph is not in that form."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path, load_external_data=False)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    moe = [n for n in graph.node if n.op_type == "MoE" and n.domain == "com.microsoft"]
    if len(moe) != 1:
        raise ValueError(f"{path}: expected one com.microsoft.MoE node, found {len(moe)}")
    moe = moe[0]
    producers = {out: n for n in graph.node for out in n.output}
    router_node = producers.get(moe.input[1])
    if router_node is None or router_node.op_type != "MatMul" or router_node.input[1] not in inits:
        raise ValueError(f"{path}: node '{moe.name}': router_probs is not MatMul(x, initializer)")
    base = os.path.dirname(os.path.abspath(path))
    router_tensor = inits[router_node.input[1]]
    router = numpy_helper.to_array(router_tensor, base_dir=base)

    def dims(index):
        if len(moe.input) <= index or not moe.input[index]:
            return None
        name = moe.input[index]
        if name not in inits:
            raise ValueError(f"{path}: node '{moe.name}': input {index} '{name}' is not an initializer")
        return list(inits[name].dims)

    fc2 = dims(4)  # (E, H, I)
    experts, hidden, inter = fc2
    activation = _attr(moe, "activation_type", "relu")
    activation = activation.decode() if isinstance(activation, bytes) else activation
    gated = activation == "swiglu"
    info = {
        "name": os.path.splitext(os.path.basename(path))[0],
        "source": os.path.basename(path),
        "hidden": hidden, "inter": inter, "experts": experts,
        "top_k": int(_attr(moe, "k", 1)),
        "shared_experts": 0, "shared_inter": 0,
        "matrices_per_expert": 3 if gated else 2,
        "activation": activation,
        "routing": "softmax_topk",
        "normalize_routing_weights": int(_attr(moe, "normalize_routing_weights", 0)),
        "swiglu_fusion": int(_attr(moe, "swiglu_fusion", 0)),
        "input": router_node.input[0],
        "router_name": router_tensor.name,
    }
    return info, router


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        info, router = describe_moe_onnx(argv[1])
        write_shape_file(info, router, argv[2])
    except (ValueError, OSError) as error:
        print(f"shape_info: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

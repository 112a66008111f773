#!/usr/bin/env python3
"""Writes test/models/hf4/: the MoE blocks of transformers 4.x (one nn.Module per expert, its
weights nn.Linear matrices) exported with torch.onnx, each with its PyTorch reference.

Developer-only, like make_hf_models.py (whose export helpers and weight redraw this reuses).
It needs transformers 4.57.6, the newest 4.x and the last with per-expert modules (5.0 stacked
the experts), installed beside the 5.x venv of requirements-models.txt without disturbing it:

    /tmp/venv-hf/bin/pip install --target /tmp/hf4 --no-deps \\
        transformers==4.57.6 huggingface_hub==0.36.0 tokenizers==0.22.1
    PYTHONPATH=/tmp/hf4 /tmp/venv-hf/bin/python test/models/make_hf4_models.py           # rewrite
    PYTHONPATH=/tmp/hf4 /tmp/venv-hf/bin/python test/models/make_hf4_models.py --check   # compare

(torch 2.15.0 and onnxscript 0.7.2 from requirements-models.txt; transformers 4.57 needs
huggingface_hub < 1.0 and tokenizers <= 0.23.0 at import, hence those two pins.)

Per model (fixed seeds, H = 32, k = 2, float32) the sparse MoE block alone, first output only
(4.x blocks return (hidden_states, router_logits)):
  <model>/block_torchscript.onnx   torch.onnx tracing exporter, opset 17, dynamic token axis
  <model>/block_dynamo.onnx        torch.export based exporter, opset 18, when it manages
and beside each a <name>.ref/ directory (hidden_states.npy [1, 16, H], output.npy) computed by
PyTorch on a random input that sends a token to every expert. manifest.json describes each
fixture and the exports that failed, with the exporter's one-line reason.

The 4.x loop comes in two forms (both unrolled by the tracing exporter):
  expert_hit   for expert_idx in greater(one_hot(...).sum(...), 0).nonzero()   (Mixtral,
               Qwen2-MoE in 4.57): unrolled once per expert hit by the trace input, so the
               graph is valid only when every expert gets a token (as the 5.x eager export);
  all_experts  for expert_idx in range(E)   (OLMoE in 4.57; Mixtral before 4.50): the expert
               index is a constant and the graph is valid for any input.
"""

import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hf_models as hf  # noqa: E402  (export, references, weights: one convention)

DEFAULT_OUT = os.path.join(HERE, "hf4")
BLOCK_TOKENS = hf.BLOCK_TOKENS  # 16


def model_specs():
    from transformers.models.mixtral import modeling_mixtral as mixtral
    from transformers.models.olmoe import modeling_olmoe as olmoe
    from transformers.models.qwen2_moe import modeling_qwen2_moe as qwen2_moe
    return {
        "mixtral": dict(
            seed=401, config=mixtral.MixtralConfig, block=mixtral.MixtralSparseMoeBlock,
            kwargs=dict(hidden_size=32, intermediate_size=48, num_local_experts=4,
                        num_experts_per_tok=2),
            loop="expert_hit",
            routing="softmax -> top-2 -> renormalize; experts.{i}.w1 (gate), w3 (up), w2 (down)"),
        "qwen2_moe": dict(
            seed=402, config=qwen2_moe.Qwen2MoeConfig, block=qwen2_moe.Qwen2MoeSparseMoeBlock,
            kwargs=dict(hidden_size=32, moe_intermediate_size=32,
                        shared_expert_intermediate_size=48, num_experts=4,
                        num_experts_per_tok=2, norm_topk_prob=False),
            loop="expert_hit",
            routing="softmax -> top-2, no renormalization; experts.{i}.gate_proj/up_proj/"
                    "down_proj; shared expert gated by sigmoid(Linear(H, 1))"),
        "olmoe": dict(
            seed=403, config=olmoe.OlmoeConfig, block=olmoe.OlmoeSparseMoeBlock,
            kwargs=dict(hidden_size=32, intermediate_size=32, num_experts=8,
                        num_experts_per_tok=2, norm_topk_prob=False),
            loop="all_experts",
            routing="softmax -> top-2, no renormalization; experts.{i}.gate_proj/up_proj/"
                    "down_proj"),
    }


def _experts_hit(block, x):
    import torch
    logits = block.gate(x.reshape(-1, x.shape[-1]))
    return int(torch.unique(torch.topk(logits, block.top_k, dim=-1).indices).numel())


def block_fixtures(name, spec, out, manifest, failed):
    import torch
    torch.manual_seed(spec["seed"])
    config = spec["config"](**spec["kwargs"])
    block = spec["block"](config).eval()
    hf.reinit_weights(block, spec["seed"])
    # 4.x blocks also return the router logits: export the hidden states only.
    module = hf._FirstOutput(block).eval()
    g = torch.Generator().manual_seed(spec["seed"] + 1000)
    # Every expert gets a token: the expert_hit export is only valid then, and an expert that
    # no token reaches would leave its weights untested.
    for _ in range(50):
        x = torch.randn(1, BLOCK_TOKENS, config.hidden_size, generator=g)
        with torch.no_grad():
            if _experts_hit(block, x) == block.num_experts:
                break
    else:
        raise SystemExit(f"{name}: no input hits every expert: change the seed")
    with torch.no_grad():
        y = module(x)
    for exporter in ("torchscript", "dynamo"):
        rel = f"{name}/block_{exporter}.onnx"
        try:
            with torch.no_grad():
                m = hf.export(module, (x,), os.path.join(out, rel), exporter, ["hidden_states"],
                              ["output"], {"hidden_states": {1: "tokens"}, "output": {1: "tokens"}})
            hf._ort_check(os.path.join(out, rel), {"hidden_states": x.numpy()}, [y.numpy()])
        except Exception as exc:  # recorded, not fatal: what fails is part of the map
            hf._remove(os.path.join(out, rel))
            failed.append({"fixture": rel, "error": hf._one_line(exc)})
            continue
        hf._save_ref(os.path.join(out, rel[:-5] + ".ref"),
                     {"hidden_states": x.numpy(), "output": y.numpy()})
        inputs, outputs = hf._io(m)
        entry = {
            "model": name, "kind": "block", "module": type(block).__name__,
            "config_class": spec["config"].__name__,
            "config": {k: getattr(config, k) for k in sorted(spec["kwargs"])},
            "routing": spec["routing"], "loop": spec["loop"], "exporter": exporter,
            "opset": next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
            "inputs": inputs, "outputs": outputs, "rtol": hf.RTOL, "atol": hf.ATOL,
            "nodes": len(m.graph.node)}
        if spec["loop"] == "expert_hit" and exporter == "torchscript":
            entry["valid_only_when"] = ("every expert is hit (the trace unrolled the loop once "
                                        f"per expert hit by the {BLOCK_TOKENS}-token trace input)")
        manifest[rel] = entry


def write_all(out):
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # one summation order for the references
    manifest, failed = {}, []
    for name, spec in model_specs().items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        print(f"{name}: MoE block", flush=True)
        block_fixtures(name, spec, out, manifest, failed)
    doc = {"versions": hf.versions(), "fixtures": dict(sorted(manifest.items())),
           "failed": failed}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for item in failed:
        print(f"  failed: {item['fixture']}: {item['error']}")
    print(f"wrote {len(manifest)} fixtures to {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary directory and list the files that differ")
    args = ap.parse_args()
    import transformers
    if not transformers.__version__.startswith("4."):
        raise SystemExit(f"transformers {transformers.__version__}: this script needs 4.x "
                         "(see its docstring: PYTHONPATH=/tmp/hf4)")
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write_all(tmp)
            keep = [d for d in hf._compare(args.out, tmp) if d != "test_hf4_fixtures.py"]
            for d in keep:
                print(f"differs: {d}")
            return 1 if keep else 0
    write_all(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

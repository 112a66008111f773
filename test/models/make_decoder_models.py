#!/usr/bin/env python3
"""Writes test/models/decoder/: whole MoE decoders with a fixed-capacity KV cache, written as ONNX
in the form onnxruntime-genai's model builder produces (contrib ops), with weights taken from
the transformers model classes and references computed by transformers.

Developer-only: needs torch and transformers (requirements-models.txt); CI never runs it and only
reads what it wrote.

    /tmp/venv-hf/bin/python test/models/make_decoder_models.py            # rewrite decoder/
    /tmp/venv-hf/bin/python test/models/make_decoder_models.py --check    # regenerate, compare

Per model (MixtralForCausalLM, Qwen2MoeForCausalLM; 2 layers, H=64, 4 heads, 2 KV heads,
head_dim 16, vocab 128, random weights from a fixed seed):
  decoder/<name>.onnx      the graph (below), initializers inside the file
  decoder/<name>.ref.npz   prompt int64 [5]; hf_prefill_logits float32 [1, 5, vocab] (forward
                           on the prompt); hf_tokens int64 [8] (generate, greedy, with its KV
                           cache); hf_step_logits float32 [8, vocab] (the logits each greedy
                           step chose from)
  decoder/manifest.json    config, capacity, prompt, measured errors, versions
Nothing is written unless onnxruntime's CPU provider reproduces transformers: a prefill and 7
decode steps (decoder/ort_greedy.py) within max|ort - hf| / max|hf| <= 1e-4 on every step's
logits, the same 8 greedy tokens, and the same again with the initial cache filled with NaN.

Graph (opset 17 + com.microsoft 1), named as onnxruntime-genai names its nodes:
  input_ids int64 [1, tokens]; seqlens_k int32 [1]; total_sequence_length int32 [];
  past_key_values.{i}.key / .value float32 [1, KV, CAP, HD], CAP = 32 (static)
  -> logits float32 [1, tokens, vocab]; present.{i}.key / .value [1, KV, CAP, HD]
  Gather(embed) -> per layer:
    SimplifiedLayerNormalization (layer 0) | SkipSimplifiedLayerNormalization (residual + norm;
      output 3, the sum, is the new residual)
    q/k/v MatMul (+ Add bias, Qwen2) -> GroupQueryAttention (do_rotary, cos/sin caches
      [CAP, HD/2] from transformers' own rotary module) -> o_proj MatMul
    SkipSimplifiedLayerNormalization -> router MatMul -> Reshape [-1, E] -> com.microsoft.MoE
      (swiglu, swiglu_fusion=1: fc1 rows interleave gate and up)
    Qwen2-MoE: + shared expert in plain ops (MatMul gate/up, Sigmoid, Mul, Mul, MatMul down),
      scaled by Sigmoid(MatMul shared_expert_gate), Add to the MoE output
  SkipSimplifiedLayerNormalization (final norm) -> lm_head MatMul
"""

import argparse
import filecmp
import io
import json
import os
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "decoder")
sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, DEFAULT_OUT)
import ort_greedy  # noqa: E402  (beside the fixtures: the lead's e2e test imports it too)
sys.path.insert(0, HERE)
# The same weight redraw as the torch.onnx fixtures (std 1/sqrt(fan_in), norms 1 + N(0, 0.01)).
from make_hf_models import reinit_weights  # noqa: E402

OPSET = 17
MS_DOMAIN = "com.microsoft"
IR_VERSION = 8          # as test/models/make_models.py: the IR that introduced opset 17
CAPACITY = 32           # static KV-cache length; prompt + decode steps must fit
PROMPT_LEN = 5
NEW_TOKENS = 8
# max|ort - hf| / max|hf| per step. Both sides are float32 with dot products of length <= 128
# through ~10 dependent stages per layer; the measured errors are ~1e-7..1e-6 (manifest), so
# 1e-4 leaves room for another CPU's summation order while a wrong graph (a missing bias, a
# swapped gate/up, a wrong rotary half) is off by O(1).
RTOL = 1e-4
# Greedy tokens must not hang on rounding: the top-1 logit must beat the top-2 by at least this
# fraction of max|logits| at every step (1e-3 is >= 10x RTOL), or the next seed is tried.
MIN_MARGIN = 1e-3
# The same for the experts: on every token of the run (prompt and decode steps) and every layer,
# the k-th router logit must beat the (k+1)-th by this much (router logits are O(1)), so a
# compiler's different summation order cannot pick another expert.
MIN_ROUTER_GAP = 1e-3
# A random model easily settles into repeating one token, and then a decode step that ignored
# the cache could still guess right: ask for this many distinct tokens among the 8.
MIN_DISTINCT = 5
SEED_TRIES = 10


def _common():
    return dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16, max_position_embeddings=CAPACITY * 2,
                tie_word_embeddings=False)


def model_specs():
    import transformers as tf
    return {
        "mixtral": dict(
            seed=201, config=tf.MixtralConfig, model=tf.MixtralForCausalLM,
            kwargs=dict(_common(), intermediate_size=48, num_local_experts=8,
                        num_experts_per_tok=2, eos_token_id=None, bos_token_id=None),
            experts="num_local_experts", expert_inter="intermediate_size",
            normalize=1, shared=False, qkv_bias=False,
            routing="softmax -> top-2 -> renormalize (normalize_routing_weights=1); no shared "
                    "expert; no attention biases"),
        "qwen2_moe": dict(
            seed=202, config=tf.Qwen2MoeConfig, model=tf.Qwen2MoeForCausalLM,
            kwargs=dict(_common(), intermediate_size=64, moe_intermediate_size=32,
                        shared_expert_intermediate_size=80, num_experts=6,
                        num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1,
                        mlp_only_layers=[], qkv_bias=True, use_sliding_window=False),
            experts="num_experts", expert_inter="moe_intermediate_size",
            normalize=0, shared=True, qkv_bias=True,
            routing="softmax -> top-2, no renormalization (normalize_routing_weights=0); "
                    "shared expert scaled by sigmoid(shared_expert_gate); q/k/v biases"),
    }


# ----------------------------------------------------------------------------------------------
# the transformers model and its reference

def build_hf(spec, seed):
    import torch
    torch.manual_seed(seed)
    config = spec["config"](**spec["kwargs"])
    config._attn_implementation = "eager"
    # The per-expert loop computes exactly the experts chosen, nothing batched or padded.
    config._experts_implementation = "eager"
    model = spec["model"](config).eval()
    reinit_weights(model, seed)
    return config, model


def hf_reference(model, config, seed):
    """prompt, prefill logits, greedy tokens and step logits from transformers, plus the
    smallest top-1/top-2 logit margin and the smallest router gap (k-th vs (k+1)-th logit)."""
    import torch
    g = torch.Generator().manual_seed(seed + 1000)
    prompt = torch.randint(0, config.vocab_size, (PROMPT_LEN,), generator=g)
    router_gaps = []
    k = config.num_experts_per_tok

    def hook(_module, _inputs, output):
        top = torch.sort(output[0].float(), dim=-1, descending=True).values
        router_gaps.append(float((top[:, k - 1] - top[:, k]).min()))

    handles = [layer.mlp.gate.register_forward_hook(hook) for layer in model.model.layers]
    with torch.no_grad():
        prefill = model(input_ids=prompt[None], use_cache=False).logits
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        gen = model.generate(input_ids=prompt[None], attention_mask=torch.ones(1, PROMPT_LEN,
                             dtype=torch.long), max_new_tokens=NEW_TOKENS, min_new_tokens=0,
                             do_sample=False, use_cache=True, output_logits=True,
                             return_dict_in_generate=True)
    for h in handles:
        h.remove()
    tokens = gen.sequences[0, PROMPT_LEN:].numpy().astype(np.int64)
    steps = torch.cat(gen.logits, dim=0).numpy().astype(np.float32)
    if tokens.shape != (NEW_TOKENS,) or steps.shape != (NEW_TOKENS, config.vocab_size):
        raise RuntimeError(f"generate returned {tokens.shape} tokens, {steps.shape} logits")
    if not np.array_equal(tokens, steps.argmax(-1)):
        raise RuntimeError("generate's tokens are not the argmax of its logits")
    top2 = np.sort(steps, axis=-1)[:, -2:]
    margins = (top2[:, 1] - top2[:, 0]) / np.abs(steps).max(axis=-1)
    ref = {"prompt": prompt.numpy().astype(np.int64),
           "hf_prefill_logits": prefill.numpy().astype(np.float32),
           "hf_tokens": tokens, "hf_step_logits": steps}
    return ref, margins, min(router_gaps)


def rotary_caches(model, config):
    """cos/sin [CAP, HD/2] from the model's own rotary module (its inv_freq, its float32
    position * inv_freq product): the first half of transformers' cat(freqs, freqs)."""
    import torch
    rot = model.model.rotary_emb
    pos = torch.arange(CAPACITY)[None]
    with torch.no_grad():
        cos, sin = rot(torch.zeros(1, dtype=torch.float32), pos)
    half = config.head_dim // 2
    cos, sin = cos[0].numpy(), sin[0].numpy()
    # GroupQueryAttention's non-interleaved rotary assumes cat(freqs, freqs): check it.
    if not (np.array_equal(cos[:, :half], cos[:, half:]) and
            np.array_equal(sin[:, :half], sin[:, half:])):
        raise RuntimeError("rotary cos/sin halves differ: not transformers' rotate_half form")
    return (np.ascontiguousarray(cos[:, :half], np.float32),
            np.ascontiguousarray(sin[:, :half], np.float32))


# ----------------------------------------------------------------------------------------------
# the ONNX graph

class _Graph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, array):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, name, inputs, outputs=None, domain="", **attrs):
        from onnx import helper
        outputs = outputs or [f"{name}/output_0"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain,
                                           **attrs))
        return outputs[0]

    def matmul(self, name, x, weight_t):
        """genai's float MatMul: weight [in, out] named after the node."""
        w = self.init(name[1:].replace("/", ".") + ".weight", weight_t.astype(np.float32))
        return self.node("MatMul", name, [x, w])

    def add_bias(self, name, x, bias):
        b = self.init(name[1:].replace("/", ".") + ".bias", bias.astype(np.float32))
        return self.node("Add", name, [x, b])


def _np(t):
    return t.detach().float().numpy()


def interleave_gate_up(gate_up):
    """transformers' gate_up_proj [E, 2I, H] is [gate rows | up rows]; MoE's swiglu_fusion=1
    wants row 2i = gate row i, row 2i+1 = up row i."""
    e, two_i, h = gate_up.shape
    half = two_i // 2
    out = np.empty_like(gate_up)
    out[:, 0::2] = gate_up[:, :half]
    out[:, 1::2] = gate_up[:, half:]
    return out


def build_onnx(name, spec, config, model):
    from onnx import TensorProto, helper
    sd = model.state_dict()
    n_layers, hd = config.num_hidden_layers, config.head_dim
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    n_exp = getattr(config, spec["experts"])
    eps = float(config.rms_norm_eps)
    g = _Graph()
    cos, sin = rotary_caches(model, config)
    g.init("cos_cache", cos)
    g.init("sin_cache", sin)
    router_shape = g.init(f"/model/constants/INT64/[-1, {n_exp}]", np.array([-1, n_exp], np.int64))

    x = g.node("Gather", "/model/embed_tokens/Gather",
               [g.init("model.embed_tokens.weight", _np(sd["model.embed_tokens.weight"])),
                "input_ids"])
    residual, skip = x, None
    for i in range(n_layers):
        p, hp = f"/model/layers.{i}", f"model.layers.{i}"
        # input norm: the first is plain; later ones add the previous MLP output to the residual.
        w = g.init(f"{hp}.input_layernorm.weight", _np(sd[f"{hp}.input_layernorm.weight"]))
        if skip is None:
            normed = g.node("SimplifiedLayerNormalization", f"{p}/input_layernorm/LayerNorm",
                            [residual, w], [f"{p}/input_layernorm/output_0"], axis=-1,
                            epsilon=eps, stash_type=1)
        else:
            normed, residual = _skip_norm(g, f"{p}/input_layernorm", residual, skip, w, eps)
        # attention
        qkv = []
        for proj in ("q", "k", "v"):
            t = g.matmul(f"{p}/attn/{proj}_proj/MatMul", normed,
                         _np(sd[f"{hp}.self_attn.{proj}_proj.weight"]).T)
            if spec["qkv_bias"]:
                t = g.add_bias(f"{p}/attn/{proj}_proj/Add", t,
                               _np(sd[f"{hp}.self_attn.{proj}_proj.bias"]))
            qkv.append(t)
        attn = g.node("GroupQueryAttention", f"{p}/attn/GroupQueryAttention",
                      qkv + [f"past_key_values.{i}.key", f"past_key_values.{i}.value",
                             "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"],
                      [f"{p}/attn/GroupQueryAttention/output_0", f"present.{i}.key",
                       f"present.{i}.value"],
                      domain=MS_DOMAIN, num_heads=heads, kv_num_heads=kv,
                      scale=float(hd ** -0.5), local_window_size=-1, softcap=0.0,
                      do_rotary=1, rotary_interleaved=0)
        attn = g.matmul(f"{p}/attn/o_proj/MatMul", attn, _np(sd[f"{hp}.self_attn.o_proj.weight"]).T)
        w = g.init(f"{hp}.post_attention_layernorm.weight",
                   _np(sd[f"{hp}.post_attention_layernorm.weight"]))
        normed, residual = _skip_norm(g, f"{p}/post_attention_layernorm", residual, attn, w, eps)
        # MoE
        logits = g.matmul(f"{p}/moe/router/MatMul", normed, _np(sd[f"{hp}.mlp.gate.weight"]).T)
        logits = g.node("Reshape", f"{p}/moe/router/Reshape", [logits, router_shape])
        fc1 = g.init(f"{hp}.moe.experts.gate_up_proj.weight",
                     interleave_gate_up(_np(sd[f"{hp}.mlp.experts.gate_up_proj"])))
        fc2 = g.init(f"{hp}.moe.experts.down_proj.weight", _np(sd[f"{hp}.mlp.experts.down_proj"]))
        moe = g.node("MoE", f"{p}/moe/MoE", [normed, logits, fc1, "", fc2], domain=MS_DOMAIN,
                     activation_alpha=1.0, activation_beta=0.0, activation_type="swiglu",
                     k=config.num_experts_per_tok,
                     normalize_routing_weights=spec["normalize"], swiglu_fusion=1,
                     use_sparse_mixer=0)
        if spec["shared"]:
            moe = _shared_expert(g, p, hp, sd, normed, moe)
        skip = moe
    w = g.init(f"model.layers.{n_layers}.final_norm_layernorm.weight", _np(sd["model.norm.weight"]))
    # genai's last norm: layer index n_layers, location "final_norm", output 0 only.
    final = f"/model/layers.{n_layers}/final_norm_layernorm"
    normed = g.node("SkipSimplifiedLayerNormalization", f"{final}/SkipLayerNorm",
                    [residual, skip, w], [f"{final}/output_0"], domain=MS_DOMAIN, epsilon=eps)
    lm = g.init("lm_head.MatMul.weight", _np(sd["lm_head.weight"]).T)
    g.node("MatMul", "/lm_head/MatMul", [normed, lm], ["logits"])

    f32, cache = TensorProto.FLOAT, [1, kv, CAPACITY, hd]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "tokens"]),
              helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
              helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    outputs = [helper.make_tensor_value_info("logits", f32, [1, "tokens", config.vocab_size])]
    for i in range(n_layers):
        for kv_name in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv_name}", f32,
                                                        cache))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kv_name}", f32, cache))
    graph = helper.make_graph(g.nodes, name, inputs, outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                helper.make_opsetid(MS_DOMAIN, 1)],
                          producer_name="moec-make-decoder-models", producer_version="1")
    m.ir_version = IR_VERSION
    # onnx.checker does not know SimplifiedLayerNormalization (onnxruntime registers it in the
    # ai.onnx domain, as genai writes it), so the graph is checked by running it instead.
    return m


def _skip_norm(g, base, residual, skip, weight, eps):
    """SkipSimplifiedLayerNormalization as genai writes it: outputs 0 (normed) and 3 (residual
    + skip, the new residual); the training outputs 1, 2 are left empty."""
    normed, total = f"{base}/output_0", f"{base}/output_3"
    g.node("SkipSimplifiedLayerNormalization", f"{base}/SkipLayerNorm", [residual, skip, weight],
           [normed, "", "", total], domain=MS_DOMAIN, epsilon=eps)
    return normed, total


def _shared_expert(g, p, hp, sd, x, routed):
    """Qwen2-MoE's shared expert in plain ops (genai's non-GatedAdd form):
    down(silu(gate(x)) * up(x)) * sigmoid(shared_expert_gate(x)) + routed."""
    s, hs = f"{p}/shared_expert", f"{hp}.mlp.shared_expert"
    gate = g.matmul(f"{s}/gate_proj/MatMul", x, _np(sd[f"{hs}.gate_proj.weight"]).T)
    up = g.matmul(f"{s}/up_proj/MatMul", x, _np(sd[f"{hs}.up_proj.weight"]).T)
    sig = g.node("Sigmoid", f"{s}/gate_proj/Sigmoid", [gate])
    silu = g.node("Mul", f"{s}/gate_proj/Mul", [gate, sig])
    h = g.node("Mul", f"{s}/gate_up/Mul", [silu, up])
    down = g.matmul(f"{s}/down_proj/MatMul", h, _np(sd[f"{hs}.down_proj.weight"]).T)
    gl = g.matmul(f"{p}/shared_expert_gate/MatMul", x,
                  _np(sd[f"{hp}.mlp.shared_expert_gate.weight"]).T)
    gs = g.node("Sigmoid", f"{p}/shared_expert_gate/Sigmoid", [gl])
    gated = g.node("Mul", f"{s}/gate/Mul", [down, gs])
    return g.node("Add", f"{p}/moe/Add", [routed, gated])


# ----------------------------------------------------------------------------------------------
# checking and writing

def ort_check(model_bytes, ref):
    """Runs the ORT greedy loop twice (initial cache zeros, then NaN: positions beyond the
    current length must be ignored) and compares with transformers. Returns the errors."""
    (errs, run), (nan_errs, nan_run) = [
        (ort_greedy.compare(r, ref), r) for r in
        (ort_greedy.greedy(model_bytes, ref["prompt"], NEW_TOKENS, past_fill=fill)
         for fill in (0.0, float("nan")))]
    problems = []
    for label, e in (("zero cache", errs), ("NaN cache", nan_errs)):
        worst = max([e["prefill"]] + e["steps"])
        if not worst <= RTOL:  # `not <=` so a NaN error fails
            problems.append(f"{label}: max relative error {worst:.3g} > {RTOL}")
        if not e["tokens_equal"]:
            problems.append(f"{label}: tokens differ")
    if not np.array_equal(run.step_logits, nan_run.step_logits):
        problems.append("the NaN-filled initial cache changed the logits")
    return errs, run.tokens, problems


def _npz_bytes(arrays):
    """A .npz whose bytes depend only on the arrays (np.savez stamps the current time into the
    zip entries, which would make --check fail on every run)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for key in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            z.writestr(zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       entry.getvalue())
    return buf.getvalue()


def _g(x):
    """Two significant digits: enough to read, and stable across runs on one machine."""
    return float(f"{x:.2g}")


def make_one(name, spec, out):
    for attempt in range(SEED_TRIES):
        seed = spec["seed"] + 100 * attempt
        config, model = build_hf(spec, seed)
        ref, margins, router_gap = hf_reference(model, config, seed)
        print(f"{name}: seed {seed}: tokens {ref['hf_tokens'].tolist()}, min top-1/top-2 "
              f"margin {margins.min():.3g} of max|logits|, min router gap {router_gap:.3g}",
              flush=True)
        distinct = len(set(ref["hf_tokens"].tolist()))
        if (margins.min() >= MIN_MARGIN and router_gap >= MIN_ROUTER_GAP
                and distinct >= MIN_DISTINCT):
            break
        print(f"{name}: near-tie or {distinct} distinct tokens: next seed", flush=True)
    else:
        raise SystemExit(f"{name}: no seed in {SEED_TRIES} tries gives margins >= {MIN_MARGIN}, "
                         f"router gaps >= {MIN_ROUTER_GAP} and {MIN_DISTINCT} distinct tokens")
    m = build_onnx(name, spec, config, model)
    model_bytes = m.SerializeToString()
    errs, tokens, problems = ort_check(model_bytes, ref)
    print(f"{name}: ORT vs HF: prefill {errs['prefill']:.3g}, steps "
          f"{', '.join(f'{e:.3g}' for e in errs['steps'])}; ORT tokens {tokens.tolist()}",
          flush=True)
    if problems:  # nothing of this model is written
        raise SystemExit(f"{name}: onnxruntime disagrees with transformers: " + "; ".join(problems))
    with open(os.path.join(out, f"{name}.onnx"), "wb") as f:
        f.write(model_bytes)
    with open(os.path.join(out, f"{name}.ref.npz"), "wb") as f:
        f.write(_npz_bytes(ref))
    ops = {}
    for n in m.graph.node:
        key = f"{n.domain}.{n.op_type}" if n.domain else n.op_type
        ops[key] = ops.get(key, 0) + 1
    cfg = {k: getattr(config, k) for k in sorted(spec["kwargs"])}
    cfg["rms_norm_eps"] = float(config.rms_norm_eps)
    cfg["rope_theta"] = float(config.rope_parameters["rope_theta"])
    return {
        "class": spec["model"].__name__, "config_class": spec["config"].__name__,
        "config": cfg, "seed": seed, "routing": spec["routing"],
        "experts": getattr(config, spec["experts"]),
        "expert_intermediate": getattr(config, spec["expert_inter"]),
        "capacity": CAPACITY, "prompt": ref["prompt"].tolist(), "new_tokens": NEW_TOKENS,
        "hf_tokens": ref["hf_tokens"].tolist(),
        "min_top1_top2_margin": _g(float(margins.min())),
        "min_router_gap": _g(router_gap),
        "ort_vs_hf": {"metric": "max|ort - hf| / max|hf| per step", "tolerance": RTOL,
                      "prefill": _g(errs["prefill"]),
                      "steps": [_g(e) for e in errs["steps"]]},
        "nodes": len(m.graph.node), "ops": dict(sorted(ops.items())),
        "bytes": len(model_bytes),
    }


def versions():
    import onnx
    import onnxruntime
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def write_all(out):
    import torch
    import warnings
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # one summation order for the references
    os.makedirs(out, exist_ok=True)
    models = {name: make_one(name, spec, out) for name, spec in model_specs().items()}
    doc = {"versions": versions(), "capacity": CAPACITY, "opset": OPSET, "ms_opset": 1,
           "models": models}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


GENERATED = (".onnx", ".ref.npz", "manifest.json")


def _generated(d):
    return sorted(f for f in os.listdir(d) if f.endswith(GENERATED))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary directory and list the files that differ")
    args = ap.parse_args()
    if not args.check:
        write_all(args.out)
        print(f"wrote {', '.join(_generated(args.out))} to {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        have, want = set(_generated(args.out)), set(_generated(tmp))
        diff = sorted((have ^ want) | {f for f in have & want if not filecmp.cmp(
            os.path.join(args.out, f), os.path.join(tmp, f), shallow=False)})
    for d in diff:
        print(f"differs: {d}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())

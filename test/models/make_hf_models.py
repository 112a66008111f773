#!/usr/bin/env python3
"""Writes test/models/hf/: small random-weight MoE models built from the transformers model
classes and exported with torch.onnx, each with its PyTorch reference.

Developer-only: needs torch and transformers (pinned in requirements-models.txt at the repository
root); CI never runs it and only reads what it wrote (test/models/hf/test_hf_fixtures.py).

    python3 -m venv /tmp/venv-hf --system-site-packages
    /tmp/venv-hf/bin/pip install -r requirements-models.txt
    /tmp/venv-hf/bin/python test/models/make_hf_models.py            # rewrite test/models/hf/
    /tmp/venv-hf/bin/python test/models/make_hf_models.py --check    # regenerate elsewhere, compare
    /tmp/venv-hf/bin/python test/models/make_hf_models.py --only gpt_oss   # one model; the other
                                              # models' files and manifest entries stay as they are

Per model (Mixtral, Qwen2-MoE, DeepSeek-V3, OLMoE, gpt-oss; 2 layers, H=32, vocab 128, fixed
seeds) the script writes, for every exporter that manages it (dynamo = torch.export based,
torchscript = the tracing exporter):
  <model>/block_<impl>_<exporter>.onnx   the sparse MoE module alone, hidden_states [1, tokens, H]
  <model>/logits_<exporter>.onnx         the decoder, input_ids [1, seq] -> logits, no cache
  <model>/logits_sdpa_<exporter>.onnx    the same with attn_implementation "sdpa" (transformers'
                                         default) instead of "eager"
  <model>/kv_<exporter>.onnx             the decoder with past key/values in and present out
  <model>/kv_sdpa_<exporter>.onnx        the same with attn_implementation "sdpa" (KV_SDPA_MODELS)
  <model>/kv_mask_<exporter>.onnx        the same with an attention_mask input (KV_SDPA_MODELS)
and beside each a directory <name>.ref/ of .npy files (inputs, outputs) computed by the PyTorch
module in float32. manifest.json describes every fixture; the attempts that failed are recorded
there too (under "failed"), with the exporter's one-line reason, because what does not export
is as much a fact about these classes as what does.

<impl> is transformers' "experts implementation" (config._experts_implementation):
  batched_mm  gathers each (token, slot)'s expert weights and runs a batched matmul: dense,
              exports with both exporters and stays correct for every token count;
  eager       the loop over the experts that received tokens (one_hot -> nonzero -> where ->
              index_add_): torch.export refuses the data-dependent loop; the tracing exporter
              unrolls it once per expert hit *while tracing*, so the graph is right only when
              every expert receives a token (the trace input guarantees it; the manifest says
              "valid_only_when": "every expert is hit").
  grouped_mm  (transformers' default) exports with neither exporter; recorded under "failed".
The whole decoders use batched_mm, the only implementation whose export is valid for any input.
"""

import argparse
import filecmp
import json
import os
import sys
import tempfile
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "hf")

DYNAMO_OPSET = 18
TORCHSCRIPT_OPSET = 17
# float32 tolerance the references are checked with: |ort - torch| <= ATOL + RTOL * |torch|.
# Both sides compute in float32 with dot products of length <= 128 over <= ~12 dependent stages;
# the measured differences are ~1e-6 relative, so 1e-4 leaves room for summation order (and a
# different CPU) without hiding a wrong graph, whose errors are O(1).
RTOL = 1e-4
ATOL = 1e-5

BLOCK_TOKENS = 16  # trace/reference token count: every expert gets a token (checked below)
SEQ = 6            # prompt length for the decoder fixtures
GEN_STEPS = 4      # greedy tokens recorded for the KV-cache fixtures
KV_SDPA_MODELS = ("mixtral",)  # kv_sdpa_*: one model is enough, the sdpa form is shared


def _common(vocab=128, hidden=32, heads=4, kv_heads=2):
    return dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=2,
                num_attention_heads=heads, num_key_value_heads=kv_heads,
                max_position_embeddings=64, tie_word_embeddings=False)


def model_specs():
    import transformers as tf
    return {
        "mixtral": dict(
            seed=101, config=tf.MixtralConfig, model=tf.MixtralForCausalLM,
            kwargs=dict(_common(), intermediate_size=48, num_local_experts=4,
                        num_experts_per_tok=2),
            moe_layer=0,
            routing="softmax -> top-2 -> renormalize; no shared expert"),
        "qwen2_moe": dict(
            seed=102, config=tf.Qwen2MoeConfig, model=tf.Qwen2MoeForCausalLM,
            kwargs=dict(_common(), intermediate_size=64, moe_intermediate_size=32,
                        shared_expert_intermediate_size=48, num_experts=4,
                        num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1,
                        mlp_only_layers=[]),
            moe_layer=0,
            routing="softmax -> top-2, no renormalization; shared expert gated by "
                    "sigmoid(Linear(H, 1)); q/k/v biases"),
        "deepseek_v3": dict(
            seed=103, config=tf.DeepseekV3Config, model=tf.DeepseekV3ForCausalLM,
            kwargs=dict(_common(kv_heads=4), intermediate_size=64, moe_intermediate_size=24,
                        n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2,
                        n_shared_experts=1, routed_scaling_factor=2.5, norm_topk_prob=True,
                        first_k_dense_replace=1, q_lora_rank=16, kv_lora_rank=16,
                        qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8,
                        rope_interleave=True),
            moe_layer=1,
            routing="sigmoid + e_score_correction_bias; 4 groups scored by their top-2 sum, "
                    "top-2 groups kept; top-2 experts; weights = unbiased sigmoid, "
                    "renormalized, x2.5; one shared expert; layer 0 is a dense MLP; MLA attention"),
        "olmoe": dict(
            seed=104, config=tf.OlmoeConfig, model=tf.OlmoeForCausalLM,
            kwargs=dict(_common(), intermediate_size=32, num_experts=8, num_experts_per_tok=2,
                        norm_topk_prob=False),
            moe_layer=0,
            routing="softmax -> top-2, no renormalization; q/k RMSNorm over all heads"),
        # swiglu_limit 1.5 instead of 7: with O(1) pre-activations a limit of 7 never clamps,
        # and a fixture that ignored the clamps would pass. I != H so a transposed weight shows.
        "gpt_oss": dict(
            seed=105, config=tf.GptOssConfig, model=tf.GptOssForCausalLM,
            kwargs=dict(_common(), head_dim=8, intermediate_size=24, num_local_experts=4,
                        num_experts_per_tok=2, sliding_window=4, swiglu_limit=1.5,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            moe_layer=0, experts_transposed=True, block_returns_scores=True,
            not_exported={"kv": "layer 0's sliding-window cache keeps only the last "
                                "sliding_window - 1 positions, so the layers' past lengths "
                                "differ; WithCache and the one 'past' symbol assume one length"},
            routing="Linear with bias -> top-2 of the logits -> softmax over the 2; experts "
                    "[E, H, 2I] with biases, gate/up interleaved, clamped SwiGLU "
                    "(alpha 1.702, limit 1.5, (up + 1)); attention sinks, sliding window 4 "
                    "on layer 0"),
    }


# ----------------------------------------------------------------------------------------------
# building and weights

def build(name, spec, impl, attn="eager"):
    import torch
    torch.manual_seed(spec["seed"])
    config = spec["config"](**spec["kwargs"])
    config._experts_implementation = impl
    config._attn_implementation = attn
    model = spec["model"](config).eval()
    reinit_weights(model, spec["seed"], spec.get("experts_transposed", False))
    return config, model


def reinit_weights(model, seed, experts_transposed=False):
    """transformers initializes with std 0.02, which makes the router's logits nearly equal
    (top-k then hangs on rounding) and the logits tiny. Redraw every weight with std
    1/sqrt(fan_in) so every pre-activation is O(1); norms get 1 + N(0, 0.1^2) so a wrong
    weight shows; biases (q/k/v, DeepSeek's expert-score bias) get N(0, 0.1^2).
    experts_transposed: the stacked expert weights are [E, in, out] (gpt-oss), fan_in is dim 1."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.dim() >= 2:
                fan_in = p.shape[-2] if experts_transposed and p.dim() == 3 else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))
            elif "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in sorted(model.named_buffers()):
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))


def _wrappers():
    """The export wrappers, defined lazily: torch is imported only when the script runs, so
    --help works without it."""
    import torch
    from transformers import DynamicCache

    class LogitsOnly(torch.nn.Module):
        """input_ids -> logits. ones_mask: pass attention_mask = ones instead of None. With
        None (and no cache) transformers looks for packed sequences with torch.diff, which the
        torchscript exporter cannot export; the all-ones padding mask computes the same."""

        def __init__(self, model, ones_mask=False):
            super().__init__()
            self.model = model
            self.ones_mask = ones_mask

        def forward(self, input_ids):
            mask = torch.ones_like(input_ids) if self.ones_mask else None
            return self.model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits

    class WithCache(torch.nn.Module):
        """(input_ids, past_key_0, past_value_0, ...) -> (logits, present_key_0, ...): the
        cache as plain tensors, the layout onnxruntime-genai style graphs use."""

        def __init__(self, model, config):
            super().__init__()
            self.model = model
            self.config = config

        def forward(self, input_ids, *past):
            pairs = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
            cache = DynamicCache(ddp_cache_data=pairs, config=self.config)
            out = self.model(input_ids=input_ids, past_key_values=cache, use_cache=True)
            present = []
            for layer in out.past_key_values.layers:
                present += [layer.keys, layer.values]
            return (out.logits, *present)

    class WithCacheAndMask(WithCache):
        """(input_ids, attention_mask, past_key_0, ...) -> as WithCache: the attention_mask
        input [1, past + seq] optimum's exports have (ones: no padding)."""

        def forward(self, input_ids, attention_mask, *past):
            pairs = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
            cache = DynamicCache(ddp_cache_data=pairs, config=self.config)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             past_key_values=cache, use_cache=True)
            present = []
            for layer in out.past_key_values.layers:
                present += [layer.keys, layer.values]
            return (out.logits, *present)

    LogitsOnly.WithCacheAndMask = WithCacheAndMask  # reached through _wrappers()[0]
    return LogitsOnly, WithCache


# ----------------------------------------------------------------------------------------------
# export

def _one_line(exc):
    """The exporters' messages are pages long; keep the line that names the cause (the first
    `<class ...>: ...` line of torch.onnx's "Exception summary", else the first line)."""
    text = str(exc)
    causes = [l.strip() for l in text.splitlines() if l.startswith("<class ")]
    line = causes[0] if causes else f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
    return line.replace("\x1b[96m", "").replace("\x1b[0m", "")[:400]


def export(module, args, path, exporter, input_names, output_names, dynamic):
    """dynamic: {input name: {axis: symbol}} (outputs get their symbols from the exporter for
    dynamo and from `dynamic` entries whose names are outputs for torchscript)."""
    import torch
    import onnx
    if exporter == "dynamo":
        shapes = {}
        dims = {}
        for name in input_names:
            axes = dynamic.get(name, {})
            # One Dim object per symbol, so inputs that share a symbol (every past_*) share it.
            shapes[name] = {a: dims.setdefault(s, torch.export.Dim(s, min=1, max=1024))
                            for a, s in axes.items()} or None
        # The forward's own parameter names: a *past varargs is one tuple entry.
        sig_names = _forward_arg_names(module)
        if len(sig_names) == 1 and len(input_names) == 1:
            dyn = {sig_names[0]: shapes[input_names[0]]}
        else:
            named = len(sig_names)
            dyn = (*[shapes[n] for n in input_names[:named]],
                   tuple(shapes[n] for n in input_names[named:]))
        prog = torch.onnx.export(module, args, dynamo=True, opset_version=DYNAMO_OPSET,
                                 input_names=input_names, output_names=output_names,
                                 dynamic_shapes=dyn, external_data=False, verbose=False)
        model = prog.model_proto
    else:
        tmp = path + ".tmp"
        torch.onnx.export(module, args, tmp, dynamo=False, opset_version=TORCHSCRIPT_OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic, do_constant_folding=True)
        model = onnx.load(tmp)
        os.remove(tmp)
    # dynamo's per-node metadata holds stack traces with this machine's paths (and is 2/3 of
    # the file): keep only "namespace", the module path that says which layer a node is from.
    for node in model.graph.node:
        keep = [(p.key, p.value) for p in node.metadata_props if p.key == "namespace"]
        del node.metadata_props[:]
        for key, value in keep:
            node.metadata_props.add(key=key, value=value)
    model.producer_name = f"torch.onnx ({exporter})"
    onnx.save(model, path)
    return model


def _forward_arg_names(module):
    import inspect
    return [p.name for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _save_ref(ref_dir, arrays):
    os.makedirs(ref_dir, exist_ok=True)
    for name, a in arrays.items():
        np.save(os.path.join(ref_dir, name + ".npy"), np.ascontiguousarray(a))


def _io(model):
    import onnx

    def desc(v):
        t = v.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        return {"name": v.name, "dtype": onnx.TensorProto.DataType.Name(t.elem_type).lower(),
                "shape": dims}
    return [desc(v) for v in model.graph.input], [desc(v) for v in model.graph.output]


def _ort_check(path, feeds, expected):
    """The export must reproduce the module on the reference inputs, or it is not written."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    for g, e in zip(got, expected):
        err = np.abs(g.astype(np.float64) - e) - RTOL * np.abs(e)
        if g.shape != e.shape or not np.all(err <= ATOL):
            raise RuntimeError(f"onnxruntime disagrees with torch: shape {g.shape} vs {e.shape}, "
                               f"max abs diff {np.max(np.abs(g - e)) if g.shape == e.shape else '-'}")
    return got


# ----------------------------------------------------------------------------------------------
# fixtures

def block_fixtures(name, spec, out, manifest, failed):
    import torch
    for impl, exporters in (("batched_mm", ("dynamo", "torchscript")),
                            ("eager", ("dynamo", "torchscript")),
                            ("grouped_mm", ("dynamo", "torchscript"))):
        config, model = build(name, spec, impl)
        block = model.model.layers[spec["moe_layer"]].mlp
        if spec.get("block_returns_scores"):
            block = _FirstOutput(block)
        g = torch.Generator().manual_seed(spec["seed"] + 1000)
        # Draw until every expert gets a token: the eager trace unrolls only the experts hit
        # (deterministic: the same generator gives the same draws).
        for _ in range(50):
            x = torch.randn(1, BLOCK_TOKENS, config.hidden_size, generator=g)
            with torch.no_grad():
                if _experts_hit(block, x) == _num_experts(config):
                    break
        else:
            raise SystemExit(f"{name}: no trace input hits every expert: change the seed")
        with torch.no_grad():
            y = block(x)
        for exporter in exporters:
            rel = f"{name}/block_{impl}_{exporter}.onnx"
            try:
                with torch.no_grad():
                    m = export(block, (x,), os.path.join(out, rel), exporter, ["hidden_states"],
                               ["output"], {"hidden_states": {1: "tokens"}, "output": {1: "tokens"}})
                _ort_check(os.path.join(out, rel), {"hidden_states": x.numpy()}, [y.numpy()])
            except Exception as exc:  # recorded, not fatal: what fails is part of the map
                _remove(os.path.join(out, rel))
                failed.append({"fixture": rel, "error": _one_line(exc)})
                continue
            _save_ref(os.path.join(out, rel[:-5] + ".ref"), {"hidden_states": x.numpy(),
                                                               "output": y.numpy()})
            inputs, outputs = _io(m)
            entry = _entry(name, spec, config, "block", impl, exporter, m, inputs, outputs)
            entry["module"] = type(getattr(block, "block", block)).__name__
            if impl in spec.get("moec_not_yet", {}):
                entry["moec"] = "not yet: " + spec["moec_not_yet"][impl]
            if impl == "eager":
                entry["valid_only_when"] = ("every expert is hit (the trace unrolled the loop "
                                            f"once per expert hit by the {BLOCK_TOKENS}-token "
                                            "trace input)")
            manifest[rel] = entry


def _num_experts(config):
    for key in ("num_local_experts", "num_experts", "n_routed_experts"):
        if getattr(config, key, None):
            return getattr(config, key)
    raise KeyError("number of experts")


def _experts_hit(block, x):
    import torch
    block = getattr(block, "block", block)
    router = block.gate if hasattr(block, "gate") else block.router  # gpt-oss: router
    idx = router(x.reshape(-1, x.shape[-1]))[2]
    return int(torch.unique(idx).numel())


def _FirstOutput(block):
    """A block that returns a tuple (gpt-oss's MLP: hidden_states, router_scores; the
    transformers 4.x blocks: hidden_states, router_logits), exporting the first only, as the
    other blocks do. make_hf4_models.py uses it too."""
    import torch

    class FirstOutput(torch.nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, hidden_states):
            return self.block(hidden_states)[0]

    return FirstOutput(block)


def logits_fixture(name, spec, config, model, ids, logits, exporter, rel, attn, out, manifest,
                   failed):
    """(b) one decoder export without a cache: input_ids -> logits, checked in onnxruntime
    against `logits` (the eager model's: both attention implementations compute the same)."""
    import torch
    LogitsOnly, _ = _wrappers()
    try:
        with torch.no_grad():
            m = export(LogitsOnly(model, ones_mask=exporter == "torchscript"), (ids,), os.path.join(out, rel), exporter,
                       ["input_ids"], ["logits"],
                       {"input_ids": {1: "seq"}, "logits": {1: "seq"}})
        _ort_check(os.path.join(out, rel), {"input_ids": ids.numpy()}, [logits.numpy()])
    except Exception as exc:
        _remove(os.path.join(out, rel))
        failed.append({"fixture": rel, "error": _one_line(exc)})
        return
    _save_ref(os.path.join(out, rel[:-5] + ".ref"),
              {"input_ids": ids.numpy(), "logits": logits.numpy()})
    inputs, outputs = _io(m)
    entry = _entry(name, spec, config, "logits", "batched_mm", exporter, m, inputs, outputs,
                   attn)
    if exporter == "torchscript":
        entry["note"] = "traced with attention_mask = ones_like(input_ids) (see LogitsOnly)"
    manifest[rel] = entry


def decoder_fixtures(name, spec, out, manifest, failed):
    import torch
    LogitsOnly, WithCache = _wrappers()
    config, model = build(name, spec, "batched_mm")
    g = torch.Generator().manual_seed(spec["seed"] + 2000)
    ids = torch.randint(0, config.vocab_size, (1, SEQ), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits

    for exporter in ("dynamo", "torchscript"):
        rel = f"{name}/logits_{exporter}.onnx"
        logits_fixture(name, spec, config, model, ids, logits, exporter, rel, "eager", out,
                       manifest, failed)
    # (b') the same decoder with transformers' default attention, "sdpa": its decomposition
    # scales q and k by sqrt(scale) each, transposes k through a rank-3 Reshape and zeroes
    # NaN rows after the softmax.
    try:
        _, sdpa_model = build(name, spec, "batched_mm", attn="sdpa")
    except ValueError as exc:  # gpt-oss: sinks have no sdpa form in transformers
        for exporter in ("dynamo", "torchscript"):
            failed.append({"fixture": f"{name}/logits_sdpa_{exporter}.onnx",
                           "error": _one_line(exc)})
        sdpa_model = None
    for exporter in ("dynamo", "torchscript") if sdpa_model is not None else ():
        rel = f"{name}/logits_sdpa_{exporter}.onnx"
        logits_fixture(name, spec, config, sdpa_model, ids, logits, exporter, rel, "sdpa", out,
                       manifest, failed)

    # (c) with past key/values. Trace with a non-empty past and a 2-token step so neither
    # length is specialized to 0 or 1; the reference is a prefill of SEQ tokens followed by a
    # 2-token step, and greedy generation of GEN_STEPS tokens from the prompt.
    with torch.no_grad():
        step_ids = torch.randint(0, config.vocab_size, (1, 2), generator=g)
    kv_fixtures(name, spec, config, model, ids, step_ids, "kv", "eager", out, manifest, failed)
    # (c') the cache form with "sdpa" attention, for KV_SDPA_MODELS only (the decomposition is
    # the same in every family): its TorchScript export reads the grown cache's and the
    # repeated values' shapes for the Reshape after the attention.
    if name in KV_SDPA_MODELS and sdpa_model is not None:
        kv_fixtures(name, spec, config, sdpa_model, ids, step_ids, "kv_sdpa", "sdpa", out,
                    manifest, failed)
    # (c'') the cache form with an attention_mask input (optimum's interface).
    if name in KV_SDPA_MODELS:
        kv_fixtures(name, spec, config, model, ids, step_ids, "kv_mask", "eager", out, manifest,
                    failed, with_mask=True)


def kv_fixtures(name, spec, config, model, ids, step_ids, kind, attn, out, manifest, failed,
                with_mask=False):
    """<name>/<kind>_<exporter>.onnx: the decoder with past key/values, and its references (a
    prefill of the prompt, a 2-token step, greedy tokens). with_mask: also an attention_mask
    input (all ones)."""
    import torch
    LogitsOnly, WithCache = _wrappers()
    n_layers = config.num_hidden_layers
    past_names = [f"past_{kv}_{i}" for i in range(n_layers) for kv in ("key", "value")]
    present_names = [f"present_{kv}_{i}" for i in range(n_layers) for kv in ("key", "value")]
    wrapper = WithCache(model, config)
    with torch.no_grad():
        empty = _empty_past(model, config)
        prefill = wrapper(ids, *empty)
        past = [t.clone() for t in prefill[1:]]
        step = wrapper(step_ids, *past)
        greedy = _greedy(wrapper, ids, empty)
    mask_names, mask_args, mask_feeds = [], (), {}
    if with_mask:
        mask = torch.ones(1, step_ids.shape[1] + past[0].shape[2], dtype=torch.long)
        mask_names, mask_args = ["attention_mask"], (mask,)
        mask_feeds = {"attention_mask": mask.numpy()}
        wrapper = LogitsOnly.WithCacheAndMask(model, config)
    for exporter in ("dynamo", "torchscript"):
        rel = f"{name}/{kind}_{exporter}.onnx"
        dyn = {"input_ids": {1: "seq"}, "logits": {1: "seq"}}
        if with_mask:
            dyn["attention_mask"] = {1: "total"}
        for n in past_names:
            dyn[n] = {2: "past"}
        for n in present_names:
            dyn[n] = {2: "total"}
        feeds = {"input_ids": step_ids.numpy(), **mask_feeds}
        feeds.update({n: t.numpy() for n, t in zip(past_names, past)})
        try:
            with torch.no_grad():
                m = export(wrapper, (step_ids, *mask_args, *past), os.path.join(out, rel),
                           exporter, ["input_ids"] + mask_names + past_names,
                           ["logits"] + present_names, dyn)
            _ort_check(os.path.join(out, rel), feeds, [t.numpy() for t in step])
        except Exception as exc:
            _remove(os.path.join(out, rel))
            failed.append({"fixture": rel, "error": _one_line(exc)})
            continue
        arrays = dict(feeds)
        arrays.update({n: t.numpy() for n, t in zip(["logits"] + present_names, step)})
        arrays["prompt_ids"] = ids.numpy()
        arrays["greedy_ids"] = greedy
        _save_ref(os.path.join(out, rel[:-5] + ".ref"), arrays)
        inputs, outputs = _io(m)
        entry = _entry(name, spec, config, "kv", "batched_mm", exporter, m, inputs, outputs,
                       attn)
        entry["greedy_steps"] = GEN_STEPS
        manifest[rel] = entry


def _empty_past(model, config):
    """Zero-length caches with the per-layer key/value shapes the model appends to."""
    import torch
    from transformers import DynamicCache
    probe = DynamicCache(config=config)
    with torch.no_grad():
        model(input_ids=torch.zeros(1, 1, dtype=torch.long), past_key_values=probe, use_cache=True)
    shapes = []
    for layer in probe.layers:
        shapes += [layer.keys.shape, layer.values.shape]
    return [torch.zeros(s[0], s[1], 0, s[3]) for s in shapes]


def _greedy(wrapper, ids, empty):
    import torch
    out = wrapper(ids, *empty)
    tokens = []
    for _ in range(GEN_STEPS):
        nxt = out[0][:, -1].argmax(-1, keepdim=True)
        tokens.append(int(nxt))
        out = wrapper(nxt, *out[1:])
    return np.array([tokens], dtype=np.int64)


def _entry(name, spec, config, kind, impl, exporter, m, inputs, outputs, attn="eager"):
    keys = sorted(k for k in spec["kwargs"])
    cfg = {k: getattr(config, k) for k in keys}
    return {
        "model": name, "kind": kind, "class": spec["model"].__name__, "config_class": spec["config"].__name__, "config": cfg,
        "routing": spec["routing"], "experts_implementation": impl,
        "attn_implementation": attn, "exporter": exporter,
        "opset": next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": inputs, "outputs": outputs, "rtol": RTOL, "atol": ATOL,
        "nodes": len(m.graph.node)}


def _remove(path):
    if os.path.exists(path):
        os.remove(path)


def versions():
    import torch
    import transformers
    import onnx
    try:
        import onnxscript
        osv = onnxscript.__version__
    except ImportError:
        osv = None
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "onnx": onnx.__version__, "onnxscript": osv}


def write_all(out, only=None):
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)  # one summation order for the references
    manifest, failed, skipped = {}, [], {}
    for name, spec in model_specs().items():
        if only and name not in only:
            continue
        os.makedirs(os.path.join(out, name), exist_ok=True)
        print(f"{name}: MoE block", flush=True)
        block_fixtures(name, spec, out, manifest, failed)
        print(f"{name}: decoder", flush=True)
        decoder_fixtures(name, spec, out, manifest, failed)
        if spec.get("not_exported"):
            skipped[name] = spec["not_exported"]
    if only and os.path.exists(os.path.join(out, "manifest.json")):
        manifest, failed, skipped = _merge(os.path.join(out, "manifest.json"), only, manifest,
                                           failed, skipped)
    doc = {"versions": versions(), "fixtures": dict(sorted(manifest.items())), "failed": failed}
    if skipped:  # kinds a model lacks on purpose (test_hf_fixtures.py reads the reasons)
        doc["not_exported"] = skipped
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    for item in failed:
        print(f"  failed: {item['fixture']}: {item['error']}")
    print(f"wrote {len(manifest)} fixtures to {out}")


def _merge(path, only, manifest, failed, skipped):
    """A run with --only keeps the other models' manifest entries as they are, in the order a
    full run writes them, so that their bytes do not change."""
    with open(path) as f:
        old = json.load(f)
    model_of = lambda rel: rel.split("/")[0]
    fixtures = {rel: e for rel, e in old["fixtures"].items() if model_of(rel) not in only}
    fixtures.update(manifest)
    kept = [f for f in old["failed"] if model_of(f["fixture"]) not in only] + failed
    order = list(model_specs())
    kept.sort(key=lambda f: order.index(model_of(f["fixture"])))  # stable within a model
    skipped = {**{m: r for m, r in old.get("not_exported", {}).items() if m not in only},
               **skipped}
    return fixtures, kept, dict(sorted(skipped.items(), key=lambda i: order.index(i[0])))


def _compare(a, b):
    diff = []
    for root, _, files in os.walk(a):
        for f in files:
            pa = os.path.join(root, f)
            pb = os.path.join(b, os.path.relpath(pa, a))
            if not os.path.exists(pb) or not filecmp.cmp(pa, pb, shallow=False):
                diff.append(os.path.relpath(pa, a))
    for root, _, files in os.walk(b):
        for f in files:
            if not os.path.exists(os.path.join(a, os.path.relpath(os.path.join(root, f), b))):
                diff.append(os.path.relpath(os.path.join(root, f), b))
    return sorted(set(diff))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary directory and list the files that differ")
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    args = ap.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write_all(tmp, args.only)
            diff = _compare(args.out, tmp)
            keep = [d for d in diff if d not in ("README.md", "test_hf_fixtures.py",
                                                 "CMakeLists.txt")]
            if args.only:  # a partial run writes a partial manifest: compare only its models
                keep = [d for d in keep if d.split(os.sep)[0] in args.only]
            for d in keep:
                print(f"differs: {d}")
            return 1 if keep else 0
    write_all(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Survey: which transformers MoE blocks moec raises and runs, and why the others fail.

Developer-only (needs torch + transformers, see requirements-models.txt; CI never runs it).
It writes nothing into the repository; docs/hf-survey.md records a run.

    /tmp/venv-hf/bin/python test/models/survey_hf_moe.py \
        --moec build/tools/moec/moec --moec-run build/tools/moec-run/moec-run \
        [--only mixtral qwen3_moe ...] [--jobs 2] [--json rows.json] [--markdown table.md]

Discovery: every transformers.models.<type> whose configuration module names num_experts,
num_local_experts, n_routed_experts or a moe_* field. Per model type the script builds a tiny
random model (H = 32, 4 heads, E = 4 (8 with expert groups), k = 2, 2 layers, weights redrawn
with std 1/sqrt(fan_in) like make_hf_models.py), takes the first module that owns an `experts`
child (the MoE block), and for every experts implementation the class supports (`eager` and
`batched_mm` where the experts class is wrapped by transformers' use_experts_implementation,
else the class's own code, reported as `native`) and both torch.onnx exporters:
  export the block (hidden_states [1, tokens, H] -> output, `tokens` dynamic) to a temp dir;
  onnxruntime vs PyTorch on the 16-token trace input (eager traces need every expert hit:
    the input is redrawn until it is);
  moec compile --emit moe-mlir (count moe.experts, list the onnx ops left), moec compile -o
    x.moe, moec-run on the same input: max|moec - torch| / max|torch|.
Each model type runs in its own child process (a per-class time budget; exports can hang),
each step under its own timeout.
"""

import argparse
import concurrent.futures
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOKENS = 16
REL_TOL = 1e-4          # the e2e criterion: float32 with other summation orders, a few ulps
EXPORT_TIMEOUT_S = 90   # one torch.onnx export
TOOL_TIMEOUT_S = 60     # one moec / moec-run call
CLASS_TIMEOUT_S = 300   # one model type, all its rows

# Fields shrunk when the config has them (constructor keywords). Sizes: H = 32 (4 heads of 8,
# 2 KV heads), routed I = 24, dense/shared I = 48, E = 4, k = 2.
SMALL = dict(
    vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=8, max_position_embeddings=64, intermediate_size=48,
    moe_intermediate_size=24, shared_expert_intermediate_size=48,
    moe_shared_expert_intermediate_size=48, expert_intermediate_size=24,
    num_experts=4, num_local_experts=4, n_routed_experts=4, moe_num_experts=4,
    num_experts_per_tok=2, moe_k=2, moe_topk=2, moe_top_k=2, top_k=2,
    first_k_dense_replace=0, decoder_sparse_step=1, mlp_only_layers=[], moe_layer_freq=1,
    moe_layer_start_index=0, moe_layer_interval=1, n_shared_experts=1,
    q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8,
    tie_word_embeddings=False, use_cache=False, pad_token_id=0,
    # hybrid models: keep the layers small and put an MoE block in the first two layers
    expert_layer_period=1, expert_layer_offset=0, attn_layer_period=1, attn_layer_offset=0,
    linear_num_key_heads=2, linear_num_value_heads=2, linear_key_head_dim=8,
    linear_value_head_dim=8, num_nextn_predict_layers=0)
GROUPED = dict(n_group=2, topk_group=1)  # expert groups: E = 8 in 2 groups of 4, 1 kept


def _one_line(text):
    for line in str(text).splitlines():
        line = line.strip()
        if line.startswith("<class "):
            return line[:300]
    lines = [l.strip() for l in str(text).splitlines() if l.strip()]
    return (lines[0] if lines else "")[:300]


class StepTimeout(Exception):
    pass


def _alarm(seconds):
    def handler(signum, frame):
        raise StepTimeout(f"timeout after {seconds} s")
    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)


# ---------------------------------------------------------------------------------------------
# discovery

MOE_FIELDS = re.compile(r"\b(num_experts|num_local_experts|n_routed_experts|moe_[a-z_]+)\b")


def discover():
    import transformers
    root = os.path.join(os.path.dirname(transformers.__file__), "models")
    found = []
    for m in sorted(os.listdir(root)):
        path = os.path.join(root, m, f"configuration_{m}.py")
        if not os.path.exists(path):
            continue
        fields = set(MOE_FIELDS.findall(open(path).read())) - {"moe_tp_experts"}
        if fields:
            found.append(m)
    return found


def _classes(model_type):
    """(config class, model class): the text config/model of a multimodal family, else the
    family's base model (no head: only the block is exported)."""
    import importlib
    from transformers import PreTrainedConfig, PreTrainedModel
    cmod = importlib.import_module(f"transformers.models.{model_type}.configuration_{model_type}")
    mmod = importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
    configs = [c for _, c in inspect.getmembers(cmod, inspect.isclass)
               if issubclass(c, PreTrainedConfig) and c.__module__ == cmod.__name__]
    models = [c for _, c in inspect.getmembers(mmod, inspect.isclass)
              if issubclass(c, PreTrainedModel) and c.__module__ == mmod.__name__]

    def rank(cfg):
        name = cfg.__name__
        return (0 if name.endswith("TextConfig") else
                1 if getattr(cfg, "model_type", "") == model_type else 2)
    for cfg in sorted(configs, key=rank):
        cands = [m for m in models if getattr(m, "config_class", None) is cfg
                 and not m.__name__.endswith("PreTrainedModel")]
        order = lambda m: (0 if m.__name__.endswith(("TextModel", "Model")) else
                           1 if m.__name__.endswith("ForCausalLM") else 2, m.__name__)
        if cands:
            return cfg, sorted(cands, key=order)[0]
    raise RuntimeError("no model class with a matching config class")


def _config(cfg_cls, model_type, impl):
    default = cfg_cls()
    have = set(vars(default))
    kwargs = {k: v for k, v in SMALL.items() if k in have}
    if "n_group" in have and (getattr(default, "n_group", 1) or 1) > 1:
        kwargs.update(GROUPED)
        for key in ("n_routed_experts", "num_experts", "num_local_experts"):
            if key in have:
                kwargs[key] = 8
    if model_type == "dbrx":
        kwargs.update(d_model=32, n_heads=4, n_layers=2, max_seq_len=64,
                      ffn_config={"ffn_hidden_size": 24, "moe_num_experts": 4, "moe_top_k": 2})
    if "layer_types" in have and isinstance(getattr(default, "layer_types", None), list):
        kwargs.pop("layer_types", None)  # derived from num_hidden_layers by the config
    try:
        config = cfg_cls(**kwargs)
    except Exception as exc:  # some classes validate that attention is not grouped
        if "num_key_value_heads" not in str(exc) or "num_key_value_heads" not in kwargs:
            raise
        kwargs["num_key_value_heads"] = kwargs["num_attention_heads"]
        config = cfg_cls(**kwargs)
    if model_type == "dbrx" and not hasattr(config.attn_config, "rope_theta"):
        # transformers 5.23's DbrxAttention reads attn_config.rope_theta, which the config
        # class no longer defines (the model cannot be built from its own default config)
        config.attn_config.rope_theta = 10000.0
    config._experts_implementation = impl
    config._attn_implementation = "eager"
    return config


def _block(model):
    """The MoE block (router + experts): the first module that owns an `experts` child, or
    whose class is named *Moe / *MoE / *MoeBlock (JetMoe's MLP keeps its experts as
    input_linear/output_linear). Attention modules are skipped: JetMoe's mixture of
    attention heads also has `experts`."""
    import torch
    named = re.compile(r"(Moe|MoE)(Block|Layer|MLP|Mlp)?$")
    for name, mod in model.named_modules():
        cls = type(mod).__name__
        if name.split(".")[-1] == "experts" or "Attention" in cls or "attn" in name:
            continue
        if isinstance(getattr(mod, "experts", None), torch.nn.Module) or named.search(cls):
            return name, mod
    raise RuntimeError("no module with an `experts` child")


def _supports_impls(experts):
    # use_experts_implementation's __init__ sets these on the experts module
    return hasattr(experts, "is_concatenated") and hasattr(experts, "has_gate")


def _layout(experts):
    """Parameter names and shapes under the experts module, per-expert lists collapsed."""
    seen = {}
    for name, p in experts.named_parameters():
        key = re.sub(r"^\d+\.", "{i}.", name)
        seen.setdefault(key, (list(p.shape), 0))
        seen[key] = (seen[key][0], seen[key][1] + 1)
    parts = []
    for key, (shape, n) in seen.items():
        parts.append(f"{key}{shape}" + (f" x{n}" if n > 1 else ""))
    flags = []
    for attr in ("is_transposed", "is_concatenated", "has_bias"):
        if hasattr(experts, attr):
            flags.append(f"{attr}={getattr(experts, attr)}")
    return "; ".join(parts) + (f" ({', '.join(flags)})" if flags else "")


def _routing_hint(block, config):
    """Facts read off the config, for the table (the doc's routing column is written by hand)."""
    keys = ("hidden_act", "norm_topk_prob", "scoring_func", "topk_method", "n_group",
            "topk_group", "routed_scaling_factor", "moe_renormalize", "n_shared_experts",
            "shared_expert_intermediate_size", "num_shared_experts", "moe_num_shared_experts",
            "router_jitter_noise", "moe_normalize_expert_weights")
    return {k: getattr(config, k) for k in keys if hasattr(config, k)}


def _wrap(block):
    import torch

    class FirstOutput(torch.nn.Module):
        """hidden_states [1, T, H] -> the block's output as [1, T, H] (some blocks return
        (output, router logits) or the flattened [T, H])."""

        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, hidden_states):
            out = self.block(hidden_states)
            if isinstance(out, (tuple, list)):
                out = out[0]
            return out.reshape(hidden_states.shape)
    return FirstOutput(block)


def _num_experts(config, experts):
    for key in ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"):
        if isinstance(getattr(experts, key, None), int):
            return getattr(experts, key)
        if isinstance(getattr(config, key, None), int):
            return getattr(config, key)
    return 4  # SMALL's E (dbrx keeps it in ffn_config)


def _hit_counter(experts):
    """A pre-hook that records the distinct expert ids passed to a transformers-5 experts
    module (forward(hidden_states, top_k_index, top_k_weights))."""
    import torch
    hits = {"ids": None}

    def hook(mod, args, kwargs):
        idx = args[1] if len(args) > 1 else kwargs.get("top_k_index")
        if isinstance(idx, torch.Tensor) and not idx.is_floating_point():
            hits["ids"] = set(idx.flatten().tolist())
    if experts is None:
        return {"ids": None, "handle": None}
    hits["handle"] = experts.register_forward_pre_hook(hook, with_kwargs=True)
    return hits


# ---------------------------------------------------------------------------------------------
# one model type (child process)

def _moec_steps(args, path, x_path, y, work, stem):
    row = {}
    ir = os.path.join(work, stem + ".mlir")
    try:
        p = subprocess.run([args.moec, "compile", path, "--target", "host", "--emit", "moe-mlir",
                            "-o", ir], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return {"moec": "compile timeout", "detail": f"moec compile > {TOOL_TIMEOUT_S} s"}
    if p.returncode < 0:
        return {"moec": "crash", "detail": f"moec compile: signal {-p.returncode}"}
    if p.returncode != 0:
        return {"moec": "compile error", "detail": _moec_error(p.stderr)}
    text = open(ir).read()
    row["moe_experts"] = text.count("moe.experts ")
    ops = {}
    for op in re.findall(r"\bonnx\.([A-Za-z]+)\b", text):
        ops[op] = ops.get(op, 0) + 1
    row["onnx_left"] = {k: v for k, v in sorted(ops.items())
                        if k not in ("Constant", "Reshape", "Squeeze", "Unsqueeze", "Identity")}
    art = os.path.join(work, stem + ".moe")
    out = os.path.join(work, stem + "_out.npy")
    try:
        p = subprocess.run([args.moec, "compile", path, "--target", "host", "-o", art],
                           capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, errors="replace")
        if p.returncode == 0:
            p = subprocess.run([args.moec_run, art, "--input", f"hidden_states={x_path}",
                                "--output", f"output={out}"], capture_output=True, text=True,
                               timeout=TOOL_TIMEOUT_S, errors="replace")
            tool = "moec-run"
        else:
            tool = "moec compile -o"
    except subprocess.TimeoutExpired:
        return dict(row, moec="run timeout", detail=f"> {TOOL_TIMEOUT_S} s")
    if p.returncode < 0:
        return dict(row, moec="crash", detail=f"{tool}: signal {-p.returncode}")
    if p.returncode != 0:
        return dict(row, moec="compile error" if tool != "moec-run" else "run error",
                    detail=_moec_error(p.stderr))
    got = np.load(out).astype(np.float64)
    if got.shape != y.shape:
        return dict(row, moec="WRONG", detail=f"shape {list(got.shape)} vs {list(y.shape)}")
    scale = float(np.abs(y).max())
    err = float(np.abs(got - y).max()) / scale if np.all(np.isfinite(got)) else float("inf")
    row["rel_err"] = err
    if err > REL_TOL:
        return dict(row, moec="WRONG", detail=f"max|moec - torch| / max|torch| = {err:.3g}")
    if row["moe_experts"] == 1:
        return dict(row, moec="PASS")
    return dict(row, moec="not raised",
                detail=f"{row['moe_experts']} moe.experts; left: "
                       + ", ".join(f"{k}x{v}" for k, v in row["onnx_left"].items()))


def _moec_error(stderr):
    lines = [l.strip() for l in stderr.splitlines() if "error" in l.lower()]
    line = lines[0] if lines else _one_line(stderr)
    # the temp file's path says nothing: keep its name
    return re.sub(r"(/[^\s:']+/)([^/\s:']+\.onnx)", r"\2", line)[:300]


def survey_one(args, model_type, rows_path):
    import torch
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    import make_hf_models as mk
    import onnxruntime as ort

    def emit(row):
        with open(rows_path, "a") as f:
            f.write(json.dumps(dict(row, model_type=model_type)) + "\n")

    try:
        cfg_cls, model_cls = _classes(model_type)
        config = _config(cfg_cls, model_type, "eager")
        torch.manual_seed(0)
        model = model_cls(config).eval()
        block_name, block = _block(model)
    except Exception as exc:  # recorded: a class the generic builder cannot make
        emit({"stage": "build", "result": "build error", "detail": _one_line(repr(exc))})
        return
    experts = getattr(block, "experts", None)
    impls = ("eager", "batched_mm") if _supports_impls(experts) else ("native",)
    seed = 1 + sum(map(ord, model_type))
    for impl in impls:
        config = _config(cfg_cls, model_type, "eager" if impl == "native" else impl)
        torch.manual_seed(seed)
        model = model_cls(config).eval()
        mk.reinit_weights(model, seed, getattr(experts, "is_transposed", False))
        block = dict(model.named_modules())[block_name]
        experts = getattr(block, "experts", None)
        hits = _hit_counter(experts)
        wrapped = _wrap(block).eval()
        g = torch.Generator().manual_seed(seed)
        n_exp = _num_experts(config, experts)
        for _ in range(50):
            x = torch.randn(1, TOKENS, config.hidden_size if hasattr(config, "hidden_size")
                            else config.d_model, generator=g)
            with torch.no_grad():
                y = wrapped(x)
            if hits["ids"] is None or len(hits["ids"]) >= n_exp:
                break
        if hits["handle"] is not None:
            hits["handle"].remove()  # the exporters must not trace it
        base = dict(block=f"{type(block).__name__} ({block_name})", model_class=model_cls.__name__,
                    layout=_layout(experts if experts is not None else block), config=_routing_hint(block, config),
                    impl=impl, experts_hit=None if hits["ids"] is None else len(hits["ids"]),
                    num_experts=n_exp)
        for exporter in ("torchscript", "dynamo"):
            stem = f"{model_type}_{impl}_{exporter}"
            path = os.path.join(args.work, stem + ".onnx")
            row = dict(base, exporter=exporter)
            t0 = time.time()
            try:
                _alarm(EXPORT_TIMEOUT_S)
                with torch.no_grad():
                    mk.export(wrapped, (x,), path, exporter, ["hidden_states"], ["output"],
                              {"hidden_states": {1: "tokens"}, "output": {1: "tokens"}})
                signal.alarm(0)
            except BaseException as exc:  # noqa: BLE001 - the exporter's failure is the result
                signal.alarm(0)
                emit(dict(row, result="export error", detail=mk._one_line(exc),
                          export_s=round(time.time() - t0, 1)))
                continue
            row["export_s"] = round(time.time() - t0, 1)
            yn = y.numpy().astype(np.float64)
            try:
                opts = ort.SessionOptions()
                opts.log_severity_level = 4
                sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                o = sess.run(None, {"hidden_states": x.numpy()})[0].astype(np.float64)
                ort_err = float(np.abs(o - yn).max() / np.abs(yn).max())
                row["ort"] = "ok" if ort_err <= REL_TOL else f"DIFF {ort_err:.3g}"
            except Exception as exc:  # noqa: BLE001
                row["ort"] = "error: " + _one_line(str(exc))
            x_path = os.path.join(args.work, stem + "_in.npy")
            np.save(x_path, x.numpy())
            res = _moec_steps(args, path, x_path, yn, args.work, stem)
            row["nodes"] = _node_ops(path)
            emit(dict(row, result=res.pop("moec"), **res))


def _node_ops(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


# ---------------------------------------------------------------------------------------------
# driver

def run_child(args, model_type, rows_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", model_type, "--work",
           os.path.join(args.work, model_type), "--rows", rows_path, "--moec", args.moec,
           "--moec-run", args.moec_run]
    os.makedirs(os.path.join(args.work, model_type), exist_ok=True)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=CLASS_TIMEOUT_S,
                           errors="replace")
        status = "ok" if p.returncode == 0 else (
            f"child signal {-p.returncode}" if p.returncode < 0 else
            "child error: " + _one_line(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""))
    except subprocess.TimeoutExpired:
        status = f"class timeout ({CLASS_TIMEOUT_S} s)"
    return model_type, status, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moec", default=os.path.join(REPO, "build", "tools", "moec", "moec"))
    ap.add_argument("--moec-run", dest="moec_run",
                    default=os.path.join(REPO, "build", "tools", "moec-run", "moec-run"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="write all rows here")
    ap.add_argument("--markdown", help="write the table here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--rows", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            survey_one(args, args.child, args.rows)
        except Exception:
            traceback.print_exc()
            return 1
        return 0
    for tool in (args.moec, args.moec_run):
        if not os.access(tool, os.X_OK):
            print(f"survey_hf_moe: no executable at {tool} (--moec / --moec-run)")
            return 2
    types = args.only or discover()
    with tempfile.TemporaryDirectory(prefix="moec-survey-") as work:
        args.work = work
        rows_path = os.path.join(work, "rows.jsonl")
        open(rows_path, "w").close()
        t0 = time.time()
        statuses = {}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for mt, status, secs in pool.map(lambda m: run_child(args, m, rows_path), types):
                statuses[mt] = status
                print(f"{mt}: {status}, {secs:.0f} s", flush=True)
        rows = [json.loads(l) for l in open(rows_path)]
        for mt, status in statuses.items():
            if status != "ok" and not any(r["model_type"] == mt and r.get("result")
                                          in ("build error",) for r in rows):
                rows.append({"model_type": mt, "result": "survey error", "detail": status})
        print(f"total {time.time() - t0:.0f} s", flush=True)
    rows.sort(key=lambda r: (r["model_type"], r.get("impl", ""), r.get("exporter", "")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    table = markdown(rows)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(table)
    return 0


def markdown(rows):
    out = ["| model type | block | impl | exporter | export | ort | moec | detail |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        err = f" ({r['rel_err']:.1e})" if r.get("rel_err") is not None else ""
        out.append("| {} | {} | {} | {} | {} | {} | {}{} | {} |".format(
            r["model_type"], r.get("block", ""), r.get("impl", ""), r.get("exporter", ""),
            "error" if r["result"] == "export error" else ("-" if "build" in r["result"] or "survey" in r["result"] else "ok"),
            r.get("ort", ""), r["result"], err, str(r.get("detail", "")).replace("|", "/")))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())

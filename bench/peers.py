#!/usr/bin/env python3
"""The peers on the GPU, side by side with moec in the same run (bench/gpu_check.sh run).

    python3 bench/peers.py --shapes bench/gpu/shapes --results bench/gpu/results [--full]

For every shape file in --shapes whose moec-bench JSON (NAME.moec.json) is in --results,
the same layer runs through each peer that is installed, on the inputs moec-bench ran
(NAME.inputs/input.T<T>.r<i>.npy, written with --dump-inputs), and with the weights of the
same ONNX file (regenerated here by make_shapes.py from its seed: numpy and onnx suffice):

  torch-eager    PyTorch eager, bf16, the per-expert loop that model code writes (router,
                 softmax or grouped-sigmoid top-k, then for each expert hit: gather its tokens,
                 SwiGLU FFN, scale, index_add_ back), with torch's own kernels;
  torch-grouped  torch._grouped_mm (feature-detected): tokens sorted by expert, one grouped
                 GEMM for gate+up and one for down;
  ort-cuda       onnxruntime's CUDAExecutionProvider (if installed) on the ONNX file itself.

Timing matches moec-bench: --warmup untimed runs, --runs timed ones cycling through the
input buffers, the L2 cache overwritten before each timed run, CUDA events around the call
(onnxruntime: wall time of run_with_iobinding, which synchronizes). The roofline of each
row is moec-bench's (same device, measured in the same run; same bytes and FLOPs, since
the router and inputs are the same). The table gives moec/peer (< 1: moec faster) with the
roofline fractions beside it. --full also times the peers on the published full-size
shapes, which moec cannot carry to this machine (bench/README.md), for reference.
The peers' code is called, never copied: this file only drives torch and onnxruntime.
"""

import argparse
import glob
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "shapes"))
import make_shapes  # noqa: E402


def load_onnx_weights(onnx_path):
    """name -> float32 array of the initializers of a make_shapes ONNX file."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(onnx_path, load_external_data=False)
    base = os.path.dirname(os.path.abspath(onnx_path))
    return {t.name: numpy_helper.to_array(t, base_dir=base) for t in model.graph.initializer}


class TorchLayer:
    """The layer's weights on the GPU in bf16, and the two torch implementations."""

    def __init__(self, torch, info, weights, device):
        self.torch, self.info, self.device = torch, info, device
        def on_gpu(name, dtype=torch.bfloat16):
            value = weights[name]
            if isinstance(value, torch.Tensor):
                return value.to(device=device, dtype=dtype).contiguous()
            return torch.tensor(np.ascontiguousarray(value), device=device, dtype=dtype)
        if "gate" not in weights:  # the ONNX fc1 (E, 2I, H): gate row 2j, up row 2j+1
            fc1 = weights["fc1_experts_weights"]
            weights = dict(weights, gate=fc1[:, 0::2], up=fc1[:, 1::2])
        self.w_gate, self.w_up = on_gpu("gate"), on_gpu("up")  # (E, I, H)
        self.w_down = on_gpu("fc2_experts_weights")  # (E, H, I)
        self.router = on_gpu("router.weight")  # (H, E)
        self.grouped = info["routing"] == "sigmoid_grouped_topk"
        if self.grouped:
            self.bias = on_gpu("router.bias", torch.float32)
            self.s_gate, self.s_up = on_gpu("shared.gate"), on_gpu("shared.up")
            self.s_down = on_gpu("shared.down")
        assert self.w_gate.shape[1] == info["inter"]

    def route(self, x):
        """(weights (T, k) f32, experts (T, k) int64) as the model's routing does it."""
        t = self.torch
        logits = (x @ self.router).float()
        k = self.info["top_k"]
        if not self.grouped:
            probs = t.softmax(logits, dim=-1)
            w, idx = t.topk(probs, k, dim=-1)
            return w / w.sum(dim=-1, keepdim=True), idx
        e, g, tg = self.info["experts"], self.info["groups"], self.info["topk_groups"]
        scores = logits.sigmoid()
        select = scores + self.bias
        group_scores = select.view(-1, g, e // g).topk(2, dim=-1).values.sum(dim=-1)
        group_idx = group_scores.topk(tg, dim=-1).indices
        mask = t.zeros_like(group_scores).scatter_(1, group_idx, 1.0)
        mask = mask.unsqueeze(-1).expand(-1, g, e // g).reshape(-1, e)
        idx = select.masked_fill(mask == 0, float("-inf")).topk(k, dim=-1).indices
        w = scores.gather(1, idx)
        w = w / w.sum(dim=-1, keepdim=True) * self.info["routed_scaling"]
        return w, idx

    def shared(self, x):
        f = self.torch.nn.functional
        return (f.silu(x @ self.s_gate) * (x @ self.s_up)) @ self.s_down

    def eager(self, x):
        t, f = self.torch, self.torch.nn.functional
        w, idx = self.route(x)
        out = t.zeros_like(x)
        mask = f.one_hot(idx, self.info["experts"]).permute(2, 1, 0)  # (E, k, T)
        for e in t.nonzero(mask.sum(dim=(1, 2))).flatten().tolist():
            slot, token = t.where(mask[e])
            h = x[token]
            h = (f.silu(h @ self.w_gate[e].T) * (h @ self.w_up[e].T)) @ self.w_down[e].T
            out.index_add_(0, token, (h * w[token, slot, None]).to(x.dtype))
        return out + self.shared(x) if self.grouped else out

    def grouped_mm(self, x):
        t, f = self.torch, self.torch.nn.functional
        w, idx = self.route(x)
        k = idx.shape[1]
        flat = idx.flatten()
        order = t.argsort(flat, stable=True)
        token = order // k
        counts = t.bincount(flat, minlength=self.info["experts"])
        offs = t.cumsum(counts, 0).to(t.int32)
        h = x[token]
        gate = t._grouped_mm(h, self.w_gate.transpose(-2, -1), offs=offs)
        up = t._grouped_mm(h, self.w_up.transpose(-2, -1), offs=offs)
        down = t._grouped_mm((f.silu(gate) * up).to(x.dtype), self.w_down.transpose(-2, -1),
                             offs=offs)
        out = t.zeros_like(x)
        out.index_add_(0, token, (down * w.flatten()[order, None]).to(x.dtype))
        return out + self.shared(x) if self.grouped else out


def time_cuda(torch, fn, buffers, warmup, runs, flush):
    """Median and p10/p90 (microseconds) of fn(buffer) over CUDA events."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(warmup + runs):
        x = buffers[i % len(buffers)]
        if i >= warmup:
            flush.fill_(i & 0xff)
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end) * 1e3)
    return summary(times)


def summary(times):
    return {"median_us": float(np.median(times)), "p10_us": float(np.percentile(times, 10)),
            "p90_us": float(np.percentile(times, 90)), "runs": len(times)}


def ort_cuda_times(onnx_path, arrays, warmup, runs, flush):
    import time
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_path, providers=["CUDAExecutionProvider"])
    bindings = []
    for x in arrays:
        binding = session.io_binding()
        binding.bind_ortvalue_input("input", ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        binding.bind_output("output", "cuda", 0)
        bindings.append(binding)
    import torch
    times = []
    for i in range(warmup + runs):
        if i >= warmup:
            flush.fill_(i & 0xff)
            torch.cuda.synchronize()  # the flush is done before onnxruntime starts
        begin = time.perf_counter_ns()
        session.run_with_iobinding(bindings[i % len(bindings)])
        elapsed = time.perf_counter_ns() - begin
        if i >= warmup:
            times.append(elapsed / 1e3)
    return summary(times)


def peers_for(torch, info, weights, onnx_path, tokens, inputs_dir, args, flush):
    layer = TorchLayer(torch, info, weights, "cuda")
    rows = {}
    for t in tokens:
        arrays = []
        for r in range(args.buffers):
            path = os.path.join(inputs_dir, f"input.T{t}.r{r}.npy") if inputs_dir else ""
            arrays.append(np.load(path) if path and os.path.exists(path) else
                          np.random.default_rng(r + 1000 * t).standard_normal(
                              (t, info["hidden"]), dtype=np.float32))
        xs = [torch.tensor(a, device="cuda", dtype=torch.bfloat16) for a in arrays]
        row = {}
        with torch.no_grad():
            reference = layer.eager(xs[0]).float()
            row["torch-eager"] = time_cuda(torch, layer.eager, xs, args.warmup, args.runs, flush)
            if hasattr(torch, "_grouped_mm"):
                try:
                    got = layer.grouped_mm(xs[0]).float()
                    # Same math in bf16, other summation order: 2e-2 of the output scale
                    # (gpu_e2e.py's bf16 criterion) catches a wrong grouping, not rounding.
                    error = float((got - reference).abs().max() / reference.abs().max())
                    row["torch-grouped"] = time_cuda(torch, layer.grouped_mm, xs,
                                                     args.warmup, args.runs, flush)
                    row["torch-grouped"]["max_rel_diff_vs_eager"] = error
                    if error > 2e-2:
                        row["torch-grouped"]["warning"] = "disagrees with torch-eager"
                except (RuntimeError, TypeError) as error:
                    row["torch-grouped"] = {"unavailable": str(error).splitlines()[0][:200]}
            else:
                row["torch-grouped"] = {"unavailable": "torch._grouped_mm not in this torch"}
        row["ort-cuda"] = {"unavailable": "onnxruntime CUDAExecutionProvider not installed"}
        if onnx_path and args.ort_cuda:
            try:
                row["ort-cuda"] = ort_cuda_times(onnx_path, arrays, args.warmup, args.runs,
                                                 flush)
            except Exception as error:  # a peer that cannot run is reported, not fatal
                row["ort-cuda"] = {"unavailable": str(error).splitlines()[0][:200]}
        rows[t] = row
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", required=True, help="directory of NAME.shape.json")
    parser.add_argument("--results", required=True,
                        help="directory of moec-bench's NAME.moec.json and NAME.inputs/")
    parser.add_argument("--out", help="JSON file (default RESULTS/peers.json)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--buffers", type=int, default=4)
    parser.add_argument("--full", action="store_true",
                        help="also time the peers on the published full-size shapes")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("peers: torch is not installed: no peer can run", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("peers: torch sees no CUDA device", file=sys.stderr)
        return 2
    try:
        import onnxruntime as ort
        args.ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        args.ort_cuda = False
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 0) or (128 << 20)
    flush = torch.empty(2 * l2, dtype=torch.uint8, device="cuda")
    work = tempfile.mkdtemp(prefix="moec_peers_")
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "ort_cuda": args.ort_cuda, "shapes": []}

    jobs = []
    for shape_path in sorted(glob.glob(os.path.join(args.shapes, "*.shape.json"))):
        name = os.path.basename(shape_path)[:-len(".shape.json")]
        moec_json = os.path.join(args.results, name + ".moec.json")
        if os.path.exists(moec_json):
            jobs.append((name, moec_json))
    if args.full:
        jobs += [(name, None) for name in make_shapes.PUBLISHED]

    # The device's measured peak, from any moec-bench run of this invocation.
    peak = next((json.load(open(m))["peak"] for _, m in jobs if m), None)
    report["peak"] = peak
    for name, moec_json in jobs:
        spec = make_shapes.SHAPES[name]
        moec = json.load(open(moec_json)) if moec_json else None
        tokens = [r["tokens"] for r in moec["results"]] if moec else [1, 16, 64, 256, 4096]
        if moec:  # the same weights as the artifact: regenerate the ONNX from its seed
            onnx_path = make_shapes.write_shape(name, spec, work)
            weights = load_onnx_weights(onnx_path)
        else:  # full size: random weights of the same distribution, made on the GPU
            onnx_path = None
            weights = random_weights(torch, spec)
        info = json.load(open(os.path.join(args.shapes, name + ".shape.json"))) if moec else \
            dict(spec, routing=spec.get("routing", "softmax_topk"),
                 routed_scaling=spec.get("routed_scaling", 1.0))
        inputs_dir = os.path.join(args.results, name + ".inputs") if moec else None
        print(f"peers: {name} ...", file=sys.stderr, flush=True)
        rows = peers_for(torch, info, weights, onnx_path, tokens, inputs_dir, args, flush)
        entry = {"name": name, "with_moec": moec is not None, "rows": []}
        for t in tokens:
            row = {"tokens": t, "peers": rows[t]}
            if moec:
                result = next(r for r in moec["results"] if r["tokens"] == t)
                row["moec_us"] = result["median_us"]
                row["t_roofline_us"] = result["t_roofline_us"]
            elif peak and peak.get("bandwidth_GBps"):
                row["t_roofline_us"] = full_roofline_us(spec, t, peak)
            entry["rows"].append(row)
        report["shapes"].append(entry)
        del weights
        torch.cuda.empty_cache()

    print_table(report)
    out = args.out or os.path.join(args.results, "peers.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    return 0


def random_weights(torch, spec):
    """Full-size weights (GBs: regenerating the ONNX here would take minutes), drawn on the
    GPU from the same distribution as make_shapes.py's, N(0, 1/fan_in)."""
    h, i, e = spec["hidden"], spec["inter"], spec["experts"]
    g = torch.Generator(device="cuda").manual_seed(spec["seed"])

    def normal(shape, fan_in):
        return (torch.randn(shape, generator=g, device="cuda", dtype=torch.bfloat16)
                / fan_in ** 0.5)
    w = {"gate": normal((e, i, h), h), "up": normal((e, i, h), h),
         "fc2_experts_weights": normal((e, h, i), i)}
    w["router.weight"] = normal((h, e), h) * 1.5
    if spec.get("routing") == "sigmoid_grouped_topk":
        s = spec["shared_inter"]
        w["router.bias"] = (torch.rand(e, generator=g, device="cuda") - 0.5) * 0.1
        w["shared.gate"], w["shared.up"] = normal((h, s), h), normal((h, s), h)
        w["shared.down"] = normal((s, h), s)
    return w


def full_roofline_us(spec, tokens, peak):
    """t_roofline of a full-size shape in bf16 (bench/README.md): experts touched under
    uniform routing, E·(1 - (1 - k/E)^T), since the full shapes' peers use random routers."""
    h, i, e, k = spec["hidden"], spec["inter"], spec["experts"], spec["top_k"]
    shared, i_s = spec.get("shared_experts", 0), spec.get("shared_inter", 0)
    touched = e * (1 - (1 - k / e) ** tokens)
    weight_bytes = 2 * (touched * 3 * h * i + shared * 3 * h * i_s + h * e)
    activation_bytes = 2 * 2 * tokens * h
    flops = 2 * tokens * h * (e + k * 3 * i + shared * 3 * i_s)
    t = (weight_bytes + activation_bytes) / (peak["bandwidth_GBps"] * 1e9)
    if peak.get("TFLOPs"):
        t = max(t, flops / (peak["TFLOPs"] * 1e12))
    return t * 1e6


def print_table(report):
    print(f"\npeers on {report['device']} (torch {report['torch']}); moec/peer < 1: moec "
          f"faster; roof = t_roofline / time (moec-bench's roofline, same device and run)")
    names = ["torch-eager", "torch-grouped", "ort-cuda"]
    print(f"{'shape':<20} {'T':>5} {'moec_us':>9} {'roof':>6} " +
          " ".join(f"{n + '_us':>16} {'moec/peer':>9} {'roof':>6}" for n in names))
    for entry in report["shapes"]:
        for row in entry["rows"]:
            moec_us, roof_us = row.get("moec_us"), row.get("t_roofline_us")

            def frac(us):
                return f"{100 * roof_us / us:5.1f}%" if roof_us and us else "     -"
            cells = [f"{entry['name']:<20} {row['tokens']:>5} "
                     f"{f'{moec_us:.1f}' if moec_us else '-':>9} {frac(moec_us)}"]
            for n in names:
                peer = row["peers"].get(n, {})
                us = peer.get("median_us")
                if us is None:
                    cells.append(f"{'n/a':>16} {'-':>9} {'-':>6}")
                else:
                    ratio = f"{moec_us / us:9.3f}" if moec_us else f"{'-':>9}"
                    cells.append(f"{us:>16.1f} {ratio} {frac(us)}")
            print(" ".join(cells))
    for entry in report["shapes"]:
        for n in names:
            why = entry["rows"][0]["peers"].get(n, {}).get("unavailable")
            if why:
                print(f"{entry['name']}: {n} unavailable: {why}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Host benchmark: moec's host target against onnxruntime's CPU provider, same ONNX files,
same inputs, one thread each, in one run of this script. A report, not a threshold: it
fails only when a step cannot run (a compile, moec-bench, onnxruntime) or when moec and
onnxruntime disagree on the output (a benchmark of a wrong result reports nothing).

    python3 bench/host_bench.py --moec build/tools/moec/moec \\
        --moec-bench build/tools/moec-bench/moec-bench --work /tmp/host_bench [--json OUT]

Per model: `moec compile --target host`; moec-bench with the model's shape file, which also
writes its input buffers (--dump-inputs); onnxruntime (intra_op_num_threads=1,
inter_op_num_threads=1, sequential) on exactly those buffers with the same warm-up, run
count and buffer rotation. moec's host kernels are single-threaded, hence one thread.

Times compared: the wall time of one whole call on each side, median of the timed runs:
moert_session_run as moec-bench measures it from C++, and
InferenceSession.run_with_iobinding as measured here from Python (which adds the binding's
call overhead, a few microseconds, to onnxruntime's side: at T=1 that favours moec). The
table also gives moec's kernel time and its fraction of the host roofline.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "shapes"))
import make_shapes  # noqa: E402
import shape_info  # noqa: E402

# name -> ONNX file; "tiny" is generated into the work directory.
DEFAULT_MODELS = ["tiny", "test/models/mixtral_moe_node.onnx",
                  "test/models/moe_node_variants/odd_sizes.onnx"]


class StepFailed(Exception):
    pass


def run(cmd, what):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise StepFailed(f"{what} failed (exit {result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def prepare_model(model, work):
    """(name, onnx path, shape file) for a model argument."""
    if model in make_shapes.SHAPES:
        onnx_path = make_shapes.write_shape(model, make_shapes.SHAPES[model],
                                            os.path.join(work, "shapes"))
        return model, onnx_path, os.path.join(work, "shapes", model + ".shape.json")
    path = model if os.path.isabs(model) else os.path.join(ROOT, model)
    name = os.path.splitext(os.path.basename(path))[0]
    info, router = shape_info.describe_moe_onnx(path)
    shape_path = os.path.join(work, "shapes", name + ".shape.json")
    shape_info.write_shape_file(info, router, shape_path)
    return name, path, shape_path


def ort_times(onnx_path, inputs_dir, tokens, buffers, warmup, runs):
    """Wall times (microseconds) of onnxruntime on moec-bench's dumped buffers, and the
    output of buffer 0 for the agreement check."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    results, first_outputs = {}, {}
    for t in tokens:
        bindings = []
        for r in range(buffers):
            x = np.load(os.path.join(inputs_dir, f"{input_name}.T{t}.r{r}.npy"))
            binding = session.io_binding()
            binding.bind_cpu_input(input_name, x)
            y = np.empty((t, x.shape[1]), dtype=np.float32)
            binding.bind_output(output_name, "cpu", 0, np.float32, y.shape, y.ctypes.data)
            bindings.append((binding, y))
        times = []
        for i in range(warmup + runs):
            binding, _ = bindings[i % buffers]
            start = time.perf_counter_ns()
            session.run_with_iobinding(binding)
            elapsed = time.perf_counter_ns() - start
            if i >= warmup:
                times.append(elapsed / 1e3)
        results[t] = times
        first_outputs[t] = bindings[0][1].copy()
    return results, first_outputs


def check_agreement(moec_run, artifact, inputs_dir, tokens, ort_outputs, work, name):
    """moec-run on buffer 0 of the largest T against onnxruntime's output: the e2e
    criterion, max|moec - ort| <= 1e-4 * max|ort| (docs/testing.md)."""
    t = max(tokens)
    x_path = os.path.join(inputs_dir, f"input.T{t}.r0.npy")
    ref_path = os.path.join(work, f"{name}.ort.T{t}.npy")
    np.save(ref_path, ort_outputs[t])
    out_path = os.path.join(work, f"{name}.moec.T{t}.npy")
    run([moec_run, artifact, "--input", f"input={x_path}", "--output", f"output={out_path}"],
        f"moec-run {artifact}")
    got, want = np.load(out_path), ort_outputs[t]
    error = float(np.abs(got.astype(np.float64) - want).max())
    scale = float(np.abs(want).max())
    if not error <= 1e-4 * scale:
        raise StepFailed(f"{name}: moec and onnxruntime disagree at T={t}: max abs error "
                         f"{error:.3g} > 1e-4 x output scale {scale:.3g}")
    return error / scale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--moec-bench", required=True)
    parser.add_argument("--moec-run", help="default: tools/moec-run/moec-run beside moec")
    parser.add_argument("--work", required=True, help="directory for artifacts and inputs")
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--tokens", default="1,16,64,256")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--buffers", type=int, default=4)
    parser.add_argument("--peak-bytes", type=int, default=256 << 20)
    parser.add_argument("--json", help="write all results here")
    args = parser.parse_args(argv)
    moec_run = args.moec_run or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(args.moec))), "moec-run", "moec-run")
    tokens = [int(t) for t in args.tokens.split(",")]
    os.makedirs(args.work, exist_ok=True)

    import onnxruntime as ort
    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
              "machine": f"{platform.node()} {platform.machine()}",
              "onnxruntime": ort.__version__, "threads": 1, "models": []}
    started = time.time()
    try:
        for model in args.models:
            name, onnx_path, shape_path = prepare_model(model, args.work)
            artifact = os.path.join(args.work, name + ".moe")
            run([args.moec, "compile", onnx_path, "--target", "host", "-o", artifact, "-q"],
                f"moec compile {onnx_path}")
            inputs_dir = os.path.join(args.work, name + ".inputs")
            bench_json = os.path.join(args.work, name + ".bench.json")
            table = run([args.moec_bench, artifact, "--shape-info", shape_path,
                         "--tokens", args.tokens, "--runs", str(args.runs),
                         "--warmup", str(args.warmup), "--buffers", str(args.buffers),
                         "--peak-bytes", str(args.peak_bytes), "--json", bench_json,
                         "--dump-inputs", inputs_dir], f"moec-bench {artifact}")
            print(table, end="")
            with open(bench_json) as f:
                bench = json.load(f)
            ort_us, ort_out = ort_times(onnx_path, inputs_dir, tokens, args.buffers,
                                        args.warmup, args.runs)
            rel_error = check_agreement(moec_run, artifact, inputs_dir, tokens, ort_out,
                                        args.work, name)
            rows = []
            for result in bench["results"]:
                t = result["tokens"]
                ort_median = float(np.median(ort_us[t]))
                rows.append({"tokens": t, "moec_wall_us": result["wall_median_us"],
                             "moec_kernels_us": result["median_us"],
                             "ort_us": ort_median,
                             "ort_p10_us": float(np.percentile(ort_us[t], 10)),
                             "ort_p90_us": float(np.percentile(ort_us[t], 90)),
                             "ratio": result["wall_median_us"] / ort_median,
                             "moec_roofline_fraction": result["roofline_fraction"]})
            report["models"].append({"name": name, "onnx": os.path.relpath(onnx_path, ROOT)
                                     if onnx_path.startswith(ROOT) else os.path.basename(onnx_path),
                                     "max_rel_error_vs_ort": rel_error, "peak": bench["peak"],
                                     "rows": rows})
    except (StepFailed, ValueError, OSError) as error:
        print(f"host_bench: error: {error}", file=sys.stderr)
        return 2

    print(f"\nhost benchmark: moec host target vs onnxruntime {report['onnxruntime']} CPU, "
          f"1 thread each, same ONNX files and inputs, {args.runs} timed runs per T "
          f"(median), {args.buffers} rotating input buffers, caches warm")
    print(f"{'model':<18} {'T':>5} {'moec_us':>10} {'ort_us':>10} {'moec/ort':>9} "
          f"{'moec_kern_us':>12} {'roofline':>9}")
    for entry in report["models"]:
        for row in entry["rows"]:
            fraction = row["moec_roofline_fraction"]
            print(f"{entry['name']:<18} {row['tokens']:>5} {row['moec_wall_us']:>10.2f} "
                  f"{row['ort_us']:>10.2f} {row['ratio']:>9.3f} {row['moec_kernels_us']:>12.2f} "
                  f"{'-' if fraction is None else f'{100 * fraction:.1f}%':>9}")
    print("moec/ort < 1: moec faster. roofline: moec's kernel time against this host's "
          "measured memcpy bandwidth and GEMM rate (see the moec-bench tables above).")
    print(f"host_bench: {len(report['models'])} models in {time.time() - started:.1f} s; "
          f"outputs agree with onnxruntime (max rel. error "
          f"{max(m['max_rel_error_vs_ort'] for m in report['models']):.1e})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The README's walk-through: compile the Mixtral MoE fixture for the host, run it on random
tokens with moec-run, run the same model in onnxruntime, and compare.

    python3 test/e2e/run_example.py MOEC MOEC_RUN WORK_DIR [--tokens 16] [--model PATH]
    python3 test/e2e/run_example.py --moec MOEC --moec-run MOEC_RUN --work-dir WORK_DIR

Exit status: 0 when max|moec - onnxruntime| <= 1e-4 * max|onnxruntime|, 1 when not, 2 when a
step could not run.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2e_common as common  # noqa: E402  (needs the path above)

DEFAULT_MODEL = os.path.join(os.path.dirname(HERE), "models", "mixtral_moe_node.onnx")
SEED = 2024


def _step(title, args):
    print(f"$ {' '.join(str(a) for a in args)}")
    start = time.perf_counter()
    try:
        result = common.run_tool(args)
    except (OSError, subprocess.TimeoutExpired) as err:
        print(f"run_example: error: {title}: {err}", file=sys.stderr)
        return None
    for line in (result.stdout + result.stderr).strip().splitlines():
        print(f"  {line}")
    print(f"  ({title}: exit {result.returncode}, {time.perf_counter() - start:.2f} s)")
    if result.returncode != 0:
        print(f"run_example: error: {title} failed with exit status {result.returncode}",
              file=sys.stderr)
        return None
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The three paths may be given positionally or as options (scripts/example.sh).
    for name in ("moec", "moec_run", "work_dir"):
        parser.add_argument(name, nargs="?")
        parser.add_argument("--" + name.replace("_", "-"), dest=name + "_opt")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    for name in ("moec", "moec_run", "work_dir"):
        value = getattr(args, name + "_opt") or getattr(args, name)
        if not value:
            parser.error(f"missing {name.replace('_', '-')} (positional or --"
                         f"{name.replace('_', '-')})")
        setattr(args, name, value)

    os.makedirs(args.work_dir, exist_ok=True)
    artifact = os.path.join(args.work_dir, "mixtral_moe.moe")
    x_path = os.path.join(args.work_dir, "input.npy")
    out_path = os.path.join(args.work_dir, "output.npy")

    model = onnx.load(args.model)
    moe = next((n for n in model.graph.node if n.op_type == "MoE"), None)
    hidden = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    print(f"model   {args.model}")
    if moe is not None:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in moe.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        experts = onnx.numpy_helper.to_array(next(
            i for i in model.graph.initializer if i.name == "fc2_experts_weights"))
        print(f"        MoE: E={experts.shape[0]} experts, H={hidden}, I={experts.shape[2]}, "
              f"k={attrs.get('k', 1)}, activation={attrs.get('activation_type', 'relu')}")

    if _step("compile", [args.moec, "compile", args.model, "--target", "host",
                         "-o", artifact]) is None:
        return 2
    print(f"        artifact {artifact}: {os.path.getsize(artifact)} bytes")

    x = common.make_inputs(model, args.tokens, SEED)
    np.save(x_path, x)
    print(f"input   T={args.tokens} tokens x H={hidden}, N(0,1), seed {SEED}")

    if _step("run", [args.moec_run, artifact, "--input", f"input={x_path}",
                     "--output", f"output={out_path}"]) is None:
        return 2
    out = np.load(out_path)

    ref = common.ort_session(args.model).run(["output"], {"input": x})[0].astype(np.float64)
    ok, max_abs, scale = common.compare(out, ref)
    nonzero = np.abs(ref) > 1e-3 * scale  # relative error is meaningless near zero
    max_rel = float((np.abs(out - ref)[nonzero] / np.abs(ref)[nonzero]).max()) \
        if nonzero.any() else 0.0
    print("compare moec-run vs onnxruntime (CPU) on output "
          f"{tuple(out.shape)} {out.dtype}:")
    print(f"  max abs error       {max_abs:.3e}")
    print(f"  max relative error  {max_rel:.3e}  (over |ref| > 1e-3 * max|ref|)")
    print(f"  criterion           max abs error <= {common.REL_TOL:g} * max|ref| "
          f"= {common.REL_TOL * scale:.3e}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

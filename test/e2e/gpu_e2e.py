#!/usr/bin/env python3
"""The e2e fixtures on the CUDA target, split in two halves so that nothing is built on the
GPU machine (which has no MLIR):

  prepare  (here)          compile every fixture for one architecture with moec into a folder
  run      (GPU machine)   run each artifact with moec-run on fresh random inputs and compare
                           with onnxruntime (CPU) or the float64 numpy MoE reference

  python3 gpu_e2e.py prepare --moec build/tools/moec/moec --arch sm_90a --out bench/gpu/artifacts
  python3 gpu_e2e.py run --moec-run bench/gpu/bin/moec-run --artifacts bench/gpu/artifacts

Pass criterion on the GPU: max|out - ref| <= BF16_REL_TOL * max|ref|. The artifacts store
weights and activations in bf16 (unit roundoff 2^-8 = 3.9e-3) and accumulate in f32; the
input, the routing weights, the expert weights and the two GEMM results are each rounded to
bf16 once, so a few roundoffs of the output's scale is what the arithmetic warrants: 2e-2.
The router runs in f32, so expert choices match the f32 reference (inputs are drawn with a
routing margin, see e2e_common.make_inputs).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_common as common  # noqa: E402

BF16_REL_TOL = 2e-2
TOKEN_COUNTS = (1, 7, 64, 300)


def stem(rel):
    return rel[:-len(".onnx")].replace("/", "__")


def prepare(args):
    common.Config.moec = os.path.abspath(args.moec)
    os.makedirs(args.out, exist_ok=True)
    manifest = common.load_manifest()
    entries = {}
    failures = 0
    for rel, info in manifest.items():
        out = os.path.join(args.out, f"{stem(rel)}.{args.arch}.moe")
        result = common.run_tool([common.Config.moec, "compile", common.model_path(rel),
                                  "--target", args.arch, "--fail-on-spills", "-o", out])
        ok = result.returncode == 0
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} compile {rel} for {args.arch}"
              + ("" if ok else "\n" + common.describe(result)))
        if ok:
            entries[os.path.basename(out)] = {"model": rel, "reference": info["reference"]}
    with open(os.path.join(args.out, "artifacts.json"), "w") as f:
        json.dump({"arch": args.arch, "artifacts": entries}, f, indent=1)
    return 1 if failures else 0


def run(args):
    common.Config.moec_run = os.path.abspath(args.moec_run)
    with open(os.path.join(args.artifacts, "artifacts.json")) as f:
        listing = json.load(f)
    work = common.work_dir("gpu")
    rows, failures = [], 0
    for name, entry in sorted(listing["artifacts"].items()):
        rel, kind = entry["model"], entry["reference"]
        model = onnx.load(common.model_path(rel))
        for tokens in TOKEN_COUNTS:
            x = common.make_inputs(model, tokens, seed=hash((rel, tokens)) % (2**31))
            ref = common.reference_output(rel, kind, x)
            xin = os.path.join(work, f"{stem(rel)}.{tokens}.x.npy")
            yout = os.path.join(work, f"{stem(rel)}.{tokens}.y.npy")
            np.save(xin, x)
            start = time.monotonic()
            result = common.run_model(os.path.join(args.artifacts, name), [("input", xin)],
                                      outputs=[("output", yout)])
            seconds = time.monotonic() - start
            if result.returncode != 0:
                failures += 1
                rows.append((rel, tokens, "ERROR", float("nan"), float("nan"), seconds))
                print(f"FAIL {rel} T={tokens}: " + common.describe(result))
                continue
            out = np.load(yout)
            out64 = np.asarray(out, dtype=np.float64)
            scale = float(np.abs(ref).max()) if ref.size else 0.0
            err = float(np.abs(out64 - ref).max()) if ref.size else 0.0
            ok = out.shape == ref.shape and np.all(np.isfinite(out64)) and err <= BF16_REL_TOL * scale
            failures += not ok
            rows.append((rel, tokens, "PASS" if ok else "FAIL", err, scale, seconds))
    print(f"\nGPU e2e, {listing['arch']} artifacts, criterion max|out-ref| <= "
          f"{BF16_REL_TOL} * max|ref| (bf16 storage, f32 accumulation)")
    print(f"| fixture | T | result | max abs err | max abs err / scale | moec-run wall s |")
    print(f"| --- | --- | --- | --- | --- | --- |")
    for rel, tokens, status, err, scale, seconds in rows:
        ratio = err / scale if scale else float("nan")
        print(f"| {rel} | {tokens} | {status} | {err:.3e} | {ratio:.2e} | {seconds:.2f} |")
    passed = sum(1 for r in rows if r[2] == "PASS")
    print(f"\n{passed} passed, {len(rows) - passed} failed")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--moec", required=True)
    p.add_argument("--arch", default="sm_90a")
    p.add_argument("--out", required=True)
    p.add_argument("--models")
    r = sub.add_parser("run")
    r.add_argument("--moec-run", required=True)
    r.add_argument("--artifacts", required=True)
    r.add_argument("--models")
    args = parser.parse_args()
    if args.models:
        common.Config.models = os.path.abspath(args.models)
    return prepare(args) if args.command == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())

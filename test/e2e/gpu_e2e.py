#!/usr/bin/env python3
"""The e2e fixtures on the CUDA target, split in two halves so that nothing is built on the
GPU machine (which has no MLIR):

  prepare  (here)          compile every fixture for one architecture with moec into a folder,
                           draw fresh random inputs and compute their references with
                           onnxruntime (CPU) or the float64 numpy MoE reference
  run      (GPU machine)   run each artifact with moec-run on those inputs and compare; needs
                           only numpy (the GPU machine need not have onnx or onnxruntime)

  python3 gpu_e2e.py prepare --moec build/tools/moec/moec --arch sm_90a --out bench/gpu/artifacts
  python3 gpu_e2e.py run --moec-run bench/gpu/bin/moec-run --artifacts bench/gpu/artifacts

Every fixture is compiled twice, and each has its own pass criterion
max|out - ref| <= tol * max|ref|:
  --precision bf16 (the default)  tol = 2e-2: weights and activations stored in bf16 (unit
      roundoff 2^-8 = 3.9e-3), f32 accumulation; the input, the routing weights, the expert
      weights and the two GEMM results are each rounded to bf16 once, so a few roundoffs of
      the output's scale is what the arithmetic warrants.
  --precision f32                 tol = 1e-4, as on the host: the same kernels' f32 paths,
      so a logic error cannot hide inside the bf16 tolerance.
  --precision bf16 --gpu-gemm wgmma (sm_90a only)  tol = 2e-2: the Hopper warpgroup-MMA
      GEMMs, experimental until this check passes on an H100/H200.
The router runs in f32 in all of them, so expert choices match the f32 reference (inputs are drawn
with a routing margin, see e2e_common.make_inputs).

With --quantized (what bench/gpu_check.sh passes), quantized weights too (the GEMMs read
int8 / packed int4 bytes and dequantize in registers): the
Mixtral fixture and the Mixtral decoder compiled with --quantize int8 and --quantize int4
--group-size 16 (bf16 storage). Their references are the HOST artifacts compiled with the same
flags (the same dequantized weights, f32 arithmetic; run here with moec-run), so the criterion
is the bf16 one, 2e-2: quantization error is not part of the comparison.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# variant name -> (moec flags, tolerance relative to max|ref|)
VARIANTS = {
    "bf16": (["--precision", "bf16"], 2e-2),
    "f32": (["--precision", "f32"], 1e-4),
    "bf16-wgmma": (["--precision", "bf16", "--gpu-gemm", "wgmma"], 2e-2),
}


# quantized variant name -> moec flags (with --precision bf16, tolerance 2e-2)
QUANTIZED = {
    "bf16-int8": ["--quantize", "int8"],
    "bf16-int4": ["--quantize", "int4", "--group-size", "16"],
}
QUANTIZED_TOL = 2e-2


def variants_for(arch):
    return [v for v in VARIANTS if arch == "sm_90a" or "wgmma" not in v]
TOKEN_COUNTS = (1, 7, 64, 300)


def stem(rel):
    return rel[:-len(".onnx")].replace("/", "__")


def prepare(args):
    # onnx/onnxruntime are needed here only.
    import onnx
    import e2e_common as common

    if args.models:
        common.Config.models = os.path.abspath(args.models)
    common.Config.moec = os.path.abspath(args.moec)
    data_dir = os.path.join(args.out, "data")
    os.makedirs(data_dir, exist_ok=True)
    manifest = common.load_manifest()
    cases = []
    failures = 0
    for rel, info in manifest.items():
        compiled = {}
        for precision in variants_for(args.arch):
            artifact = f"{stem(rel)}.{args.arch}.{precision}.moe"
            result = common.run_tool([common.Config.moec, "compile", common.model_path(rel),
                                      "--target", args.arch, *VARIANTS[precision][0],
                                      "--fail-on-spills", "-o", os.path.join(args.out, artifact)])
            ok = result.returncode == 0
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} compile {rel} for {args.arch} ({precision})"
                  + ("" if ok else "\n" + common.describe(result)))
            if ok:
                compiled[precision] = artifact
        if not compiled:
            continue
        model = onnx.load(common.model_path(rel))
        for tokens in TOKEN_COUNTS:
            x = common.make_inputs(model, tokens, seed=1000 * len(cases) + tokens)
            ref = common.reference_output(rel, info["reference"], x)
            base = f"{stem(rel)}.T{tokens}"
            np.save(os.path.join(data_dir, base + ".input.npy"), x)
            np.save(os.path.join(data_dir, base + ".ref.npy"), ref)
            for precision, artifact in compiled.items():
                cases.append({"model": rel, "reference": info["reference"],
                              "artifact": artifact, "precision": precision,
                              "tolerance": VARIANTS[precision][1], "tokens": tokens,
                              "input": f"data/{base}.input.npy",
                              "ref": f"data/{base}.ref.npy"})
    failures += prepare_decoders(args, cases)
    if args.quantized:
        failures += prepare_quantized(args, cases)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"arch": args.arch, "cases": cases}, f, indent=1)
    return 1 if failures else 0


def prepare_decoders(args, cases):
    """The whole decoders (test/models/decoder): one greedy generation per variant, checked
    against transformers' tokens and step logits (the .ref.npz travels with the artifacts)."""
    import shutil
    import e2e_common as common

    decoder_dir = os.path.join(common.Config.models, "decoder")
    failures = 0
    for name in sorted(n[:-5] for n in os.listdir(decoder_dir) if n.endswith(".onnx")):
        ref = f"data/decoder.{name}.ref.npz"
        shutil.copy(os.path.join(decoder_dir, name + ".ref.npz"), os.path.join(args.out, ref))
        for precision in ("f32", "bf16"):
            artifact = f"decoder__{name}.{args.arch}.{precision}.moe"
            result = common.run_tool([common.Config.moec, "compile",
                                      os.path.join(decoder_dir, name + ".onnx"), "--target",
                                      args.arch, *VARIANTS[precision][0], "--fail-on-spills",
                                      "-o", os.path.join(args.out, artifact)])
            ok = result.returncode == 0
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} compile decoder/{name} for {args.arch} "
                  f"({precision})" + ("" if ok else "\n" + common.describe(result)))
            if ok:
                cases.append({"kind": "generate", "model": f"decoder/{name}.onnx",
                              "artifact": artifact, "precision": precision,
                              "tolerance": VARIANTS[precision][1], "tokens": "generate 8",
                              "ref": ref})
    return failures


def _moec_run_here(args):
    """moec-run of this build (prepare runs host artifacts for the quantized references)."""
    if args.moec_run:
        return os.path.abspath(args.moec_run)
    tools = os.path.dirname(os.path.dirname(os.path.abspath(args.moec)))
    return os.path.join(tools, "moec-run", "moec-run")


def prepare_quantized(args, cases):
    """int8/int4 artifacts of the Mixtral fixture and decoder; references from the host
    artifact compiled with the same --quantize flags."""
    import e2e_common as common

    moec_run = _moec_run_here(args)
    if not os.access(moec_run, os.X_OK):
        print(f"FAIL no moec-run at {moec_run} for the quantized references (--moec-run)")
        return 1
    import onnx
    failures = 0
    rel = "mixtral_moe_node.onnx"
    model = onnx.load(common.model_path(rel))
    decoder = os.path.join(common.Config.models, "decoder", "mixtral.onnx")
    decoder_ref = np.load(os.path.join(common.Config.models, "decoder", "mixtral.ref.npz"))
    prompt = ",".join(str(int(t)) for t in decoder_ref["prompt"])
    steps = len(decoder_ref["hf_tokens"])
    for variant, flags in QUANTIZED.items():
        host = os.path.join(args.out, "data", f"host.{variant}")
        os.makedirs(host, exist_ok=True)
        for src, name in ((common.model_path(rel), stem(rel)), (decoder, "decoder__mixtral")):
            artifact = f"{name}.{args.arch}.{variant}.moe"
            host_moe = os.path.join(host, f"{name}.moe")
            gpu = common.run_tool([common.Config.moec, "compile", src, "--target", args.arch,
                                   "--precision", "bf16", *flags, "--fail-on-spills", "-o",
                                   os.path.join(args.out, artifact)])
            ref = common.run_tool([common.Config.moec, "compile", src, "--target", "host",
                                   *flags, "-o", host_moe])
            ok = gpu.returncode == 0 and ref.returncode == 0
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} compile {name} for {args.arch} ({variant}) and "
                  f"its host reference" + ("" if ok else "\n" + common.describe(gpu) + "\n"
                                           + common.describe(ref)))
            if not ok:
                continue
            if name.startswith("decoder__"):
                # The host run's greedy tokens and step logits are the reference.
                tokens = os.path.join(host, "tokens.npy")
                logits = os.path.join(host, "logits.npy")
                result = subprocess.run([moec_run, host_moe, "--generate", str(steps),
                                         "--prompt", prompt, "--tokens-out", tokens,
                                         "--logits-out", logits], capture_output=True, text=True)
                if result.returncode != 0:
                    failures += 1
                    print(f"FAIL host reference of {name} ({variant}): {result.stderr[-2000:]}")
                    continue
                ref_path = f"data/decoder.mixtral.{variant}.ref.npz"
                np.savez(os.path.join(args.out, ref_path), prompt=decoder_ref["prompt"],
                         hf_tokens=np.load(tokens), hf_step_logits=np.load(logits))
                cases.append({"kind": "generate", "model": "decoder/mixtral.onnx",
                              "artifact": artifact, "precision": variant,
                              "tolerance": QUANTIZED_TOL, "tokens": "generate",
                              "ref": ref_path})
                continue
            for tokens in TOKEN_COUNTS:
                x = common.make_inputs(model, tokens, seed=7000 + tokens)
                base = f"{name}.{variant}.T{tokens}"
                x_path = os.path.join(args.out, "data", base + ".input.npy")
                ref_path = os.path.join(args.out, "data", base + ".ref.npy")
                np.save(x_path, x)
                result = subprocess.run([moec_run, host_moe, "--input", f"input={x_path}",
                                         "--output", f"output={ref_path}"],
                                        capture_output=True, text=True)
                if result.returncode != 0:
                    failures += 1
                    print(f"FAIL host reference of {name} ({variant}) T={tokens}: "
                          f"{result.stderr[-2000:]}")
                    continue
                cases.append({"model": rel, "reference": "host " + variant,
                              "artifact": artifact, "precision": variant,
                              "tolerance": QUANTIZED_TOL, "tokens": tokens,
                              "input": f"data/{base}.input.npy", "ref": f"data/{base}.ref.npy"})
        import shutil
        shutil.rmtree(host)  # the host artifacts stay here; only their outputs travel
    return failures


def run_generate(args, case, work):
    """moec-run --generate 8 on a decoder; the tokens must be transformers' (f32), and every
    step's logits within the variant's tolerance while the tokens agree. In bf16 a token may
    legitimately differ where the reference margin is below bf16's rounding; from there on
    the sequences diverge, so only the steps up to and including the first difference count."""
    at = lambda p: os.path.join(args.artifacts, p)  # noqa: E731
    ref = np.load(at(case["ref"]))
    want = [int(t) for t in ref["hf_tokens"]]
    logits_path = os.path.join(work, os.path.basename(case["artifact"]) + ".step_logits.npy")
    command = [os.path.abspath(args.moec_run), at(case["artifact"]), "--generate",
               str(len(want)), "--prompt", ",".join(str(int(t)) for t in ref["prompt"]),
               "--logits-out", logits_path]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        return "ERROR", float("nan"), float("nan"), result.stderr.strip()[-2000:]
    got = [int(t) for t in result.stdout.split()]
    same = 0
    while same < len(want) and same < len(got) and got[same] == want[same]:
        same += 1
    steps = min(len(want), same + 1)
    logits = np.load(logits_path).astype(np.float64)[:steps]
    expected = ref["hf_step_logits"].astype(np.float64)[:steps]
    scale = float(np.abs(expected).max())
    err = float(np.abs(logits - expected).max())
    ok = err <= case["tolerance"] * scale and (same == len(want) or case["precision"] != "f32")
    note = f"tokens {same}/{len(want)} equal"
    return ("PASS" if ok else "FAIL"), err, scale, note


def run(args):
    with open(os.path.join(args.artifacts, "cases.json")) as f:
        listing = json.load(f)
    work = os.path.join(args.artifacts, "outputs")
    os.makedirs(work, exist_ok=True)
    rows, failures = [], 0
    for case in listing["cases"]:
        at = lambda p: os.path.join(args.artifacts, p)  # noqa: E731
        if case.get("kind") == "generate":
            start = time.monotonic()
            status, err, scale, note = run_generate(args, case, work)
            seconds = time.monotonic() - start
            failures += status != "PASS"
            rows.append((case["model"], case["precision"], case["tokens"], status, err, scale,
                         case["tolerance"], seconds))
            print(f"{status} {case['model']} ({case['precision']}) greedy: {note}")
            continue
        out_path = os.path.join(work, os.path.basename(case["input"]).replace(
            ".input", f".{case['precision']}.out"))
        command = [os.path.abspath(args.moec_run), at(case["artifact"]),
                   "--input", f"input={at(case['input'])}", "--output", f"output={out_path}"]
        start = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, errors="replace")
        seconds = time.monotonic() - start
        label = (case["model"], case["precision"], case["tokens"])
        if result.returncode != 0:
            failures += 1
            rows.append((*label, "ERROR", float("nan"), float("nan"), case["tolerance"], seconds))
            print(f"ERROR {case['model']} T={case['tokens']}: exit {result.returncode}: "
                  f"{result.stderr.strip()[-2000:]}")
            continue
        out = np.load(out_path).astype(np.float64)
        ref = np.load(at(case["ref"])).astype(np.float64)
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        finite = bool(np.all(np.isfinite(out)))
        err = float(np.abs(out - ref).max()) if ref.size and out.shape == ref.shape else float("inf")
        ok = out.shape == ref.shape and finite and err <= case["tolerance"] * scale
        failures += not ok
        rows.append((*label, "PASS" if ok else "FAIL", err, scale, case["tolerance"], seconds))
    print(f"\nGPU e2e, {listing['arch']} artifacts, criterion max|out-ref| <= tol * max|ref|")
    print("| fixture | precision | T | result | max abs err | err / max abs ref | tol | moec-run wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for rel, precision, tokens, status, err, scale, tol, seconds in rows:
        ratio = err / scale if scale else float("nan")
        print(f"| {rel} | {precision} | {tokens} | {status} | {err:.3e} | {ratio:.2e} | {tol:g} "
              f"| {seconds:.2f} |")
    passed = sum(1 for r in rows if r[3] == "PASS")
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
    p.add_argument("--quantized", action="store_true",
                   help="also the int8/int4 artifacts (bench/gpu_check.sh passes it; the "
                        "ctest compile checks of quantized weights are test_cuda_quantized.py)")
    p.add_argument("--moec-run", help="for the quantized references (default: beside moec)")
    r = sub.add_parser("run")
    r.add_argument("--moec-run", required=True)
    r.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    return prepare(args) if args.command == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())

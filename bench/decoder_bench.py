#!/usr/bin/env python3
"""Whole-decoder greedy generation on the host: moec against onnxruntime's CPU provider, same
ONNX files (test/models/decoder), same prompt, same number of new tokens, one thread each, in
one run of this script. A report, not a threshold: it fails only when a step cannot run or
when the two produce different tokens (a benchmark of a wrong result reports nothing).

    python3 bench/decoder_bench.py --moec build/tools/moec/moec \\
        --moec-run build/tools/moec-run/moec-run --work /tmp/decoder_bench [--json OUT]

Times compared: one run of the model per step, wall time around the call alone —
moert_session_run as `moec-run --generate --timing-out` measures it in C++, and
InferenceSession.run as measured here from Python (its call overhead, a few microseconds, is
on onnxruntime's side: at these sizes that favours moec). Per model: the prompt run
("prefill") and every single-token run ("decode"), each the median over --repeats whole
generations (the decode figure pools every decode step of every generation). moec keeps
each KV cache in one buffer (the artifact declares it in place); the onnxruntime loop feeds
present back as past, as onnxruntime-genai does without buffer sharing.

The fixtures are tiny (2 layers, hidden 64, capacity 32): these numbers measure per-step
overhead and small-kernel efficiency, not bandwidth. moec's host kernels are single-threaded,
hence one thread for onnxruntime too.
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
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DECODERS = os.path.join(ROOT, "test", "models", "decoder")
PAST, PRESENT = "past_key_values.", "present."


def ort_generate(session, prompt, new_tokens):
    """Greedy generation with onnxruntime; returns (tokens, [ms per run])."""
    caches = {}
    for i in session.get_inputs():
        if i.name.startswith(PAST):
            caches[i.name] = np.zeros(i.shape, np.float32)
    outputs = [o.name for o in session.get_outputs()]
    tokens, millis = [], []
    ids = np.array(prompt, np.int64)[None, :]
    total = 0
    for step in range(new_tokens):
        total += ids.shape[1]
        feeds = {"input_ids": ids, "seqlens_k": np.array([total - 1], np.int32),
                 "total_sequence_length": np.array(ids.shape[1] if step == 0 else total,
                                                   np.int32)}
        feeds.update(caches)
        start = time.perf_counter()
        result = session.run(None, feeds)
        millis.append((time.perf_counter() - start) * 1e3)
        named = dict(zip(outputs, result))
        for name in caches:
            caches[name] = named[PRESENT + name[len(PAST):]]
        token = int(np.argmax(named["logits"][0, -1]))
        tokens.append(token)
        ids = np.array([[token]], np.int64)
    return tokens, millis


def moec_generate(args, moe_file, prompt, new_tokens, tag):
    timing = os.path.join(args.work, f"{tag}.timing.json")
    result = subprocess.run([args.moec_run, moe_file, "--generate", str(new_tokens), "--prompt",
                             ",".join(str(t) for t in prompt), "--timing-out", timing],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"moec-run --generate failed: {result.stderr.strip()}")
    with open(timing) as f:
        times = json.load(f)
    return [int(t) for t in result.stdout.split()], [times["prefill_ms"]] + times["decode_ms"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--moec-run", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--repeats", type=int, default=7, help="whole generations per side")
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    names = sorted(n[:-5] for n in os.listdir(DECODERS) if n.endswith(".onnx"))
    rows = []
    for name in names:
        src = os.path.join(DECODERS, name + ".onnx")
        ref = np.load(os.path.join(DECODERS, name + ".ref.npz"))
        prompt = [int(t) for t in ref["prompt"]]
        moe_file = os.path.join(args.work, name + ".moe")
        result = subprocess.run([args.moec, "compile", src, "--target", "host", "-o", moe_file,
                                 "-q"], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"decoder_bench: {name}: moec compile failed: {result.stderr.strip()}",
                  file=sys.stderr)
            return 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(src, options, providers=["CPUExecutionProvider"])
        capacity = next(i.shape[2] for i in session.get_inputs() if i.name.startswith(PAST))
        new_tokens = capacity - len(prompt) + 1  # fill the cache
        # Warm-up, then alternate the two sides so drift hits both alike.
        ort_generate(session, prompt, 2)
        moec_generate(args, moe_file, prompt, 2, f"{name}.warm")
        moec_prefill, moec_decode, ort_prefill, ort_decode = [], [], [], []
        for r in range(args.repeats):
            mt, mm = moec_generate(args, moe_file, prompt, new_tokens, f"{name}.{r}")
            ot, om = ort_generate(session, prompt, new_tokens)
            if mt != ot:
                print(f"decoder_bench: {name}: moec and onnxruntime generate different tokens:"
                      f"\n  moec {mt}\n  ort  {ot}", file=sys.stderr)
                return 1
            moec_prefill.append(mm[0])
            moec_decode += mm[1:]
            ort_prefill.append(om[0])
            ort_decode += om[1:]
        row = {"model": name, "prompt": len(prompt), "new_tokens": new_tokens,
               "moec_prefill_ms": float(np.median(moec_prefill)),
               "ort_prefill_ms": float(np.median(ort_prefill)),
               "moec_decode_ms": float(np.median(moec_decode)),
               "ort_decode_ms": float(np.median(ort_decode)),
               "decode_p10_p90_moec": [float(np.percentile(moec_decode, 10)),
                                       float(np.percentile(moec_decode, 90))],
               "decode_p10_p90_ort": [float(np.percentile(ort_decode, 10)),
                                      float(np.percentile(ort_decode, 90))]}
        rows.append(row)
    print(f"Decoder greedy generation, host, one thread each ({platform.processor() or platform.machine()},"
          f" {datetime.date.today()}); medians of {args.repeats} generations")
    print("| model | prompt | new tokens | prefill moec ms | prefill ort ms | moec/ort "
          "| decode moec ms/token | decode ort ms/token | moec/ort |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['prompt']} | {r['new_tokens']} | {r['moec_prefill_ms']:.4f} "
              f"| {r['ort_prefill_ms']:.4f} | {r['moec_prefill_ms'] / r['ort_prefill_ms']:.2f} "
              f"| {r['moec_decode_ms']:.4f} | {r['ort_decode_ms']:.4f} "
              f"| {r['moec_decode_ms'] / r['ort_decode_ms']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": str(datetime.date.today()), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

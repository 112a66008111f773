#!/usr/bin/env python3
"""Pins the semantics of moec's attention kernels against onnxruntime (dev script, not run by CI).

moe.attention is com.microsoft.GroupQueryAttention with a fixed-capacity KV cache: past and
present are [B, KV, C, HD] with a static capacity C. The host kernels
(compiler/host/kernels/moec_host_kernels.h, section "Attention") and the CUDA kernels
(compiler/cuda/kernels/moec_cuda_attention.cuh) implement the rules below; this script runs
onnxruntime's CPU kernel on small random cases and prints, per rule, whether onnxruntime agrees
with a float64 numpy model of the rule (or, for errors, what onnxruntime says).

    python3 test/unit/host_kernels/gqa_semantics.py

Needs onnx, onnxruntime (the CPU kernel needs head_dim % 16 == 0) and numpy. Exits nonzero if a
rule no longer holds, so a new onnxruntime can be re-checked in one command.
"""
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

RNG = np.random.default_rng(20261123)
FAILED = []


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def session(B, S, N, KV, HD, C, attrs, rotary, packed, R):
    f32 = TensorProto.FLOAT
    width = (N + 2 * KV) * HD if packed else N * HD
    inputs = [helper.make_tensor_value_info("query", f32, [B, S, width])]
    names = ["query", "", ""]
    if not packed:
        inputs += [helper.make_tensor_value_info(n, f32, [B, S, KV * HD]) for n in ("key", "value")]
        names = ["query", "key", "value"]
    inputs += [helper.make_tensor_value_info(n, f32, [B, KV, C, HD]) for n in ("past_key", "past_value")]
    inputs += [helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [B]),
               helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [])]
    names += ["past_key", "past_value", "seqlens_k", "total_sequence_length"]
    if rotary:
        inputs += [helper.make_tensor_value_info(n, f32, ["rows", R // 2]) for n in ("cos_cache", "sin_cache")]
        names += ["cos_cache", "sin_cache"]
    node = helper.make_node("GroupQueryAttention", names, ["output", "present_key", "present_value"],
                            domain="com.microsoft", num_heads=N, kv_num_heads=KV, do_rotary=int(rotary), **attrs)
    outputs = [helper.make_tensor_value_info(n, f32, None) for n in ("output", "present_key", "present_value")]
    model = helper.make_model(helper.make_graph([node], "gqa", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    options = ort.SessionOptions()
    options.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def rotate(x, pos, cos, sin, R, interleaved):
    """x [HD] rotated for position pos in float64: pairs (2i, 2i+1) or (i, i + R/2); [R, HD) pass."""
    y = x.astype(np.float64).copy()
    c, s = cos[pos].astype(np.float64), sin[pos].astype(np.float64)
    a, b = (np.arange(0, R, 2), np.arange(1, R, 2)) if interleaved else (np.arange(R // 2), np.arange(R // 2, R))
    y[a], y[b] = x[a] * c - x[b] * s, x[a] * s + x[b] * c
    return y


def model_of_rules(f, B, S, N, KV, HD, C, R, interleaved, scale, softcap, window, packed):
    """moec's rules in float64: returns output, present_key, present_value."""
    seqlens, total = f["seqlens_k"], int(f["total_sequence_length"])
    if packed:
        q, k, v = np.split(f["query"], [N * HD, (N + KV) * HD], axis=-1)
    else:
        q, k, v = f["query"], f["key"], f["value"]
    cos, sin = f.get("cos_cache"), f.get("sin_cache")
    rot = (lambda x, p: rotate(x, p, cos, sin, R, interleaved)) if R else (lambda x, p: x.astype(np.float64))
    pk, pv = f["past_key"].astype(np.float64).copy(), f["past_value"].astype(np.float64).copy()
    out = np.zeros((B, S, N * HD))
    for b in range(B):
        total_b = int(seqlens[b]) + 1
        past = 0 if total == S else total_b - S  # first prompt iff total_sequence_length == S
        for t in range(S):
            for g in range(KV):
                pk[b, g, past + t] = rot(k[b, t, g * HD:(g + 1) * HD], past + t)
                pv[b, g, past + t] = v[b, t, g * HD:(g + 1) * HD]
        for t in range(S):
            p = past + t
            lo, hi = (max(0, p - window + 1) if window > 0 else 0), min(p, total_b - 1)
            for h in range(N):
                if lo > hi:
                    continue  # no key: zeros
                g = h // (N // KV)
                score = pk[b, g, lo:hi + 1] @ rot(q[b, t, h * HD:(h + 1) * HD], p) * scale
                if softcap > 0:
                    score = softcap * np.tanh(score / softcap)
                w = np.exp(score - score.max())
                out[b, t, h * HD:(h + 1) * HD] = (w / w.sum()) @ pv[b, g, lo:hi + 1]
    return out, pk, pv


def run(B, S, seqlens, total, N=4, KV=2, HD=16, C=16, R=0, interleaved=False, scale=None, softcap=0.0,
        window=-1, packed=False, rows=None):
    """Runs onnxruntime and the model of the rules; returns (ort outputs or error text, model, feeds)."""
    attrs = {}
    if scale is not None:
        attrs["scale"] = scale
    if softcap:
        attrs["softcap"] = softcap
    if window > 0:
        attrs["local_window_size"] = window
    if interleaved:
        attrs["rotary_interleaved"] = 1
    f = {"query": rand(B, S, ((N + 2 * KV) if packed else N) * HD), "past_key": rand(B, KV, C, HD),
         "past_value": rand(B, KV, C, HD), "seqlens_k": np.array(seqlens, np.int32),
         "total_sequence_length": np.array(total, np.int32)}
    if not packed:
        f["key"], f["value"] = rand(B, S, KV * HD), rand(B, S, KV * HD)
    if R:
        angle = RNG.uniform(0, 2 * np.pi, (rows or C, R // 2))
        f["cos_cache"], f["sin_cache"] = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    try:
        got = session(B, S, N, KV, HD, C, attrs, R > 0, packed, R).run(None, f)
    except Exception as e:  # onnxruntime's INVALID_ARGUMENT
        return str(e).split("Status Message:")[-1].strip()[:160], None, f
    scale = 1 / np.sqrt(HD) if scale is None else scale
    if max(seqlens) + 1 > C:
        return got, None, f  # past the capacity: an error for moec, no model to compare
    return got, model_of_rules(f, B, S, N, KV, HD, C, R, interleaved, scale, softcap, window, packed), f


def error(got, want, seqlens, rows=None):
    """Max |ort - model| over the output rows `rows` (default all) and present [0, total_b)."""
    e = 0.0
    for b, sl in enumerate(seqlens):
        tb = sl + 1
        o = got[0][b] if rows is None else got[0][b, rows]
        w = want[0][b] if rows is None else want[0][b, rows]
        e = max(e, np.abs(o - w).max(), np.abs(got[1][b, :, :tb] - want[1][b, :, :tb]).max(),
                np.abs(got[2][b, :, :tb] - want[2][b, :, :tb]).max())
    return e


def shared_buffer_keeps_past():
    """Decode step with past and present in one buffer, as a fixed-capacity cache is served."""
    B, N, KV, HD, C, seqlens = 2, 4, 2, 16, 8, [4, 2]
    f = {"query": rand(B, 1, N * HD), "key": rand(B, 1, KV * HD), "value": rand(B, 1, KV * HD),
         "past_key": rand(B, KV, C, HD), "past_value": rand(B, KV, C, HD),
         "seqlens_k": np.array(seqlens, np.int32), "total_sequence_length": np.array(5, np.int32)}
    before = f["past_key"].copy()
    values = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in f.items()}
    sess = session(B, 1, N, KV, HD, C, {}, False, False, 0)
    binding = sess.io_binding()
    for name, value in values.items():
        binding.bind_ortvalue_input(name, value)
    binding.bind_ortvalue_output("present_key", values["past_key"])
    binding.bind_ortvalue_output("present_value", values["past_value"])
    binding.bind_output("output")
    sess.run_with_iobinding(binding)
    after = values["past_key"].numpy()
    ok = True
    for b, sl in enumerate(seqlens):
        tb = sl + 1
        ok &= np.array_equal(after[b, :, :tb - 1], before[b, :, :tb - 1])
        ok &= np.allclose(after[b, :, tb - 1], f["key"][b, 0].reshape(KV, HD))
        ok &= np.array_equal(after[b, :, tb:], before[b, :, tb:])
    return bool(ok)


def check(rule, ok, detail=""):
    print(f"[{'agrees' if ok else 'DIFFERS'}] {rule}" + (f"  ({detail})" if detail else ""))
    if not ok:
        FAILED.append(rule)


def agrees(rule, cases, **kw):
    worst = 0.0
    for B, S, seqlens, total in cases:
        got, want, _ = run(B, S, seqlens, total, **kw)
        if isinstance(got, str):
            check(rule, False, "onnxruntime refused: " + got)
            return
        worst = max(worst, error(got, want, seqlens))
    check(rule, worst < 1e-5, f"max |ort - rule| = {worst:.1e}")


# (B, S, seqlens_k, total_sequence_length): prompts, decode steps, a multi-token step.
CASES = [(1, 5, [4], 5), (2, 5, [4, 2], 5), (2, 1, [9, 4], 10), (1, 3, [10], 11)]


def main():
    print(f"onnxruntime {ort.__version__}\n")
    print("== Positions, causality, GQA head mapping")
    for N, KV in [(2, 2), (4, 2), (4, 1)]:
        agrees(f"N={N} KV={KV}: query head h reads kv head h / (N / KV); query s at p = past_b + s "
               "attends j <= min(p, total_b - 1); first prompt iff total_sequence_length == S", CASES, N=N, KV=KV)
    agrees("packed QKV: key and value are the query row's columns after the N query heads", CASES, packed=True)
    agrees("scale attribute multiplies q.k", CASES, scale=0.7)
    agrees("softcap: score = softcap * tanh(score / softcap) after scaling", CASES, softcap=1.5)

    print("\n== Rotary (HD = 32)")
    agrees("rotary, pairs (i, i + R/2), cos/sin row = position", CASES, HD=32, R=32)
    agrees("rotary interleaved, pairs (2i, 2i + 1)", CASES, HD=32, R=32, interleaved=True)
    agrees("partial rotary R = 16 < HD: dims [R, HD) pass through", CASES, HD=32, R=16)
    got, _, _ = run(1, 1, [3], 4, HD=32, R=8)
    check("rotary_dim must be a multiple of 16 (cos_cache width a multiple of 8): onnxruntime refuses R = 8",
          isinstance(got, str), got if isinstance(got, str) else "accepted")

    print("\n== local_window_size W")
    for W in (1, 2, 5):
        agrees(f"W={W}: keys j with p - W < j <= p (W keys, the query's own included)", CASES, window=W)
        got, _, f = run(1, 7, [6], 7, window=W)
        wider = model_of_rules(f, 1, 7, 4, 2, 16, 16, 0, False, 0.25, 0, W + 1, False)
        check(f"W={W}: W + 1 keys would not match", np.abs(got[0] - wider[0]).max() > 1e-3)

    print("\n== First prompt (total_sequence_length == S)")
    got, want, f = run(2, 4, [3, 1], 4)
    check("right-padded row (total_b = 2 < S = 4): all S new rows are written at [0, S), rows s >= total_b "
          "attend keys [0, total_b)", error(got, want, [3, 3]) < 1e-5)
    got, want, f = run(1, 3, [5], 3)
    check("total_b = 6 > S = 3 is accepted: p = s, keys j <= s; rows [S, total_b) are not new",
          np.abs(got[0] - want[0]).max() < 1e-5 and np.abs(got[1][0, :, :3] - want[1][0, :, :3]).max() < 1e-5)
    got, want, f = run(2, 7, [6, 3], 7, window=2)
    check("padding rows with a window may have no key: onnxruntime writes zeros there (as we do)",
          np.abs(got[0][1, 5:]).max() == 0 and np.abs(got[0] - want[0]).max() < 1e-5)
    got, want, f = run(2, 7, [6, 3], 7, window=3, softcap=1.5)
    check("softcap + window on padding rows (s >= total_b): onnxruntime's values differ from the rule; "
          "those rows are unspecified (its docs), the real rows agree",
          error(got, want, [6, 3], rows=slice(0, 4)) < 1e-5 and np.abs(got[0][1, 4:] - want[0][1, 4:]).max() > 1e-3)

    print("\n== present beyond the written rows")
    got, want, f = run(2, 1, [4, 2], 5)
    beyond = [np.abs(got[1][b, :, sl + 1:]).max() for b, sl in enumerate([4, 2])]
    check("separate past/present buffers: onnxruntime zeroes positions >= total_b (moec keeps past there: "
          "with one shared buffer nothing is written there, so only [0, total_b) is compared)", max(beyond) == 0)
    check("one shared buffer (io binding: present_key bound to past_key's OrtValue): positions >= total_b "
          "keep what they held, the new rows are written: moec's rule for both forms", shared_buffer_keeps_past())
    got, want, f = run(2, 4, [3, 1], 4)
    check("first prompt: positions [total_b, S) hold the padding rows' keys, beyond S zeros",
          np.allclose(got[1][1, :, :4], want[1][1, :, :4], atol=1e-6) and np.abs(got[1][1, :, 4:]).max() == 0)

    print("\n== Errors (moec code: 3 total_len, 4 seqlens_k, 5 rotary rows; C = 8)")
    errors = [
        ("total_sequence_length 0", 3, dict(B=1, S=1, seqlens=[0], total=0)),
        ("total_sequence_length < S", 3, dict(B=1, S=3, seqlens=[4], total=2)),
        ("total_sequence_length > C (and != C + S)", 3, dict(B=1, S=1, seqlens=[3], total=20)),
        ("first prompt S > C", 3, dict(B=1, S=10, seqlens=[5], total=10)),
        ("seqlens_k[b] = -1", 4, dict(B=1, S=1, seqlens=[-1], total=3)),
        ("total_b < S after the first prompt (past_b < 0)", 4, dict(B=1, S=3, seqlens=[1], total=5)),
        ("rotary rows < total_sequence_length", 5, dict(B=1, S=1, seqlens=[5], total=6, R=16, rows=5)),
        ("rotary rows < total_b on a first prompt", 5, dict(B=1, S=3, seqlens=[4], total=3, R=16, rows=3)),
    ]
    for what, code, kw in errors:
        B, S, seqlens, total = kw.pop("B"), kw.pop("S"), kw.pop("seqlens"), kw.pop("total")
        got, _, _ = run(B, S, seqlens, total, C=8, **kw)
        check(f"{what}: onnxruntime refuses; moec code {code}", isinstance(got, str), got if isinstance(got, str) else "accepted")
    got, _, _ = run(1, 1, [8], 9, C=8)
    check("total_b = C + 1 with total_sequence_length = C + S: onnxruntime grows present to C + 1 rows "
          "(a dynamic cache); a fixed-capacity cache cannot: moec code 3 (total_len > C)",
          not isinstance(got, str) and got[1].shape[2] == 9)
    got, _, _ = run(2, 3, [5, 3], 6)
    check("B > 1 with S > 1 after the first prompt: onnxruntime refuses; moec's kernels accept it "
          "(each row's past_b = total_b - S), a strict superset", isinstance(got, str), got if isinstance(got, str) else "accepted")

    print("\nall rules hold" if not FAILED else f"\n{len(FAILED)} rule(s) no longer hold")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())

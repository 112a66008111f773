#!/usr/bin/env python3
"""Pins moe_route_sigmoid's semantics to transformers' DeepSeek-V3 router (dev script, not run by CI).

The host and CUDA kernels `moe_route_sigmoid` (compiler/host/kernels/moec_host_kernels.h,
compiler/cuda/kernels/moec_cuda_kernels.cuh) are tested in RouterKernelsTest.cpp against a
float64 reference. This script holds a numpy copy of that reference (`reference` below: same
steps, same tie rule) and checks, on random inputs, that it routes exactly as
transformers' DeepseekV3TopkRouter.forward does, then prints what HF does in the corners the
kernels define on their own (ties, NaN, the +1e-20 in the normalization).

    /tmp/venv-hf/bin/python test/unit/host_kernels/sigmoid_router_reference.py

Needs torch, transformers (checked with 5.23) and numpy. Exits nonzero if a rule no longer holds.
"""
import sys
import types

import numpy as np
import torch
from transformers.models.deepseek_v3.configuration_deepseek_v3 import DeepseekV3Config
from transformers.models.deepseek_v3 import modeling_deepseek_v3 as modeling
from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3TopkRouter

RNG = np.random.default_rng(20260315)
FAILED = []
AMBIGUOUS = 4e-6  # as kAmbiguous in RouterKernelsTest.cpp: float rounding could flip a decision


def check(rule, ok, detail=""):
    print(("ok      " if ok else "FAILED  ") + rule + (f"  ({detail})" if detail else ""))
    if not ok:
        FAILED.append(rule)


def reference(x, bias, k, groups, topk_groups, normalize, scaling):
    """One token in float64, as RouterKernelsTest.cpp's referenceToken: returns (ids, weights, clear)."""
    E = x.size
    s = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    sel = s + (bias.astype(np.float64) if bias is not None else 0.0)
    clear = True
    if groups > 1:
        size = E // groups
        score = np.array([np.sort(sel[g * size:(g + 1) * size])[::-1][:2].sum() for g in range(groups)])
        order = np.argsort(-score, kind="stable")  # ties: lower group first
        if topk_groups < groups:
            a, b = score[order[topk_groups - 1]], score[order[topk_groups]]
            clear &= not (a != b and abs(a - b) < AMBIGUOUS)
        for g in order[topk_groups:]:
            sel[g * size:(g + 1) * size] = -np.inf
    order = np.argsort(-sel, kind="stable")  # ties: lower expert first
    for j in range(min(k, E - 1)):
        a, b = sel[order[j]], sel[order[j + 1]]
        clear &= not (a != b and abs(a - b) < AMBIGUOUS)
    ids = order[:k]
    w = s[ids] / s[ids].sum() if normalize else s[ids]
    return ids, w * scaling, clear


def hf_router(E, k, groups, topk_groups, normalize, scaling, bias):
    config = DeepseekV3Config(hidden_size=E, n_routed_experts=E, num_experts_per_tok=k, n_group=groups,
                              topk_group=topk_groups, norm_topk_prob=normalize, routed_scaling_factor=scaling)
    router = DeepseekV3TopkRouter(config)
    with torch.no_grad():
        router.weight.copy_(torch.eye(E))  # unused: hf_route feeds the logits directly
        router.e_score_correction_bias.copy_(torch.from_numpy(bias) if bias is not None else torch.zeros(E))
    return router


def hf_route(router, logits):
    # The router's F.linear with an identity weight would still smear a NaN over the whole row
    # (NaN * 0 = NaN), so the logits go in as they are: F.linear is swapped for the duration.
    real = modeling.F
    modeling.F = types.SimpleNamespace(linear=lambda x, weight: x)
    try:
        with torch.no_grad():
            _, w, ids = router(torch.from_numpy(logits))
    finally:
        modeling.F = real
    return w.numpy().astype(np.float64), ids.numpy()


def compare(E, k, groups, topk_groups, normalize, scaling, with_bias, tokens=64):
    bias = RNG.uniform(-0.05, 0.05, E).astype(np.float32) if with_bias else None
    logits = (RNG.uniform(0.3, 3.0, (tokens, E)) * RNG.choice([-1, 1], (tokens, E))).astype(np.float32)
    w_hf, ids_hf = hf_route(hf_router(E, k, groups, topk_groups, normalize, scaling, bias), logits)
    worst, skipped, mismatched = 0.0, 0, 0
    for t in range(tokens):
        ids, w, clear = reference(logits[t], bias, k, groups, topk_groups, normalize, scaling)
        if not clear:
            skipped += 1
            continue
        # HF's topk(sorted=False) order is unspecified: compare expert -> weight maps.
        hf = dict(zip(ids_hf[t].tolist(), w_hf[t].tolist()))
        if set(hf) != set(ids.tolist()):
            mismatched += 1
            continue
        worst = max(worst, max(abs(hf[i] - wi) / abs(wi) for i, wi in zip(ids.tolist(), w)))
    name = f"E {E} k {k} groups {groups} topk_groups {topk_groups} normalize {normalize} " \
           f"scaling {scaling} bias {with_bias}"
    # HF computes in float32: (k + 9) * 2^-24 relative as in the C++ test, times 2.
    check(f"same experts and weights as HF: {name}", mismatched == 0 and worst <= 2 * (k + 9) * 2.0**-24,
          f"{tokens - skipped} tokens compared, {skipped} near-ties skipped, {mismatched} differ, "
          f"worst relative weight error {worst:.2e}")


def main():
    print(f"torch {torch.__version__}")
    for groups in (1, 2, 4):
        for topk_groups in range(1, groups + 1):
            for k in (1, 2, 3):
                if k <= topk_groups * (8 // groups):
                    compare(8, k, groups, topk_groups, True, 1.0, True)
    compare(8, 3, 2, 1, False, 2.5, False)
    for normalize in (True, False):
        compare(256, 8, 8, 4, normalize, 2.5, True)
    compare(256, 1, 8, 4, True, 2.5, False)
    compare(64, 6, 1, 1, True, 1.0, True)

    # Group score: HF sums the two largest sel even without a bias (DeepSeek's own inference
    # code uses the max when there is no bias; the kernels follow HF).
    s = np.array([0.95, 0.30, 0.30, 0.30, 0.70, 0.65, 0.05, 0.05])
    x = np.log(s / (1 - s)).astype(np.float32)[None]
    _, ids = hf_route(hf_router(8, 2, 2, 1, True, 1.0, None), x)
    check("group score is the top-2 sum (not the max, not the total)", sorted(ids[0].tolist()) == [4, 5],
          f"HF chose {sorted(ids[0].tolist())}")

    # Ties: torch.topk does not promise the lower index (the kernels do, as ONNX TopK).
    x = np.array([[0.2, 1.5, -0.3, 1.5, 0.9, 1.5, 0.1, 0.9]], np.float32)
    _, ids = hf_route(hf_router(8, 2, 1, 1, True, 1.0, None), x)
    print(f"info    tied experts 1, 3, 5, k = 2: HF picks {sorted(ids[0].tolist())}, the kernels [1, 3]")

    # NaN: torch.topk ranks NaN above every number, so a NaN logit's group is kept, the expert
    # is chosen and the normalized weights are all NaN -- the kernels' rule.
    x = np.array([[3.0, 2.0, 2.5, 1.0, 0.0, -1.0, np.nan, 0.5]], np.float32)
    w, ids = hf_route(hf_router(8, 2, 2, 1, True, 1.0, None), x)
    check("NaN logit: its group kept, chosen, normalized weights NaN",
          sorted(ids[0].tolist()) == [6, 7] and np.isnan(w[0]).all(), f"ids {ids[0].tolist()}, weights {w[0]}")
    w, ids = hf_route(hf_router(8, 2, 2, 1, False, 1.0, None), x)
    wmap = dict(zip(ids[0].tolist(), w[0].tolist()))
    check("NaN logit, not normalized: only its weight is NaN",
          sorted(wmap) == [6, 7] and np.isnan(wmap[6]) and not np.isnan(wmap[7]))

    # HF's "+ 1e-20" (float32) in the normalization: invisible unless every chosen score is tiny.
    for v in (-20.0, -35.0, -60.0, -120.0):
        x = np.full((1, 8), v, np.float32)
        x[0, 0] = v + 1
        w, _ = hf_route(hf_router(8, 2, 1, 1, True, 1.0, None), x)
        exact = reference(x[0], None, 2, 1, 1, True, 1.0)[1]
        with np.errstate(over="ignore", invalid="ignore"):  # the float kernels' arithmetic
            s32 = np.float32(1) / (np.float32(1) + np.exp(-x[0, :2]))
            kernel = s32 / (s32[0] + s32[1])
        print(f"info    chosen logits {v + 1}, {v}: HF weights {np.sort(w[0])[::-1]}, without the epsilon "
              f"{exact} (float64), {kernel} (float32, as the kernels)")
    x = np.full((1, 8), -20.0, np.float32)
    w, _ = hf_route(hf_router(8, 2, 1, 1, True, 1.0, None), x)
    check("+1e-20 is invisible at logit -20", np.allclose(w[0], 0.5, rtol=1e-6, atol=0), f"{w[0]}")

    if FAILED:
        print(f"{len(FAILED)} rule(s) no longer hold")
        return 1
    print("all rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())

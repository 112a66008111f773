"""Inputs and float64 reference for test/lit/lower/self-attention-run.mlir.

  gen DIR B N KV S D DV         fresh random q, k, v (.npy, float32) in DIR
  check DIR SCALE SOFTCAP WINDOW SINKS...  compares DIR/o.npy with the
                                op's definition computed here in float64

The tolerance, 1e-5 of max(1, |o|), is that of the host kernel's unit test:
f32 dot products of 16 terms, exp/tanh to a few ulp, convex combinations of
<= 33 value rows, all a few 1e-6 relative; a wrong mask edge, head mapping or
sink moves outputs by 1e-2 or more.
"""
import sys

import numpy as np


def gen(out, b, n, kv, s, d, dv):
    rng = np.random.default_rng()
    for name, shape in (("q", (b, n, s, d)), ("k", (b, kv, s, d)), ("v", (b, kv, s, dv))):
        x = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
        np.save(f"{out}/{name}.npy", x.astype(np.float32))


def reference(q, k, v, scale, softcap, window, sinks):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    n, kv, s = q.shape[1], k.shape[1], q.shape[2]
    k = np.repeat(k, n // kv, axis=1)  # head h reads kv head h // (n / kv)
    v = np.repeat(v, n // kv, axis=1)
    scores = scale * np.einsum("bhid,bhjd->bhij", q, k)
    if softcap > 0:
        scores = softcap * np.tanh(scores / softcap)
    i, j = np.arange(s)[:, None], np.arange(s)[None, :]
    allowed = (j <= i) & ((window <= 0) | (i - j < window))
    scores = np.where(allowed, scores, -np.inf)
    top = scores.max(-1, keepdims=True)
    if sinks is not None:
        sink = sinks.reshape(1, n, 1, 1)
        top = np.maximum(top, sink)
    e = np.exp(scores - top)
    denominator = e.sum(-1, keepdims=True)
    if sinks is not None:
        denominator = denominator + np.exp(sink - top)
    return np.einsum("bhij,bhjd->bhid", e / denominator, v)


def check(out, scale, softcap, window, sinks):
    q, k, v, o = (np.load(f"{out}/{name}.npy") for name in ("q", "k", "v", "o"))
    want = reference(q, k, v, scale, softcap, window, sinks)
    assert o.shape == want.shape, (o.shape, want.shape)
    err = np.abs(o - want).max()
    bound = 1e-5 * max(1.0, np.abs(want).max())
    assert err <= bound, f"max error {err} > {bound}"
    print(f"self_attention matches float64: max error {err:.2e} (bound {bound:.0e})")


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], *map(int, sys.argv[3:9]))
    else:
        sinks = np.array([float(x) for x in sys.argv[6:]]) if len(sys.argv) > 6 else None
        check(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sinks)

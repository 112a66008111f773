"""Writes awq-activations/ (the activation directory moec-awq-scale.mlir reads)
and prints the weights that test uses, so both can be regenerated together:

    python3 make_awq_activations.py

Rows are the normed tokens a calibration run would sample: standard normal
with channels 2 and 5 ten times larger (the outliers AWQ protects), for the
q linear and the two experts (routed by the router weights below); the
near-miss linear /o/MatMul reads the raw input. Format: CalibrationData.h.
"""
import json
import os

import numpy as np

rng = np.random.default_rng(5)
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "awq-activations")
os.makedirs(os.path.join(here, "rows"), exist_ok=True)

H, I, E, T = 8, 4, 2, 32
x = rng.standard_normal((T, H)).astype(np.float32)
x[:, [2, 5]] *= 10
wq = rng.standard_normal((H, 4)).astype(np.float32)
wr = rng.standard_normal((H, E)).astype(np.float32)
fc1 = rng.standard_normal((E, I, H)).astype(np.float32)
fc2 = rng.standard_normal((E, H, I)).astype(np.float32)
wo = rng.standard_normal((H, 4)).astype(np.float32)
ids = np.argmax(x @ wr, axis=1)

files = []


def save(a):
    name = f"rows/{len(files)}.npy"
    np.save(os.path.join(here, name), np.ascontiguousarray(a, dtype=np.float32))
    files.append(name)
    return {"file": name, "seen": int(a.shape[0])}


ops = [{"key": "/q/MatMul", "op": "moe.linear", "input": save(x)},
       {"key": "/o/MatMul", "op": "moe.linear", "input": save(x)}]
experts = []
for e in range(E):
    xe = x[ids == e]
    experts.append({"input": save(xe), "fc2_input": save(np.maximum(xe @ fc1[e].T, 0))})
ops.append({"key": "/moe/MoE", "op": "moe.experts", "experts": experts})
counts = [int((ids == e).sum()) for e in range(E)]
index = {"format": "moec-calibration", "version": 1, "batches": 1, "tokens": T,
         "max_rows": 4096, "ops": ops,
         "routers": [{"key": "/moe/MoE", "experts": E, "k": 1, "tokens": T, "counts": counts}]}
with open(os.path.join(here, "index.json"), "w") as f:
    json.dump(index, f, indent=1)


def literal(a):
    return np.array2string(a, separator=", ", floatmode="unique", threshold=10**6,
                           max_line_width=10**6).replace("\n", "")


for name, a in [("wq", wq), ("wr", wr), ("fc1", fc1), ("fc2", fc2), ("wo", wo)]:
    print(f"{name} = {literal(a)}")

#!/usr/bin/env python3
"""moec-prune-experts end to end: experts the calibration batches rarely route to are removed,
the artifact shrinks by their bytes, and the output stays within a derived bound of the
UNPRUNED model's float64 reference.

The model: a com.microsoft.MoE block (E = 8, k = 2, H = 32, I = 48) whose router is a Gemm
(logits = x W^T + b). Experts 2 and 5 are made rare: their router rows are scaled by 0.25 and
their logit biases are -1, so on N(0, 1) tokens each gets about 0.5% of the routed slots,
the other six 14-18%. Two variants: Mixtral's (SwiGLU, weights renormalized over the top k)
and one without renormalization (silu, fc1/fc2 biases), where the pass keeps the original
softmax denominator with an extra mask GEMV.

Calibration: 2048 fresh N(0, 1) tokens are the calibration batch; `moec compile --calibration
DIR --prune-experts 0.02 --report r.json` routes them with the float model, prunes, and
reports the histogram, which must equal the float64 routing counts. The same model compiled
without the flags is the unpruned artifact; moec-run runs both on 512 other fresh tokens.

Checks, per variant:
  1. the remark reports experts 2 and 5 pruned, with the histogram;
  2. the unpruned artifact matches the float64 reference at the suite's tolerance
     (e2e_common.REL_TOL = 1e-4 of the output scale);
  3. the pruned artifact matches the float64 reference of what the pruned block computes
     (top k of the kept experts by the original probabilities, original denominator) at the
     same tolerance, on every token;
  4. against the UNPRUNED reference, per token t: |y_t - ref_t| <= B_t + REL_TOL * scale,
     with B_t = sum_e |w'_te - w_te| * max|f_e(x_t)|, where w (w') are the dense [T, E]
     routing weights of the unpruned (pruned) router and f_e the expert e's output: since
     y = sum_e w_te f_e(x_t), the difference is sum_e (w'_te - w_te) f_e(x_t), bounded by the
     triangle inequality. B_t = 0 for tokens that chose no pruned expert, so those must match
     the unpruned model at the plain tolerance; the fraction of tokens that did is printed;
  5. the pruned artifact is smaller than the unpruned one by at least the pruned experts'
     fc1 and fc2 bytes (and their biases).
Tokens whose k-th and (k+1)-th probabilities are within 1e-4 (for either router) are redrawn,
since float32 rounding could legitimately pick the other expert there.
"""

import json
import os
import re
import sys
import unittest

import numpy as np
from onnx import TensorProto, helper, numpy_helper
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_common as common  # noqa: E402
import moe_reference  # noqa: E402

E, K, H, I = 8, 2, 32, 48
RARE = (2, 5)
THRESHOLD = 0.02
NODE = "/moe/MoE"
CALIBRATION_TOKENS = 2048
TEST_TOKENS = 512


class Variant:
    def __init__(self, name, normalize, activation, biases, seed):
        rng = np.random.default_rng(seed)
        self.name, self.normalize, self.activation = name, normalize, activation
        self.router_w = rng.standard_normal((E, H)) * 2 / np.sqrt(H)
        self.router_b = np.zeros(E)
        for e in RARE:
            self.router_w[e] *= 0.25
            self.router_b[e] = -1.0
        self.router_w = self.router_w.astype(np.float32)
        self.router_b = self.router_b.astype(np.float32)
        fused = activation == "swiglu"
        rows = 2 * I if fused else I
        self.fc1 = (rng.standard_normal((E, rows, H)) / np.sqrt(H)).astype(np.float32)
        self.fc2 = (rng.standard_normal((E, H, I)) / np.sqrt(I)).astype(np.float32)
        self.fc1_b = (rng.standard_normal((E, rows)) * 0.1).astype(np.float32) if biases else None
        self.fc2_b = (rng.standard_normal((E, H)) * 0.1).astype(np.float32) if biases else None
        self.attrs = dict(k=K, activation_type=activation, normalize_routing_weights=normalize,
                          swiglu_fusion=1 if fused else 0)

    def model(self):
        inits = [numpy_helper.from_array(self.router_w, "router.weight"),
                 numpy_helper.from_array(self.router_b, "router.bias"),
                 numpy_helper.from_array(self.fc1, "fc1"), numpy_helper.from_array(self.fc2, "fc2")]
        moe_inputs = ["input", "logits", "fc1", "", "fc2", ""]
        if self.fc1_b is not None:
            inits += [numpy_helper.from_array(self.fc1_b, "fc1.bias"),
                      numpy_helper.from_array(self.fc2_b, "fc2.bias")]
            moe_inputs[3], moe_inputs[5] = "fc1.bias", "fc2.bias"
        nodes = [helper.make_node("Gemm", ["input", "router.weight", "router.bias"], ["logits"],
                                  name="/moe/router/Gemm", transB=1),
                 helper.make_node("MoE", moe_inputs, ["output"], name=NODE, domain="com.microsoft",
                                  **self.attrs)]
        graph = helper.make_graph(
            nodes, self.name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["tokens", H])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["tokens", H])], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                       helper.make_opsetid("com.microsoft", 1)],
                                 ir_version=8)

    def logits(self, x):
        return x.astype(np.float64) @ self.router_w.astype(np.float64).T + self.router_b

    def expert_outputs(self, x):
        """f_e(x) for every expert: [E, T, H] float64 (k = 1 routing forced onto e)."""
        out = []
        for e in range(E):
            onehot = np.full((x.shape[0], E), -np.inf)
            onehot[:, e] = 0.0
            out.append(moe_reference.moe(x, onehot, self.fc1, self.fc2, self.fc1_b, self.fc2_b,
                                         k=1, activation_type=self.activation,
                                         swiglu_fusion=self.attrs["swiglu_fusion"]))
        return np.stack(out)

    def dense_weights(self, x, pruned):
        """[T, E] routing weights (0 outside the chosen), unpruned or as the pruned block
        computes them: top k of the kept experts by the original probabilities."""
        probs = moe_reference.softmax(self.logits(x))
        score = probs.copy()
        score[:, list(pruned)] = -1.0
        chosen = np.argsort(-score, axis=-1, kind="stable")[:, :K]
        w = np.take_along_axis(probs, chosen, axis=-1)
        if self.normalize:
            w = w / w.sum(axis=-1, keepdims=True)
        dense = np.zeros_like(probs)
        np.put_along_axis(dense, chosen, w, axis=-1)
        return dense

    def margin_ok(self, x, pruned):
        probs = moe_reference.softmax(self.logits(x))
        probs[:, list(pruned)] = -1.0
        top = -np.sort(-probs, axis=-1)
        return top[:, K - 1] - top[:, K] >= common.MIN_ROUTING_MARGIN

    def draw(self, tokens, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((tokens, H)).astype(np.float32)
        for _ in range(100):
            bad = ~(self.margin_ok(x, ()) & self.margin_ok(x, RARE)) | np.any(x == 0, axis=1)
            if not bad.any():
                return x
            x[bad] = rng.standard_normal((int(bad.sum()), H)).astype(np.float32)
        raise RuntimeError("could not draw tokens away from routing ties")


VARIANTS = [Variant("mixtral_norm", 1, "swiglu", False, seed=11),
            Variant("silu_plain_bias", 0, "silu", True, seed=12)]


class PruneExperts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("prune_experts")

    def _compile_both(self, v, work):
        model = os.path.join(work, "model.onnx")
        onnx.save(v.model(), model)
        # Calibration: fresh tokens as the model's one input batch; moec routes them itself.
        calib = v.draw(CALIBRATION_TOKENS, seed=1000 + len(v.name))
        batches = os.path.join(work, "calibration")
        os.makedirs(batches, exist_ok=True)
        np.save(os.path.join(batches, "input.npy"), calib.astype(np.float32))
        chosen = np.argsort(-v.logits(calib), axis=-1, kind="stable")[:, :K]
        counts = np.bincount(chosen.ravel(), minlength=E)
        artifacts = {kind: os.path.join(work, kind + ".moe") for kind in ("unpruned", "pruned")}
        result = common.run_tool([common.Config.moec, "compile", model, "--target", "host",
                                  "-o", artifacts["unpruned"]])
        self.assertEqual(result.returncode, 0, common.describe(result))
        report = os.path.join(work, "report.json")
        result = common.run_tool([common.Config.moec, "compile", model, "--target", "host",
                                  "-o", artifacts["pruned"], "--calibration", batches,
                                  "--prune-experts", str(THRESHOLD), "--report", report])
        self.assertEqual(result.returncode, 0, common.describe(result))
        with open(report) as f:
            pruning = json.load(f)["expert_pruning"]
        return artifacts, result.stderr, counts, pruning

    def _run(self, artifact, x, work, tag):
        xin, yout = os.path.join(work, f"x_{tag}.npy"), os.path.join(work, f"y_{tag}.npy")
        np.save(xin, x)
        result = common.run_model(artifact, [("input", xin)], [("output", yout)])
        self.assertEqual(result.returncode, 0, common.describe(result))
        return np.load(yout).astype(np.float64)

    def test_variants(self):
        for v in VARIANTS:
            with self.subTest(variant=v.name):
                work = os.path.join(self.dir, v.name)
                os.makedirs(work, exist_ok=True)
                self._check(v, work)

    def _check(self, v, work):
        artifacts, remarks, counts, pruning = self._compile_both(v, work)
        # The calibration run's counts (float32 routing) are the float64 ones: draw()
        # redraws near-tied tokens. The report lists them and the pruned experts.
        self.assertEqual(len(pruning), 1, pruning)
        self.assertEqual(pruning[0]["node"], NODE)
        self.assertEqual(pruning[0]["counts"], counts.tolist())
        self.assertEqual(pruning[0]["pruned"], list(RARE))
        self.assertEqual(pruning[0]["note"], "")
        # 1. the histogram remark names the two rare experts as pruned, and only them.
        shares = counts / counts.sum()
        self.assertEqual(sorted(np.nonzero(shares < THRESHOLD)[0].tolist()), list(RARE), shares)
        self.assertRegex(remarks, rf"router '{NODE}': pruned 2 of {E} experts", remarks)
        for e in range(E):
            marked = re.search(rf"\b{e}: {counts[e]} \([0-9.]+%\)( pruned)?", remarks)
            self.assertIsNotNone(marked, remarks)
            self.assertEqual(bool(marked.group(1)), e in RARE, remarks)

        x = v.draw(TEST_TOKENS, seed=2000 + len(v.name))
        f = v.expert_outputs(x)                               # [E, T, H]
        w_ref = v.dense_weights(x, ())
        w_pruned = v.dense_weights(x, RARE)
        ref = np.einsum("te,eth->th", w_ref, f)
        ref_pruned = np.einsum("te,eth->th", w_pruned, f)
        # The float64 references agree with moe_reference's own routing.
        full = moe_reference.moe(x, v.logits(x), v.fc1, v.fc2, v.fc1_b, v.fc2_b, **v.attrs)
        self.assertLess(np.abs(full - ref).max(), 1e-9)

        # 2. and 3.
        y = self._run(artifacts["unpruned"], x, work, "unpruned")
        ok, err, scale = common.compare(y, ref)
        self.assertTrue(ok, f"unpruned artifact vs reference: {err:.3g} of scale {scale:.3g}")
        yp = self._run(artifacts["pruned"], x, work, "pruned")
        ok, err_p, scale_p = common.compare(yp, ref_pruned)
        self.assertTrue(ok, f"pruned artifact vs the pruned block's reference: {err_p:.3g} "
                            f"of scale {scale_p:.3g}")

        # 4. against the unpruned model: within the derived bound, token by token.
        bound = (np.abs(w_pruned - w_ref) * np.abs(f).max(axis=2).T).sum(axis=1)
        tol = common.REL_TOL * np.abs(ref).max()
        err_t = np.abs(yp - ref).max(axis=1)
        affected = np.isin(np.argsort(-v.logits(x), axis=-1, kind="stable")[:, :K], RARE).any(1)
        self.assertTrue(np.all(bound[~affected] == 0.0))
        over = err_t > bound + tol
        self.assertFalse(over.any(), f"tokens {np.nonzero(over)[0][:10]} exceed the bound: "
                                     f"{err_t[over][:5]} > {bound[over][:5]}")
        self.assertTrue(affected.any(), "no test token chose a rare expert: the test shows nothing")
        print(f"\n{v.name}: pruned experts {list(RARE)} (calibration shares "
              f"{', '.join(f'{shares[e]:.2%}' for e in RARE)}); {affected.mean():.2%} of "
              f"{TEST_TOKENS} test tokens chose one; max error vs the unpruned model "
              f"{err_t[affected].max() / np.abs(ref).max():.3g} of scale on those "
              f"(bound {bound[affected].max() / np.abs(ref).max():.3g}), "
              f"{err_t[~affected].max() / np.abs(ref).max():.2g} on the others", file=sys.stderr)

        # 5. the weights segment shrinks by the pruned experts' bytes. Without
        # renormalization the original router stays (for the denominator) beside the kept
        # rows and the 0/1 mask, which the saving must pay for; each weight is 64-aligned.
        def align(n):
            return -(-n // 64) * 64
        per_expert = align(v.fc1[0].nbytes) + align(v.fc2[0].nbytes)
        if v.fc1_b is not None:
            per_expert += align(v.fc1_b[0].nbytes) + align(v.fc2_b[0].nbytes)
        kept = E - len(RARE)
        added = 0 if v.normalize else align(kept * H * 4) + align(kept * 4) + align(E * 4)
        sizes = {kind: (os.path.getsize(path), weights_bytes(path))
                 for kind, path in artifacts.items()}
        saved = sizes["unpruned"][1] - sizes["pruned"][1]
        print(f"{v.name}: weights {sizes['unpruned'][1]} -> {sizes['pruned'][1]} bytes "
              f"({saved} saved; the two experts hold about {len(RARE) * per_expert}); whole "
              f"artifact {sizes['unpruned'][0]} -> {sizes['pruned'][0]} bytes (kernel code "
              f"included)", file=sys.stderr)
        self.assertGreaterEqual(saved, len(RARE) * per_expert - added)


def weights_bytes(path):
    """The weights segment's size from the artifact header (docs/artifact-format.md)."""
    with open(path, "rb") as f:
        header = f.read(64)
    return int.from_bytes(header[40:48], "little")

if __name__ == "__main__":
    unittest.main(argv=common.parse_args(sys.argv))

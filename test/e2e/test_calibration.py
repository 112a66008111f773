#!/usr/bin/env python3
"""Calibration (`moec compile --calibration DIR`): AWQ-style scales and the quality report.

Fixture: test/models/rmsnorm/decomposed_moe.onnx (RMSNorm -> router MatMul + MoE, SwiGLU
interleaved in fc1), host target, `--quantize int4 --group-size 16`. Its input gets the
structure AWQ exists for: standard normal tokens with two channels 20x larger (outliers
survive the norm, which rescales whole tokens). The calibration batches and the evaluation
inputs are drawn independently (a fresh seed each run, printed on failure).

Checks:
1. Quality on DIFFERENT inputs than the calibration ones: the relative output error
   ||y - y_float|| / ||y_float|| (64 tokens, all H outputs; y_float from onnxruntime on
   the float model) of the AWQ compile is at most the RTN compile's, measured here on the
   same inputs. AWQ's scales are chosen on the calibration rows only; on rows of the same
   distribution the expected error is lower (about 2x on fc1 in this setup), far more than
   the spread of a 64-token estimate, so the comparison is robust. Also both errors stay
   below int4's quality bound of test_quantized.py (0.4) - the fold itself is exact.
2. The JSON report's quantization section lists every quantized weight (fc1, fc2 of the
   MoE node; the router stays float) with bytes before/after and error_awq <= error_rtn
   (1 + 1e-6): alpha = 0 is RTN and is only left for a strictly better alpha, so on the
   calibration rows AWQ is never worse; the 1e-6 is float32 rounding of folded weights
   whose scale leaves a row unchanged in exact arithmetic.
3. The activation directory (--calibration-out) has the index and the routing counts
   (sum = k * tokens).
4. Bad calibration directories are one-line errors naming the file and the input: not a
   directory, a missing input, a wrong dtype, a wrong shape.
"""

import json
import os
import unittest

import numpy as np

import e2e_common as common

FIXTURE = "rmsnorm/decomposed_moe.onnx"
H = 32
OUTLIERS = (3, 17)


def tokens(rng, count):
    x = rng.standard_normal((count, H)).astype(np.float32)
    x[:, OUTLIERS] *= 20
    return x


class Calibration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("calibration")
        cls.seed = int.from_bytes(os.urandom(4), "little")
        rng = np.random.default_rng(cls.seed)
        cls.src = common.model_path(FIXTURE)
        cls.batches = os.path.join(cls.dir, "batches")
        for b, count in enumerate((48, 32)):
            os.makedirs(os.path.join(cls.batches, f"b{b}"))
            np.save(os.path.join(cls.batches, f"b{b}", "input.npy"), tokens(rng, count))
        cls.x = tokens(rng, 64)
        cls.x_path = os.path.join(cls.dir, "x.npy")
        np.save(cls.x_path, cls.x)
        cls.activations = os.path.join(cls.dir, "activations")
        cls.report = os.path.join(cls.dir, "r.json")
        quant = ["--quantize", "int4", "--group-size", "16"]
        cls.rtn = os.path.join(cls.dir, "rtn.moe")
        cls.awq = os.path.join(cls.dir, "awq.moe")
        cls.results = [
            common.compile_model(cls.src, cls.rtn, *quant),
            common.compile_model(cls.src, cls.awq, *quant, "--calibration", cls.batches,
                                 "--calibration-out", cls.activations, "--report", cls.report)]

    def setUp(self):
        for result in self.results:
            self.assertEqual(result.returncode, 0, common.describe(result))

    def error_of(self, moe_file):
        out = os.path.join(self.dir, os.path.basename(moe_file) + ".y.npy")
        result = common.run_model(moe_file, [("input", self.x_path)], [("output", out)])
        self.assertEqual(result.returncode, 0, common.describe(result))
        y = np.load(out).astype(np.float64)
        ref = common.reference_output(FIXTURE, "onnxruntime", self.x)
        return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))

    def test_awq_not_worse_on_new_inputs(self):
        rtn, awq = self.error_of(self.rtn), self.error_of(self.awq)
        msg = f"seed {self.seed}: relative error RTN {rtn:.4f}, AWQ {awq:.4f}"
        self.assertLessEqual(awq, rtn, msg)
        self.assertLess(rtn, 0.4, msg)

    def test_report(self):
        with open(self.report) as f:
            report = json.load(f)
        rows = report["quantization"]
        self.assertEqual(sorted((r["node"], r["weight"]) for r in rows),
                         [("/block/moe/MoE", "fc1"), ("/block/moe/MoE", "fc2")])
        for r in rows:
            self.assertEqual((r["format"], r["group_size"]), ("int4", 16), r)
            self.assertGreater(r["rows"], 0, r)
            # int4: half a byte per value (bytes_before / 8) plus a float32 scale per 16.
            self.assertEqual(r["bytes_after"], r["bytes_before"] // 8 + r["bytes_before"] // 16,
                             r)
            self.assertLessEqual(r["error_awq"], r["error_rtn"] * (1 + 1e-6), r)
            self.assertEqual(r["awq"], r["alpha"] > 0, r)
        # fc1 reads the normed x with its outlier channels: AWQ must find something there.
        fc1 = next(r for r in rows if r["weight"] == "fc1")
        self.assertLess(fc1["error_awq"], fc1["error_rtn"], f"seed {self.seed}: {fc1}")

    def test_activation_directory(self):
        with open(os.path.join(self.activations, "index.json")) as f:
            index = json.load(f)
        self.assertEqual((index["batches"], index["tokens"]), (2, 80))
        (router,) = index["routers"]
        self.assertEqual(sum(router["counts"]), router["k"] * 80)
        (op,) = index["ops"]
        self.assertEqual(op["key"], "/block/moe/MoE")
        self.assertEqual(sum(e["input"]["seen"] for e in op["experts"]), router["k"] * 80)

    def bad(self, directory, *expected):
        result = common.compile_model(self.src, os.path.join(self.dir, "bad.moe"), "--quantize",
                                      "int4", "--calibration", directory)
        self.assertEqual(result.returncode, 1, common.describe(result))
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("moec: error:", lines[0])
        for text in expected:
            self.assertIn(text, lines[0])

    def test_bad_directories(self):
        self.bad(self.x_path, self.x_path, "not a directory")
        empty = os.path.join(self.dir, "empty")
        os.makedirs(empty)
        self.bad(empty, os.path.join(empty, "input.npy"), "missing", "'input'")
        rng = np.random.default_rng(self.seed + 1)
        for name, array, text in (("dtype", tokens(rng, 4).astype(np.float64), "float64"),
                                  ("shape", rng.standard_normal((4, H + 1)).astype(np.float32),
                                   "must be [T, 32]")):
            d = os.path.join(self.dir, name)
            os.makedirs(d)
            np.save(os.path.join(d, "input.npy"), array)
            self.bad(d, os.path.join(d, "input.npy"), "'input'", text)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

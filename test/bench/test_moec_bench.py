#!/usr/bin/env python3
"""moec-bench end to end: the numbers it prints are consistent, and measured as it says.

  host  test/models/mixtral_moe_node.onnx compiled for the host, its shape file from
        bench/shapes/shape_info.py: every time positive, min <= p10 <= median <= p90 <= max,
        the JSON parses and its derived numbers follow from its measured ones (bytes, GB/s,
        FLOPs, roofline), and the experts it counts equal a float64 numpy replay of the
        router on the very inputs it ran (written with --dump-inputs).
  CUDA  through MOERT_LIBCUDA = test/unit/runtime's fake driver, whose events read a virtual
        clock: one kernel is 0.25 ms, copies run at 1 GB/s host<->device and 1 TB/s
        device-to-device, so the kernel time (250 us), the run time with its copies and the
        measured bandwidth (1000 GB/s) are known exactly.
  errors one stderr line naming the file, exit 2.
"""

import argparse
import json
import os
import subprocess
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "shapes"))
import shape_info  # noqa: E402

ARGS = None
RUNS = 50


def bench(*args, env=None):
    return subprocess.run([ARGS.moec_bench, *args], capture_output=True, text=True, env=env)


class HostArtifact(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(ARGS.work, exist_ok=True)
        onnx_path = os.path.join(ROOT, "test", "models", "mixtral_moe_node.onnx")
        cls.artifact = os.path.join(ARGS.work, "mixtral.moe")
        subprocess.run([ARGS.moec, "compile", onnx_path, "--target", "host", "-o",
                        cls.artifact, "-q"], check=True)
        info, router = shape_info.describe_moe_onnx(onnx_path)
        cls.shape_path = os.path.join(ARGS.work, "mixtral.shape.json")
        cls.info = shape_info.write_shape_file(info, router, cls.shape_path)
        cls.router = router.astype(np.float64)
        cls.json_path = os.path.join(ARGS.work, "mixtral.bench.json")
        cls.inputs = os.path.join(ARGS.work, "inputs")
        cls.result = bench(cls.artifact, "--shape-info", cls.shape_path, "--tokens", "1,7,64",
                           "--runs", str(RUNS), "--warmup", "2", "--buffers", "3",
                           "--peak-bytes", str(16 << 20), "--gemm-size", "128",
                           "--json", cls.json_path, "--dump-inputs", cls.inputs)

    def test_runs_and_prints_a_row_per_token_count(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        rows = [line.split() for line in self.result.stdout.splitlines()]
        self.assertEqual([r[0] for r in rows if r and r[0] in ("1", "7", "64")],
                         ["1", "7", "64"])
        self.assertIn("steady_clock", self.result.stdout)

    def test_times_are_positive_and_ordered(self):
        report = json.load(open(self.json_path))
        self.assertEqual(report["clock"], "steady_clock")
        self.assertEqual([r["tokens"] for r in report["results"]], [1, 7, 64])
        for r in report["results"]:
            with self.subTest(T=r["tokens"]):
                self.assertEqual(r["runs"], RUNS)
                self.assertGreater(r["min_us"], 0)
                self.assertLessEqual(r["min_us"], r["p10_us"])
                self.assertLessEqual(r["p10_us"], r["median_us"])
                self.assertLessEqual(r["median_us"], r["p90_us"])
                self.assertLessEqual(r["p90_us"], r["max_us"])
                # Each run's wall time contains its kernel time.
                self.assertGreaterEqual(r["wall_median_us"], r["median_us"])
                self.assertGreaterEqual(r["run_median_us"], r["median_us"])

    def test_derived_numbers_follow_from_the_measured_ones(self):
        report = json.load(open(self.json_path))
        info, weights, peak = self.info, report["weights"], report["peak"]
        self.assertGreater(peak["bandwidth_GBps"], 0)
        self.assertGreater(peak["TFLOPs"], 0)
        h, i, e, k = info["hidden"], info["inter"], info["experts"], info["top_k"]
        # The fc1/fc2 tensors are per expert, the router is read whole.
        self.assertEqual(sorted(weights["per_expert_tensors"]),
                         ["fc1_experts_weights", "fc2_experts_weights"])
        self.assertEqual(weights["per_expert_tensor_bytes"], 4 * e * 3 * h * i)
        self.assertEqual(weights["always_read_bytes"], 4 * h * e)
        for r in report["results"]:
            t = r["tokens"]
            with self.subTest(T=t):
                touched = np.mean(r["experts_touched"])
                self.assertAlmostEqual(r["experts_touched_mean"], touched)
                self.assertAlmostEqual(r["weight_bytes"], 4 * h * e + 4 * 3 * h * i * touched,
                                       delta=1e-6 * r["weight_bytes"])
                self.assertEqual(r["activation_bytes"], 2 * 4 * t * h)
                self.assertEqual(r["bytes"], r["weight_bytes"] + r["activation_bytes"])
                self.assertEqual(r["flops"], 2 * t * h * (e + k * 3 * i))
                seconds = r["median_us"] * 1e-6
                self.assertAlmostEqual(r["achieved_GBps"], r["bytes"] / seconds * 1e-9,
                                       delta=1e-6 * r["achieved_GBps"])
                t_roof = max(r["bytes"] / (peak["bandwidth_GBps"] * 1e9),
                             r["flops"] / (peak["TFLOPs"] * 1e12))
                self.assertAlmostEqual(r["t_roofline_us"], t_roof * 1e6,
                                       delta=1e-6 * t_roof * 1e6)
                self.assertAlmostEqual(r["roofline_fraction"], t_roof / seconds,
                                       delta=1e-6 * t_roof / seconds)

    def test_experts_touched_equal_a_replay_of_the_router(self):
        report = json.load(open(self.json_path))
        k = self.info["top_k"]
        for r in report["results"]:
            t = r["tokens"]
            want = []
            for b in range(3):
                x = np.load(os.path.join(self.inputs, f"input.T{t}.r{b}.npy"))
                self.assertEqual(x.shape, (t, self.info["hidden"]))
                logits = x.astype(np.float64) @ self.router
                chosen = np.argsort(-logits, axis=1, kind="stable")[:, :k]
                want.append(len(np.unique(chosen)))
            self.assertEqual(r["experts_touched"], want, f"T={t}")
            if t == 1:
                self.assertEqual(want, [k] * 3)


class FakeCudaArtifact(unittest.TestCase):
    def test_events_and_peak_copy_give_the_fake_clock_exactly(self):
        artifact = os.path.join(ARGS.work, "fake_cuda.moe")
        subprocess.run([ARGS.make_fake_artifact, artifact], check=True)
        json_path = os.path.join(ARGS.work, "fake_cuda.json")
        env = dict(os.environ, MOERT_LIBCUDA=ARGS.fake_cuda)
        result = bench(artifact, "--tokens", "1,5", "--runs", str(RUNS),
                       "--peak-bytes", str(1 << 20), "--gemm-size", "64",
                       "--cublas", "/nonexistent/libcublas.so", "--flush-bytes", "4096",
                       "--json", json_path, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.load(open(json_path))
        self.assertEqual(report["clock"], "cuda_events")
        self.assertEqual(report["device"]["name"], "Fake A100")
        self.assertEqual(report["settings"]["cache_flush_bytes"], 4096)
        # 2 x 1 MiB moved in 2 x 1 MiB / (1e9 bytes/ms): 1e12 bytes/s.
        self.assertAlmostEqual(report["peak"]["bandwidth_GBps"], 1000.0, delta=1e-3)
        self.assertIsNone(report["peak"]["TFLOPs"])
        self.assertIn("cuBLAS not found", report["peak"]["flops_method"])
        weight_bytes = 16 * 4
        for r in report["results"]:
            t = r["tokens"]
            with self.subTest(T=t):
                # One kernel: exactly 0.25 virtual ms every run.
                for key in ("min_us", "median_us", "max_us"):
                    self.assertAlmostEqual(r[key], 250.0, delta=1e-3)
                # Plus 64 T bytes in and 64 T bytes out at 1e6 bytes/ms.
                self.assertAlmostEqual(r["run_median_us"], 250.0 + 0.128 * t, delta=1e-3)
                self.assertEqual(r["bytes"], weight_bytes + 128 * t)
                self.assertIsNone(r["flops"])
                self.assertEqual(r["bound"], "memory (FLOPs unknown)")
                self.assertAlmostEqual(r["t_roofline_us"], r["bytes"] / 1e12 * 1e6, delta=1e-9)


class Errors(unittest.TestCase):
    def assert_one_line_error(self, result, text):
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("moec-bench: error: "), lines[0])
        self.assertIn(text, lines[0])

    def test_missing_model(self):
        self.assert_one_line_error(bench(os.path.join(ARGS.work, "none.moe")), "none.moe")

    def test_bad_options(self):
        self.assert_one_line_error(bench("x.moe", "--tokens", "1,a"), "--tokens")
        self.assert_one_line_error(bench("x.moe", "--runs", "0"), "--runs")
        self.assert_one_line_error(bench("x.moe", "--gemm-size", "100"), "multiple of 32")

    def test_shape_file_that_does_not_match_the_model(self):
        os.makedirs(ARGS.work, exist_ok=True)
        artifact = os.path.join(ARGS.work, "mixtral.moe")
        if not os.path.exists(artifact):
            subprocess.run([ARGS.moec, "compile", os.path.join(ROOT, "test", "models",
                            "mixtral_moe_node.onnx"), "--target", "host", "-o", artifact,
                            "-q"], check=True)
        wrong = os.path.join(ARGS.work, "wrong.shape.json")
        with open(wrong, "w") as f:
            json.dump({"hidden": 64, "inter": 48, "experts": 8, "top_k": 2}, f)
        self.assert_one_line_error(bench(artifact, "--shape-info", wrong), "wrong.shape.json")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    for flag in ("--moec", "--moec-bench", "--fake-cuda", "--make-fake-artifact", "--work"):
        parser.add_argument(flag, required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A cubin artifact on a machine without an NVIDIA driver: moec-run must refuse it with one
clear line and exit status 2 (libmoert loads libcuda with dlopen, so the same runtime still
runs host artifacts there). Skipped where a driver is present: there bench/gpu_check.sh runs
the artifact for real."""

import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as common  # noqa: E402


def driver_present():
    try:
        import ctypes
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


class CudaWithoutDriver(unittest.TestCase):
    def setUp(self):
        common.require_tools()
        if driver_present():
            self.skipTest("an NVIDIA driver is present; bench/gpu_check.sh covers this machine")
        self.work = common.work_dir("cuda_no_driver")

    def test_cubin_artifact_is_refused_with_one_line(self):
        moe = os.path.join(self.work, "node.sm_90a.moe")
        result = common.run_tool([common.Config.moec, "compile",
                                  common.model_path("mixtral_moe_node.onnx"),
                                  "--target", "sm_90a", "-o", moe])
        self.assertEqual(result.returncode, 0, common.describe(result))
        x = os.path.join(self.work, "x.npy")
        np.save(x, np.random.default_rng(3).standard_normal((4, 32)).astype(np.float32))
        result = common.run_model(moe, [("input", x)])
        self.assertEqual(result.returncode, 2, common.describe(result))
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, common.describe(result))
        self.assertIn("moec-run: error:", lines[0])
        self.assertIn("NVIDIA driver", lines[0])


if __name__ == "__main__":
    argv = common.parse_args()
    unittest.main(argv=argv)

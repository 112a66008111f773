#!/usr/bin/env python3
"""Quantized weights on the CUDA target, without a GPU (`moec compile --target sm_XX
--quantize int8|int4`): the GEMMs read the int8 / packed int4 bytes and their float32 scales
straight from global memory and dequantize in registers (moec_cuda_gemm_quant.cuh).

  --arch ARCH (sm_80, sm_89, sm_90a; one ctest each)
    every e2e fixture compiled with --quantize int8 (one scale per row), int4 --group-size 16
    and int4 per row, with --fail-on-spills: NVRTC builds the cubin, ptxas reports no spill.
    The kernel IR keeps the weights quantized (i8 expert weights whose rows are ceil(K/2)
    bytes for int4) and the generated CUDA instantiates the *_q GEMMs.
  sizes (in the sm_90a run): on an MoE layer whose weights dominate (H = 256, I = 512, four
    experts), the weights stored for int4 (per row) are <= 30% of the bf16 ones (0.5 byte a
    weight plus one 4-byte scale per 256: 26.6%), int8 <= 55% (51.6%); the same for the
    artifact files, whose cubin adds the same bytes to each.
  fp8 (needs moec-opt): E4M3 weights compile for sm_89/sm_90a and are refused for sm_80 with
    one line naming the launch's node (the fp8 host import is another change; the kernel IR
    is written by hand, as in test/lit/emit/moec-emit-cuda-quant.mlir).

The numbers these kernels compute are checked on a GPU by bench/gpu_check.sh (gpu_e2e.py:
the int8/int4 artifacts against the host artifact compiled with the same flags).
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

import onnx

import e2e_common as common

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {"int8": ["--quantize", "int8"],
           "int4-g16": ["--quantize", "int4", "--group-size", "16"],
           "int4": ["--quantize", "int4"]}
OPTIONS = {"arch": "sm_90a", "moec_opt": None}


def compile_for(src, arch, flags, out, *extra):
    return common.run_tool([common.Config.moec, "compile", src, "--target", arch, *flags,
                            "--fail-on-spills", "-q", "-o", out, *extra])


class CudaQuantizedFixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir(f"cuda_quantized_{OPTIONS['arch']}")

    def test_every_fixture_compiles_without_spills(self):
        arch = OPTIONS["arch"]
        jobs = [(rel, name) for rel in common.load_manifest() for name in CONFIGS]

        def build(job):
            rel, name = job
            out = os.path.join(self.dir, f"{rel.replace('/', '__')}.{name}.moe")
            return job, compile_for(common.model_path(rel), arch, CONFIGS[name], out)

        # Two compiles at a time: NVRTC is single-threaded and the suite runs on 2 cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(build, jobs))
        failed = [f"{rel} ({name}): {common.describe(r)}" for (rel, name), r in results
                  if r.returncode != 0]
        self.assertEqual(failed, [], f"{len(failed)} of {len(jobs)} compiles failed for {arch}")

    def test_weights_stay_quantized(self):
        # Mixtral fixture: fc1 [8, 96, 32] and fc2 [8, 32, 48]; int4 rows are 16 and 24 bytes.
        src = common.model_path("mixtral_moe_node.onnx")
        result = common.run_tool([common.Config.moec, "compile", src, "--target",
                                  OPTIONS["arch"], "--quantize", "int4", "--emit",
                                  "kernel-mlir"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        self.assertRegex(result.stdout, r'kernel.launch "moe_gemm_up"\([^)]*\).*tensor<8x96x16xi8>')
        self.assertRegex(result.stdout, r'kernel.launch "moe_gemm_down"\([^)]*\).*tensor<8x32x24xi8>')
        self.assertNotIn("dequantized", result.stdout)
        result = common.run_tool([common.Config.moec, "compile", src, "--target",
                                  OPTIONS["arch"], "--quantize", "int4", "--emit", "cuda"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        self.assertIn("moec_ck::moe_gemm_up_q<__nv_bfloat16, 2,", result.stdout)
        self.assertIn("moec_ck::moe_gemm_down_q<__nv_bfloat16, 2,", result.stdout)


class CudaQuantizedSizes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        if OPTIONS["arch"] != "sm_90a":
            raise unittest.SkipTest("sizes are checked in the sm_90a run")
        cls.dir = common.work_dir("cuda_quantized_sizes")
        sys.path.insert(0, os.path.join(common.Config.models))
        import make_models as mm  # the fixtures' own builder
        spec = mm.MoESpec(seed=4242, hidden=256, inter=512, experts=4, k=2,
                          activation="swiglu", normalize=1, swiglu_fusion=1)
        cls.src = os.path.join(cls.dir, "big_moe.onnx")
        onnx.save(mm.moe_node_model(spec, "big_moe"), cls.src)

    def stored(self, name, flags):
        out = os.path.join(self.dir, f"{name}.moe")
        report = os.path.join(self.dir, f"{name}.json")
        result = compile_for(self.src, "sm_90a", flags, out, "--report", report)
        self.assertEqual(result.returncode, 0, common.describe(result))
        import json
        with open(report) as f:
            return json.load(f)["weight_bytes_stored"], os.path.getsize(out)

    def test_quantized_artifact_is_smaller(self):
        bf16, bf16_file = self.stored("bf16", [])
        int8, int8_file = self.stored("int8", CONFIGS["int8"])
        int4, int4_file = self.stored("int4", CONFIGS["int4"])
        # Experts: 4 * (1024 * 256 + 256 * 512) weights; the router (256 x 4 f32) stays float.
        experts = 4 * (1024 * 256 + 256 * 512)
        self.assertGreaterEqual(bf16, 2 * experts)
        self.assertLessEqual(int4, 0.30 * bf16, f"int4 {int4} B vs bf16 {bf16} B")
        self.assertLessEqual(int8, 0.55 * bf16, f"int8 {int8} B vs bf16 {bf16} B")
        # The files differ by the weights (same kernels and metadata, within alignment).
        self.assertLess(abs((bf16_file - int4_file) - (bf16 - int4)), 64 * 1024,
                        f"files {bf16_file} / {int4_file} B")
        self.assertLess(int8_file, bf16_file)


# Hand-written kernel IR with fp8 E4M3 weights (moec-emit-cuda-quant.mlir's fp8 case, with a
# node name so the refusal can be seen to name it).
FP8_IR = """
module {
  func.func @main(%x: tensor<?x64xbf16>) -> tensor<?x32xbf16> {
    %q = kernel.constant dense<1.5> : tensor<32x64xf8E4M3FN> -> tensor<32x64xf8E4M3FN>
    %s = kernel.constant dense<0.01> : tensor<32x4xf32> -> tensor<32x4xf32>
    %y = kernel.launch "linear" (%x, %q, %s) {spec = {transpose_weight = true, has_bias = false, quant_group = 16 : i64, quant_bits = 8 : i64}} : (tensor<?x64xbf16>, tensor<32x64xf8E4M3FN>, tensor<32x4xf32>) -> tensor<?x32xbf16> loc("/layers.0/mlp/fp8_proj")
    return %y : tensor<?x32xbf16>
  }
}
"""


class CudaFp8(unittest.TestCase):
    def setUp(self):
        if not OPTIONS["moec_opt"]:
            self.skipTest("no --moec-opt")
        self.dir = common.work_dir("cuda_fp8")
        self.src = os.path.join(self.dir, "fp8.mlir")
        with open(self.src, "w") as f:
            f.write(FP8_IR)

    def emit(self, arch):
        return common.run_tool([OPTIONS["moec_opt"], self.src,
                                f"--moec-emit-cuda=arch={arch} fail-on-spills=true", "-o",
                                os.devnull])

    def test_fp8_weights(self):
        if OPTIONS["arch"] == "sm_80":
            result = self.emit("sm_80")
            self.assertEqual(result.returncode, 1, common.describe(result))
            lines = result.stderr.strip().splitlines()
            self.assertIn("fp8 weights need --target sm_89 or newer", lines[0])
            self.assertIn("/layers.0/mlp/fp8_proj", lines[0])
        else:
            result = self.emit(OPTIONS["arch"])
            self.assertEqual(result.returncode, 0, common.describe(result))


if __name__ == "__main__":
    argv = common.parse_args()
    for flag in ("--arch", "--moec-opt"):
        if flag in argv:
            i = argv.index(flag)
            OPTIONS[flag[2:].replace("-", "_")] = argv[i + 1]
            del argv[i:i + 2]
    if OPTIONS["moec_opt"]:
        OPTIONS["moec_opt"] = os.path.abspath(OPTIONS["moec_opt"])
    unittest.main(argv=argv)

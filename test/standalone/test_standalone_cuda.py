#!/usr/bin/env python3
"""The generated runtime for a GPU target (--arch, default sm_90a), without a GPU.

1. `moec compile --emit standalone --target ARCH` writes the project with the cubin.
2. Its CMakeLists.txt builds it here against the CUDA headers (cuda.h found: the driver
   declarations are checked against it), and the same source builds without them.
3. Through a fake driver (FakeLibcuda.cpp, over host memory, kernels not run) the
   create-time checks each give their error: no driver, a driver older than the toolkit,
   a GPU of another architecture; and a kernel that reports bad data is named.
4. With the fake driver's log, create + run of the generated library issue the same driver
   calls as libmoert (moec-run --no-cuda-graphs) on the .moe artifact of the same model:
   the same allocations, copies, kernels, grids, blocks, shared memory and argument
   pointers (allocation + offset), at token counts in both GEMM buckets and T = 0.

    test_standalone_cuda.py --moec M --moec-run R --models DIR --work-dir W --fake-libcuda F
"""

import os
import re
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standalone_common as common  # noqa: E402

FIXTURE = "mixtral_moe_node.onnx"
ARCH = "sm_90a"
MAX_TOKENS = 256
# Decode (T <= 64) and prefill (T >= 65) variants of the tensor-core GEMMs, and T = 0.
TOKENS = (1, 7, 64, 65, 200, 0)
FAKE_ENV = ("FAKE_CUDA_VERSION", "FAKE_CUDA_CC", "FAKE_CUDA_LOG", "FAKE_CUDA_FAIL_KERNEL",
            "MOEC_LIBCUDA")


class CudaProject(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = common.work_dir("cuda_" + ARCH)
        model = os.path.join(common.Config.models, FIXTURE)
        cls.project = os.path.join(cls.work, "project")
        cls.name = common.generate(model, cls.project, target=ARCH)
        cls.artifact = os.path.join(cls.work, "model.moe")
        common.compile_artifact(model, cls.artifact, target=ARCH)
        build = os.path.join(cls.work, "build")
        configure = ["cmake", "-S", cls.project, "-B", build]
        if common.run(["ninja", "--version"]).returncode == 0:
            configure += ["-G", "Ninja"]
        common.check_run(configure)
        common.check_run(["cmake", "--build", build, "-j", "2"])
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            cls.cache = f.read()
        cls.library = os.path.join(build, f"lib{cls.name}.so")
        cls.lib = common.Library(cls.library, cls.name)
        cls.weights = os.path.join(cls.project, "weights.bin")
        cls.saved_env = {k: os.environ.get(k) for k in FAKE_ENV}

    def setUp(self):
        for key in FAKE_ENV:
            os.environ.pop(key, None)

    @classmethod
    def tearDownClass(cls):
        for key, value in cls.saved_env.items():
            if value is not None:
                os.environ[key] = value

    def create(self, max_tokens=MAX_TOKENS, libcuda=None):
        return self.lib.create(self.weights, max_tokens, libcuda or common.Config.fake_libcuda)

    def test_built_against_cuda_h_and_without(self):
        self.assertTrue(os.path.exists(self.library))
        self.assertRegex(self.cache, r"_CUDA_INCLUDE_DIR:PATH=/.*include",
                         "cuda.h was not found: the declarations were not checked")
        self.assertEqual(self.lib.fn("target")().decode(), ARCH)
        # Without the toolkit's headers: the built-in declarations.
        cxx = os.environ.get("CXX", "c++")
        cubin = os.path.join(self.project, "kernels.cubin")
        common.check_run([cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC",
                          "-shared", f'-D{self.name.upper()}_CUBIN_FILE="{cubin}"',
                          os.path.join(self.project, f"{self.name}.cpp"),
                          "-o", os.path.join(self.work, "without_cuda_h.so")])

    def test_no_driver(self):
        missing = os.path.join(self.work, "no-libcuda.so.1")
        status, model = self.create(libcuda=missing)
        self.assertEqual(status, common.FAILED_PRECONDITION)
        self.assertIsNone(model)
        self.assertIn(f"{missing} not found: no NVIDIA driver", self.lib.error())
        # The environment variable is the fallback when the option is unset.
        os.environ["MOEC_LIBCUDA"] = missing
        status, _ = self.lib.create(self.weights, MAX_TOKENS, None)
        self.assertEqual(status, common.FAILED_PRECONDITION)
        self.assertIn(missing, self.lib.error())

    def test_old_driver(self):
        os.environ["FAKE_CUDA_VERSION"] = "12080"
        status, _ = self.create()
        self.assertEqual(status, common.FAILED_PRECONDITION, self.lib.error())
        self.assertRegex(self.lib.error(),
                         r"supports CUDA 12\.8; these kernels were compiled with CUDA \d+\.0")

    def test_wrong_architecture(self):
        os.environ["FAKE_CUDA_CC"] = "80"
        status, _ = self.create()
        self.assertEqual(status, common.FAILED_PRECONDITION, self.lib.error())
        self.assertIn(f"compiled for {ARCH}, this GPU is sm_80", self.lib.error())
        self.assertIn("regenerate with --target sm_80", self.lib.error())

    def test_corrupt_weights_before_the_driver(self):
        with open(self.weights, "rb") as f:
            data = bytearray(f.read())
        data[0] ^= 1
        path = os.path.join(self.work, "corrupt.bin")
        with open(path, "wb") as f:
            f.write(data)
        status, _ = self.lib.create(path, MAX_TOKENS, os.path.join(self.work, "no-driver"))
        self.assertEqual(status, common.DATA_LOSS)
        self.assertIn("checksum", self.lib.error())

    def test_kernel_error_names_the_step(self):
        status, model = self.create()
        self.assertEqual(status, common.OK, self.lib.error())
        try:
            with open(os.path.join(self.project, f"{self.name}.cpp")) as f:
                table = re.search(r"kKernelSymbols\[\] = \{(.*)\};", f.read()).group(1)
            symbols = re.findall(r'"(\w+)"', table)
            self.assertGreater(len(symbols), 3)
            os.environ["FAKE_CUDA_FAIL_KERNEL"] = f"{symbols[3]}:5"
            sig_in = self.lib.signature("input")
            inputs = common.random_inputs(sig_in, 4, np.random.default_rng(1))
            status, _ = self.lib.run(model, inputs, 4)
            self.assertEqual(status, common.INTERNAL)
            self.assertRegex(self.lib.error(), rf"step \d+ \(kernel '{symbols[3]}'\) reported "
                                               r"error 5 \(T=4\)")
            del os.environ["FAKE_CUDA_FAIL_KERNEL"]
            status, _ = self.lib.run(model, inputs, 4)
            self.assertEqual(status, common.OK, self.lib.error())
        finally:
            self.lib.destroy(model)

    def test_same_driver_calls_as_libmoert(self):
        sig_in, sig_out = self.lib.signature("input"), self.lib.signature("output")
        rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
        for tokens in TOKENS:
            with self.subTest(T=tokens):
                inputs = common.random_inputs(sig_in, tokens, rng)
                ours = os.path.join(self.work, f"standalone_{tokens}.log")
                theirs = os.path.join(self.work, f"libmoert_{tokens}.log")
                for path in (ours, theirs):
                    if os.path.exists(path):
                        os.remove(path)
                os.environ["FAKE_CUDA_LOG"] = ours
                status, model = self.create()
                self.assertEqual(status, common.OK, self.lib.error())
                status, _ = self.lib.run(model, inputs, tokens)
                self.assertEqual(status, common.OK, self.lib.error())
                self.lib.destroy(model)
                env = dict(os.environ, FAKE_CUDA_LOG=theirs,
                           MOERT_LIBCUDA=common.Config.fake_libcuda)
                common.moec_run_outputs(self.artifact, sig_in, sig_out, inputs, self.work,
                                        extra=["--no-cuda-graphs", "--max-tokens",
                                               str(MAX_TOKENS)], env=env)
                with open(ours) as f:
                    got = f.read().splitlines()
                with open(theirs) as f:
                    want = f.read().splitlines()
                launches = [l for l in want if l.startswith("launch ")]
                if tokens:
                    self.assertGreater(len(launches), 3, want)
                self.assertEqual(got, want)


if __name__ == "__main__":
    argv = common.parse_args()
    for arg in list(argv[1:]):
        if arg.startswith("--arch="):
            ARCH = arg.split("=", 1)[1]
            argv.remove(arg)
    if not common.Config.fake_libcuda:
        sys.exit("test_standalone_cuda.py: --fake-libcuda PATH is required")
    unittest.main(argv=argv, verbosity=2)

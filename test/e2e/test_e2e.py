#!/usr/bin/env python3
"""End to end: every fixture in test/models/manifest.json is compiled with
`moec compile --target host`, run with `moec-run` on fresh random inputs for several token
counts, and compared with its reference (onnxruntime, or moe_reference.py where
onnxruntime's CPU provider lacks the configuration).

Pass criterion (e2e_common.REL_TOL): max|out - ref| <= 1e-4 * max|ref|, in float32.
Inputs: numpy default_rng seeded per (fixture, T), values ~N(0, 1), never zero, and no token
whose k-th/(k+1)-th routing probabilities lie within 1e-4 (a float32 tie could legitimately
pick the other expert there).

    python3 test/e2e/test_e2e.py --moec build/tools/moec/moec \
        --moec-run build/tools/moec-run/moec-run [--work-dir DIR] [unittest args]
"""

import os
import re
import unittest
import zlib

import numpy as np
import onnx

import e2e_common as common

TOKEN_COUNTS = (1, 7, 64)
MAIN_FIXTURE = "mixtral_moe_node.onnx"


def _seed(*parts):
    """A seed that depends only on the test's identity (stable across runs and machines)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


class FixtureChecks:
    """Mixed into one TestCase per fixture: compiled once per class, run for every T."""

    rel = None
    entry = None

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir(re.sub(r"\W", "_", cls.rel))
        cls.model = onnx.load(common.model_path(cls.rel))
        cls.artifact = os.path.join(cls.dir, "model.moe")
        cls.compiled = common.compile_model(common.model_path(cls.rel), cls.artifact)

    def setUp(self):
        self.assertEqual(self.compiled.returncode, 0,
                         f"moec compile {self.rel} failed:\n{common.describe(self.compiled)}")

    def run_tokens(self, tokens):
        """Runs the artifact on fresh inputs; returns (moec-run result, output, reference)."""
        x = common.make_inputs(self.model, tokens, _seed(self.rel, tokens))
        in_path = os.path.join(self.dir, f"input_T{tokens}.npy")
        out_path = os.path.join(self.dir, f"output_T{tokens}.npy")
        np.save(in_path, x)
        if os.path.exists(out_path):
            os.remove(out_path)
        result = common.run_model(self.artifact, [("input", in_path)], [("output", out_path)])
        out = np.load(out_path) if result.returncode == 0 else None
        ref = common.reference_output(self.rel, self.entry["reference"], x)
        return result, out, ref

    def check_tokens(self, tokens):
        result, out, ref = self.run_tokens(tokens)
        self.assertEqual(result.returncode, 0, f"moec-run T={tokens}:\n{common.describe(result)}")
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(out.shape, ref.shape)
        ok, max_abs, scale = common.compare(out, ref)
        self.assertTrue(ok, f"{self.rel} T={tokens}: max|out-ref| = {max_abs:.3g} > "
                            f"{common.REL_TOL} * max|ref| = {common.REL_TOL * scale:.3g} "
                            f"(reference: {self.entry['reference']})")

    def test_compile_writes_an_artifact(self):
        self.assertGreater(os.path.getsize(self.artifact), 64)
        with open(self.artifact, "rb") as f:
            self.assertEqual(f.read(8), b"MOECART\0")

    def test_tokens_1(self):
        self.check_tokens(1)

    def test_tokens_7(self):
        self.check_tokens(7)

    def test_tokens_64(self):
        self.check_tokens(64)

    def test_tokens_0(self):
        """T=0 is legal ONNX; where moec-run refuses it, it must do so cleanly."""
        result, out, ref = self.run_tokens(0)
        self.assertGreaterEqual(result.returncode, 0, "moec-run killed by a signal on T=0")
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, common.describe(result))
            self.skipTest(f"moec-run does not accept T=0: {lines[0]}")
        self.assertEqual(out.shape, ref.shape)


def _fixture_classes():
    classes = {}
    for rel, entry in sorted(common.load_manifest().items()):
        name = "Test_" + re.sub(r"\W", "_", rel[:-len(".onnx")])
        classes[name] = type(name, (FixtureChecks, unittest.TestCase), {"rel": rel, "entry": entry})
    return classes


globals().update(_fixture_classes())


class ToolOptions(unittest.TestCase):
    """The compiler's and runner's options other than the plain compile-and-run path."""

    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("options")
        cls.src = common.model_path(MAIN_FIXTURE)
        cls.model = onnx.load(cls.src)

    def _inputs(self, tokens, tag):
        x = common.make_inputs(self.model, tokens, _seed("options", tag, tokens))
        path = os.path.join(self.dir, f"{tag}_input_T{tokens}.npy")
        np.save(path, x)
        ref = common.reference_output(MAIN_FIXTURE, "onnxruntime", x)
        return path, ref

    def _compile(self, tag, *extra):
        out = os.path.join(self.dir, f"{tag}.moe")
        result = common.compile_model(self.src, out, *extra)
        self.assertEqual(result.returncode, 0, common.describe(result))
        return out, result

    def test_print_pipeline_lists_the_passes(self):
        _, result = self._compile("pipeline", "--print-pipeline")
        printed = result.stdout + result.stderr
        passes = set(re.findall(r"moec-[a-z0-9-]+", printed))
        self.assertGreaterEqual(len(passes), 2, f"no pass list in:\n{printed}")

    def test_emit_each_stage(self):
        # What each stage's text must contain: its dialect's ops, or the kernel ABI.
        stages = {"onnx-mlir": "onnx.", "moe-mlir": "moe.", "kernel-mlir": "kernel.",
                  "host-cpp": 'extern "C"'}
        for stage, marker in stages.items():
            with self.subTest(emit=stage):
                out = os.path.join(self.dir, f"emit_{stage}.txt")
                result = common.compile_model(self.src, out, "--emit", stage)
                self.assertEqual(result.returncode, 0, common.describe(result))
                text = result.stdout
                if os.path.exists(out):
                    with open(out, errors="replace") as f:
                        text += f.read()
                self.assertIn(marker, text, f"--emit {stage} output lacks '{marker}'")

    def test_check_flag_passes_and_fails(self):
        artifact, _ = self._compile("check")
        x_path, ref = self._inputs(16, "check")
        scale = float(np.abs(ref).max())
        good = os.path.join(self.dir, "ref_good.npy")
        np.save(good, ref.astype(np.float32))
        tol = ["--rtol", "1e-4", "--atol", f"{common.REL_TOL * scale:.6g}"]
        result = common.run_model(artifact, [("input", x_path)], checks=[("output", good)],
                                  extra=tol)
        self.assertEqual(result.returncode, 0, common.describe(result))
        self.assertRegex(result.stdout, r"check output: max_abs_err=\S+ max_rel_err=\S+ .*PASS")
        self.assertRegex(result.stdout, r"T=16, 1 output\(s\) checked, all PASS")

        bad = os.path.join(self.dir, "ref_bad.npy")
        wrong = ref.copy()
        wrong[3, 5] += 0.01 * scale  # one element, 100x the tolerance
        np.save(bad, wrong.astype(np.float32))
        result = common.run_model(artifact, [("input", x_path)], checks=[("output", bad)],
                                  extra=tol)
        self.assertEqual(result.returncode, 1, common.describe(result))
        self.assertRegex(result.stdout + result.stderr, r"check output: .*FAIL")

    def test_repeated_runs_are_bitwise_identical(self):
        artifact, _ = self._compile("repeat")
        x_path, _ = self._inputs(7, "repeat")
        outs = []
        for i in range(2):
            path = os.path.join(self.dir, f"repeat_{i}.npy")
            result = common.run_model(artifact, [("input", x_path)], [("output", path)])
            self.assertEqual(result.returncode, 0, common.describe(result))
            outs.append(np.load(path))
        np.testing.assert_array_equal(outs[0], outs[1])

    def test_host_cpu_levels(self):
        """--host-cpu: the artifact records the x86-64 level (libmoert checks it against the CPU
        when a session is created), every level computes the same bits (the host compile keeps
        a*b+c unfused), and a bad value or a GPU target is refused in one line."""
        x_path, ref = self._inputs(16, "hostcpu")
        outs = {}
        for level, recorded in (("generic", None), ("x86-64-v2", b"x86-64-v2"),
                                ("x86-64-v3", b"x86-64-v3"), (None, "any"), ("native", "any")):
            with self.subTest(level=level or "default"):
                tag = f"hostcpu_{level or 'default'}"
                artifact, _ = self._compile(tag, *(["--host-cpu", level] if level else []))
                with open(artifact, "rb") as f:
                    found = re.findall(rb"x86-64-v[234]", f.read())
                if recorded is None:
                    self.assertEqual(found, [])
                elif recorded != "any":
                    self.assertEqual(found, [recorded])
                out = os.path.join(self.dir, f"{tag}_out.npy")
                result = common.run_model(artifact, [("input", x_path)], [("output", out)])
                if result.returncode != 0 and "this CPU lacks" in result.stderr:
                    continue  # an older CPU than the level: refused cleanly, not run
                self.assertEqual(result.returncode, 0, common.describe(result))
                outs[tag] = np.load(out)
                ok, max_abs, scale = common.compare(outs[tag], ref)
                self.assertTrue(ok, f"max_abs_err {max_abs:.3g}, scale {scale:.3g}")
        for tag, out in outs.items():
            np.testing.assert_array_equal(out, outs["hostcpu_generic"], err_msg=tag)
        for extra, message in ((["--host-cpu", "haswell"], "--host-cpu must be generic"),
                               (["--target", "sm_80", "--host-cpu", "generic"],
                                "--host-cpu applies to --target host only")):
            result = common.compile_model(self.src, os.path.join(self.dir, "hostcpu_bad.moe"),
                                          *extra)
            self.assertEqual(result.returncode, 1, common.describe(result))
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, common.describe(result))
            self.assertIn(message, result.stderr)

    def test_bind_dim_removes_a_second_symbolic_dim(self):
        """(batch, tokens, 8) is refused as is; binding batch=1 leaves tokens symbolic."""
        src = common.model_path("invalid/two_symbolic_dims.onnx")
        artifact = os.path.join(self.dir, "bind_batch.moe")
        result = common.compile_model(src, artifact, "--bind-dim", "batch=1")
        self.assertEqual(result.returncode, 0, common.describe(result))
        for tokens in (1, 5):
            x = np.random.default_rng(_seed("bind-batch", tokens)) \
                .standard_normal((1, tokens, 8)).astype(np.float32)
            x_path = os.path.join(self.dir, f"bind_batch_in_{tokens}.npy")
            out = os.path.join(self.dir, f"bind_batch_out_{tokens}.npy")
            np.save(x_path, x)
            result = common.run_model(artifact, [("input", x_path)], [("output", out)])
            self.assertEqual(result.returncode, 0, common.describe(result))
            np.testing.assert_array_equal(np.load(out), np.maximum(x, 0))

    def test_bind_dim_specialises_tokens(self):
        """Binding the token count itself gives a static artifact (or a clean refusal)."""
        out_file = os.path.join(self.dir, "bind7.moe")
        result = common.compile_model(self.src, out_file, "--bind-dim", "tokens=7")
        if result.returncode != 0:
            self.assertEqual(result.returncode, 1, common.describe(result))
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, common.describe(result))
            self.skipTest(f"moec refuses to bind the token count: {result.stderr.strip()}")
        artifact = out_file
        x_path, ref = self._inputs(7, "bind")
        out = os.path.join(self.dir, "bind7_out.npy")
        result = common.run_model(artifact, [("input", x_path)], [("output", out)])
        self.assertEqual(result.returncode, 0, common.describe(result))
        ok, max_abs, scale = common.compare(np.load(out), ref)
        self.assertTrue(ok, f"max_abs_err {max_abs:.3g}, scale {scale:.3g}")

        other_path, _ = self._inputs(8, "bind")
        result = common.run_model(artifact, [("input", other_path)], [("output", out)])
        self.assertEqual(result.returncode, 2, common.describe(result))
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, common.describe(result))
        self.assertIn("input", result.stderr)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

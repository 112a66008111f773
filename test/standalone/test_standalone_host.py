#!/usr/bin/env python3
"""The generated host runtime against libmoert, bit for bit.

For one fixture (--fixture, relative to test/models): `moec compile --emit standalone`, build
the project with the system compiler, and `moec compile` the .moe artifact of the same model;
then on fresh random inputs at T = 1, 7, 64 and 0 the library's outputs must have exactly the
bytes moec-run writes. Both run the same generated kernels compiled with the same flags, so
any difference is a bug in the generated step list (an argument, an arena offset, the order).

With --errors (one fixture suffices) also: the embedded-weights build, every create-time and
run-time error of the C API, and moec's command-line checks for --emit standalone.

    test_standalone_host.py --moec M --moec-run R --models DIR --work-dir W --fixture F [--errors]
"""

import functools
import os
import shutil
import sys
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standalone_common as common  # noqa: E402

FIXTURE = None
TOKENS = (1, 7, 64, 0)
MAX_TOKENS = 64


@functools.lru_cache(maxsize=None)
def project():
    """(work dir, project dir, name, library, artifact) for FIXTURE, built once."""
    stem = FIXTURE.replace("/", "_").replace(".onnx", "")
    work = common.work_dir(stem)
    model = os.path.join(common.Config.models, FIXTURE)
    project_dir = os.path.join(work, "project")
    start = time.perf_counter()
    name = common.generate(model, project_dir)
    artifact = os.path.join(work, "model.moe")
    common.compile_artifact(model, artifact)
    library = common.build_host_library(project_dir, name)
    print(f"[{FIXTURE}: generated, compiled and built in {time.perf_counter() - start:.1f} s]",
          file=sys.stderr)
    return work, project_dir, name, library, artifact


def seed():
    value = int.from_bytes(os.urandom(4), "little")
    print(f"[seed {value}]", file=sys.stderr)
    return value


class BitForBit(unittest.TestCase):
    def test_outputs_equal_libmoert(self):
        work, project_dir, name, library, artifact = project()
        lib = common.Library(library, name)
        self.assertEqual(lib.fn("target")().decode(), "host")
        sig_in, sig_out = lib.signature("input"), lib.signature("output")
        status, model = lib.create(os.path.join(project_dir, "weights.bin"), MAX_TOKENS)
        self.assertEqual(status, common.OK, lib.error())
        rng = np.random.default_rng(seed())
        try:
            for tokens in TOKENS:
                with self.subTest(T=tokens):
                    inputs = common.random_inputs(sig_in, tokens, rng)
                    status, outputs = lib.run(model, inputs, tokens)
                    self.assertEqual(status, common.OK, lib.error())
                    reference = common.moec_run_outputs(artifact, sig_in, sig_out, inputs, work)
                    for (out_name, _, _), got, want in zip(sig_out, outputs, reference):
                        self.assertTrue(
                            common.same_bits(got, want),
                            f"output '{out_name}' at T={tokens}: max |diff| "
                            f"{np.max(np.abs(got.astype(np.float64) - want)) if got.size else 0}")
                        if tokens:
                            self.assertGreater(np.count_nonzero(got), 0, "all-zero output")
        finally:
            lib.destroy(model)


class EmbeddedWeights(unittest.TestCase):
    def test_embedded_library_needs_no_file(self):
        work, project_dir, name, _, artifact = project()
        library = common.build_host_library(project_dir, name, embed=True,
                                            objects=os.path.join(project_dir, "kernels.o"))
        # Moved away: an embedded library must not read the file.
        moved = os.path.join(work, "weights.moved")
        shutil.move(os.path.join(project_dir, "weights.bin"), moved)
        try:
            lib = common.Library(library, name)
            self.assertEqual(lib.fn("has_embedded_weights")(), 1)
            status, model = lib.create(None, MAX_TOKENS)
            self.assertEqual(status, common.OK, lib.error())
            sig_in, sig_out = lib.signature("input"), lib.signature("output")
            inputs = common.random_inputs(sig_in, 7, np.random.default_rng(seed()))
            status, outputs = lib.run(model, inputs, 7)
            lib.destroy(model)
            self.assertEqual(status, common.OK, lib.error())
            reference = common.moec_run_outputs(artifact, sig_in, sig_out, inputs, work)
            for got, want in zip(outputs, reference):
                self.assertTrue(common.same_bits(got, want))
        finally:
            shutil.move(moved, os.path.join(project_dir, "weights.bin"))


class Errors(unittest.TestCase):
    """Each failure is a status with a one-line message naming what is wrong; a model stays
    usable after a failed run."""

    def setUp(self):
        self.work, self.project_dir, self.name, library, self.artifact = project()
        self.lib = common.Library(library, self.name)
        self.weights = os.path.join(self.project_dir, "weights.bin")
        with open(self.weights, "rb") as f:
            self.weight_bytes = f.read()

    def create_fails(self, path, status, *fragments, max_tokens=MAX_TOKENS):
        got, model = self.lib.create(path, max_tokens)
        self.assertEqual(got, status, self.lib.error())
        self.assertIsNone(model)
        message = self.lib.error()
        self.assertTrue(message.startswith(self.name + ": "), message)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def write(self, filename, data):
        path = os.path.join(self.work, filename)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_missing_weights_file(self):
        path = os.path.join(self.work, "no-such-weights.bin")
        self.create_fails(path, common.NOT_FOUND, path, "No such file")

    def test_truncated_weights_file(self):
        path = self.write("truncated.bin", self.weight_bytes[:-64])
        self.create_fails(path, common.DATA_LOSS, path, f"{len(self.weight_bytes) - 64} bytes",
                          f"generated for {len(self.weight_bytes)}")

    def test_corrupt_weights_file(self):
        # Same size, one bit flipped in the middle: only the checksum can tell.
        data = bytearray(self.weight_bytes)
        data[len(data) // 2] ^= 0x10
        path = self.write("corrupt.bin", bytes(data))
        self.create_fails(path, common.DATA_LOSS, path, "checksum", "another compile")

    def test_weights_of_another_model(self):
        other = os.path.join(self.work, "other")
        common.generate(os.path.join(common.Config.models, "moe_node_variants/relu_k1.onnx"),
                        other)
        path = os.path.join(other, "weights.bin")
        self.create_fails(path, common.DATA_LOSS, path)

    def test_no_weights_without_embedding(self):
        self.create_fails(None, common.INVALID_ARGUMENT, "weights_path is NULL",
                          f"-D{self.name.upper()}_EMBED_WEIGHTS=ON")

    def test_negative_max_tokens(self):
        self.create_fails(self.weights, common.INVALID_ARGUMENT, "max_tokens is -1",
                          max_tokens=-1)

    def test_huge_max_tokens(self):
        self.create_fails(self.weights, common.RESOURCE_EXHAUSTED, "overflows",
                          max_tokens=2**62)

    def test_run_errors_then_a_good_run(self):
        status, model = self.lib.create(self.weights, 8)
        self.assertEqual(status, common.OK, self.lib.error())
        sig_in, sig_out = self.lib.signature("input"), self.lib.signature("output")
        rng = np.random.default_rng(seed())
        try:
            inputs = common.random_inputs(sig_in, 9, rng)
            status, _ = self.lib.run(model, inputs, 9)
            self.assertEqual(status, common.FAILED_PRECONDITION)
            self.assertIn("T=9 exceeds max_tokens (8)", self.lib.error())
            status, _ = self.lib.run(model, inputs, -1)
            self.assertEqual(status, common.INVALID_ARGUMENT)
            self.assertIn("token count is -1", self.lib.error())
            status, _ = self.lib.run(model, inputs, 3, null_inputs=(0,))
            self.assertEqual(status, common.INVALID_ARGUMENT)
            self.assertIn(f"input 0 '{sig_in[0][0]}' is NULL", self.lib.error())
            self.assertEqual(self.lib.fn("run")(None, None, None, 1), common.INVALID_ARGUMENT)
            # T = 0: NULL buffers of 0 bytes are fine.
            status, _ = self.lib.run(model, common.random_inputs(sig_in, 0, rng), 0,
                                     null_inputs=(0,))
            self.assertEqual(status, common.OK, self.lib.error())
            inputs = common.random_inputs(sig_in, 5, rng)
            status, outputs = self.lib.run(model, inputs, 5)
            self.assertEqual(status, common.OK, self.lib.error())
            reference = common.moec_run_outputs(self.artifact, sig_in, sig_out, inputs, self.work)
            self.assertTrue(common.same_bits(outputs[0], reference[0]))
        finally:
            self.lib.destroy(model)
        self.lib.destroy(None)  # a no-op
        self.assertEqual(self.lib.fn("status_name")(3).decode(), "DATA_LOSS")
        self.assertEqual(self.lib.fn("status_name")(99).decode(), "UNKNOWN")


class CommandLine(unittest.TestCase):
    """moec's checks of the standalone options, before any work."""

    def moec_fails(self, args, fragment):
        result = common.run([common.Config.moec, "compile",
                             os.path.join(common.Config.models, FIXTURE), *args])
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(fragment, result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_option_errors(self):
        self.moec_fails(["--emit", "standalone"], "-o <directory> is required")
        self.moec_fails(["--embed-weights", "-o", "x.moe"], "--embed-weights needs --emit standalone")
        self.moec_fails(["--emit", "standalone", "-o", "d", "--standalone-name", "9lives"],
                        "must be a C identifier")

    def test_name_option_and_embed_default(self):
        out = common.work_dir("named")
        name = common.generate(os.path.join(common.Config.models, FIXTURE), out,
                               extra=["--standalone-name", "my_model", "--embed-weights"])
        self.assertEqual(name, "my_model")
        with open(os.path.join(out, "CMakeLists.txt")) as f:
            self.assertIn('option(MY_MODEL_EMBED_WEIGHTS "Compile weights.bin into the library" '
                          'ON)', f.read())


def main():
    global FIXTURE
    argv = common.parse_args()
    rest = [a for a in argv[1:] if not a.startswith("--fixture=") and a != "--errors"]
    fixture = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("--fixture=")]
    if not fixture:
        sys.exit("test_standalone_host.py: --fixture=REL is required")
    FIXTURE = fixture[0]
    classes = ["BitForBit"]
    if "--errors" in argv:
        classes += ["EmbeddedWeights", "Errors", "CommandLine"]
    unittest.main(argv=argv[:1] + (rest or classes), verbosity=2)


if __name__ == "__main__":
    main()

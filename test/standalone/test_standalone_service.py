#!/usr/bin/env python3
"""The example service (examples/standalone_service) around a generated host runtime.

Generates the Mixtral fixture's project, builds the service with its CMakeLists.txt (which
adds the generated CMakeLists.txt as a subdirectory, so this also builds the generated project
the way a user does), feeds it good and bad requests on stdin, and checks that every request
gets one response line in order: good ones with outputs equal bit for bit to moec-run's on the
.moe artifact of the same model (the JSON floats carry 9 significant digits, which read back to
the exact float32), bad ones an error line naming the problem, after which the service carries
on.

    test_standalone_service.py --moec M --moec-run R --models DIR --work-dir W --service-src S
"""

import json
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standalone_common as common  # noqa: E402

FIXTURE = "mixtral_moe_node.onnx"
MAX_TOKENS = 16


class Service(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = common.work_dir("service")
        model = os.path.join(common.Config.models, FIXTURE)
        cls.project = os.path.join(cls.work, "project")
        cls.name = common.generate(model, cls.project)
        cls.artifact = os.path.join(cls.work, "model.moe")
        common.compile_artifact(model, cls.artifact)
        build = os.path.join(cls.work, "build")
        configure = ["cmake", "-S", common.Config.service_src, "-B", build,
                     f"-DMODEL_DIR={cls.project}"]
        if common.run(["ninja", "--version"]).returncode == 0:
            configure += ["-G", "Ninja"]
        common.check_run(configure)
        common.check_run(["cmake", "--build", build, "-j", "2"])
        cls.service = os.path.join(build, "moec_service")
        cls.weights = os.path.join(cls.project, "weights.bin")

    def serve(self, lines, *args):
        return common.run([self.service, *args], input="".join(l + "\n" for l in lines))

    def test_good_and_bad_requests(self):
        rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
        x3 = rng.standard_normal((3, 32)).astype(np.float32)
        x1 = rng.standard_normal((1, 32)).astype(np.float32)
        requests = [
            (json.dumps({"id": 1, "inputs": {"input": x3.tolist()}}), None),
            ('{"id": 2, "inputs": {"input": [[1.0, 2.0]', "malformed JSON at byte"),
            (json.dumps({"id": 3, "inputs": {"hidden": x1.tolist()}}), 'unknown input \\"hidden\\"'),
            (json.dumps({"id": 4, "inputs": {"input": x1[:, :31].tolist()}}),
             "dimension 1 has 31 entries, expected (T, 32) float32"),
            (json.dumps({"id": 5, "inputs": {"input": [[1.0] * 32, [1.0] * 31]}}),
             "not rectangular"),
            (json.dumps({"id": 6, "inputs": {"input": [["x"] * 32]}}), 'is \\"x\\", not a number'),
            (json.dumps({"id": 7, "inputs": {"input": [[0.5] * 32] * (MAX_TOKENS + 1)}}),
             f"{MAX_TOKENS + 1} tokens exceed --max-tokens {MAX_TOKENS}"),
            (json.dumps({"id": 8, "inputs": {}}), 'missing input \\"input\\"'),
            ("[1, 2]", "a request is a JSON object"),
            (json.dumps({"id": 9, "inputs": {"input": x1.tolist()}, "stream": True}),
             'unknown field \\"stream\\"'),
            ("", None),  # blank: no response
            (json.dumps({"id": 10, "inputs": {"input": []}}), None),
            (json.dumps({"id": "last", "inputs": {"input": x1.tolist()}}), None),
        ]
        result = self.serve([r for r, _ in requests], "--weights", self.weights,
                            "--max-tokens", str(MAX_TOKENS))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("ready", result.stderr)
        responses = result.stdout.splitlines()
        expected = [(r, e) for r, e in requests if r]
        self.assertEqual(len(responses), len(expected), result.stdout)
        ids = [1, None, 3, 4, 5, 6, 7, 8, None, 9, 10, "last"]
        for (request, error), line, want_id in zip(expected, responses, ids):
            with self.subTest(request=request[:60]):
                response = json.loads(line)
                self.assertEqual(response["id"], want_id)
                if error:
                    self.assertIn(error, line)
                    self.assertEqual(set(response), {"id", "error"})
                else:
                    self.assertEqual(set(response), {"id", "tokens", "outputs"}, line)

        sig_in = [("input", np.float32, [-1, 32])]
        sig_out = [("output", np.float32, [-1, 32])]
        for line, x in ((responses[0], x3), (responses[11], x1)):
            response = json.loads(line)
            self.assertEqual(response["tokens"], x.shape[0])
            got = np.array(response["outputs"]["output"], dtype=np.float64).astype(np.float32)
            want = common.moec_run_outputs(self.artifact, sig_in, sig_out, [x], self.work)[0]
            self.assertTrue(common.same_bits(got, want),
                            f"max |diff| {np.max(np.abs(got - want))}")
        self.assertEqual(json.loads(responses[10]), {"id": 10, "tokens": 0,
                                                     "outputs": {"output": []}})

    def test_start_up_errors(self):
        result = self.serve([], "--weights", os.path.join(self.work, "missing.bin"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("NOT_FOUND", result.stderr)
        self.assertIn("missing.bin: cannot open the weights file", result.stderr)
        result = self.serve([], "--embedded")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no embedded weights", result.stderr)
        result = self.serve([], "--max-tokens", "-3")
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage", result.stderr)


if __name__ == "__main__":
    argv = common.parse_args()
    if not common.Config.service_src:
        sys.exit("test_standalone_service.py: --service-src DIR is required")
    unittest.main(argv=argv, verbosity=2)

#!/usr/bin/env python3
"""moec on the transformers/torch.onnx fixtures of test/models/hf (issue 4).

Each MoE block export (Mixtral, OLMoE, Qwen2-MoE, DeepSeek-V3; the eager per-expert loop and
the batched_mm form; the torchscript and dynamo exporters; and the transformers 4.x blocks of
test/models/hf4, whose experts have their own nn.Linear weights) must compile for the host, raise
to exactly one moe.experts (no per-expert loop, no gathered weights left), and reproduce the
PyTorch output saved beside it (make_hf_models.py wrote both; test_hf_fixtures.py checks that
onnxruntime agrees with it) within the e2e criterion max|out - ref| <= 1e-4 * max|ref|: moec
computes in float32 with other summation orders than PyTorch, a few ulps of scale.

The whole-decoder exports (logits_*, kv_*) do not compile yet (docs/hf-fixtures.md says
why): for each of them moec must stop with a one-line error that names the file and exit
nonzero, never crash. When one starts compiling, this test fails and asks to be extended.
"""

import os
import re
import subprocess
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_common as common  # noqa: E402

HF_DIR = None  # test/models/hf, set in main


def _manifest():
    import json
    with open(os.path.join(HF_DIR, "manifest.json")) as f:
        fixtures = json.load(f)["fixtures"]
    # The transformers 4.x blocks of test/models/hf4 (per-expert nn.Linear weights): the
    # torchscript exports raise like the others; OLMoE's dynamo export (a ScatterND
    # accumulation) does not import yet and must fail cleanly (test_decoders_fail_cleanly).
    with open(os.path.join(HF_DIR, "..", "hf4", "manifest.json")) as f:
        for rel, entry in json.load(f)["fixtures"].items():
            kind = "block" if entry["exporter"] == "torchscript" else "unsupported"
            fixtures["../hf4/" + rel] = dict(entry, kind=kind)
    return fixtures


def _run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=common.TOOL_TIMEOUT_S)


class HfBlocks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.work = common.work_dir("hf")
        cls.fixtures = _manifest()

    def _compile(self, rel, *extra):
        out = os.path.join(self.work, re.sub(r"\W", "_", rel) + ("_ir.mlir" if extra else ".moe"))
        proc = _run([common.Config.moec, "compile", os.path.join(HF_DIR, rel), "--target", "host",
                     "-o", out, *extra])
        self.assertEqual(proc.returncode, 0, f"{rel}: moec compile failed:\n{proc.stderr}")
        return out

    def test_blocks_raise_and_match(self):
        blocks = {rel: e for rel, e in self.fixtures.items() if e["kind"] == "block"}
        self.assertGreaterEqual(len(blocks), 12)
        self.assertEqual(sum(rel.startswith("../hf4/") for rel in blocks), 3)
        for rel, entry in sorted(blocks.items()):
            with self.subTest(fixture=rel):
                # make_hf_models.py marks blocks moec cannot raise yet, with the reason.
                if entry.get("moec", "").startswith("not yet"):
                    print(f"skipped {rel}: {entry['moec']}", file=sys.stderr)
                    self.skipTest(entry["moec"])
                with open(self._compile(rel, "--emit", "moe-mlir")) as f:
                    ir = f.read()
                self.assertEqual(ir.count("moe.experts "), 1, f"{rel}: raised IR:\n{ir}")
                for leftover in ("onnx.NonZero", "onnx.OneHot", "onnx.ScatterElements",
                                 "onnx.GatherND", "onnx.TopK"):
                    self.assertNotIn(leftover, ir, f"{rel}: {leftover} survived raising")

                artifact = self._compile(rel)
                ref_dir = os.path.join(HF_DIR, rel[:-len(".onnx")] + ".ref")
                got = os.path.join(self.work, re.sub(r"\W", "_", rel) + "_output.npy")
                proc = _run([common.Config.moec_run, artifact, "--input",
                             f"hidden_states={os.path.join(ref_dir, 'hidden_states.npy')}",
                             "--output", f"output={got}"])
                self.assertEqual(proc.returncode, 0, f"{rel}: moec-run failed:\n{proc.stderr}")
                want = np.load(os.path.join(ref_dir, "output.npy")).astype(np.float64)
                out = np.load(got).astype(np.float64)
                self.assertEqual(out.shape, want.shape)
                err = np.max(np.abs(out - want))
                scale = np.max(np.abs(want))
                self.assertGreater(scale, 0.0)
                self.assertLessEqual(err, common.REL_TOL * scale,
                                     f"{rel}: max|moec - torch| = {err:.3g}, scale {scale:.3g}")

    def test_decoders_fail_cleanly(self):
        decoders = {rel: e for rel, e in self.fixtures.items() if e["kind"] != "block"}
        for rel in sorted(decoders):
            with self.subTest(fixture=rel):
                path = os.path.join(HF_DIR, rel)
                proc = _run([common.Config.moec, "compile", path, "--target", "host", "-o",
                             os.path.join(self.work, "decoder.moe")])
                self.assertNotEqual(proc.returncode, 0,
                                    f"{rel} now compiles: extend test_hf_models.py to run it")
                self.assertLess(proc.returncode, 128, f"{rel}: moec crashed:\n{proc.stderr}")
                lines = proc.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, f"{rel}: not a one-line error:\n{proc.stderr}")
                self.assertIn(path, lines[0])
                self.assertTrue(lines[0].startswith("moec: error: "), lines[0])


if __name__ == "__main__":
    argv = common.parse_args()
    HF_DIR = os.path.join(common.Config.models, "hf")
    unittest.main(argv=argv)

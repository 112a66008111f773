#!/usr/bin/env python3
"""Checks the transformers 4.x fixtures of test/models/hf4/ (make_hf4_models.py wrote them): each
runs in onnxruntime and reproduces the PyTorch reference saved beside it within the manifest's
float32 tolerance |ort - torch| <= atol + rtol * |torch|, so a later moec mismatch on them is
moec's. numpy + onnxruntime only.

    python3 test/models/hf4/test_hf4_fixtures.py [-v]

It also pins down which inputs each export is valid for: the blocks are token-wise, so one
token alone must give the first row of the 16-token reference. The loop over all experts
(OLMoE, both exporters) does; the torchscript export of the loop over the experts hit
(Mixtral, Qwen2-MoE) cannot run it (fewer experts hit than the trace unrolled).
"""

import json
import os
import unittest

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def _session(rel):
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # quiet: the expert_hit exports fail one-token runs on purpose
    return ort.InferenceSession(os.path.join(HERE, rel), opts, providers=["CPUExecutionProvider"])


def _load_ref(rel):
    ref_dir = os.path.join(HERE, rel[:-len(".onnx")] + ".ref")
    return {f[:-4]: np.load(os.path.join(ref_dir, f)) for f in sorted(os.listdir(ref_dir))
            if f.endswith(".npy")}


class Hf4Fixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(HERE, "manifest.json")) as f:
            cls.manifest = json.load(f)
        cls.fixtures = cls.manifest["fixtures"]

    def _assert_close(self, rel, got, want, entry):
        self.assertEqual(got.shape, want.shape, f"{rel}: shape")
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
        bound = entry["atol"] + entry["rtol"] * np.abs(want.astype(np.float64))
        self.assertTrue(np.all(err <= bound),
                        f"{rel}: max |ort - torch| - bound = {np.max(err - bound):.3g}")

    def test_manifest_lists_every_file(self):
        """Every .onnx on disk is listed and vice versa; the three 4.x MoE classes are there as
        torchscript blocks, in both loop forms; the transformers version is a 4.x."""
        on_disk = set()
        for root, _, files in os.walk(HERE):
            on_disk |= {os.path.relpath(os.path.join(root, f), HERE) for f in files
                        if f.endswith(".onnx")}
        self.assertEqual(on_disk, set(self.fixtures))
        self.assertTrue(self.manifest["versions"]["transformers"].startswith("4."))
        torchscript = {e["model"]: e["loop"] for e in self.fixtures.values()
                       if e["exporter"] == "torchscript"}
        self.assertEqual(torchscript, {"mixtral": "expert_hit", "qwen2_moe": "expert_hit",
                                       "olmoe": "all_experts"})

    def test_references_match(self):
        for rel, entry in self.fixtures.items():
            with self.subTest(fixture=rel):
                ref = _load_ref(rel)
                x = ref["hidden_states"]
                self.assertGreater(float(np.std(x)), 0.5, f"{rel}: input not random")
                self.assertGreater(float(np.std(ref["output"])), 0.05, f"{rel}: trivial output")
                got = _session(rel).run(["output"], {"hidden_states": x})[0]
                self._assert_close(rel, got, ref["output"], entry)

    def test_one_token(self):
        for rel, entry in self.fixtures.items():
            with self.subTest(fixture=rel):
                ref = _load_ref(rel)
                x = ref["hidden_states"][:, :1]
                if "valid_only_when" in entry:
                    with self.assertRaises(Exception):
                        _session(rel).run(None, {"hidden_states": x})
                else:
                    got = _session(rel).run(["output"], {"hidden_states": x})[0]
                    self._assert_close(rel, got, ref["output"][:, :1], entry)


if __name__ == "__main__":
    unittest.main()

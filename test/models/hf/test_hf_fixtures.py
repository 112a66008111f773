#!/usr/bin/env python3
"""Checks that every fixture in test/models/hf/ runs in onnxruntime and reproduces the PyTorch
reference saved beside it (make_hf_models.py wrote both), within the manifest's float32
tolerance |ort - torch| <= atol + rtol * |torch|. That proves the fixtures and references agree,
so a later moec mismatch on them is moec's. No torch needed: numpy + onnxruntime only.

    python3 test/models/hf/test_hf_fixtures.py [-v]

For the KV-cache fixtures it also replays greedy decoding through onnxruntime (prefill with an
empty cache, then one token at a time, feeding present_* back as past_*) and requires the same
tokens transformers produced.
"""

import json
import os
import sys
import unittest

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def _manifest():
    with open(os.path.join(HERE, "manifest.json")) as f:
        return json.load(f)


def _session(rel):
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # quiet: test_eager_block_needs_every_expert fails runs on purpose
    return ort.InferenceSession(os.path.join(HERE, rel), opts, providers=["CPUExecutionProvider"])


def _load_ref(rel):
    ref_dir = os.path.join(HERE, rel[:-len(".onnx")] + ".ref")
    return {f[:-4]: np.load(os.path.join(ref_dir, f)) for f in sorted(os.listdir(ref_dir))
            if f.endswith(".npy")}


class HfFixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifest = _manifest()

    def _assert_close(self, rel, name, got, want, entry):
        self.assertEqual(got.shape, want.shape, f"{rel}: output {name}: shape")
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
        bound = entry["atol"] + entry["rtol"] * np.abs(want.astype(np.float64))
        worst = tuple(int(i) for i in np.unravel_index(np.argmax(err - bound), err.shape))
        self.assertTrue(np.all(err <= bound),
                        f"{rel}: output {name}: |ort - torch| = {err[worst]:.3g} at {worst} "
                        f"exceeds {bound[worst]:.3g}")

    def test_manifest_lists_every_file(self):
        """No fixture on disk is left unchecked, none listed is missing, and each kind the task
        asks for exists for every model (a block, a logits-only decoder, a KV-cache decoder),
        except the kinds the manifest's "not_exported" gives a model a reason to lack."""
        listed = set(self.manifest["fixtures"])
        on_disk = set()
        for root, _, files in os.walk(HERE):
            for f in files:
                if f.endswith(".onnx"):
                    on_disk.add(os.path.relpath(os.path.join(root, f), HERE))
        self.assertEqual(on_disk, listed)
        kinds = {}
        for entry in self.manifest["fixtures"].values():
            kinds.setdefault(entry["model"], set()).add(entry["kind"])
        self.assertGreaterEqual(len(kinds), 3)
        skipped = self.manifest.get("not_exported", {})
        for model, have in kinds.items():
            reasons = skipped.get(model, {})
            self.assertTrue(all(r.strip() for r in reasons.values()), model)
            self.assertEqual(have, {"block", "logits", "kv"} - set(reasons), model)

    def test_references_match(self):
        for rel, entry in self.manifest["fixtures"].items():
            with self.subTest(fixture=rel):
                ref = _load_ref(rel)
                sess = _session(rel)
                feeds = {i.name: ref[i.name] for i in sess.get_inputs()}
                for name, a in feeds.items():
                    # Random inputs, never zeros (an empty past cache has no elements at all).
                    if a.dtype.kind == "f" and a.size:
                        self.assertGreater(np.std(a), 0.1, f"{rel}: input {name}")
                names = [o.name for o in sess.get_outputs()]
                for name, got in zip(names, sess.run(names, feeds)):
                    self._assert_close(rel, name, got, ref[name], entry)

    def test_references_are_not_trivial(self):
        """A reference that is (nearly) constant would let a wrong graph pass."""
        for rel in self.manifest["fixtures"]:
            ref = _load_ref(rel)
            for name in ("output", "logits"):
                if name in ref:
                    with self.subTest(fixture=rel, output=name):
                        self.assertGreater(float(np.std(ref[name])), 0.05)

    def test_kv_greedy_tokens(self):
        for rel, entry in self.manifest["fixtures"].items():
            if entry["kind"] != "kv":
                continue
            with self.subTest(fixture=rel):
                ref = _load_ref(rel)
                sess = _session(rel)
                inputs = [i.name for i in sess.get_inputs()]
                outputs = [o.name for o in sess.get_outputs()]
                past_names = [n for n in inputs if n.startswith("past_")]
                # An empty cache: the shapes of the reference's past with 0 positions.
                past = {n: np.zeros(ref[n].shape[:2] + (0,) + ref[n].shape[3:], np.float32)
                        for n in past_names}
                ids = ref["prompt_ids"]
                tokens = []
                for _ in range(entry["greedy_steps"]):
                    feeds = {"input_ids": ids, **past}
                    if "attention_mask" in inputs:  # kv_mask: ones over past + new tokens
                        length = ids.shape[1] + next(iter(past.values())).shape[2]
                        feeds["attention_mask"] = np.ones((1, length), np.int64)
                    result = dict(zip(outputs, sess.run(outputs, feeds)))
                    nxt = int(np.argmax(result["logits"][0, -1]))
                    tokens.append(nxt)
                    ids = np.array([[nxt]], dtype=np.int64)
                    past = {n: result["present_" + n[len("past_"):]] for n in past_names}
                np.testing.assert_array_equal(np.array([tokens]), ref["greedy_ids"], rel)

    def test_eager_block_needs_every_expert(self):
        """The documented limit of the eager (loop) export: with one token only top-k experts
        are hit, fewer iterations than the trace unrolled, and the graph cannot run. If this
        starts to pass, the export changed and docs/hf-fixtures.md must be updated."""
        for rel, entry in self.manifest["fixtures"].items():
            if entry["kind"] != "block" or entry["experts_implementation"] != "eager":
                continue
            with self.subTest(fixture=rel):
                x = _load_ref(rel)["hidden_states"][:, :1]
                with self.assertRaises(Exception):
                    _session(rel).run(None, {"hidden_states": x})


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""`moec compile --report FILE`: the compile report, checked against numbers computed here.

Compile only (no run). For the Mixtral fixtures (the MoE block test/models/mixtral_moe_node.onnx
and the two-layer decoder test/models/decoder/mixtral.onnx), on the host and sm_90a:

- the report's launches are exactly the launches moec reports when it writes the artifact
  ("N kernel launches");
- the FLOPs of the expert launches (moe_experts on the host; moe_gemm_up + moe_gemm_down on the
  GPU) are 2*T*k*3*H*I per MoE layer, with H, I and k read here from the ONNX MoE node's
  weights and attributes (SwiGLU: fc1 holds 2*I rows, fc2 is [E, H, I]);
- the weights the report says are stored are the artifact's weights segment (its header's
  weights_size, bytes 40..47) less the zero padding that aligns each weight to 64 bytes;
- the launches before fusion are at least the launches after (on the host these graphs have no
  elementwise chain to merge: equal), strictly more on sm_90a, where the router's MatMul is
  merged into the router's launch and is listed as fused; where the counts agree the bytes
  moved before and after agree exactly (two implementations of one pricing rule), else
  these fixtures move fewer bytes after fusion;
- quantized experts count their stored bytes (int8: 1 byte a value, int4: half, plus the
  float32 scales), computed here from the weight shapes;
- per-layer groups follow the node names (layers.0, layers.1 of the decoder);
- the Markdown report has the summary line with the same numbers as the JSON one;
- a report that cannot be written is a one-line error and a nonzero exit.
Qwen2-MoE's decoder has a shared expert whose SiLU gate chain fusion merges on the host: there
the launches and the bytes moved before fusion are strictly more than after.
"""

import json
import os
import re
import struct
import unittest

import onnx
from onnx import numpy_helper

import e2e_common as common

CUDA = {"enabled": True}

MIXTRAL_NODE = "mixtral_moe_node.onnx"
MIXTRAL_DECODER = "decoder/mixtral.onnx"
QWEN_DECODER = "decoder/qwen2_moe.onnx"
EXPERT_KINDS = ("moe_experts", "moe_gemm_up", "moe_gemm_down")
ALIGN = 64


def moe_nodes(path):
    """(node name, H, I, k, E) per com.microsoft.MoE node, from the ONNX file alone."""
    model = onnx.load(path)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type != "MoE":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        fc1, fc2 = shapes[node.input[2]], shapes[node.input[4]]
        experts, hidden, inter = fc2
        # SwiGLU with fused fc1: gate and linear rows stacked, 2*I of them, each H wide.
        assert attrs.get("activation_type", b"") in (b"swiglu", "swiglu"), node.name
        assert fc1 == [experts, 2 * inter, hidden], (node.name, fc1, fc2)
        out.append((node.name, hidden, inter, int(attrs["k"]), experts))
    return out


def artifact_weights_segment(path):
    with open(path, "rb") as f:
        header = f.read(64)
    assert header[:8] == b"MOECART\0", header[:8]
    return struct.unpack_from("<Q", header, 40)[0]


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Only moec: nothing here runs a model.
        moec = common.Config.moec
        if not (moec and os.access(moec, os.X_OK)):
            if common.Config.require_tools:
                raise RuntimeError(f"moec not built: {moec}")
            raise unittest.SkipTest(f"moec not built: {moec}")
        cls.dir = common.work_dir("report")

    def compile(self, rel, target, name, *extra, emit_artifact=True):
        """Compiles with a JSON report; returns (report, the Markdown report of the same
        compile, launches moec printed or None, artifact path or None)."""
        base = os.path.join(self.dir, f"{name}.{target}")
        source = [common.Config.moec, "compile", common.model_path(rel), "--target", target,
                  *extra]
        output = (["-o", base + ".moe"] if emit_artifact else
                  ["--emit", "kernel-mlir", "-o", base + ".kernel.mlir"])
        result = common.run_tool(source + output + ["--report", base + ".json"])
        self.assertEqual(result.returncode, 0, common.describe(result))
        printed = None
        if emit_artifact:
            m = re.search(r"(\d+) kernel launches", result.stdout)
            self.assertIsNotNone(m, common.describe(result))
            printed = int(m.group(1))
        # The report is written right after memory planning, so the kernel IR stage gives
        # the same one without compiling the kernels again.
        md = common.run_tool(source + ["--emit", "kernel-mlir", "-o", os.devnull,
                                       "--report", base + ".md"])
        self.assertEqual(md.returncode, 0, common.describe(md))
        with open(base + ".json") as f:
            report = json.load(f)
        with open(base + ".md") as f:
            markdown = f.read()
        return report, markdown, printed, (base + ".moe" if emit_artifact else None)

    def check_common(self, report, markdown, printed, artifact):
        totals = report["totals"]
        self.assertEqual(totals["launches"], len(report["launches"]))
        if printed is not None:
            self.assertEqual(totals["launches"], printed)
        # Groups partition the launches.
        indices = sorted(i for g in report["layers"] for i in g["launch_indices"])
        self.assertEqual(indices, list(range(len(report["launches"]))))
        self.assertEqual(sum(g["launches"] for g in report["layers"]), totals["launches"])
        # Totals are the sums of the launches, and the T = 1 / 256 values evaluate them.
        for key in ("flops", "bytes_moved"):
            for part in ("base", "per_token"):
                self.assertEqual(totals[key][part],
                                 sum(l[key][part] for l in report["launches"]), key)
        for at in totals["at"]:
            t = at["tokens"]
            self.assertEqual(at["bytes_moved"],
                             totals["bytes_moved"]["base"] + t * totals["bytes_moved"]["per_token"])
        self.assertGreaterEqual(totals["launches_before_fusion"], totals["launches"])
        # Before and after are priced by two implementations of one rule (the analysis
        # before fusion, the report's model of the launches): where fusion changed nothing
        # they must agree to the byte. Where it merged launches, these fixtures move less
        # (fusion can add reads in general: an inlined producer's inputs are read by each
        # consumer).
        for at in totals["at"]:
            if totals["launches_before_fusion"] == totals["launches"]:
                self.assertEqual(at["bytes_moved_before_fusion"], at["bytes_moved"])
            else:
                self.assertGreater(at["bytes_moved_before_fusion"], at["bytes_moved"])
        if artifact:
            segment = artifact_weights_segment(artifact)
            stored, count = report["weight_bytes_stored"], report["weight_count"]
            self.assertLessEqual(stored, segment)
            self.assertLess(segment - stored, ALIGN * count,
                            f"segment {segment} B, report {stored} B in {count} weights")
        # The Markdown summary says the same.
        at1 = {a["tokens"]: a for a in totals["at"]}
        summary = (f"Summary: {totals['launches']} kernel launches after fusion, "
                   f"{totals['launches_before_fusion']} before; bytes moved at T = 1: "
                   f"{at1[1]['bytes_moved']:,} after fusion, "
                   f"{at1[1]['bytes_moved_before_fusion']:,} before; at T = 256: "
                   f"{at1[256]['bytes_moved']:,} after, {at1[256]['bytes_moved_before_fusion']:,}"
                   f" before.")
        self.assertIn(summary, markdown)

    def expert_flops(self, report, layer=None):
        """Per-token and base FLOPs of the expert launches (of one layer)."""
        launches = [l for l in report["launches"] if l["kernel"] in EXPERT_KINDS and
                    (layer is None or l["layer"] == layer)]
        self.assertTrue(launches, f"no expert launch in {layer}")
        return (sum(l["flops"]["per_token"] for l in launches),
                sum(l["flops"]["base"] for l in launches))

    def targets(self):
        return ("host", "sm_90a") if CUDA["enabled"] else ("host",)

    def test_mixtral_block(self):
        (_, hidden, inter, k, _), = moe_nodes(common.model_path(MIXTRAL_NODE))
        for target in self.targets():
            with self.subTest(target=target):
                report, markdown, printed, artifact = self.compile(MIXTRAL_NODE, target, "node")
                self.check_common(report, markdown, printed, artifact)
                self.assertEqual(self.expert_flops(report), (2 * k * 3 * hidden * inter, 0))
                totals = report["totals"]
                if target == "host":
                    # A MatMul and the MoE node: nothing for elementwise fusion to merge.
                    self.assertEqual(totals["launches_before_fusion"], totals["launches"])
                else:
                    self.assertGreater(totals["launches_before_fusion"], totals["launches"])
                    fused = [n for g in report["layers"] for n in g["fused_nodes"]]
                    self.assertIn("/block/router/MatMul", fused)
                    kinds = [l["kernel"] for l in report["launches"]]
                    self.assertIn("moe_route_linear", kinds)

    def test_mixtral_decoder_layers(self):
        nodes = moe_nodes(common.model_path(MIXTRAL_DECODER))
        self.assertEqual(len(nodes), 2)
        for target in self.targets():
            with self.subTest(target=target):
                # The GPU artifact's NVRTC compile is what e2e.cuda_compile checks; the report
                # is written before it, from the same launches, so stop at the kernel IR.
                report, markdown, printed, artifact = self.compile(
                    MIXTRAL_DECODER, target, "decoder", emit_artifact=target == "host")
                self.check_common(report, markdown, printed, artifact)
                names = [g["name"] for g in report["layers"]]
                for name, hidden, inter, k, _ in nodes:
                    layer = re.search(r"layers\.(\d+)", name).group(0)
                    self.assertIn(layer, names)
                    self.assertIn(f"\n## {layer}\n", markdown)
                    self.assertEqual(self.expert_flops(report, layer),
                                     (2 * k * 3 * hidden * inter, 0), layer)
                if target != "host":
                    # Same launches as the kernel IR moec printed.
                    with open(os.path.join(self.dir, f"decoder.{target}.kernel.mlir")) as f:
                        ir = f.read()
                    self.assertEqual(report["totals"]["launches"], ir.count("kernel.launch \""))

    def test_fusion_shows_in_qwen2(self):
        report, markdown, printed, artifact = self.compile(QWEN_DECODER, "host", "qwen")
        self.check_common(report, markdown, printed, artifact)
        totals = report["totals"]
        self.assertGreater(totals["launches_before_fusion"], totals["launches"])
        for at in totals["at"]:
            self.assertGreater(at["bytes_moved_before_fusion"], at["bytes_moved"])
        fused = [n for g in report["layers"] for n in g["fused_nodes"]]
        self.assertTrue(any("shared" in n for n in fused), fused)

    def test_quantized_weights_count_their_bytes(self):
        (_, hidden, inter, k, experts), = moe_nodes(common.model_path(MIXTRAL_NODE))
        f1 = 2 * inter
        for fmt, group in (("int8", 0), ("int4", 16)):
            with self.subTest(fmt=fmt, group=group):
                report, markdown, printed, artifact = self.compile(
                    MIXTRAL_NODE, "host", f"{fmt}g{group}", "--quantize", fmt,
                    "--group-size", str(group))
                self.check_common(report, markdown, printed, artifact)
                # fc1 [E, F1, H] and fc2 [E, H, I], blocks along the last axis.
                values = experts * f1 * hidden + experts * hidden * inter
                value_bytes = values if fmt == "int8" else values // 2
                blocks = lambda n: 1 if group == 0 else -(-n // group)
                scales = experts * f1 * blocks(hidden) + experts * hidden * blocks(inter)
                (launch,) = [l for l in report["launches"] if l["kernel"] == "moe_experts"]
                self.assertEqual(launch["weight_bytes"], value_bytes + 4 * scales)
                self.assertEqual(self.expert_flops(report), (2 * k * 3 * hidden * inter, 0))

    def test_bad_report_path(self):
        bad = os.path.join(self.dir, "no-such-dir", "r.md")
        out = os.path.join(self.dir, "bad.moe")
        result = common.run_tool([common.Config.moec, "compile",
                                  common.model_path(MIXTRAL_NODE), "-o", out, "--report", bad])
        self.assertNotEqual(result.returncode, 0, common.describe(result))
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, common.describe(result))
        self.assertIn("cannot write the compile report", lines[0])
        self.assertIn(bad, lines[0])
        self.assertFalse(os.path.exists(out))
        # A stage before the kernel launches has nothing to report.
        result = common.run_tool([common.Config.moec, "compile",
                                  common.model_path(MIXTRAL_NODE), "--emit", "moe-mlir",
                                  "--report", os.path.join(self.dir, "r.md")])
        self.assertEqual(result.returncode, 1, common.describe(result))
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, common.describe(result))
        self.assertIn("--report describes kernel launches", result.stderr)


if __name__ == "__main__":
    argv = common.parse_args()
    if "--no-cuda" in argv:
        argv.remove("--no-cuda")
        CUDA["enabled"] = False
    unittest.main(argv=argv)

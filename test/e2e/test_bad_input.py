#!/usr/bin/env python3
"""Bad input must give a clean error, never a crash.

Every case asserts: a nonzero exit status with the documented value (moec 1, moec-run 2),
no death by a signal, and stderr holding exactly one line that starts with the tool's
`<tool>: error:` prefix and names the offending file, node or input.

    python3 test/e2e/test_bad_input.py --moec PATH --moec-run PATH [unittest args]
"""

import os
import shutil
import struct
import unittest

import numpy as np
import onnx

import e2e_common as common

MAIN_FIXTURE = "mixtral_moe_node.onnx"
HEADER_SIZE = 64
COMPILE_ERROR_EXIT = 1
RUN_ERROR_EXIT = 2


class CleanErrorMixin:
    def assert_clean_error(self, result, tool, exit_code, *must_name):
        details = common.describe(result)
        self.assertGreaterEqual(result.returncode, 0,
                                f"{tool} was killed by signal {-result.returncode}\n{details}")
        self.assertEqual(result.returncode, exit_code, details)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one stderr line\n{details}")
        self.assertTrue(lines[0].startswith(f"{tool}: error: "), details)
        for name in must_name:
            self.assertIn(str(name), lines[0], details)
        return lines[0]


class CompilerRefuses(CleanErrorMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("bad-compile")
        with open(common.model_path(MAIN_FIXTURE), "rb") as f:
            cls.good_bytes = f.read()

    def _compile(self, src):
        return common.compile_model(src, os.path.join(self.dir, "out.moe"))

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_missing_file(self):
        path = os.path.join(self.dir, "does_not_exist.onnx")
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path)

    def test_random_bytes(self):
        rng = np.random.default_rng(7)
        for size in (1, 100, 4096):
            with self.subTest(size=size):
                path = self._write(f"random_{size}.onnx", rng.bytes(size))
                self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path)

    def test_empty_file(self):
        path = self._write("empty.onnx", b"")
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path)

    def test_truncated_onnx(self):
        size = len(self.good_bytes)
        # Every cut lands inside a length-delimited field (the graph, or the last opset
        # import), so no prefix is itself a well-formed model.
        for cut in (2, 16, 100, 1000, size // 2, size - 100, size - 1):
            with self.subTest(cut=cut):
                path = self._write(f"truncated_{cut}.onnx", self.good_bytes[:cut])
                self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path)

    def test_unsupported_op(self):
        path = common.model_path("invalid/nonzero.onnx")
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "node '/block/NonZero'", "op 'NonZero'", "opset 17")

    def test_custom_domain_op(self):
        path = common.model_path("invalid/custom_domain_op.onnx")
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "node '/block/fancy'", "FancyMoE", "opset 1")

    def _one_node_model(self, name, node, inputs, output):
        """A one-node opset-18 model; `inputs` holds initializers as (name, numpy
        value) and graph inputs as (name, element type, shape)."""
        graph_inputs = [onnx.helper.make_tensor_value_info(*i) for i in inputs if len(i) == 3]
        inits = [onnx.numpy_helper.from_array(v, n) for n, v in (i for i in inputs if len(i) == 2)]
        graph = onnx.helper.make_graph([node], name, graph_inputs, [output], inits)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
        path = os.path.join(self.dir, f"{name}.onnx")
        onnx.save(model, path)
        return path

    def test_bad_decoder_op_nodes(self):
        # Range, CumSum and ScatterND with wrong input counts or types: the importer's
        # one-line node error, naming the node and the op with its opset.
        f32 = onnx.TensorProto.FLOAT
        out = onnx.helper.make_tensor_value_info("y", f32, None)
        cases = [
            ("range_two_inputs", onnx.helper.make_node("Range", ["a", "b"], ["y"], name="n"),
             [("a", np.array(0, np.int64)), ("b", np.array(4, np.int64))],
             "expects at least 3 inputs, got 2"),
            ("range_mixed_types", onnx.helper.make_node("Range", ["a", "b", "c"], ["y"], name="n"),
             [("a", np.array(0, np.int64)), ("b", np.array(4, np.int32)),
              ("c", np.array(1, np.int64))],
             "start, limit and delta must have one element type"),
            ("range_zero_delta", onnx.helper.make_node("Range", ["a", "b", "c"], ["y"], name="n"),
             [("a", np.array(0, np.int64)), ("b", np.array(4, np.int64)),
              ("c", np.array(0, np.int64))],
             "delta must not be 0"),
            ("cumsum_float_axis", onnx.helper.make_node("CumSum", ["x", "a"], ["y"], name="n"),
             [("x", f32, ["T", 4]), ("a", np.array(0.0, np.float32))],
             "axis must be an int32 or int64 tensor"),
            ("cumsum_one_input", onnx.helper.make_node("CumSum", ["x"], ["y"], name="n"),
             [("x", f32, ["T", 4])], "expects at least 2 inputs, got 1"),
            ("scatternd_float_indices",
             onnx.helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="n"),
             [("x", f32, ["T", 4]), ("i", np.zeros((2, 1), np.float32)),
              ("u", np.ones((2, 4), np.float32))],
             "indices must be an integer tensor"),
            ("scatternd_bad_reduction",
             onnx.helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="n",
                                   reduction="avg"),
             [("x", f32, ["T", 4]), ("i", np.zeros((2, 1), np.int64)),
              ("u", np.ones((2, 4), np.float32))],
             "reduction must be one of none, add, mul, max, min"),
        ]
        for name, node, inputs, message in cases:
            with self.subTest(case=name):
                path = self._one_node_model(name, node, inputs, out)
                op = node.op_type
                self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                        "node 'n'", f"op '{op}' (opset 18)", message)

    def test_two_symbolic_dimensions(self):
        path = common.model_path("invalid/two_symbolic_dims.onnx")
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path)

    def _cache_graph(self, name, past_dims, extra_inputs=(), mask=None):
        """input_ids [1, seq] and one cache input `past_key_0` of `past_dims`, returned as
        Identity outputs (enough for the import-time rewrites to look at them)."""
        from onnx import TensorProto, helper
        inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"]),
                  helper.make_tensor_value_info("past_key_0", TensorProto.FLOAT, past_dims)]
        inputs += [helper.make_tensor_value_info(n, t, d) for n, t, d in extra_inputs]
        nodes = [helper.make_node("Identity", [i.name], [i.name + "_out"]) for i in inputs]
        outputs = [helper.make_tensor_value_info(i.name + "_out", i.type.tensor_type.elem_type,
                                                 None) for i in inputs]
        graph = helper.make_graph(nodes, "g", inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 9
        path = os.path.join(self.dir, name)
        onnx.save(model, path)
        return path

    def test_growing_cache_at_another_axis(self):
        path = self._cache_graph("cache_axis.onnx", [1, "past", 2, 8])
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "input 'past_key_0' has the cache length 'past' at axis 1",
                                "[batch, kv_heads, 'past', head_size]")

    def test_growing_cache_with_a_symbolic_head_size(self):
        path = self._cache_graph("cache_dims.onnx", [1, 2, "past", "head"])
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "'past' is the length of a growing KV cache")

    def test_growing_cache_with_an_existing_seqlens_input(self):
        from onnx import TensorProto
        path = self._cache_graph("cache_seqlens.onnx", [1, 2, "past", 8],
                                 [("seqlens_k", TensorProto.INT32, [1])])
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "input 'seqlens_k' already exists")

    def test_attention_mask_with_a_symbolic_batch(self):
        from onnx import TensorProto
        path = self._cache_graph("mask_batch.onnx", [1, 2, "past", 8],
                                 [("attention_mask", TensorProto.INT64, ["batch", "total"])])
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT, path,
                                "input 'attention_mask' needs a static batch size")

    def test_missing_external_data(self):
        path = os.path.join(self.dir, "mixtral_moe_external.onnx")
        shutil.copy(common.model_path("mixtral_moe_external.onnx"), path)  # data file left out
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT,
                                "mixtral_moe_external.onnx")

    def test_truncated_external_data(self):
        sub = os.path.join(self.dir, "short_data")
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "mixtral_moe_external.onnx")
        shutil.copy(common.model_path("mixtral_moe_external.onnx"), path)
        with open(common.model_path("mixtral_moe_external.onnx.data"), "rb") as f:
            data = f.read()
        with open(os.path.join(sub, "mixtral_moe_external.onnx.data"), "wb") as f:
            f.write(data[:len(data) // 2])
        self.assert_clean_error(self._compile(path), "moec", COMPILE_ERROR_EXIT,
                                "mixtral_moe_external.onnx")


class RunnerRefuses(CleanErrorMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        common.require_tools()
        cls.dir = common.work_dir("bad-run")
        cls.model = onnx.load(common.model_path(MAIN_FIXTURE))
        cls.artifact = os.path.join(cls.dir, "model.moe")
        cls.compiled = common.compile_model(common.model_path(MAIN_FIXTURE), cls.artifact)
        cls.hidden = 32
        cls.x = common.make_inputs(cls.model, 7, 99)
        cls.x_path = os.path.join(cls.dir, "x.npy")
        np.save(cls.x_path, cls.x)

    def setUp(self):
        self.assertEqual(self.compiled.returncode, 0, common.describe(self.compiled))
        with open(self.artifact, "rb") as f:
            self.artifact_bytes = f.read()

    def _npy(self, name, array):
        path = os.path.join(self.dir, name)
        np.save(path, array)
        return path

    def _run(self, artifact=None, inputs=None, outputs=()):
        inputs = [("input", self.x_path)] if inputs is None else inputs
        return common.run_model(artifact or self.artifact, inputs, outputs)

    def test_the_unmodified_artifact_runs(self):
        # Guards the cases below: they must fail because of what they change.
        out = os.path.join(self.dir, "ok.npy")
        result = self._run(outputs=[("output", out)])
        self.assertEqual(result.returncode, 0, common.describe(result))

    def test_wrong_input_shape(self):
        cases = {"hidden+1": (7, self.hidden + 1), "rank 1": (self.hidden,),
                 "rank 3": (1, 7, self.hidden)}
        rng = np.random.default_rng(3)
        for what, shape in cases.items():
            with self.subTest(what):
                path = self._npy(f"shape_{len(shape)}_{shape[-1]}.npy",
                                 rng.standard_normal(shape).astype(np.float32))
                result = self._run(inputs=[("input", path)])
                self.assert_clean_error(result, "moec-run", RUN_ERROR_EXIT, "input")

    def test_wrong_input_dtype(self):
        for dtype in (np.float64, np.int64, np.float16):
            with self.subTest(dtype=np.dtype(dtype).name):
                path = self._npy(f"dtype_{np.dtype(dtype).name}.npy", self.x.astype(dtype))
                result = self._run(inputs=[("input", path)])
                self.assert_clean_error(result, "moec-run", RUN_ERROR_EXIT, "input")

    def test_missing_input(self):
        self.assert_clean_error(self._run(inputs=[]), "moec-run", RUN_ERROR_EXIT, "input")

    def test_unknown_input_name(self):
        result = self._run(inputs=[("input", self.x_path), ("no_such_input", self.x_path)])
        self.assert_clean_error(result, "moec-run", RUN_ERROR_EXIT, "no_such_input")

    def test_input_file_not_npy(self):
        path = os.path.join(self.dir, "not_npy.npy")
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY this is not really a numpy file")
        self.assert_clean_error(self._run(inputs=[("input", path)]), "moec-run",
                                RUN_ERROR_EXIT, path)

    def test_input_file_missing(self):
        path = os.path.join(self.dir, "no_such_file.npy")
        self.assert_clean_error(self._run(inputs=[("input", path)]), "moec-run",
                                RUN_ERROR_EXIT, path)

    def test_output_path_unwritable(self):
        path = os.path.join(self.dir, "no_such_dir", "out.npy")
        self.assert_clean_error(self._run(outputs=[("output", path)]), "moec-run",
                                RUN_ERROR_EXIT, path)

    def test_missing_artifact(self):
        path = os.path.join(self.dir, "no_such_model.moe")
        self.assert_clean_error(self._run(artifact=path), "moec-run", RUN_ERROR_EXIT, path)

    def test_truncated_artifact(self):
        size = len(self.artifact_bytes)
        for cut in (0, 8, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 100, size // 2, size - 1):
            with self.subTest(cut=cut):
                path = os.path.join(self.dir, f"truncated_{cut}.moe")
                with open(path, "wb") as f:
                    f.write(self.artifact_bytes[:cut])
                self.assert_clean_error(self._run(artifact=path), "moec-run", RUN_ERROR_EXIT,
                                        path)

    def _weights_offset(self):
        """Where fc2's first expert weights sit in the artifact, if stored unchanged;
        otherwise three quarters into the payload (weights dominate the payload)."""
        fc2 = next(i for i in self.model.graph.initializer if i.name == "fc2_experts_weights")
        needle = onnx.numpy_helper.to_array(fc2).astype("<f4").tobytes()[:64]
        found = self.artifact_bytes.find(needle, HEADER_SIZE)
        size = len(self.artifact_bytes)
        return found + 17 if found >= 0 else HEADER_SIZE + 3 * (size - HEADER_SIZE) // 4

    def test_bit_flipped_artifact(self):
        size = len(self.artifact_bytes)
        positions = {
            "magic": 0, "container_version": 8, "header_size": 12, "payload_size": 16,
            "payload_checksum": 24, "weights checksum byte": 48, "payload start": HEADER_SIZE,
            "payload middle": HEADER_SIZE + (size - HEADER_SIZE) // 2,
            "weights": self._weights_offset(), "last byte": size - 1,
        }
        for what, pos in positions.items():
            for bit in (0, 7):
                with self.subTest(where=what, offset=pos, bit=bit):
                    data = bytearray(self.artifact_bytes)
                    data[pos] ^= 1 << bit
                    path = os.path.join(self.dir, f"flip_{pos}_{bit}.moe")
                    with open(path, "wb") as f:
                        f.write(bytes(data))
                    self.assert_clean_error(self._run(artifact=path), "moec-run",
                                            RUN_ERROR_EXIT, path)

    def test_payload_size_larger_than_file(self):
        data = bytearray(self.artifact_bytes)
        struct.pack_into("<Q", data, 16, 1 << 40)
        path = os.path.join(self.dir, "huge_payload_size.moe")
        with open(path, "wb") as f:
            f.write(bytes(data))
        self.assert_clean_error(self._run(artifact=path), "moec-run", RUN_ERROR_EXIT, path)


if __name__ == "__main__":
    unittest.main(argv=common.parse_args())

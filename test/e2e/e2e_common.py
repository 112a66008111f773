"""Shared plumbing of the end-to-end tests: where the tools are, fixture inputs, references,
running a tool, and the pass criterion.

Tool locations come from the command line (what ctest passes) or the environment:
  --moec PATH / MOEC            the compiler
  --moec-run PATH / MOEC_RUN    the runner
  --models DIR / MOEC_MODELS    test/models (default: ../models beside this file)
  --work-dir DIR / MOEC_E2E_WORK  scratch space (default: a fresh temp dir)
  --require-tools               a missing tool is an error rather than a skip
Everything else on the command line goes to unittest.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

import moe_reference

HERE = os.path.dirname(os.path.abspath(__file__))

# Pass criterion for every numeric comparison in the e2e suite:
#     max|out - ref| <= REL_TOL * max|ref|
# i.e. a maximum error relative to the output's scale. moec computes in float32; a dot
# product of length n in float32 has a worst-case relative rounding error of about
# n * 2^-24 (6e-6 for n = 48), and the references differ from each other by the same order,
# so 1e-4 leaves a 10x margin while still catching a wrong activation form (tanh vs erf
# gelu differs by ~5e-4 of scale in gelu_bias.onnx), a missing bias or a swapped layout.
REL_TOL = 1e-4

# Tokens whose k-th and (k+1)-th routing probabilities are closer than this are redrawn:
# float32 rounding could legitimately pick the other expert there (see routing_margin).
MIN_ROUTING_MARGIN = 1e-4

TOOL_TIMEOUT_S = 300


class Config:
    moec = os.environ.get("MOEC")
    moec_run = os.environ.get("MOEC_RUN")
    models = os.environ.get("MOEC_MODELS", os.path.join(os.path.dirname(HERE), "models"))
    work_dir = os.environ.get("MOEC_E2E_WORK")
    require_tools = False


def parse_args(argv=None):
    """Consumes our options from sys.argv and returns what is left for unittest."""
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--moec")
    parser.add_argument("--moec-run")
    parser.add_argument("--models")
    parser.add_argument("--work-dir")
    parser.add_argument("--require-tools", action="store_true")
    known, rest = parser.parse_known_args(argv[1:])
    Config.require_tools = known.require_tools
    for key in ("moec", "moec_run", "models", "work_dir"):
        value = getattr(known, key)
        if value:
            setattr(Config, key, os.path.abspath(value))
    return argv[:1] + rest


def work_dir(name):
    """A fresh, empty directory for one test class."""
    root = Config.work_dir or tempfile.mkdtemp(prefix="moec-e2e-")
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"{name}-", dir=root)


def require_tools():
    """Raises SkipTest when the tools are not there, or an error under --require-tools
    (what ctest passes: there a missing tool means a broken build, not a skipped test)."""
    import unittest
    for label, path in (("moec", Config.moec), ("moec-run", Config.moec_run)):
        if path and os.access(path, os.X_OK):
            continue
        what = (f"{label} not built: {path}" if path else
                f"no {label} given (--{label} PATH or ${label.upper().replace('-', '_')})")
        if Config.require_tools:
            raise RuntimeError(what)
        raise unittest.SkipTest(what)


def load_manifest():
    with open(os.path.join(Config.models, "manifest.json")) as f:
        return json.load(f)


def model_path(rel):
    return os.path.join(Config.models, rel)


# --- inputs ----------------------------------------------------------------------------------

def _router(model):
    """How to compute a fixture's router logits from its input: (logits function of x as
    float64, k), or None for a model without a router (then there is no routing decision
    to keep away from ties)."""
    inits = {t.name: t for t in model.graph.initializer}
    k = None
    for node in model.graph.node:
        if node.op_type == "MoE":
            k = next((a.i for a in node.attribute if a.name == "k"), 1)
        elif node.op_type == "Constant" and node.output[0] == "k":
            k = int(onnx.numpy_helper.to_array(node.attribute[0].t)[0])
    router = next((n for n in model.graph.node
                   if n.op_type == "MatMul" and "router.weight" in n.input), None)
    if k is None or router is None:
        return None
    if "input" in router.input:
        weight = onnx.numpy_helper.to_array(inits["router.weight"]).astype(np.float64)
        hidden = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
        if weight.shape[0] != hidden:
            weight = weight.T  # stored (E, H) as nn.Linear keeps it, transposed in the graph
        return (lambda x: x.astype(np.float64) @ weight), k
    # The router reads a computed value (e.g. the normed tokens): let onnxruntime compute
    # the logits, exposed as an extra graph output.
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    del exposed.graph.output[:]
    exposed.graph.output.append(onnx.helper.make_empty_tensor_value_info(router.output[0]))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(exposed.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return (lambda x: session.run(None, {"input": x})[0].astype(np.float64)), k


def make_inputs(model, tokens, seed):
    """`input` (tokens, H) float32 ~ N(0, 1), no zeros, no near-tie routing decisions."""
    router = _router(model)
    hidden = model.graph.input[0].type.tensor_type.shape.dim[-1].dim_value
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((tokens, hidden)).astype(np.float32)
    for _ in range(100):
        redraw = np.any(x == 0, axis=1)
        if router is not None and tokens > 0:
            logits, k = router
            redraw |= moe_reference.routing_margin(logits(x), k) < MIN_ROUTING_MARGIN
        if not redraw.any():
            return x
        x[redraw] = rng.standard_normal((int(redraw.sum()), x.shape[1])).astype(np.float32)
    raise RuntimeError("could not draw inputs without near-tie routing decisions")


# --- references ------------------------------------------------------------------------------

_sessions = {}


def ort_session(path):
    if path not in _sessions:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        # The reference is the graph's ONNX meaning: onnxruntime's optimizer rewrites a
        # DequantizeLinear -> MatMul pair into an int8 GEMM on dynamically quantized
        # activations (about 5e-3 relative off on test/models/qdq/linears.onnx).
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        _sessions[path] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return _sessions[path]


def reference_output(rel, kind, x):
    """The fixture's output for x from its declared reference, as float64."""
    path = model_path(rel)
    if kind == "onnxruntime":
        return ort_session(path).run(["output"], {"input": x})[0].astype(np.float64)
    if kind == "numpy":
        return moe_reference.evaluate(onnx.load(path), {"input": x})["output"]
    raise ValueError(f"unknown reference '{kind}' for {rel}")


def compare(out, ref):
    """(ok, max_abs_err, scale): the suite's pass criterion, see REL_TOL."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        return False, float("inf"), 0.0
    if ref.size == 0:
        return True, 0.0, 0.0
    if not np.all(np.isfinite(out)):
        return False, float("inf"), float(np.abs(ref).max())
    max_abs = float(np.abs(out - ref).max())
    scale = float(np.abs(ref).max())
    return max_abs <= REL_TOL * scale, max_abs, scale


# --- tools -----------------------------------------------------------------------------------

def run_tool(args, timeout=TOOL_TIMEOUT_S):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, errors="replace")


def describe(result):
    return (f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-4000:]}"
            f"\n--- stderr ---\n{result.stderr[-4000:]}")


def compile_model(src, out, *extra):
    return run_tool([Config.moec, "compile", src, "--target", "host", "-o", out, *extra])


def run_model(moe_file, inputs, outputs=(), checks=(), extra=()):
    args = [Config.moec_run, moe_file]
    for name, path in inputs:
        args += ["--input", f"{name}={path}"]
    for name, path in outputs:
        args += ["--output", f"{name}={path}"]
    for name, path in checks:
        args += ["--check", f"{name}={path}"]
    return run_tool(args + list(extra))

#!/usr/bin/env python3
"""ONNX's own backend node tests, compiled with moec for the host and run with moec-run.

The installed `onnx` package holds the conformance tests of every ONNX op: one small model
per case plus input and expected output tensors (`onnx/backend/test/data/node/<test>/`:
model.onnx, test_data_set_N/input_J.pb, output_J.pb). Recent wheels no longer ship those
directories; they ship the generators, and onnx's own backend runner builds the cases in
process with `onnx.backend.test.loader.load_model_tests(kind="node")`. This script uses the
same call, so it sees exactly the cases ONNX itself runs, whichever form the installed
version has: ONNX's conformance data, drawn by each case's generator after
np.random.seed(0), not inputs of our choosing. Generated cases are written out in the
on-disk layout first, so both forms go through one path.

A test is selected when every node of its model is an op moec's importer accepts. That list
is read at run time from the importer's op tables (compiler/import/NodeImport.cpp), so it
cannot drift from the compiler. Each selected test is compiled (`moec compile --target
host`), run (`moec-run`, .npy in and out) and its outputs compared with ONNX's expected
ones. A selected test whose model takes shape-like inputs (int32/int64, rank <= 1: axes,
shapes, K, split sizes, slice bounds) also runs as `<test>@const`, with those inputs made
initializers as an exporter writes them: moec specializes kernels on such operands and
refuses them as runtime inputs, so without the variant those ops would go untested.
Outcomes:

  PASS   every output has the expected dtype and shape, and |out - ref| <= ATOL + RTOL*|ref|
         element-wise (NaN matches NaN), with ONNX's node-test tolerances RTOL 1e-3 and
         ATOL 1e-7; integer and boolean outputs must match exactly.
  FAIL   moec accepted the model but computed something else: a compiler bug.
  ERROR  moec or moec-run refused the model with its one-line error (recorded verbatim,
         paths shortened).
  CRASH  a signal, a timeout, or an exit whose stderr is not the tool's one-line error.
  SKIP   the model uses an op the importer does not have (not run; counted per op).

expected.txt (beside this script) records PASS or ERROR-with-reason for every selected
test. Without --update the run fails when: a FAIL or CRASH happens (never acceptable), a
test recorded PASS does not pass, a test recorded ERROR now passes (the record is stale),
or the selected set differs from the recorded one (an op was added to the importer, or
another onnx version is installed). --update rewrites expected.txt from this run; it still
exits nonzero when a FAIL or CRASH happened, since those are bugs to fix, not to record.

  python3 test/onnx_node/run_node_tests.py --moec build/tools/moec/moec \\
      --moec-run build/tools/moec-run/moec-run [--update] [-k REGEX] [-v]

See docs/onnx-node-tests.md.
"""

import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_EXPECTED = os.path.join(HERE, "expected.txt")
DEFAULT_IMPORTER = os.path.join(ROOT, "compiler", "import", "NodeImport.cpp")

# ONNX's backend runner compares node-test outputs with these (TestCase.rtol/atol of every
# node case); the expected outputs are computed by numpy, mostly in float64 and cast.
RTOL = 1e-3
ATOL = 1e-7

# Per tool invocation. A node-test model compiles in under a second; minutes mean a hang.
TOOL_TIMEOUT_S = 120

RECORDABLE = ("PASS", "ERROR")


# --- which ops moec imports ------------------------------------------------------------------

def supported_ops(importer_source):
    """{domain: {op_type}} read from the importer's op tables.

    NodeImport.cpp holds one `const OpInfo kXxxOps[] = {{"OnnxName", "mlirName", ...}, ...};`
    table per domain, and findOp() picks the table for a domain with
    `if (domain.empty()) table = kAiOnnxOps;` / `else if (domain == "d") table = kYyyOps;`.
    Both are parsed, so a new op or a new domain table is picked up without editing this file.
    """
    with open(importer_source) as f:
        text = f.read()
    tables = {}
    for match in re.finditer(r"const\s+OpInfo\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\n\};", text, re.S):
        tables[match.group(1)] = set(re.findall(r"\{\s*\"(\w+)\"\s*,\s*\"[\w.]+\"", match.group(2)))
    domains = {}
    for match in re.finditer(r"domain\s*(?:\.empty\(\)|==\s*\"([\w.]+)\")\s*\)\s*table\s*=\s*(\w+)\s*;",
                             text):
        domain = match.group(1) or ""
        if match.group(2) in tables:
            domains[domain] = tables[match.group(2)]
    # The ai.onnx table has had ~50 ops since the first importer; far fewer means the source
    # changed shape and this parser needs updating, not that the ops went away.
    if len(domains.get("", ())) < 20:
        raise SystemExit(f"run_node_tests.py: error: {importer_source}: cannot read the "
                         "importer's op tables (kAiOnnxOps / findOp changed form?); "
                         "update supported_ops() in run_node_tests.py")
    return domains


def model_ops(model):
    """(domain, op_type) of every node, subgraphs included."""
    found = set()

    def visit(graph):
        for node in graph.node:
            found.add((node.domain if node.domain != "ai.onnx" else "", node.op_type))
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)
                for g in attr.graphs:
                    visit(g)

    visit(model.graph)
    return found


def op_label(name, model):
    """The op a test is about: the single node's op, or for a function-expanded test
    (test_<case>_expanded[_verN]) the op whose function body it is. onnx names the body's
    internal tensors '<Op>_<test>_expanded_function_<x>', which tells the op."""
    if len(model.graph.node) == 1:
        return model.graph.node[0].op_type
    base = re.sub(r"_expanded(_ver\d+)?$", "", name)
    marker = "_" + base + "_expanded_function_"
    for node in model.graph.node:
        for edge in list(node.input) + list(node.output):
            if marker in edge:
                return edge.split(marker)[0] + " (expanded)"
    return "(multi-node)"


# --- the test cases --------------------------------------------------------------------------

class Case:
    def __init__(self, name, directory, label):
        self.name, self.dir, self.label = name, directory, label


def _write_tensor(path, value, name):
    if isinstance(value, onnx.TensorProto):
        proto = value
    elif isinstance(value, list):  # a sequence input (test_identity_sequence)
        proto = numpy_helper.from_list(value, name)
    else:
        proto = numpy_helper.from_array(np.asarray(value), name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def _materialize(case, root):
    """Writes an in-memory onnx TestCase in the on-disk node-test layout; returns its dir."""
    directory = os.path.join(root, case.name)
    os.makedirs(directory, exist_ok=True)
    onnx.save(case.model, os.path.join(directory, "model.onnx"))
    inputs = [v.name for v in case.model.graph.input]
    outputs = [v.name for v in case.model.graph.output]
    for n, (ins, outs) in enumerate(case.data_sets):
        data_dir = os.path.join(directory, f"test_data_set_{n}")
        os.makedirs(data_dir, exist_ok=True)
        for j, value in enumerate(ins):
            _write_tensor(os.path.join(data_dir, f"input_{j}.pb"), value, inputs[j])
        for j, value in enumerate(outs):
            _write_tensor(os.path.join(data_dir, f"output_{j}.pb"), value, outputs[j])
    return directory


# Element types of the operands moec needs at compile time (axes, shapes, K, split sizes,
# slice bounds, repeats): ONNX types INT32 and INT64.
_INDEX_TYPES = (onnx.TensorProto.INT32, onnx.TensorProto.INT64)
CONST_SUFFIX = "@const"


def _const_variant(name, directory, data_root):
    """The test with its shape-like inputs (int32/int64 of rank <= 1) made initializers, as
    an exporter writes them; None if it has none. ONNX's node tests feed axes, shapes, K and
    slice bounds as runtime inputs, which moec refuses by design (it specializes kernels on
    them), so without this variant the ops taking such operands would go untested."""
    model = onnx.load(os.path.join(directory, "model.onnx"), load_external_data=False)
    inputs = _graph_inputs(model)
    folded = {v.name for v in model.graph.input
              if v.name in inputs and v.type.HasField("tensor_type")
              and v.type.tensor_type.elem_type in _INDEX_TYPES
              and v.type.tensor_type.HasField("shape")
              and len(v.type.tensor_type.shape.dim) <= 1}
    if not folded:
        return None
    data_sets = sorted(d for d in os.listdir(directory) if d.startswith("test_data_set_"))
    values = {}
    for data_set in data_sets:
        for j, input_name in enumerate(inputs):
            if input_name not in folded:
                continue
            tensor = onnx.load_tensor(os.path.join(directory, data_set, f"input_{j}.pb"))
            array = numpy_helper.to_array(tensor)
            # One model serves every data set only if they agree on the folded values.
            if input_name in values and not np.array_equal(values[input_name], array):
                return None
            values[input_name] = array
    kept = [v for v in model.graph.input if v.name not in folded]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    for input_name in inputs:
        if input_name in folded:
            model.graph.initializer.append(numpy_helper.from_array(values[input_name], input_name))
    # Initializers that are not graph inputs need IR version 4.
    model.ir_version = max(model.ir_version, 4)
    variant = os.path.join(data_root, name + CONST_SUFFIX)
    os.makedirs(variant, exist_ok=True)
    onnx.save(model, os.path.join(variant, "model.onnx"))
    for data_set in data_sets:
        os.makedirs(os.path.join(variant, data_set), exist_ok=True)
        remaining = [n for n in inputs if n not in folded]
        for j, input_name in enumerate(inputs):
            if input_name not in folded:
                shutil.copy(os.path.join(directory, data_set, f"input_{j}.pb"),
                            os.path.join(variant, data_set,
                                         f"input_{remaining.index(input_name)}.pb"))
        for output in os.listdir(os.path.join(directory, data_set)):
            if output.startswith("output_"):
                shutil.copy(os.path.join(directory, data_set, output),
                            os.path.join(variant, data_set, output))
    return variant


def collect(ops, data_root):
    """(selected Cases, {test name: unsupported ops} of the skipped ones). Each selected test
    with shape-like inputs also gets its '@const' variant (see _const_variant)."""
    import warnings
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        # The generators' own numpy overflow/divide warnings (cast, reduce of empty sets).
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            cases = load_model_tests(kind="node")
    selected, skipped = [], {}
    for case in sorted(cases, key=lambda c: c.name):
        if case.model is not None:
            model = case.model
        else:
            model = onnx.load(os.path.join(case.model_dir, "model.onnx"), load_external_data=False)
        used = model_ops(model)
        missing = sorted(f"{d + '.' if d else ''}{t}" for d, t in used
                         if t not in ops.get(d, ()))
        if missing:
            skipped[case.name] = missing
            continue
        label = op_label(case.name, model)
        directory = case.model_dir if case.model is None else _materialize(case, data_root)
        selected.append(Case(case.name, directory, label))
        variant = _const_variant(case.name, directory, data_root)
        if variant:
            selected.append(Case(case.name + CONST_SUFFIX, variant, label))
    return selected, skipped


# --- one test --------------------------------------------------------------------------------

def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _tool_outcome(result, tool, exit_code, work):
    """None when the tool succeeded, else (status, reason). A clean refusal is the tool's
    documented exit code with stderr holding one '<tool>: error: ' line (warning lines from
    the tool may precede it); anything else is a CRASH."""
    if result is None:
        return "CRASH", f"{tool}: timed out after {TOOL_TIMEOUT_S} s"
    if result.returncode == 0:
        return None
    if result.returncode < 0:
        return "CRASH", f"{tool}: killed by {_signal_name(result.returncode)}"
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if not l.startswith(f"{tool}: warning: ")]
    if (result.returncode == exit_code and len(errors) == 1
            and errors[0].startswith(f"{tool}: error: ")):
        message = errors[0][len(f"{tool}: error: "):]
        message = message.replace(work + os.sep, "").replace(work, ".")
        return "ERROR", f"{tool}: {message}"
    first = errors[0][:300] if errors else "(no stderr)"
    return "CRASH", (f"{tool}: exit {result.returncode} with {len(errors)} stderr line(s), not "
                     f"the one-line error format: {first}")


def _run(args, env=None):
    try:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                              errors="replace", timeout=TOOL_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return None


def _graph_inputs(model):
    initializers = {t.name for t in model.graph.initializer}
    return [v.name for v in model.graph.input if v.name not in initializers]


def _compare(name, out, ref):
    """None if out matches ref under the node-test criterion, else why not."""
    if out.dtype != ref.dtype:
        return f"output '{name}': dtype {out.dtype}, expected {ref.dtype}"
    if out.shape != ref.shape:
        return f"output '{name}': shape {out.shape}, expected {ref.shape}"
    if ref.size == 0:
        return None
    if np.issubdtype(ref.dtype, np.floating):
        o, r = out.astype(np.float64), ref.astype(np.float64)
        ok = np.isclose(o, r, rtol=RTOL, atol=ATOL, equal_nan=True)
    else:
        o, r = out, ref
        ok = out == ref
    if ok.all():
        return None
    bad = np.argwhere(~ok)
    index = tuple(int(i) for i in bad[0])
    with np.errstate(invalid="ignore"):
        diff = np.abs(o.astype(np.float64) - r.astype(np.float64))
    diff[ok] = 0
    return (f"output '{name}': {len(bad)} of {ref.size} elements differ, max |err| "
            f"{np.nanmax(diff):.3g}; first at {index}: got {o[index].item()!r}, expected {r[index].item()!r}")


def check_comparator():
    """The comparison must be able to fail: exits if it accepts a wrong output or rejects a
    right one, so a harness that passes everything cannot go unnoticed."""
    ref = np.array([1.5, -2.0, 0.0, np.nan, np.inf], np.float32)
    near = ref.copy()
    near[:3] += (0.5 * RTOL * np.abs(ref[:3])).astype(np.float32)
    off = ref.copy()
    off[1] *= 1 + 4 * RTOL
    nan = ref.copy()
    nan[0] = np.nan
    ints = np.array([3, -1, 7], np.int64)
    trials = [("equal", ref, ref, True), ("within rtol", near, ref, True),
              ("4 rtol off", off, ref, False), ("NaN for a number", nan, ref, False),
              ("float64 for float32", ref.astype(np.float64), ref, False),
              ("other shape", ref[:4], ref, False), ("int off by one", ints + [0, 0, 1], ints, False),
              ("equal ints", ints.copy(), ints, True)]
    for what, out, expected, should_pass in trials:
        if (_compare("y", out, expected) is None) != should_pass:
            raise SystemExit(f"run_node_tests.py: error: the output comparison is broken: "
                             f"'{what}' {'rejected' if should_pass else 'accepted'}")


def run_case(job):
    """Compiles and runs one test; returns (name, status, reason, compile_s, run_s)."""
    name, directory, work_root, moec, moec_run, keep = job
    work = os.path.join(work_root, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model_path = os.path.join(directory, "model.onnx")
    artifact = os.path.join(work, "model.moe")
    compile_s = run_s = 0.0

    def finish(status, reason=""):
        if not keep and status in ("PASS", "ERROR"):
            shutil.rmtree(work, ignore_errors=True)
        # Paths of the data dir are shortened like the work dir's.
        reason = reason.replace(directory + os.sep, "").replace(directory, ".")
        return name, status, reason, compile_s, run_s

    start = time.monotonic()
    result = _run([moec, "compile", model_path, "--target", "host", "-o", artifact, "-q"])
    compile_s = time.monotonic() - start
    outcome = _tool_outcome(result, "moec", 1, work)
    if outcome:
        return finish(*outcome)

    model = onnx.load(model_path, load_external_data=False)
    inputs = _graph_inputs(model)
    outputs = [v.name for v in model.graph.output]
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name in inputs + outputs and not value.type.HasField("tensor_type"):
            # moec refuses these today; if it ever accepts one, this harness needs extending.
            return finish("CRASH", f"harness: '{value.name}' is not a tensor, which moec-run "
                          "cannot feed or write")
    data_sets = sorted(d for d in os.listdir(directory) if d.startswith("test_data_set_"))
    if not data_sets:
        return finish("CRASH", "harness: no test_data_set_* directory")
    for data_set in data_sets:
        data_dir = os.path.join(directory, data_set)
        args = [moec_run, artifact]
        refs = []
        for j, input_name in enumerate(inputs):
            tensor = onnx.load_tensor(os.path.join(data_dir, f"input_{j}.pb"))
            npy = os.path.join(work, f"{data_set}_input_{j}.npy")
            np.save(npy, numpy_helper.to_array(tensor))
            args += ["--input", f"{input_name}={npy}"]
        for j, output_name in enumerate(outputs):
            tensor = onnx.load_tensor(os.path.join(data_dir, f"output_{j}.pb"))
            npy = os.path.join(work, f"{data_set}_output_{j}.npy")
            refs.append((output_name, numpy_helper.to_array(tensor), npy))
            args += ["--output", f"{output_name}={npy}"]
        start = time.monotonic()
        result = _run(args)
        run_s += time.monotonic() - start
        outcome = _tool_outcome(result, "moec-run", 2, work)
        if outcome:
            return finish(*outcome)
        for output_name, ref, npy in refs:
            why = _compare(output_name, np.load(npy), ref)
            if why:
                return finish("FAIL", f"{data_set}: {why}")
    return finish("PASS")


# --- expected results ------------------------------------------------------------------------

def read_expected(path):
    """({name: (status, reason)}, onnx version it was made with or None)."""
    expected, version = {}, None
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# onnx "):
                version = line.split()[2]
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split(" ", 2)
            if len(parts) < 2 or parts[1] not in RECORDABLE:
                raise SystemExit(f"run_node_tests.py: error: {path}:{number}: expected "
                                 f"'<test> PASS' or '<test> ERROR <reason>', got '{line}'")
            expected[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return expected, version


def write_expected(path, results, skipped):
    counts = collections.Counter(r[1] for r in results)
    with open(path, "w") as f:
        f.write("# ONNX backend node tests through moec --target host: what each selected test\n"
                "# does today. Written by test/onnx_node/run_node_tests.py --update; checked by\n"
                "# ctest onnx_node. See docs/onnx-node-tests.md.\n")
        f.write(f"# onnx {onnx.__version__}\n")
        f.write(f"# {counts['PASS']} PASS, {counts['ERROR']} ERROR; {len(skipped)} skipped "
                "(ops moec does not import)\n")
        for name, status, reason, _, _ in sorted(results):
            if status in RECORDABLE:
                f.write(f"{name} {status}{' ' + reason if reason else ''}\n")


def check_expected(results, expected, version):
    """Problems (one line each) of this run against the record."""
    problems = []
    if version and version != onnx.__version__:
        problems.append(f"expected.txt was written with onnx {version}, onnx "
                        f"{onnx.__version__} is installed (install requirements.txt, or "
                        "--update after checking the differences)")
    got = {r[0]: r for r in results}
    # FAIL and CRASH are never recorded, and are reported on their own below.
    added = sorted(n for n in set(got) - set(expected) if got[n][1] not in ("FAIL", "CRASH"))
    removed = sorted(set(expected) - set(got))
    if added:
        problems.append(f"{len(added)} test(s) newly selected (the importer gained an op?), "
                        f"not in expected.txt: {' '.join(added[:20])}"
                        f"{' ...' if len(added) > 20 else ''}; check them, then --update")
    if removed:
        problems.append(f"{len(removed)} test(s) in expected.txt no longer selected: "
                        f"{' '.join(removed[:20])}{' ...' if len(removed) > 20 else ''}; "
                        "--update after checking why")
    reworded = 0
    for name in sorted(set(got) & set(expected)):
        status, reason = got[name][1], got[name][2]
        want = expected[name][0]
        if status == want:
            reworded += status == "ERROR" and reason != expected[name][1]
            continue
        if status in ("FAIL", "CRASH"):
            continue  # reported for every test below
        if want == "PASS":
            problems.append(f"{name}: recorded PASS, now {status}: {reason}")
        elif status == "PASS":
            problems.append(f"{name}: recorded ERROR, now passes: the record is stale, "
                            "run --update")
    for name, status, reason, _, _ in sorted(results):
        if status in ("FAIL", "CRASH"):
            problems.append(f"{name}: {status}: {reason}")
    if reworded:
        # A reworded refusal is still a refusal: worth a refresh, not a failure.
        print(f"note: {reworded} ERROR message(s) differ from expected.txt; --update refreshes "
              "them")
    return problems


# --- reporting -------------------------------------------------------------------------------

def summary_markdown(cases, results, skipped):
    """The per-op counts of the selected tests, then the ops that keep tests skipped."""
    by_name = {r[0]: r for r in results}
    rows = collections.defaultdict(collections.Counter)
    for case in cases:
        if case.name in by_name:
            rows[case.label][by_name[case.name][1]] += 1
    lines = ["| op | pass | fail | error | crash |", "| --- | ---: | ---: | ---: | ---: |"]
    total = collections.Counter()
    for label in sorted(rows, key=str.lower):
        c = rows[label]
        total.update(c)
        lines.append(f"| {label} | {c['PASS']} | {c['FAIL']} | {c['ERROR']} | {c['CRASH']} |")
    lines.append(f"| **total** | {total['PASS']} | {total['FAIL']} | {total['ERROR']} | "
                 f"{total['CRASH']} |")
    missing = collections.Counter(op for ops in skipped.values() for op in ops)
    lines += ["", f"{len(skipped)} tests skipped; the unsupported ops they use, with the "
              "number of tests each keeps out (a test may lack several):", ""]
    lines.append(", ".join(f"{op} {n}" for op, n in
                           sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--moec-run", required=True)
    parser.add_argument("--expected", default=DEFAULT_EXPECTED)
    parser.add_argument("--importer-source", default=DEFAULT_IMPORTER,
                        help="NodeImport.cpp, whose op tables decide which tests are selected")
    parser.add_argument("--update", action="store_true",
                        help="rewrite --expected from this run")
    parser.add_argument("--work-dir", help="scratch space (default: a temporary directory)")
    parser.add_argument("--jobs", type=int, default=2, help="tests run at once (default 2)")
    parser.add_argument("-k", "--filter", help="only tests whose name matches this regex "
                        "(no expected.txt check, no --update)")
    parser.add_argument("--keep", action="store_true", help="keep every test's work files")
    parser.add_argument("--summary-md", help="write the per-op table (markdown) here")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    args = parser.parse_args()

    for label, path in (("moec", args.moec), ("moec-run", args.moec_run)):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"run_node_tests.py: error: {label} not found or not "
                             f"executable: {path}")
    moec, moec_run = os.path.abspath(args.moec), os.path.abspath(args.moec_run)
    if args.filter and args.update:
        raise SystemExit("run_node_tests.py: error: --update needs the whole set (no -k)")
    work_root = os.path.abspath(args.work_dir) if args.work_dir else tempfile.mkdtemp(
        prefix="moec-onnx-node-")
    os.makedirs(work_root, exist_ok=True)
    data_root = os.path.join(work_root, "data")
    run_root = os.path.join(work_root, "run")
    shutil.rmtree(data_root, ignore_errors=True)
    shutil.rmtree(run_root, ignore_errors=True)

    check_comparator()
    start = time.monotonic()
    ops = supported_ops(args.importer_source)
    cases, skipped = collect(ops, data_root)
    collect_s = time.monotonic() - start
    if args.filter:
        pattern = re.compile(args.filter)
        cases = [c for c in cases if pattern.search(c.name)]
        skipped = {n: m for n, m in skipped.items() if pattern.search(n)}
    print(f"onnx {onnx.__version__}: {len(cases)} node tests selected, {len(skipped)} skipped "
          f"(ops the importer lacks); {sum(len(v) for v in ops.values())} importer ops; "
          f"collected in {collect_s:.1f} s", flush=True)

    jobs = [(c.name, c.dir, run_root, moec, moec_run, args.keep) for c in cases]
    results = []
    run_start = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(run_case, jobs, chunksize=1):
            results.append(result)
            name, status, reason, compile_s, run_s = result
            if args.verbose or status in ("FAIL", "CRASH"):
                print(f"{status:5} {name} ({compile_s:.2f} s + {run_s:.2f} s)"
                      f"{': ' + reason if reason else ''}", flush=True)
    run_wall = time.monotonic() - run_start

    counts = collections.Counter(r[1] for r in results)
    # Models that got as far as moec-run compiled fully (host C++ included); the others
    # were refused early, mostly at import, and cost little.
    compiled = [r for r in results if r[4] > 0]
    refused = [r for r in results if r[4] == 0]
    compiled_s = sum(r[3] for r in compiled)
    print(f"{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['ERROR']} ERROR, "
          f"{counts['CRASH']} CRASH, {len(skipped)} SKIP")
    print(f"time: {run_wall:.1f} s wall with {args.jobs} jobs (+ {collect_s:.1f} s collecting); "
          f"moec {compiled_s:.1f} s for {len(compiled)} compiled models "
          f"({compiled_s / max(1, len(compiled)):.2f} s each), "
          f"{sum(r[3] for r in refused):.1f} s for {len(refused)} refused; "
          f"moec-run {sum(r[4] for r in results):.1f} s")

    if args.summary_md:
        with open(args.summary_md, "w") as f:
            f.write(summary_markdown(cases, results, skipped) + "\n")

    if args.filter:
        return 1 if counts["FAIL"] or counts["CRASH"] else 0
    if args.update:
        write_expected(args.expected, results, skipped)
        print(f"wrote {args.expected}")
        if counts["FAIL"] or counts["CRASH"]:
            print(f"{counts['FAIL'] + counts['CRASH']} FAIL/CRASH test(s) were not recorded: "
                  "they are bugs", file=sys.stderr)
            return 1
        return 0
    if not os.path.exists(args.expected):
        raise SystemExit(f"run_node_tests.py: error: {args.expected} not found (run --update)")
    expected, version = read_expected(args.expected)
    problems = check_expected(results, expected, version)
    for problem in problems:
        print("problem: " + problem, file=sys.stderr)
    print(f"{'FAILED' if problems else 'OK'}: {len(problems)} problem(s) against "
          f"{os.path.relpath(args.expected, ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

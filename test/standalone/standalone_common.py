"""Shared plumbing of the standalone-runtime tests: tool paths, generating and building a
project, calling the generated C API through ctypes, and running the same model with moec-run.

Paths come from the command line (what ctest passes):
  --moec PATH --moec-run PATH --models DIR --work-dir DIR [--fake-libcuda PATH]
  [--service-src DIR]
Everything else goes to unittest.
"""

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TOOL_TIMEOUT_S = 300

# The status codes of a generated <name>.h (equal to libmoert's).
OK, INVALID_ARGUMENT, NOT_FOUND, DATA_LOSS, FAILED_PRECONDITION = 0, 1, 2, 3, 4
RESOURCE_EXHAUSTED, INTERNAL = 6, 7

NUMPY_DTYPES = {0: np.float32, 1: np.float16, 3: np.float64, 4: np.int64, 5: np.int32,
                6: np.int8, 7: np.uint8, 8: np.bool_}


class Config:
    moec = None
    moec_run = None
    models = None
    work_dir = None
    fake_libcuda = None
    service_src = None


def parse_args(argv=None):
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(add_help=False)
    for name in ("moec", "moec-run", "models", "work-dir", "fake-libcuda", "service-src"):
        parser.add_argument("--" + name)
    known, rest = parser.parse_known_args(argv[1:])
    for key in ("moec", "moec_run", "models", "work_dir", "fake_libcuda", "service_src"):
        value = getattr(known, key)
        if value:
            setattr(Config, key, os.path.abspath(value))
    for key in ("moec", "moec_run", "models"):
        if not getattr(Config, key):
            parser.error(f"--{key.replace('_', '-')} is required")
    return argv[:1] + rest


def work_dir(name):
    root = Config.work_dir or tempfile.mkdtemp(prefix="moec-standalone-")
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S, **kwargs)


def check_run(args, **kwargs):
    result = run(args, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed with exit {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
    return result


def compile_artifact(model, out, target="host", extra=()):
    check_run([Config.moec, "compile", model, "--target", target, "-o", out, "-q", *extra])


def generate(model, out_dir, target="host", extra=()):
    """moec compile --emit standalone; returns the project's name (its C prefix)."""
    check_run([Config.moec, "compile", model, "--target", target, "--emit", "standalone",
               "-o", out_dir, "-q", *extra])
    headers = [f for f in os.listdir(out_dir) if f.endswith(".h") and f != "moec_host_kernels.h"]
    assert len(headers) == 1, headers
    return headers[0][:-2]


def build_host_library(project, name, embed=False, objects=None):
    """Builds lib<name>.so with the system compiler the way the generated CMakeLists.txt does
    (ISO C++17, -O3 for the kernels, hidden visibility), compiling the two sources in parallel.
    `objects` reuses an already compiled kernels.o. Returns the library path."""
    cxx = os.environ.get("CXX", "c++")
    common = ["-std=c++17", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden"]
    suffix = "_embedded" if embed else ""
    runtime_obj = os.path.join(project, f"{name}{suffix}.o")
    defines = []
    if embed:
        weights = os.path.join(project, "weights.bin")
        defines = [f"-D{name.upper()}_EMBED_WEIGHTS", f'-D{name.upper()}_WEIGHTS_FILE="{weights}"']
    jobs = [[cxx, *common, "-O3", "-DNDEBUG", *defines, "-c", os.path.join(project, f"{name}.cpp"),
             "-o", runtime_obj]]
    kernels_obj = objects or os.path.join(project, "kernels.o")
    if not objects:
        jobs.append([cxx, *common, "-O3", "-DNDEBUG", "-c", os.path.join(project, "kernels.cpp"),
                     "-o", kernels_obj])
    procs = [subprocess.Popen(job, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for job in jobs]
    for job, proc in zip(jobs, procs):
        out, _ = proc.communicate(timeout=TOOL_TIMEOUT_S)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(job)} failed:\n{out[-3000:]}")
    library = os.path.join(project, f"lib{name}{suffix}.so")
    check_run([cxx, "-shared", "-o", library, runtime_obj, kernels_obj])
    return library


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


class Options(ctypes.Structure):
    _fields_ = [("weights_path", ctypes.c_char_p), ("max_tokens", ctypes.c_int64),
                ("cuda_device", ctypes.c_int32), ("libcuda_path", ctypes.c_char_p)]


class Library:
    """The C API of one generated library, through ctypes."""

    def __init__(self, path, name):
        self.lib = ctypes.CDLL(path)
        self.name = name
        f = self.fn
        f("last_error").restype = ctypes.c_char_p
        f("status_name").restype = ctypes.c_char_p
        f("target").restype = ctypes.c_char_p
        for kind in ("input", "output"):
            f(kind + "_info").restype = ctypes.POINTER(TensorInfo)
            f(kind + "_info").argtypes = [ctypes.c_int32]
            f(kind + "_bytes").restype = ctypes.c_size_t
            f(kind + "_bytes").argtypes = [ctypes.c_int32, ctypes.c_int64]
        f("run").argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        f("destroy").argtypes = [ctypes.c_void_p]
        f("create").argtypes = [ctypes.c_void_p, ctypes.c_void_p]

    def fn(self, suffix):
        return getattr(self.lib, f"{self.name}_{suffix}")

    def error(self):
        return self.fn("last_error")().decode()

    def signature(self, kind):
        """[(name, numpy dtype, dims with -1 for T)] of the inputs or outputs."""
        sigs = []
        for i in range(self.fn(kind + "_count")()):
            info = self.fn(kind + "_info")(i).contents
            dims = [info.dims[d] for d in range(info.rank)]
            sigs.append((info.name.decode(), NUMPY_DTYPES[info.dtype], dims))
        return sigs

    def create(self, weights_path, max_tokens, libcuda_path=None):
        """(status, model handle or None)."""
        options = Options()
        self.fn("options_init")(ctypes.byref(options))
        options.weights_path = weights_path.encode() if weights_path else None
        options.max_tokens = max_tokens
        options.libcuda_path = libcuda_path.encode() if libcuda_path else None
        model = ctypes.c_void_p()
        status = self.fn("create")(ctypes.byref(options), ctypes.byref(model))
        return status, (model if status == OK else None)

    def run(self, model, inputs, tokens, null_inputs=()):
        """(status, outputs) for numpy `inputs` at `tokens`."""
        outputs = [np.full([max(tokens, 0) if d < 0 else d for d in dims], 7, dtype)
                   for _, dtype, dims in self.signature("output")]
        in_ptrs = (ctypes.c_void_p * max(len(inputs), 1))(
            *[None if i in null_inputs else a.ctypes.data for i, a in enumerate(inputs)])
        out_ptrs = (ctypes.c_void_p * max(len(outputs), 1))(*[a.ctypes.data for a in outputs])
        status = self.fn("run")(model, in_ptrs, out_ptrs, tokens)
        return status, outputs

    def destroy(self, model):
        self.fn("destroy")(model)


def random_inputs(signature, tokens, rng):
    """Fresh standard-normal float inputs (no zeros) for the signature at `tokens`."""
    arrays = []
    for name, dtype, dims in signature:
        if not np.issubdtype(dtype, np.floating):
            raise AssertionError(f"input '{name}': the tests only generate float inputs")
        a = rng.standard_normal([tokens if d < 0 else d for d in dims]).astype(dtype)
        a[a == 0] = 1  # never zeros
        arrays.append(a)
    return arrays


def moec_run_outputs(artifact, signature_in, signature_out, inputs, work, extra=(), env=None):
    """Runs `artifact` with moec-run on `inputs`; returns its outputs (numpy)."""
    args = [Config.moec_run, artifact]
    for (name, _, _), array in zip(signature_in, inputs):
        path = os.path.join(work, f"in_{len(args)}.npy")
        np.save(path, array)
        args += ["--input", f"{name}={path}"]
    out_paths = []
    for i, (name, _, _) in enumerate(signature_out):
        path = os.path.join(work, f"out_{i}.npy")
        out_paths.append(path)
        args += ["--output", f"{name}={path}"]
    check_run(args + list(extra), env=env)
    return [np.load(p) for p in out_paths]


def same_bits(a, b):
    """True if the arrays have the same shape, dtype and bytes (NaN payloads included)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()

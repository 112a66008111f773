#!/usr/bin/env python3
"""Size and start-up of a generated standalone runtime (host target).

Generates the project for a model (default: the Mixtral fixture), builds it with its own
CMakeLists.txt in Release, once with weights.bin beside the library and once with the weights
embedded, and reports:

  - the library's size, unstripped and stripped (strip --strip-unneeded), and weights.bin's;
  - start-up, measured in fresh processes by a small C++ driver (written and compiled here):
    dlopen of the library, create (read + checksum weights.bin, allocate the arena) and the
    first run at T tokens, each timed with std::chrono::steady_clock; --runs processes,
    median and minimum. The page cache is warm (the files were just written or read).

    python3 bench/standalone_size.py --moec build/tools/moec/moec [--model M.onnx]
        [--tokens 1] [--runs 21] [--work-dir DIR] [--libmoert build/runtime/libmoert.so]

Prints one Markdown table, ready for the README's deployment section.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(os.path.dirname(HERE), "test", "models", "mixtral_moe_node.onnx")

# The timing driver: loads the library with dlopen (so loading is timed too), resolves the
# generated C API by name, and fills the inputs with a non-zero pattern (timing only).
DRIVER = r"""
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <vector>

struct Options { const char *weights_path; int64_t max_tokens; int32_t cuda_device; const char *libcuda_path; };
using OptionsInit = void (*)(Options *);
using Create = int (*)(const Options *, void **);
using Run = int (*)(void *, const void *const *, void *const *, int64_t);
using Destroy = void (*)(void *);
using Count = int32_t (*)();
using Bytes = size_t (*)(int32_t, int64_t);
using LastError = const char *(*)();

int main(int argc, char **argv) {
  if (argc != 5) { std::fprintf(stderr, "usage: driver LIB NAME WEIGHTS|- TOKENS\n"); return 2; }
  std::string name = argv[2];
  int64_t tokens = std::atoll(argv[4]);
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { std::fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
  auto sym = [&](const char *suffix) { return dlsym(lib, (name + suffix).c_str()); };
  auto optionsInit = reinterpret_cast<OptionsInit>(sym("_options_init"));
  auto create = reinterpret_cast<Create>(sym("_create"));
  auto run = reinterpret_cast<Run>(sym("_run"));
  auto destroy = reinterpret_cast<Destroy>(sym("_destroy"));
  auto inputCount = reinterpret_cast<Count>(sym("_input_count"));
  auto outputCount = reinterpret_cast<Count>(sym("_output_count"));
  auto inputBytes = reinterpret_cast<Bytes>(sym("_input_bytes"));
  auto outputBytes = reinterpret_cast<Bytes>(sym("_output_bytes"));
  auto lastError = reinterpret_cast<LastError>(sym("_last_error"));
  auto t1 = clock::now();
  // The caller's buffers exist before the model does.
  std::vector<std::vector<float>> in(inputCount()), out(outputCount());
  std::vector<const void *> inPtrs;
  std::vector<void *> outPtrs;
  for (int i = 0; i < inputCount(); ++i) {
    in[i].resize(inputBytes(i, tokens) / sizeof(float) + 1);
    for (size_t j = 0; j < in[i].size(); ++j) in[i][j] = std::sin(0.1f * float(j + 1));
    inPtrs.push_back(in[i].data());
  }
  for (int i = 0; i < outputCount(); ++i) {
    out[i].resize(outputBytes(i, tokens) / sizeof(float) + 1);
    outPtrs.push_back(out[i].data());
  }
  auto t2 = clock::now();
  Options options;
  optionsInit(&options);
  options.weights_path = std::strcmp(argv[3], "-") ? argv[3] : nullptr;
  options.max_tokens = tokens;
  void *model = nullptr;
  if (create(&options, &model)) { std::fprintf(stderr, "create: %s\n", lastError()); return 1; }
  auto t3 = clock::now();
  if (run(model, inPtrs.data(), outPtrs.data(), tokens)) { std::fprintf(stderr, "run: %s\n", lastError()); return 1; }
  auto t4 = clock::now();
  destroy(model);
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("%.4f %.4f %.4f %.4f\n", ms(t1 - t0), ms(t3 - t2), ms(t4 - t3), ms(t1 - t0) + ms(t4 - t2));
  return 0;
}
"""


def check(args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"standalone_size: {' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}")
    return result


def build(project, build_dir, embed):
    args = ["cmake", "-S", project, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"]
    name = [f for f in os.listdir(project) if f.endswith(".h") and f != "moec_host_kernels.h"][0][:-2]
    args.append(f"-D{name.upper()}_EMBED_WEIGHTS={'ON' if embed else 'OFF'}")
    if shutil.which("ninja"):
        args += ["-G", "Ninja"]
    check(args)
    check(["cmake", "--build", build_dir, "-j", "2"])
    return name, os.path.join(build_dir, f"lib{name}.so")


def stripped_size(library, work):
    out = os.path.join(work, os.path.basename(library) + ".stripped")
    check(["strip", "--strip-unneeded", "-o", out, library])
    return os.path.getsize(out)


def time_startup(driver, library, name, weights, tokens, runs):
    samples = []
    for _ in range(runs):
        fields = check([driver, library, name, weights, tokens]).stdout.split()
        samples.append([float(f) for f in fields])
    columns = list(zip(*samples))  # load, create, run, total
    return [(statistics.median(c), min(c)) for c in columns]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moec", required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--tokens", type=int, default=1)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--work-dir")
    parser.add_argument("--libmoert", help="libmoert.so, to print its stripped size beside")
    args = parser.parse_args()

    work = args.work_dir or tempfile.mkdtemp(prefix="moec-standalone-size-")
    os.makedirs(work, exist_ok=True)
    project = os.path.join(work, "project")
    shutil.rmtree(project, ignore_errors=True)
    check([args.moec, "compile", args.model, "--target", "host", "--emit", "standalone",
           "-o", project, "-q"])
    name, library = build(project, os.path.join(work, "build"), embed=False)
    _, embedded = build(project, os.path.join(work, "build-embedded"), embed=True)
    driver = os.path.join(work, "startup_driver")
    with open(driver + ".cpp", "w") as f:
        f.write(DRIVER)
    check([os.environ.get("CXX", "c++"), "-std=c++17", "-O2", "-o", driver, driver + ".cpp"])

    weights = os.path.join(project, "weights.bin")
    file_times = time_startup(driver, library, name, weights, args.tokens, args.runs)
    embedded_times = time_startup(driver, embedded, name, "-", args.tokens, args.runs)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    compiler = check([os.environ.get("CXX", "c++"), "--version"]).stdout.splitlines()[0]
    print(f"Standalone runtime of {os.path.basename(args.model)} (target host), {compiler}, "
          f"{cpu}, {os.cpu_count()} cores; start-up at T={args.tokens}, median (min) of "
          f"{args.runs} fresh processes, warm page cache:\n")
    print("| library | size | stripped | weights.bin | dlopen ms | create ms | first run ms "
          "| load + create + first run ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def fmt(pair):
        return f"{pair[0]:.3f} ({pair[1]:.3f})"

    for label, lib, times, weight_size in (
            (f"lib{name}.so", library, file_times, os.path.getsize(weights)),
            (f"lib{name}.so, embedded weights", embedded, embedded_times, 0)):
        print(f"| {label} | {os.path.getsize(lib)} | {stripped_size(lib, work)} | "
              f"{weight_size if weight_size else '(inside)'} | {fmt(times[0])} | "
              f"{fmt(times[1])} | {fmt(times[2])} | {fmt(times[3])} |")
    if args.libmoert:
        print(f"\nFor comparison, libmoert.so (runs any .moe artifact): "
              f"{os.path.getsize(args.libmoert)} bytes, {stripped_size(args.libmoert, work)} "
              f"stripped.")


if __name__ == "__main__":
    main()

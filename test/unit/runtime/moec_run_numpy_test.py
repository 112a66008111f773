"""moec-run against numpy: numpy writes the inputs (.npy format 1.0 and 3.0),
numpy reads moec-run's outputs, and the reference is computed in float64.

usage: moec_run_numpy_test.py MAKE_ARTIFACT MOEC_RUN WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

HIDDEN = 16


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    make_artifact, moec_run, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    model = os.path.join(workdir, "add.moe")
    subprocess.run([make_artifact, model], check=True)
    w = 0.25 * np.arange(HIDDEN, dtype=np.float64) - 1.5
    rng = np.random.default_rng(1234)
    failures = []

    for version, tokens in [((1, 0), 7), ((3, 0), 1), ((2, 0), 0)]:
        x = rng.uniform(-3, 3, size=(tokens, HIDDEN)).astype(np.float32)
        x_path = os.path.join(workdir, f"x_v{version[0]}.npy")
        with open(x_path, "wb") as f:
            np.lib.format.write_array(f, x, version=version)
        ref = x.astype(np.float64) + w
        ref_path = os.path.join(workdir, "ref.npy")
        np.save(ref_path, ref)  # float64 reference: compared, not cast
        y_path = os.path.join(workdir, "y.npy")
        code, out = run([moec_run, model, "--input", f"x={x_path}",
                         "--output", f"y={y_path}", "--check", f"y={ref_path}"])
        if code != 0 or "all PASS" not in out:
            failures.append(f"v{version}: exit {code}: {out}")
            continue
        y = np.load(y_path)
        if y.dtype != np.float32 or y.shape != (tokens, HIDDEN):
            failures.append(f"v{version}: output {y.dtype} {y.shape}")
        elif not np.allclose(y, ref, rtol=1e-6, atol=0):
            failures.append(f"v{version}: output differs from numpy")

    # A wrong reference must FAIL (exit 1), a float64 input must be refused.
    x = rng.uniform(-3, 3, size=(5, HIDDEN)).astype(np.float32)
    np.save(os.path.join(workdir, "x.npy"), x)
    bad_ref = x.astype(np.float64) + w
    bad_ref[2, 3] += 1e-2
    np.save(os.path.join(workdir, "bad_ref.npy"), bad_ref)
    code, out = run([moec_run, model, "--input", f"x={workdir}/x.npy",
                     "--check", f"y={workdir}/bad_ref.npy"])
    if code != 1 or "FAIL" not in out:
        failures.append(f"wrong reference: exit {code}: {out}")
    np.save(os.path.join(workdir, "x64.npy"), x.astype(np.float64))
    code, out = run([moec_run, model, "--input", f"x={workdir}/x64.npy"])
    if code != 2 or "holds float64 but the model expects float32" not in out:
        failures.append(f"float64 input: exit {code}: {out}")
    np.save(os.path.join(workdir, "xf.npy"), np.asfortranarray(x))
    code, out = run([moec_run, model, "--input", f"x={workdir}/xf.npy"])
    if code != 2 or "Fortran order" not in out:
        failures.append(f"fortran input: exit {code}: {out}")

    for failure in failures:
        print("FAIL:", failure)
    print("moec_run_numpy_test:", "FAIL" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

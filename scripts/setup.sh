#!/usr/bin/env bash
# Installs everything moec needs to build and test, from Debian packages and
# PyPI only. Idempotent: anything already present is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  cmake ninja-build g++ ccache python3 python3-pip
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools   # MLIR 22, FileCheck, lit
  libonnx-dev libprotobuf-dev protobuf-compiler            # ONNX protobuf
  libflatbuffers-dev flatbuffers-compiler                  # artifact format
  libgtest-dev                                             # unit tests
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python test dependencies (pinned). pip skips what is already satisfied.
if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as md, re, sys
for line in open("requirements.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, version = re.split(r"==", line)
    if md.version(name) != version:
        sys.exit(1)
PY
then
  echo "setup: installing Python packages from requirements.txt"
  python3 -m pip install -q -r requirements.txt
fi

if [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: note: no CUDA toolkit at /usr/local/cuda (only needed for the CUDA targets)"
fi
echo "setup: all dependencies present"

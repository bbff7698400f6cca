#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that infscaler-hil loads at run time, into the
# project-local, git-ignored folder .ort/ at the workspace root:
#   pip install --target .ort --no-deps onnxruntime==$ONNXRUNTIME_VERSION
# The PyPI wheel ships the library as .ort/onnxruntime/capi/libonnxruntime.so.<version>, where
# infscaler-hil looks for it (hil/src/runtime/library.rs). CPU only: for CUDA, TensorRT or the
# DLA on a Jetson, install NVIDIA's onnxruntime-gpu build and set ORT_DYLIB_PATH instead.
#
# Idempotent: when the library of the wanted version is there already, it returns at once.
# Environment: ONNXRUNTIME_VERSION (default below), PYTHON (default python3); pip's own
# variables (PIP_INDEX_URL, PIP_FIND_LINKS, ...) apply.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${ONNXRUNTIME_VERSION:-1.32.0}"
python="${PYTHON:-python3}"
target=".ort"
lib="$target/onnxruntime/capi/libonnxruntime.so.$version"

if [[ -f "$lib" ]]; then
  echo "ONNX Runtime $version already installed: $lib"
  exit 0
fi

if ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "error: '$python -m pip' is not available; install pip, or set PYTHON to a Python with pip," >&2
  echo "       or set ORT_DYLIB_PATH to an existing libonnxruntime.so" >&2
  exit 1
fi

# A different version may be there: replace it whole, so one library is found.
rm -rf "$target"
echo "Installing ONNX Runtime $version into $target/ ..."
"$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
  --target "$target" "onnxruntime==$version"

if [[ ! -f "$lib" ]]; then
  echo "error: pip installed onnxruntime $version but $lib is missing; files found:" >&2
  find "$target" -name 'libonnxruntime*' >&2 || true
  exit 1
fi
echo "Installed: $lib"

#!/usr/bin/env bash
# Everything a fresh machine (and CI) runs: the Rust workspace tests, then the Python package
# built from source (`pip install ./python`, maturin) and its tests, in a virtualenv at .venv.
# Exits non-zero on the first failure.
#
#   bash scripts/test-all.sh              # all of it
#   SKIP_TORCH=1 bash scripts/test-all.sh # without installing PyTorch (its tests then skip)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install --quiet --upgrade pip
"$VPY" -m pip install --quiet pytest hypothesis numpy scipy tidynamics zarr "dask[distributed]" xarray pandas ruff==0.17.6 mypy==2.4.1
if [ "${SKIP_TORCH:-0}" != "1" ]; then
  # The plain PyPI wheel (on Linux it pulls the CUDA runtime libraries too).
  "$VPY" -m pip install --quiet torch
fi

# The Rust tests first: they also build target/debug/anodiff, which the Python tests compare
# against (python/tests/conftest.py).
cargo test --workspace

# A release build of the extension through maturin, as users install it.
"$VPY" -m pip install --quiet ./python

# The Python sources formatted, linted and typed (the stubs of the compiled module included).
"$VPY" -m ruff format --check python
"$VPY" -m ruff check python
"$VPY" -m mypy python/py_src/anodiff --ignore-missing-imports

# Run from python/tests so that `anodiff` is the installed package, not a source folder.
(cd python/tests && ../../.venv/bin/python -m pytest -q)

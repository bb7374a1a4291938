"""Shared paths for the Python tests."""

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def cli_binary():
    """The `anodiff` binary built by `cargo test`/`cargo build` (ANODIFF_BIN overrides; cargo's
    CARGO_TARGET_DIR is honoured), or None."""
    env = os.environ.get("ANODIFF_BIN")
    if env:
        return env
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for p in (target / "debug" / "anodiff", target / "release" / "anodiff"):
        if p.exists():
            return str(p)
    return shutil.which("anodiff")


@pytest.fixture
def anodiff_bin():
    b = cli_binary()
    if b is None:
        # CI builds the binary before the Python tests: a missing one there is a failure.
        if os.environ.get("CI"):
            pytest.fail("the anodiff binary is not built (cargo build --bin anodiff)")
        pytest.skip("the anodiff binary is not built (cargo build --bin anodiff)")
    return b

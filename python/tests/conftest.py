"""Shared paths for the Python tests."""

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def cli_binary():
    """The `anodiff` binary built by `cargo test`/`cargo build` (ANODIFF_BIN overrides), or None."""
    env = os.environ.get("ANODIFF_BIN")
    if env:
        return env
    for p in (
        REPO / "target" / "debug" / "anodiff",
        REPO / "target" / "release" / "anodiff",
    ):
        if p.exists():
            return str(p)
    return shutil.which("anodiff")


@pytest.fixture
def anodiff_bin():
    b = cli_binary()
    if b is None:
        pytest.skip("the anodiff binary is not built (cargo build --bin anodiff)")
    return b

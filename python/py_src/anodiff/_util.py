"""Argument conversion shared by the submodules."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def as_float_array(v: Any, name: str) -> np.ndarray:
    """`np.asarray(v, float64)` for real input (lists, ints, bools, float32 ...), else TypeError."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiub":
        raise TypeError(
            f"{name}: expected real numbers, got an array of dtype {a.dtype}"
        )
    return a.astype(np.float64, copy=False)


def as_sample(x: Any, name: str = "x") -> np.ndarray:
    """A flat, contiguous float64 copy-or-view of a sample (any shape is read flat)."""
    return np.ascontiguousarray(as_float_array(x, name).ravel())


def seed_from(random_state: Any) -> int:
    """A 63-bit seed for the Rust generators from None, an int, a SeedSequence, a
    `numpy.random.Generator` or a legacy `RandomState` (which is advanced by one draw)."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(
            "random_state: expected None, an int or a numpy Generator, got a bool"
        )
    rng = np.random.default_rng(random_state)
    return int(rng.integers(0, 2**63 - 1))


def loads(s: str) -> dict:
    """JSON from the compiled layer (non-finite numbers appear as null)."""
    return json.loads(s)


def check_int(v: Any, name: str, lo: int = 0) -> int:
    """An integer >= lo (numpy integers accepted; bools and floats rejected)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(v).__name__}")
    v = int(v)
    if v < lo:
        raise ValueError(f"{name} must be at least {lo}, got {v}")
    return v

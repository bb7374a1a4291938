"""Landscape generators (`anodiff landscape`): fBm, spectral, diamond-square surfaces and the
smooth baselines, seeded with the command line's ChaCha8 stream."""

from __future__ import annotations

import numpy as np

from . import _core
from ._util import check_int

__all__ = ["cone", "diamond_square", "fbm", "paraboloid", "spectral"]


def fbm(
    size: int = 513, hurst: float = 0.5, scale: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Exact fractional Brownian surface (Stein's circulant embedding), size x size."""
    return _core.landscape(
        "fbm",
        check_int(size, "size"),
        hurst=float(hurst),
        scale=float(scale),
        seed=check_int(seed, "seed"),
    )


def spectral(size: int = 513, hurst: float = 0.5, seed: int = 0) -> np.ndarray:
    """Spectral-synthesis surface with power spectrum ~ k^-(2H + 2)."""
    return _core.landscape(
        "spectral",
        check_int(size, "size"),
        hurst=float(hurst),
        seed=check_int(seed, "seed"),
    )


def diamond_square(
    size: int = 1025, roughness: float = 3.0, decay: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Diamond-square surface (size = 2^k + 1; defaults of the paper's generator)."""
    return _core.landscape(
        "diamond-square",
        check_int(size, "size"),
        roughness=float(roughness),
        decay=float(decay),
        seed=check_int(seed, "seed"),
    )


def paraboloid(size: int = 513, curvature: float = 1.0) -> np.ndarray:
    """The convex baseline curvature (x^2 + y^2) on the size x size grid over [-1, 1]^2."""
    return _core.landscape(
        "paraboloid", check_int(size, "size"), scale=float(curvature)
    )


def cone(size: int = 513, slope: float = 1.0) -> np.ndarray:
    """The cone slope sqrt(x^2 + y^2) on the size x size grid over [-1, 1]^2."""
    return _core.landscape("cone", check_int(size, "size"), scale=float(slope))

"""Fractal dimensions: box counting of sets and point clouds, surface and level-set dimensions
(`anodiff boxcount`, `anodiff surface-dim`)."""

from __future__ import annotations

import numpy as np

from . import _core
from ._util import as_float_array, check_int, loads

__all__ = ["box_count", "level_set_dimension", "surface_dimension"]


def box_count(
    data,
    *,
    min_scale: float | None = None,
    max_scale: float | None = None,
    ratio: float = 2.0,
    offsets: int = 4,
) -> dict:
    """Box-counting dimension of a 2-D boolean image (True = in the set) or of a point cloud
    (an n x d float array), with its standard error, 95 % interval, the counts per box size and
    the automatically chosen scaling range (the JSON fields of `anodiff boxcount`)."""
    a = np.asarray(data)
    if a.ndim != 2:
        raise ValueError(
            f"expected a 2-D image or an n x d point array, got shape {a.shape}"
        )
    args = (
        None if min_scale is None else float(min_scale),
        None if max_scale is None else float(max_scale),
        float(ratio),
        check_int(offsets, "offsets", 1),
    )
    if a.dtype == bool:
        return loads(_core.box_count_image(np.ascontiguousarray(a), *args))
    return loads(_core.box_count_points(as_float_array(a, "points"), *args))


def surface_dimension(z, method: str = "variogram", max_lag: int | None = None) -> dict:
    """Dimension (in [2, 3]) of the graph of a surface z = f(x, y) given on a grid: "variogram"
    (default), "madogram" (Gneiting, Sevcikova & Percival 2012) or "dbc" (biased low)."""
    return loads(
        _core.surface_dimension(
            as_float_array(z, "z"),
            str(method),
            None if max_lag is None else check_int(max_lag, "max_lag"),
        )
    )


def level_set_dimension(z, level: float | None = None) -> dict:
    """Box-counting dimension (in [1, 2]) of the contour {z = level} (default: the median)."""
    return loads(
        _core.level_set_dimension(
            as_float_array(z, "z"), None if level is None else float(level)
        )
    )

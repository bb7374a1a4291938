# Type stubs of the compiled module anodiff._core (python/src/*.rs). Structured results are
# returned as JSON text and parsed by the Python layer.
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

class FitError(ValueError): ...
class ConvergenceError(RuntimeError): ...

_F64: TypeAlias = npt.NDArray[np.float64]
_F32: TypeAlias = npt.NDArray[np.float32]

def stable_eval(
    kind: str, x: _F64, alpha: _F64, beta: _F64, loc: _F64, scale: _F64, param: str
) -> _F64: ...
def stable_rvs(
    alpha: _F64, beta: _F64, loc: _F64, scale: _F64, param: str, size: int, seed: int
) -> _F64: ...
def fit_stable(
    x: _F64,
    method: str,
    param: str,
    symmetric: bool,
    fix_loc: float | None,
    profile: bool,
    sandwich: bool,
    exact: bool,
    tol: float,
    max_iter: int,
    mantissa_bits: int,
) -> str: ...
def vuong_test(
    x: _F64,
    alt: str,
    symmetric: bool,
    level: float,
    binned: bool,
    mantissa_bits: int,
    exact: bool,
) -> str: ...
def fit_alternative(x: _F64, model: str) -> str: ...
def hill_estimate(x: _F64, tail: str, k: int | None) -> str: ...
def msd_array(
    w: _F32 | _F64, lags: Sequence[int] | None = None
) -> tuple[npt.NDArray[np.int64], _F64]: ...
def msd_windows(
    traj: Trajectory,
    window: int | None,
    stride: int | None,
    starts: Sequence[int] | None,
    lags: str,
    max_lag: int | None,
    fit_range: tuple[float, float] | None,
    blocks: int,
    boot: int,
    seed: int,
) -> str: ...
def analyze(
    traj: Trajectory,
    window: int | None,
    stride: int | None,
    lags: str,
    max_lag: int | None,
    fit_range: tuple[float, float] | None,
    msl_range: tuple[float, float] | None,
    bins: int,
    moving_window: int,
    grad_samples: int,
    max_pair_window: int,
    blocks: int,
    seed: int,
) -> str: ...
def regime(
    traj: Trajectory,
    window: int,
    stride: int | None,
    max_lag: int | None,
    level: float,
    seed: int,
) -> str: ...
def box_count_image(
    mask: npt.NDArray[np.bool_],
    min_scale: float | None = None,
    max_scale: float | None = None,
    ratio: float = 2.0,
    offsets: int = 4,
) -> str: ...
def box_count_points(
    points: _F64,
    min_scale: float | None = None,
    max_scale: float | None = None,
    ratio: float = 2.0,
    offsets: int = 4,
) -> str: ...
def surface_dimension(
    z: _F64, method: str = "variogram", max_lag: int | None = None
) -> str: ...
def level_set_dimension(z: _F64, level: float | None = None) -> str: ...
def landscape(
    kind: str,
    size: int,
    hurst: float = 0.5,
    scale: float = 1.0,
    roughness: float = 3.0,
    decay: float = 0.5,
    seed: int = 0,
) -> _F64: ...

class Trajectory:
    @staticmethod
    def open(path: str, losses: str | None = None) -> Trajectory: ...
    @staticmethod
    def from_array(w: _F32, losses: _F64 | None = None) -> Trajectory: ...
    @property
    def n_steps(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def gradient_dim(self) -> int: ...
    @property
    def path(self) -> str: ...
    def metadata_json(self) -> str | None: ...
    def weights(self, start: int, stop: int) -> _F32: ...
    def gradients(self, start: int, stop: int) -> _F32: ...
    def losses(self, start: int, stop: int) -> _F64 | None: ...
    def validate(self) -> None: ...

class StoreWriter:
    @staticmethod
    def create(
        dir: str,
        dim: int,
        gradient_dim: int = 0,
        chunk_steps: int | None = None,
        subset_seed: int | None = None,
        metadata_json: str | None = None,
        sync: bool = True,
    ) -> StoreWriter: ...
    @staticmethod
    def resume(dir: str, sync: bool = True) -> StoreWriter: ...
    @property
    def dim(self) -> int: ...
    @property
    def gradient_dim(self) -> int: ...
    @property
    def n_steps(self) -> int: ...
    def metadata_json(self) -> str: ...
    def append(
        self, weights: _F32, loss: float, gradient: _F32 | None = None
    ) -> None: ...
    def finish(self) -> None: ...

class Driver:
    @staticmethod
    def lanczos(
        n: int,
        k: int,
        which: str = "LA",
        tol: float = 1e-8,
        max_matvecs: int | None = None,
        basis_size: int | None = None,
        seed: int = 0,
        vectors: bool = True,
        v0: Sequence[float] | None = None,
    ) -> Driver: ...
    @staticmethod
    def slq(
        n: int,
        probes: int = 10,
        steps: int = 80,
        sigma: float | None = None,
        grid_points: int = 1000,
        seed: int = 0,
    ) -> Driver: ...
    @staticmethod
    def trace(
        n: int,
        probes: int = 30,
        method: str = "hutch++",
        level: float = 0.95,
        seed: int = 0,
    ) -> Driver: ...
    @property
    def n(self) -> int: ...
    def next_query(self) -> _F64 | None: ...
    def supply(self, y: _F64) -> None: ...
    def result(self) -> tuple[str, _F64 | None]: ...
    def close(self) -> None: ...

# anodiff.dask kernels (python/src/dask.rs).
_Layout: TypeAlias = tuple[int, int, bool]

def msd_plan(
    n_steps: int,
    window: int | None,
    stride: int | None,
    starts: Sequence[int] | None,
    lags: str,
    max_lag: int | None,
) -> list[tuple[int, int, list[int]]]: ...
def regime_plan(
    n_steps: int, window: int, stride: int | None, max_lag: int | None, level: float
) -> tuple[list[tuple[int, int]], list[int]]: ...
def msd_layout(kind: str, dim: int, window: int, blocks: int) -> _Layout: ...
def msd_block_sums(
    block: _F32,
    t_w: int,
    coord_start: int,
    dim: int,
    lags: Sequence[int],
    layout_: _Layout,
) -> tuple[_F64, float, float, int]: ...
def msd_reduced(
    kind: str,
    t_w: int,
    window: int,
    dim: int,
    lags: Sequence[int],
    layout_: _Layout,
    sums: _F64,
    s2: float,
    s4: float,
    n_coords: int,
    fit_range: tuple[float, float] | None = None,
    boot: int = 200,
    seed: int = 0,
) -> str: ...
def regime_reduced(
    exponents_json: str, window: int, lags: Sequence[int], level: float, seed: int
) -> str: ...
def gram_block(block: _F32) -> _F64: ...
def pair_stats(
    gram: _F64,
    t_w: int,
    losses: Sequence[float] | None = None,
    bins: int = 30,
    msl_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> str: ...

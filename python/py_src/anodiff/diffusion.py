"""Mean squared displacement and trajectory analyses (`anodiff msd`, `anodiff analyze`)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._util import as_float_array, check_int, loads

__all__ = [
    "AnalyzeResult",
    "MsdResult",
    "MsdWindow",
    "RegimeChange",
    "RegimeResult",
    "Trajectory",
    "WindowAnalysis",
    "analyze",
    "msd",
    "msd_windows",
    "open",
    "regime",
]


def msd(w, lags: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Time-averaged MSD (eq. 3 of the paper, 1/(T - tau) normalisation) of a trajectory `w`
    (steps x coordinates) over all its steps, summed over coordinates.

    `w` is a 2-D array (float32 or float64 are read without a copy, any strides; other real
    dtypes are converted); `lags` defaults to every lag 1..T-1. Values are read as float32 (the
    trajectory format) and accumulated in float64 on centred, detrended coordinates. Returns
    `(lags, msd)`.

    >>> import numpy as np
    >>> from anodiff.diffusion import msd
    >>> t = np.arange(50, dtype=np.float64)[:, None] * 3.0   # ballistic: MSD = 9 tau^2
    >>> lags, m = msd(t, lags=[1, 7])
    >>> np.allclose(m, 9.0 * lags**2)
    True
    """
    a = np.asarray(w)
    if a.dtype not in (np.float32, np.float64):
        a = as_float_array(a, "w")
    if a.ndim != 2:
        raise ValueError(f"w must be 2-D (steps x coordinates), got shape {a.shape}")
    if lags is not None:
        lags = [check_int(v, "lags", 0) for v in np.asarray(lags).ravel().tolist()]
    return _core.msd_array(a, lags)


class Trajectory:
    """A trajectory: steps x coordinates weights, optional losses and gradient samples.

    `t[a:b]` reads steps a..b as a float32 array; `t.losses()` the losses (None if absent).
    """

    def __init__(self, inner: _core.Trajectory):
        self._t = inner

    @classmethod
    def from_array(cls, w, losses=None) -> Trajectory:
        """An in-memory copy of a steps x coordinates array (and per-step losses)."""
        a = np.asarray(as_float_array(w, "w"), dtype=np.float32)
        if a.ndim != 2:
            raise ValueError(
                f"w must be 2-D (steps x coordinates), got shape {a.shape}"
            )
        lo = None
        if losses is not None:
            lo = np.ascontiguousarray(as_float_array(losses, "losses").ravel())
        return cls(_core.Trajectory.from_array(a, lo))

    @property
    def n_steps(self) -> int:
        return self._t.n_steps

    @property
    def dim(self) -> int:
        return self._t.dim

    @property
    def gradient_dim(self) -> int:
        return self._t.gradient_dim

    @property
    def path(self) -> str:
        return self._t.path

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_steps, self.dim)

    def __len__(self) -> int:
        return self.n_steps

    def metadata(self) -> dict | None:
        """A store's free-form metadata (None for `.npy` files and arrays)."""
        m = self._t.metadata_json()
        return None if m is None else json.loads(m)

    def _range(self, key) -> tuple[int, int]:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = int(key)
            if i < 0:
                i += self.n_steps
            if not 0 <= i < self.n_steps:
                raise IndexError(f"step {key} outside 0..{self.n_steps}")
            return i, i + 1
        if isinstance(key, slice):
            a, b, step = key.indices(self.n_steps)
            if step != 1:
                raise ValueError("trajectory slices take consecutive steps (step 1)")
            return a, max(a, b)
        raise TypeError(
            f"trajectory indices are ints or slices, got {type(key).__name__}"
        )

    def __getitem__(self, key) -> np.ndarray:
        a, b = self._range(key)
        w = self._t.weights(a, b)
        return w[0] if isinstance(key, (int, np.integer)) else w

    def losses(self, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        return self._t.losses(start, self.n_steps if stop is None else stop)

    def gradients(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._t.gradients(start, self.n_steps if stop is None else stop)

    def validate(self) -> None:
        """Reads everything once; raises ValueError naming the first NaN/inf value."""
        self._t.validate()

    def __repr__(self) -> str:
        return f"Trajectory({self.path!r}, n_steps={self.n_steps}, dim={self.dim})"


def open(
    path: str | os.PathLike, losses: str | os.PathLike | None = None
) -> Trajectory:
    """Opens a 2-D `.npy` trajectory (f32 or f64, memory-mapped) or a store directory."""
    return Trajectory(
        _core.Trajectory.open(
            os.fspath(path), None if losses is None else os.fspath(losses)
        )
    )


def _traj(t) -> Trajectory:
    if isinstance(t, Trajectory):
        return t
    if isinstance(t, (str, os.PathLike)):
        return open(t)
    return Trajectory.from_array(t)


def _range(r, name):
    if r is None:
        return None
    lo, hi = r
    return (float(lo), float(hi))


def _opt_int(v, name, lo=0):
    return None if v is None else check_int(v, name, lo)


@dataclass(frozen=True)
class MsdWindow:
    """One window of `anodiff msd`: lags, MSD and the exponent fit."""

    t_w: int
    T: int
    lags: np.ndarray
    msd: np.ndarray
    fit: dict

    @property
    def alpha(self) -> float:
        return float(self.fit["alpha"])

    @property
    def regime(self) -> str | None:
        return self.fit.get("regime")


@dataclass(frozen=True)
class MsdResult:
    windows: list
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return dict(self.raw)


def msd_windows(
    traj,
    window: int | None = None,
    *,
    stride: int | None = None,
    starts: Sequence[int] | None = None,
    lags: str = "per-decade:10",
    max_lag: int | None = None,
    fit_range=None,
    blocks: int = 20,
    boot: int = 200,
    seed: int = 0,
) -> MsdResult:
    """`anodiff msd`: per window the MSD and its exponent fit (alpha, its error, the two-regime
    crossover test, the regime label), with the command's defaults."""
    t = _traj(traj)
    s = _core.msd_windows(
        t._t,
        _opt_int(window, "window"),
        _opt_int(stride, "stride"),
        None if starts is None else [check_int(v, "starts") for v in starts],
        str(lags),
        _opt_int(max_lag, "max_lag"),
        _range(fit_range, "fit_range"),
        check_int(blocks, "blocks"),
        check_int(boot, "boot"),
        check_int(seed, "seed"),
    )
    return _msd_result(loads(s))


def _msd_result(d: dict) -> MsdResult:
    """The `MsdResult` of the core's JSON (`{"windows": [{t_w, T, lags, msd, fit}, ..]}`)."""
    wins = [
        MsdWindow(
            w["t_w"],
            w["T"],
            np.asarray(w["lags"], dtype=np.int64),
            np.asarray(w["msd"], dtype=float),
            w["fit"],
        )
        for w in d["windows"]
    ]
    return MsdResult(wins, d)


@dataclass(frozen=True)
class WindowAnalysis:
    """One window of `anodiff analyze` (its JSON object's fields)."""

    t_w: int
    T: int
    msd: dict
    contour: Any
    msl: Any
    loss: Any
    gradients: Any


@dataclass(frozen=True)
class AnalyzeResult:
    """`anodiff analyze`'s summary: the trajectory and one `WindowAnalysis` per window."""

    trajectory: dict
    windows: list
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The JSON summary the command prints."""
        return dict(self.raw)


def analyze(
    traj,
    window: int | None = None,
    *,
    stride: int | None = None,
    lags: str = "per-decade:10",
    max_lag: int | None = None,
    fit_range=None,
    msl_range=None,
    bins: int = 30,
    moving_window: int = 100,
    grad_samples: int = 10_000,
    max_pair_window: int = 4000,
    blocks: int = 20,
    seed: int = 0,
) -> AnalyzeResult:
    """Every trajectory analysis per window, as `anodiff analyze` (same defaults and JSON):
    MSD with exponents and regime, contour length and fractal dimension, MSL with losses, loss
    fluctuations, gradient samples. `traj` is a `Trajectory`, a path, or a 2-D array."""
    t = _traj(traj)
    s = _core.analyze(
        t._t,
        _opt_int(window, "window"),
        _opt_int(stride, "stride"),
        str(lags),
        _opt_int(max_lag, "max_lag"),
        _range(fit_range, "fit_range"),
        _range(msl_range, "msl_range"),
        check_int(bins, "bins"),
        check_int(moving_window, "moving_window"),
        check_int(grad_samples, "grad_samples"),
        check_int(max_pair_window, "max_pair_window"),
        check_int(blocks, "blocks"),
        check_int(seed, "seed"),
    )
    d = loads(s)
    wins = [
        WindowAnalysis(
            **{
                k: w.get(k)
                for k in ("t_w", "T", "msd", "contour", "msl", "loss", "gradients")
            }
        )
        for w in d["windows"]
    ]
    return AnalyzeResult(d["trajectory"], wins, d)


@dataclass(frozen=True)
class RegimeChange:
    """The change of diffusion regime (`anodiff regime`'s "change" object): the step `t0` at
    which the window exponent changes, with 95 % intervals for it and for the exponents
    before and after, and the p-value of the test of "no change"."""

    t0: float
    t0_ci95: list
    alpha_before: float
    alpha_before_ci95: list
    alpha_after: float
    alpha_after_ci95: list
    p_value: float
    extra: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RegimeResult:
    """`anodiff regime`'s JSON object: the window exponents (`t_w`, `alpha`, `alpha_se`), the
    change (None when the test of "no change" does not reject at `level`) and the test."""

    windows: list
    change: RegimeChange | None
    level: float
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The JSON object the command prints."""
        return dict(self.raw)


def regime(
    traj,
    window: int,
    *,
    stride: int | None = None,
    max_lag: int | None = None,
    level: float = 0.05,
    seed: int = 0,
) -> RegimeResult:
    """The regime change of the MSD exponent across sliding windows, as `anodiff regime`
    (same defaults and JSON): windows of `window` steps every `stride` (default window // 2),
    each window's exponent and standard error, and the change-point estimate with its test
    at `level`. `traj` is a `Trajectory`, a path, or a 2-D array (steps x coordinates)."""
    t = _traj(traj)
    s = _core.regime(
        t._t,
        check_int(window, "window", 2),
        _opt_int(stride, "stride"),
        _opt_int(max_lag, "max_lag"),
        float(level),
        check_int(seed, "seed"),
    )
    return _regime_result(s, level)


def _regime_result(text: str, level: float) -> RegimeResult:
    """A `RegimeResult` from the JSON of `anodiff regime` (also built by `anodiff.dask`)."""
    d = loads(text)
    c = d.get("change")
    names = {f.name for f in dataclasses.fields(RegimeChange)} - {"extra"}
    change = (
        None
        if c is None
        else RegimeChange(
            **{k: c[k] for k in names},
            extra={k: v for k, v in c.items() if k not in names},
        )
    )
    return RegimeResult(d["windows"], change, d.get("level", level), d)

"""Alpha-stable laws (scipy-style), their fits, the Vuong test and Hill's estimator.

`levy_stable` mirrors `scipy.stats.levy_stable` (argument order, S1 default), with the
parameterization chosen per call instead of through a class-level global, and every value
computed by anodiff-core in compiled code with the GIL released.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._util import as_float_array, as_sample, check_int, loads, seed_from

FitError = _core.FitError
ConvergenceError = _core.ConvergenceError

__all__ = [
    "ConvergenceError",
    "FitError",
    "FrozenLevyStable",
    "HillResult",
    "LevyStable",
    "StableFitResult",
    "StableParams",
    "VuongResult",
    "fit_stable",
    "hill",
    "levy_stable",
    "vuong",
]


def _param(parameterization: str) -> str:
    if not isinstance(parameterization, str) or parameterization.upper() not in (
        "S0",
        "S1",
    ):
        raise ValueError(
            f"parameterization must be 'S0' or 'S1', got {parameterization!r}"
        )
    return parameterization.lower()


def _broadcast(x: Any, params: tuple, names: tuple) -> tuple:
    """Broadcasts x and the parameters; shared parameters stay length-1 arrays."""
    arrays = [as_float_array(x, names[0])] + [
        as_float_array(p, n) for p, n in zip(params, names[1:])
    ]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.ascontiguousarray(np.broadcast_to(arrays[0], shape)).ravel()]
    for a in arrays[1:]:
        if a.size == 1:
            flat.append(np.ascontiguousarray(a.reshape(1)))
        else:
            flat.append(np.ascontiguousarray(np.broadcast_to(a, shape)).ravel())
    return shape, flat


def _eval(kind: str, x, alpha, beta, loc, scale, parameterization):
    name = "q" if kind in ("ppf", "isf") else "x"
    shape, (xs, a, b, l, s) = _broadcast(
        x, (alpha, beta, loc, scale), (name, "alpha", "beta", "loc", "scale")
    )
    out = _core.stable_eval(kind, xs, a, b, l, s, _param(parameterization))
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


class LevyStable:
    """The Lévy alpha-stable family, called like `scipy.stats.levy_stable`.

    Every function takes ``(x, alpha, beta, loc=0, scale=1, parameterization="S1")`` with numpy
    broadcasting; "S1" is scipy's default, "S0" Nolan's continuous form (anodiff's). Calling the
    object, ``levy_stable(alpha, beta, loc, scale)``, gives a frozen law.

    >>> from anodiff.stats import levy_stable
    >>> round(float(levy_stable.pdf(0.0, 2.0, 0.0)), 12)  # alpha = 2: N(0, 2)
    0.282094791774
    """

    def pdf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """Density."""
        return _eval("pdf", x, alpha, beta, loc, scale, parameterization)

    def logpdf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """Log-density (keeps its digits far below the float range)."""
        return _eval("logpdf", x, alpha, beta, loc, scale, parameterization)

    def cdf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """P(X <= x)."""
        return _eval("cdf", x, alpha, beta, loc, scale, parameterization)

    def logcdf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """ln P(X <= x), computed directly."""
        return _eval("logcdf", x, alpha, beta, loc, scale, parameterization)

    def sf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """P(X > x), computed directly rather than as 1 - cdf."""
        return _eval("sf", x, alpha, beta, loc, scale, parameterization)

    def logsf(self, x, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """ln P(X > x), computed directly."""
        return _eval("logsf", x, alpha, beta, loc, scale, parameterization)

    def ppf(self, q, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """Quantile function; NaN for q outside [0, 1]."""
        return _eval("ppf", q, alpha, beta, loc, scale, parameterization)

    def isf(self, q, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        """Inverse survival function, the ppf at 1 - q."""
        return _eval("isf", q, alpha, beta, loc, scale, parameterization)

    def rvs(
        self,
        alpha,
        beta,
        loc=0.0,
        scale=1.0,
        size=None,
        random_state=None,
        parameterization="S1",
    ):
        """Random variates (Chambers-Mallows-Stuck, in compiled code).

        `random_state` is None, an int, or a `numpy.random.Generator` (one 63-bit seed is drawn
        from it for anodiff's ChaCha8 generator, so the same Generator state gives the same
        variates).
        """
        params = [
            as_float_array(p, n)
            for p, n in zip(
                (alpha, beta, loc, scale), ("alpha", "beta", "loc", "scale")
            )
        ]
        pshape = np.broadcast_shapes(*(p.shape for p in params))
        if size is None:
            shape = pshape
        else:
            shape = (
                (check_int(size, "size"),)
                if np.ndim(size) == 0
                else tuple(check_int(s, "size") for s in size)
            )
            np.broadcast_shapes(pshape, shape)  # raises ValueError on a mismatch
            if np.broadcast_shapes(pshape, shape) != shape:
                raise ValueError(
                    f"size {shape} is not compatible with parameters of shape {pshape}"
                )
        n = int(np.prod(shape, dtype=np.int64))
        flat = [
            np.ascontiguousarray(p.reshape(1))
            if p.size == 1
            else np.ascontiguousarray(np.broadcast_to(p, shape)).ravel()
            for p in params
        ]
        out = _core.stable_rvs(
            *flat, _param(parameterization), n, seed_from(random_state)
        )
        out = out.reshape(shape)
        return out[()] if out.ndim == 0 else out

    def fit(self, data, parameterization="S1"):
        """Maximum-likelihood (alpha, beta, loc, scale), a plain tuple like scipy's `fit`.

        For standard errors, intervals and the covariance use `fit_stable`.
        """
        r = fit_stable(data, method="mle", parameterization=parameterization)
        return tuple(float(v) for v in r.params)

    def __call__(self, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        return FrozenLevyStable(alpha, beta, loc, scale, parameterization)


levy_stable = LevyStable()


class FrozenLevyStable:
    """A stable law with fixed parameters: ``pdf(x)``, ``cdf(x)``, ..., ``rvs(size)``."""

    def __init__(self, alpha, beta, loc=0.0, scale=1.0, parameterization="S1"):
        self.alpha, self.beta = float(alpha), float(beta)
        self.loc, self.scale = float(loc), float(scale)
        self.parameterization = parameterization.upper()
        _param(parameterization)
        # Validate now, with the core's message.
        _eval(
            "pdf",
            0.0,
            self.alpha,
            self.beta,
            self.loc,
            self.scale,
            self.parameterization,
        )

    @property
    def args(self):
        return (self.alpha, self.beta)

    @property
    def kwds(self):
        return {
            "loc": self.loc,
            "scale": self.scale,
            "parameterization": self.parameterization,
        }

    def _f(self, kind, x):
        return _eval(
            kind, x, self.alpha, self.beta, self.loc, self.scale, self.parameterization
        )

    def pdf(self, x):
        return self._f("pdf", x)

    def logpdf(self, x):
        return self._f("logpdf", x)

    def cdf(self, x):
        return self._f("cdf", x)

    def logcdf(self, x):
        return self._f("logcdf", x)

    def sf(self, x):
        return self._f("sf", x)

    def logsf(self, x):
        return self._f("logsf", x)

    def ppf(self, q):
        return self._f("ppf", q)

    def isf(self, q):
        return self._f("isf", q)

    def rvs(self, size=None, random_state=None):
        return levy_stable.rvs(
            self.alpha,
            self.beta,
            self.loc,
            self.scale,
            size=size,
            random_state=random_state,
            parameterization=self.parameterization,
        )

    def __repr__(self):
        return (
            f"FrozenLevyStable(alpha={self.alpha!r}, beta={self.beta!r}, loc={self.loc!r}, "
            f"scale={self.scale!r}, parameterization={self.parameterization!r})"
        )


class StableParams(NamedTuple):
    """(alpha, beta, loc, scale), scipy's order."""

    alpha: float
    beta: float
    loc: float
    scale: float


_NAMES = ("alpha", "beta", "loc", "scale")
# Core order of the covariance rows: alpha, beta, scale, loc.
_CORE_ORDER = {"alpha": 0, "beta": 1, "scale": 2, "loc": 3}


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True)
class StableFitResult:
    """A stable fit: what `anodiff stable fit` prints, as attributes.

    `params`, `stderr` are `StableParams` (NaN where a parameter was fixed, sits on a bound, or
    the method gives no uncertainty); `ci95` maps each name to (lo, hi) or None; `cov` is the
    4 x 4 covariance in the order of `params` (alpha, beta, loc, scale) or None.
    """

    params: StableParams
    stderr: StableParams
    ci95: dict
    cov: np.ndarray | None
    loglik: float
    converged: bool
    method: str
    parameterization: str
    n: int
    iterations: int
    sandwich_se: StableParams | None = None
    profile_ci95: dict | None = None
    zeros: int | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict) -> StableFitResult:
        se = d.get("se") or {}
        ci = d.get("ci95") or {}
        cov = d.get("cov")
        if cov is not None:
            c = np.array(cov, dtype=float)
            idx = [_CORE_ORDER[k] for k in _NAMES]
            cov = c[np.ix_(idx, idx)]
        sw = d.get("sandwich_se")
        pc = d.get("profile_ci95")
        return cls(
            params=StableParams(*(float(d[k]) for k in _NAMES)),
            stderr=StableParams(*(_num(se.get(k)) for k in _NAMES)),
            ci95={k: (tuple(ci[k]) if ci.get(k) is not None else None) for k in _NAMES},
            cov=cov,
            loglik=_num(d.get("loglik")),
            converged=bool(d.get("converged")),
            method=str(d.get("method")),
            parameterization=str(d.get("param", "s0")).upper(),
            n=int(d.get("n", 0)),
            iterations=int(d.get("iterations", 0)),
            sandwich_se=StableParams(*(_num(sw.get(k)) for k in _NAMES))
            if sw
            else None,
            profile_ci95=(
                {k: (tuple(pc[k]) if pc.get(k) is not None else None) for k in _NAMES}
                if pc
                else None
            ),
            zeros=d.get("zeros"),
            raw=d,
        )

    def law(self) -> FrozenLevyStable:
        """The fitted law, frozen."""
        p = self.params
        return FrozenLevyStable(p.alpha, p.beta, p.loc, p.scale, self.parameterization)

    def to_dict(self) -> dict:
        """The JSON object `anodiff stable fit` prints (plus `cov` and `iterations`)."""
        return dict(self.raw)


def fit_stable(
    x,
    method: str = "mle",
    parameterization: str = "S0",
    *,
    symmetric: bool = False,
    fix_loc: float | None = None,
    profile: bool = False,
    sandwich: bool = False,
    exact: bool = False,
    tol: float = 1e-8,
    max_iter: int = 100,
    mantissa_bits: int = 10,
) -> StableFitResult:
    """Fits a stable law to the sample `x` (any shape, read flat).

    `method`: "mle" (maximum likelihood with standard errors from the observed information),
    "binned" (MLE on a fine histogram, for 1e8+ values), "mcculloch" (quantiles) or
    "koutrouvelis" (characteristic-function regression). The fit runs in S0; `parameterization`
    chooses the location reported. Raises `FitError` (a ValueError) for unusable data, with the
    command line's message.

    >>> import numpy as np
    >>> from anodiff.stats import fit_stable, levy_stable
    >>> x = levy_stable.rvs(1.5, 0.0, size=2000, random_state=1, parameterization="S0")
    >>> r = fit_stable(x)
    >>> abs(r.params.alpha - 1.5) < 4 * r.stderr.alpha
    True
    """
    if method not in ("mle", "binned", "mcculloch", "koutrouvelis"):
        raise ValueError(
            f"method must be 'mle', 'binned', 'mcculloch' or 'koutrouvelis', got {method!r}"
        )
    xs = as_sample(x)
    s = _core.fit_stable(
        xs,
        method,
        _param(parameterization),
        bool(symmetric),
        None if fix_loc is None else float(fix_loc),
        bool(profile),
        bool(sandwich),
        bool(exact),
        float(tol),
        check_int(max_iter, "max_iter", 1),
        check_int(mantissa_bits, "mantissa_bits"),
    )
    return StableFitResult.from_dict(loads(s))


def _from_fields(cls, d: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {k: v for k, v in d.items() if k in names}
    extra = {k: v for k, v in d.items() if k not in names}
    return cls(**kw, extra=extra, raw=d)


@dataclass(frozen=True)
class VuongResult:
    """The `anodiff vuong` JSON object as attributes (fields mapped by name; fields this
    version does not know are kept in `extra`)."""

    n: int = 0
    llr: float = float("nan")
    statistic: float = float("nan")
    p_two_sided: float = float("nan")
    p_one_sided: float = float("nan")
    log10_p_two_sided: float = float("nan")
    log10_p_one_sided: float = float("nan")
    omega2: float = float("nan")
    level: float = 0.05
    preferred: str = "neither"
    decided_by: str | None = None
    decision_p_value: float = float("nan")
    log10_decision_p_value: float = float("nan")
    boundary: dict | None = None
    hill: dict | None = None
    binned: dict | None = None
    warnings: list = field(default_factory=list)
    stable: dict = field(default_factory=dict)
    alt: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict, repr=False)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def p_value(self) -> float:
        """The p-value of the test that decides `preferred` (`decided_by`): the boundary
        likelihood-ratio test for the nested normal, Vuong's two-sided test otherwise."""
        return self.decision_p_value

    def to_dict(self) -> dict:
        return dict(self.raw)


def vuong(
    x,
    alt: str = "normal",
    *,
    symmetric: bool = False,
    level: float = 0.05,
    binned: bool = False,
    mantissa_bits: int = 10,
    exact: bool = False,
) -> VuongResult:
    """Compares a stable fit with `alt` ("normal", "student-t", "laplace") as `anodiff vuong`
    does: `preferred` is "stable", the alternative's name or "neither" at `level`, decided by
    the test named in `decided_by` ("boundary-lr": the boundary likelihood-ratio test of the
    symmetric stable fit against the nested normal; "vuong": Vuong's two-sided test for the
    non-nested Student-t and Laplace) with p-value `p_value`."""
    xs = as_sample(x)
    s = _core.vuong_test(
        xs,
        str(alt),
        bool(symmetric),
        float(level),
        bool(binned),
        check_int(mantissa_bits, "mantissa_bits"),
        bool(exact),
    )
    return _from_fields(VuongResult, loads(s))


@dataclass(frozen=True)
class HillResult:
    """Hill's estimate of the tail index (`anodiff tails` fields)."""

    alpha: float = float("nan")
    se: float = float("nan")
    ci95: list = field(default_factory=list)
    k: int = 0
    k_auto: bool = False
    threshold: float = float("nan")
    tail: str = "abs"
    n: int = 0
    n_tail: int = 0
    extra: dict = field(default_factory=dict, repr=False)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return dict(self.raw)


def hill(x, tail: str = "abs", k: int | None = None) -> HillResult:
    """Hill's estimator of the tail index of `x` ("upper", "lower" or "abs" tail; `k` order
    statistics, or None for the automatic choice)."""
    xs = as_sample(x)
    s = _core.hill_estimate(xs, str(tail), None if k is None else check_int(k, "k", 1))
    return _from_fields(HillResult, loads(s))

"""Matrix-free symmetric eigensolvers and spectral estimates (thick-restart Lanczos, SLQ,
Hutchinson / Hutch++) driven from Python.

The compiled solver runs on its own thread and asks for one operator product at a time:
`LanczosSolver.next_query()` gives the vector, `supply(y)` hands back the product. `eigsh`,
`slq_density` and `hutchinson_trace` run that loop over any operator with `.shape` and
`.matvec` (a `scipy.sparse.linalg.LinearOperator`, a dense or sparse matrix) or a callable with
`n=`; GPU code can run the loop itself and keep its device, streams and autograd contexts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._util import as_float_array, check_int

__all__ = [
    "EigshInfo",
    "LanczosSolver",
    "SpectralDensity",
    "TraceEstimate",
    "eigsh",
    "hutchinson_trace",
    "slq_density",
]


def _operator(A, n: int | None) -> tuple:
    """(n, matvec) for an operator object, a matrix or a callable."""
    if callable(A) and not hasattr(A, "shape"):
        if n is None:
            raise TypeError("a callable operator needs n= (its dimension)")
        return check_int(n, "n", 1), A
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2:
        raise TypeError(
            "A must have .shape and .matvec (or @), or be a callable with n="
        )
    if shape[0] != shape[1]:
        raise ValueError(f"A must be square, got shape {tuple(shape)}")
    if n is not None and n != shape[0]:
        raise ValueError(f"n={n} does not match A.shape {tuple(shape)}")
    if hasattr(A, "matvec"):
        return int(shape[0]), A.matvec
    return int(shape[0]), lambda v: A @ v


def _product(matvec: Callable, q: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(matvec(q), dtype=np.float64).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"the operator returned {y.shape[0]} values, expected {n}")
    return np.ascontiguousarray(y)


class _Driven:
    """The ask/tell loop over a compiled driver."""

    def __init__(self, driver):
        self._d = driver
        self.matvecs = 0

    @property
    def n(self) -> int:
        return self._d.n

    def next_query(self) -> np.ndarray | None:
        """The next vector q to multiply by the operator, or None once the solver is done."""
        q = self._d.next_query()
        if q is not None:
            self.matvecs += 1
        return q

    def supply(self, y) -> None:
        """Hands back A q for the last query q (any array-like of length n)."""
        self._d.supply(
            np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(-1))
        )

    def run(self, matvec: Callable) -> _Driven:
        """Runs the loop to the end with `matvec`."""
        try:
            while True:
                q = self.next_query()
                if q is None:
                    return self
                self.supply(_product(matvec, q, self.n))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stops the solver thread."""
        self._d.close()


@dataclass(frozen=True)
class EigshInfo:
    """Diagnostics of `eigsh`: residual norms ||A x - theta x||, converged flags, operator
    products, restarts and why the solver stopped."""

    residuals: np.ndarray
    converged: np.ndarray
    matvecs: int
    iterations: int
    termination: str
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return dict(self.raw)


def _start_vector(v0, n) -> list[float]:
    """`v0` as a finite float vector of length n (the solver also rejects a zero vector)."""
    v = np.asarray(as_float_array(v0, "v0"), dtype=np.float64).ravel()
    if v.shape[0] != n:
        raise ValueError(f"v0 has {v.shape[0]} entries, the operator dimension is {n}")
    return v.tolist()


class LanczosSolver(_Driven):
    """Ask/tell thick-restart Lanczos for `k` eigenpairs of an n x n symmetric operator.

    >>> import numpy as np
    >>> from anodiff.linalg import LanczosSolver
    >>> A = np.diag(np.arange(1.0, 101.0))
    >>> s = LanczosSolver(100, k=3)
    >>> while (q := s.next_query()) is not None:
    ...     s.supply(A @ q)
    >>> w, v = s.result()
    >>> np.allclose(w, [100, 99, 98])
    True
    """

    def __init__(
        self,
        n: int,
        k: int = 6,
        which: str = "LA",
        tol: float = 1e-8,
        maxiter: int | None = None,
        ncv: int | None = None,
        seed: int = 0,
        return_eigenvectors: bool = True,
        v0=None,
    ):
        super().__init__(
            _core.Driver.lanczos(
                check_int(n, "n", 1),
                check_int(k, "k", 1),
                str(which),
                float(tol),
                None if maxiter is None else check_int(maxiter, "maxiter", 1),
                None if ncv is None else check_int(ncv, "ncv", 1),
                check_int(seed, "seed"),
                bool(return_eigenvectors),
                None if v0 is None else _start_vector(v0, n),
            )
        )
        self._vectors = bool(return_eigenvectors)

    def result(self, full_output: bool = False):
        """`(w, v)` (eigenvalues in the order of `which`, eigenvectors as columns of v, or `w`
        alone without eigenvectors), plus an `EigshInfo` with `full_output=True`."""
        s, vecs = self._d.result()
        d = json.loads(s)
        w = np.asarray(d["eigenvalues"], dtype=float)
        info = EigshInfo(
            np.asarray(d["residuals"], dtype=float),
            np.asarray(d["converged"], dtype=bool),
            int(d["matvecs"]),
            int(d["iterations"]),
            str(d["termination"]),
            d,
        )
        out = (w, vecs.T.copy()) if self._vectors and vecs is not None else w
        if full_output:
            return (*out, info) if isinstance(out, tuple) else (out, info)
        return out


def eigsh(
    A,
    k: int = 6,
    which: str = "LA",
    tol: float = 1e-8,
    maxiter: int | None = None,
    v0=None,
    return_eigenvectors: bool = True,
    *,
    n: int | None = None,
    ncv: int | None = None,
    seed: int = 0,
    full_output: bool = False,
):
    """`k` extreme eigenpairs of a symmetric operator by thick-restart Lanczos (scipy's
    `eigsh` call shape).

    `A`: anything with `.shape` and `.matvec` (a `scipy.sparse.linalg.LinearOperator`), a
    dense or sparse matrix, or a callable `v -> A v` with `n=`. `which`: "LA" (largest, the
    default), "SA" or "LM". `tol`: relative residual ||A x - theta x|| <= tol |theta|. `maxiter`:
    the budget of operator products (default 50 x basis size, at least 1000). `v0`: the start
    vector (any scale), as scipy's; without it a Gaussian vector from `seed`. Eigenvalues come in the order
    of `which` (largest first for "LA"), unlike scipy's ascending order. Returns `(w, v)` with
    eigenvectors as columns, or `w`; with `full_output=True` an `EigshInfo` is appended.
    """
    nn, matvec = _operator(A, n)
    s = LanczosSolver(nn, k, which, tol, maxiter, ncv, seed, return_eigenvectors, v0)
    s.run(matvec)
    return s.result(full_output=full_output)


@dataclass(frozen=True)
class SpectralDensity:
    """Stochastic Lanczos quadrature: Gaussian-smoothed density on `grid`, the quadrature
    `nodes` and `weights` per probe, `sigma`, operator products."""

    grid: np.ndarray
    density: np.ndarray
    nodes: list
    weights: list
    sigma: float
    matvecs: int
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def moment(self, p: int) -> float:
        """Estimate of tr(A^p) / n from the quadrature."""
        return float(
            np.mean(
                [
                    np.sum(w * np.asarray(x) ** p)
                    for x, w in zip(self.nodes, self.weights)
                ]
            )
        )

    def to_dict(self) -> dict:
        return dict(self.raw)


def slq_density(
    A,
    *,
    n: int | None = None,
    probes: int = 10,
    steps: int = 80,
    sigma: float | None = None,
    grid_points: int = 1000,
    seed: int = 0,
) -> SpectralDensity:
    """Spectral density of a symmetric operator by stochastic Lanczos quadrature (Ubaru, Chen &
    Saad 2017; Ghorbani et al. 2019): `probes` Rademacher probes, `steps` Lanczos steps each."""
    nn, matvec = _operator(A, n)
    d = _Driven(
        _core.Driver.slq(
            nn,
            check_int(probes, "probes", 1),
            check_int(steps, "steps", 1),
            None if sigma is None else float(sigma),
            check_int(grid_points, "grid_points", 1),
            check_int(seed, "seed"),
        )
    )
    d.run(matvec)
    r = json.loads(d._d.result()[0])
    return SpectralDensity(
        np.asarray(r["grid"], float),
        np.asarray(r["density"], float),
        [np.asarray(x, float) for x in r["nodes"]],
        [np.asarray(x, float) for x in r["weights"]],
        float(r["sigma"]),
        int(r["matvecs"]),
        r,
    )


@dataclass(frozen=True)
class TraceEstimate:
    """A trace estimate with its standard error and confidence interval at `level`."""

    estimate: float
    std_error: float
    ci: tuple
    level: float
    matvecs: int

    def to_dict(self) -> dict:
        return {
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci": list(self.ci),
            "level": self.level,
            "matvecs": self.matvecs,
        }


def hutchinson_trace(
    A,
    *,
    n: int | None = None,
    probes: int = 30,
    method: str = "hutch++",
    level: float = 0.95,
    seed: int = 0,
) -> TraceEstimate:
    """tr(A) from `probes` operator products: Hutch++ (Meyer et al. 2021, the default) or plain
    Hutchinson (`method="hutchinson"`), with a confidence interval at `level`."""
    nn, matvec = _operator(A, n)
    d = _Driven(
        _core.Driver.trace(
            nn,
            check_int(probes, "probes", 1),
            str(method),
            float(level),
            check_int(seed, "seed"),
        )
    )
    d.run(matvec)
    r = json.loads(d._d.result()[0])
    return TraceEstimate(
        float(r["estimate"]),
        float(r["std_error"]),
        tuple(r["ci"]),
        float(r["level"]),
        int(r["matvecs"]),
    )

"""anodiff.linalg against scipy.sparse.linalg.eigsh on a planted spectrum, and the ask/tell
protocol."""

import numpy as np
import pytest
import scipy.sparse.linalg as sla
from anodiff import linalg


def planted(n=400, seed=0):
    r = np.random.default_rng(seed)
    q, _ = np.linalg.qr(r.standard_normal((n, n)))
    lam = np.concatenate([np.linspace(50.0, 20.0, 10), r.uniform(-1, 1, n - 10)])
    return (q * lam) @ q.T, np.sort(lam)[::-1]


def test_eigsh_matches_scipy_and_planted_values():
    A, lam = planted()
    op = sla.LinearOperator(A.shape, matvec=lambda v: A @ v, dtype=float)
    w, v, info = linalg.eigsh(op, k=8, tol=1e-10, full_output=True)
    np.testing.assert_allclose(w, lam[:8], rtol=1e-9)
    ws = sla.eigsh(A, k=8, which="LA", tol=1e-10, return_eigenvectors=False)
    np.testing.assert_allclose(w, np.sort(ws)[::-1], rtol=1e-9)
    # residuals reported and true
    true_res = np.linalg.norm(A @ v - v * w, axis=0)
    assert np.all(true_res <= 1e-8 * np.abs(w)) and np.all(info.converged)
    np.testing.assert_allclose(info.residuals, true_res, atol=1e-9 * np.abs(w).max())
    assert info.matvecs > 8 and info.termination == "converged"


def test_eigsh_smallest_callable_and_matrix():
    A, lam = planted(200, seed=1)
    w = linalg.eigsh(lambda v: A @ v, n=200, k=3, which="SA", return_eigenvectors=False)
    np.testing.assert_allclose(
        w, np.sort(np.linalg.eigvalsh(A))[:3], rtol=1e-7, atol=1e-9
    )
    w2, _v2 = linalg.eigsh(A, k=2)
    np.testing.assert_allclose(w2, lam[:2], rtol=1e-8)


def test_eigsh_start_vector_as_scipy():
    A, lam = planted(200, seed=3)
    v0 = np.random.default_rng(9).standard_normal(200)
    w = linalg.eigsh(A, k=4, tol=1e-10, v0=v0, return_eigenvectors=False)
    ws = sla.eigsh(A, k=4, which="LA", tol=1e-10, v0=v0, return_eigenvectors=False)
    np.testing.assert_allclose(w, np.sort(ws)[::-1], rtol=1e-9)
    np.testing.assert_allclose(w, lam[:4], rtol=1e-9)
    # one product from the top eigenvector: its Rayleigh quotient, the top eigenvalue itself;
    # from another start the one-product estimate is far below it
    top = np.linalg.eigh(A)[1][:, -1]
    w1 = linalg.eigsh(A, k=1, maxiter=1, v0=5.0 * top, return_eigenvectors=False)
    np.testing.assert_allclose(w1, lam[:1], rtol=1e-12)
    assert linalg.eigsh(A, k=1, maxiter=1, return_eigenvectors=False)[0] < 0.9 * lam[0]
    with pytest.raises(ValueError, match="entries"):
        linalg.eigsh(A, k=2, v0=np.ones(7))
    with pytest.raises(ValueError, match="zero"):
        linalg.eigsh(A, k=2, v0=np.zeros(200))
    with pytest.raises(ValueError):
        linalg.eigsh(A, k=2, v0=np.full(200, np.nan))


def test_ask_tell_solver_and_errors():
    A = np.diag(np.arange(1.0, 61.0))
    s = linalg.LanczosSolver(60, k=4)
    with pytest.raises(RuntimeError, match="no query"):
        s.supply(np.zeros(60))
    q = s.next_query()
    with pytest.raises(RuntimeError, match="previous query"):
        s.next_query()
    with pytest.raises(ValueError, match="length"):
        s.supply(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        s.supply(np.full(60, np.nan))
    s.supply(A @ q)
    while (q := s.next_query()) is not None:
        s.supply(A @ q)
    w, _v = s.result()
    np.testing.assert_allclose(w, [60, 59, 58, 57], rtol=1e-9)
    with pytest.raises(ValueError, match="k"):
        linalg.LanczosSolver(5, k=6)
    with pytest.raises(ValueError, match="which"):
        linalg.eigsh(A, which="XX")
    # an exception inside the user's matvec propagates and the solver stops
    with pytest.raises(ZeroDivisionError):
        linalg.eigsh(lambda v: 1 / 0, n=10, k=2)


def test_slq_and_trace():
    A, _lam = planted(300, seed=2)
    d = linalg.slq_density(A, probes=20, steps=60, seed=1)
    np.testing.assert_allclose(np.trapezoid(d.density, d.grid), 1.0, atol=0.02)
    np.testing.assert_allclose(d.moment(1), np.trace(A) / 300, atol=0.2)
    t = linalg.hutchinson_trace(A, probes=60, seed=3)
    lo, hi = t.ci
    assert lo <= np.trace(A) <= hi and t.matvecs <= 60
    t2 = linalg.hutchinson_trace(np.diag(np.arange(5.0)), probes=4, method="hutchinson")
    np.testing.assert_allclose(t2.estimate, 10.0, rtol=1e-12)

"""Property-based tests (hypothesis): whatever the input, a value, a ValueError/TypeError (or a
package exception, all subclasses of those), never a Rust panic."""

import numpy as np
import pytest
from anodiff import diffusion, linalg, stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ALLOWED = (ValueError, TypeError, RuntimeError)
PanicException = BaseException  # pyo3_runtime.PanicException derives from BaseException

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# A fit on data that passes validation runs the full MLE (~0.5 s on odd samples): fewer examples.
SLOW = settings(SETTINGS, max_examples=12)


def no_panic(f, *a, **k):
    try:
        return f(*a, **k)
    except ALLOWED:
        return None
    except BaseException as e:  # a PanicException or anything else is a failure
        if type(e).__name__ == "PanicException":
            pytest.fail(f"Rust panic reached Python: {e}")
        raise


@SETTINGS
@given(
    x=hnp.arrays(np.float64, st.integers(0, 20), elements=floats),
    alpha=floats,
    beta=floats,
    loc=floats,
    scale=floats,
    kind=st.sampled_from(
        ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]
    ),
)
def test_stable_functions_never_panic(x, alpha, beta, loc, scale, kind):
    out = no_panic(getattr(stats.levy_stable, kind), x, alpha, beta, loc, scale)
    if out is not None:
        assert np.shape(out) == x.shape
        if kind == "pdf":
            assert np.all(np.isnan(out) | (out >= 0))


@SLOW
@given(
    x=hnp.arrays(np.float64, st.integers(0, 40), elements=floats),
    method=st.sampled_from(["mle", "mcculloch", "koutrouvelis", "binned"]),
)
def test_fits_never_panic(x, method):
    r = no_panic(stats.fit_stable, x, method=method)
    if r is not None:
        assert np.all(np.isfinite(x)) and len(x) >= 5
        assert 0 < r.params.alpha <= 2


@SLOW
@given(
    x=hnp.arrays(np.float64, st.integers(0, 30), elements=floats),
    alt=st.sampled_from(["normal", "student-t", "laplace", "cauchy"]),
)
def test_vuong_and_hill_never_panic(x, alt):
    no_panic(stats.vuong, x, alt=alt)
    no_panic(stats.hill, x)


@SETTINGS
@given(
    w=hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=8),
        elements=st.floats(-(2.0**100), 2.0**100, width=32) | st.just(np.nan),
    ),
    lags=st.none() | st.lists(st.integers(-3, 12), max_size=4),
)
def test_msd_never_panics(w, lags):
    no_panic(diffusion.msd, w, lags)


@SETTINGS
@given(
    k=st.integers(-2, 12),
    n=st.integers(-1, 10),
    which=st.sampled_from(["LA", "SA", "LM", "?"]),
    tol=floats,
)
def test_eigsh_never_panics(k, n, which, tol):
    A = np.diag(np.arange(max(n, 1), dtype=float))
    no_panic(
        linalg.eigsh,
        lambda v: A @ v if len(v) == A.shape[0] else v,
        n=n,
        k=k,
        which=which,
        tol=tol,
    )


def test_huge_and_noncontiguous_inputs():
    x = np.linspace(-1e300, 1e300, 7)[::2]
    v = stats.levy_stable.pdf(x, 1.5, 0.2)
    assert np.all(np.isfinite(v)) and np.all(v >= 0)
    # Far tail: logsf follows the Pareto asymptote ln(C x^-alpha), C = Gamma(a) sin(pi a/2)/pi
    # (beta = 0), in log space far below the float range, to the end of the f64 range.
    from scipy.special import gamma

    a, xs = 1.2, np.array([1e50, 1e200, 1e300, 1e307])
    asym = np.log(gamma(a) * np.sin(np.pi * a / 2) / np.pi) - a * np.log(xs)
    np.testing.assert_allclose(stats.levy_stable.logsf(xs, a, 0.0), asym, rtol=1e-12)
    v = stats.levy_stable.logsf(np.full(3, 1e308), a, 0.0)
    assert not np.any(np.isnan(v)) and np.all(v <= asym[-1])
    with pytest.raises(ValueError):
        stats.fit_stable(np.array([np.inf, -1e308, 1e308, 3.0, 4.0, 5.0]))
    m = np.asfortranarray(np.random.default_rng(0).standard_normal((30, 5)))
    np.testing.assert_allclose(
        diffusion.msd(m)[1], diffusion.msd(np.ascontiguousarray(m))[1], rtol=1e-12
    )

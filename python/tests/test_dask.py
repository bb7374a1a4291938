"""anodiff.dask on a LocalCluster (processes and threads) against the single-process results:
MSD per window to 1e-12 relative, fits, regime change, pair statistics and a sweep."""

import os
import pathlib
import subprocess

import numpy as np
import pytest
from anodiff import diffusion

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
import anodiff.dask as ad
import dask.array as da
from test_zarr import make_store


@pytest.fixture(scope="module", params=["processes", "threads"])
def client(request):
    if request.param == "processes":
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    else:
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """A store of 400 steps x 40 weights and its Zarr conversion (chunks of 200 x 16)."""
    from conftest import cli_binary

    tmp = tmp_path_factory.mktemp("runs")
    store = make_store(tmp / "run", n=400, d=40, gd=0)
    out = tmp / "run.zarr"
    b = cli_binary()
    if b is None:
        # CI builds the binary before the Python tests: a missing one there is a failure.
        if os.environ.get("CI"):
            pytest.fail("the anodiff binary is not built (cargo build --bin anodiff)")
        pytest.skip("the anodiff binary is not built (cargo build --bin anodiff)")
    r = subprocess.run(
        [b, "convert", store, "--to", "zarr", str(out), "--chunks", "200,16"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return store, str(out)


def assert_msd_equal(got, ref):
    assert len(got.windows) == len(ref.windows)
    for a, b in zip(got.windows, ref.windows, strict=True):
        assert (a.t_w, a.T) == (b.t_w, b.T)
        np.testing.assert_array_equal(a.lags, b.lags)
        np.testing.assert_allclose(a.msd, b.msd, rtol=1e-12, atol=0)
        assert a.fit["regime"] == b.fit["regime"]
        np.testing.assert_allclose(a.fit["alpha"], b.fit["alpha"], rtol=1e-9)
        np.testing.assert_allclose(a.fit["alpha_se"], b.fit["alpha_se"], rtol=1e-9)
        assert (a.fit["two_regime"] is None) == (b.fit["two_regime"] is None)


@pytest.mark.parametrize("kind", ["zarr", "url", "store", "dask"])
def test_msd_equals_single_process(client, runs, kind):
    store, zpath = runs
    ref = diffusion.msd_windows(store, 200, stride=100, lags="log:10")
    traj = {
        "zarr": zpath,
        # An fsspec URL, as for an object store (file:// needs no server).
        "url": pathlib.Path(zpath).as_uri(),
        "store": store,
        "dask": da.from_zarr(zpath, component="weights"),
    }[kind]
    got = ad.msd(traj, 200, stride=100, lags="log:10", client=client)
    assert_msd_equal(got, ref)


def test_few_coordinates_use_origin_blocks(client):
    # d < 8: the bootstrap resamples blocks of time origins, reduced the same way.
    rng = np.random.default_rng(3)
    w = np.cumsum(rng.normal(size=(300, 5)), axis=0).astype(np.float32)
    ref = diffusion.msd_windows(w, 150, lags="per-decade:8")
    got = ad.msd(
        da.from_array(w, chunks=(150, 2)), 150, lags="per-decade:8", client=client
    )
    assert_msd_equal(got, ref)


def test_regime_equals_single_process(client, runs):
    store, zpath = runs
    ref = diffusion.regime(store, 40, stride=20)
    got = ad.regime(zpath, 40, stride=20, client=client)
    for a, b in zip(got.windows, ref.windows, strict=True):
        assert a["t_w"] == b["t_w"]
        np.testing.assert_allclose(a["alpha"], b["alpha"], rtol=1e-9)
        np.testing.assert_allclose(a["alpha_se"], b["alpha_se"], rtol=1e-9)
    assert (got.change is None) == (ref.change is None)
    if ref.change is not None:
        np.testing.assert_allclose(got.change.t0, ref.change.t0, rtol=1e-9)
        np.testing.assert_allclose(
            got.change.p_value, ref.change.p_value, rtol=1e-9, atol=1e-12
        )


def _close(a, b, key=""):
    """Point estimates to 1e-8 relative; bootstrap errors and intervals to 1e-3: a bootstrap
    replicate re-bins resampled pair distances, and a rounding-level difference in a distance
    (summation order over coordinate blocks) can move a pair across a bin edge there."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], k)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y, key)
    elif isinstance(a, float):
        boot = key.endswith(("_se", "ci95"))
        np.testing.assert_allclose(
            a, b, rtol=1e-3 if boot else 1e-8, atol=1e-12, err_msg=key
        )
    else:
        assert a == b


def test_pair_stats_equal_analyze(client, runs):
    store, zpath = runs
    ref = diffusion.analyze(store, 200, bins=12, grad_samples=0)
    got = ad.pair_stats(zpath, 200, bins=12, client=client)
    assert len(got) == len(ref.windows)
    for g, r in zip(got, ref.windows, strict=True):
        assert g["t_w"] == r.t_w
        _close(g["contour"], r.contour)
        _close(g["msl"], r.msl)


def test_sweep_is_one_table(client, runs, tmp_path):
    _, zpath = runs
    other = make_store(tmp_path / "other", n=300, d=24, gd=0, seed=5)
    df = ad.sweep(
        [zpath, other], window=100, lags="log:8", client=client, progress=False
    )
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 4 + 3
    assert list(df["run"].unique()) == [zpath, other]
    ref = diffusion.msd_windows(other, 100, lags="log:8")
    sub = df[df["run"] == other]
    np.testing.assert_allclose(sub["alpha"], [w.alpha for w in ref.windows], rtol=1e-9)
    assert list(sub["regime"]) == [w.regime for w in ref.windows]
    assert (df["config.model"] == "mlp").all()


def test_bad_input(client, tmp_path):
    w = np.zeros((50, 10), dtype=np.float32)
    w[30, 7] = np.nan
    with pytest.raises(ValueError, match="step 30, coordinate 7"):
        ad.msd(w, 50, client=client)
    with pytest.raises(ValueError, match="window"):
        ad.msd(np.zeros((50, 10), dtype=np.float32), 80, client=client)
    with pytest.raises(ValueError, match="2-D"):
        ad.msd(np.zeros(50, dtype=np.float32), client=client)

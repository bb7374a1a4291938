"""anodiff.diffusion: MSD against tidynamics and brute force; trajectories; analyze as the CLI."""

import json
import subprocess

import numpy as np
import pytest
import tidynamics
from anodiff import diffusion
from conftest import FIXTURES


def brute_msd(w, lags):
    w = np.asarray(w, dtype=np.float64)
    return np.array([np.mean(np.sum((w[l:] - w[:-l]) ** 2, axis=1)) for l in lags])


def walk(T, d, seed=0, dtype=np.float64):
    r = np.random.default_rng(seed)
    return (np.cumsum(r.standard_normal((T, d)), axis=0) + 1.0).astype(dtype)


def test_msd_matches_tidynamics_and_brute_force():
    w = walk(300, 7)
    lags, m = diffusion.msd(w)
    assert list(lags) == list(range(1, 300))
    ref = tidynamics.msd(w)[1:]
    # Weights are read as float32 (the trajectory format): relative error ~1e-7 per coordinate.
    np.testing.assert_allclose(m, ref, rtol=2e-6)
    np.testing.assert_allclose(m, brute_msd(w.astype(np.float32), lags), rtol=1e-9)


def test_msd_float32_noncontiguous_ints_and_lags():
    w = walk(200, 12, seed=1, dtype=np.float32)
    view = w[::2, ::3]  # non-contiguous
    _lags, m = diffusion.msd(view, lags=[1, 5, 50])
    np.testing.assert_allclose(m, brute_msd(view, [1, 5, 50]), rtol=1e-9)
    wi = (np.arange(40)[:, None] * np.array([[1, 2]])).astype(
        np.int64
    )  # ballistic, ints
    _lags, m = diffusion.msd(wi.tolist(), lags=[1, 3])
    np.testing.assert_allclose(m, 5.0 * np.array([1, 9]), rtol=1e-12)


def test_msd_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        diffusion.msd(np.zeros(10))
    with pytest.raises(ValueError, match="lag"):
        diffusion.msd(walk(20, 2), lags=[25])
    w = walk(20, 2)
    w[7, 1] = np.nan
    with pytest.raises(ValueError, match="step 7"):
        diffusion.msd(w)
    with pytest.raises(TypeError):
        diffusion.msd(np.zeros((5, 2), dtype=complex))


def test_open_npy_and_store(tmp_path):
    w = walk(50, 4, dtype=np.float32)
    p = tmp_path / "w.npy"
    np.save(p, w)
    t = diffusion.open(p)
    assert (t.n_steps, t.dim) == (50, 4) and t.losses() is None
    np.testing.assert_array_equal(t[10:20], w[10:20])
    np.testing.assert_array_equal(t[-1], w[-1])
    st = diffusion.open(FIXTURES / "trajectory" / "store_pytorch_record" / "finished")
    assert (st.n_steps, st.dim, st.gradient_dim) == (10, 3, 2)
    # closed form of make_pytorch_record_fixture.py: w[t, c] = t*1000 + c, loss 1/(t+1)
    tt = np.arange(10)
    np.testing.assert_array_equal(st[:], tt[:, None] * 1000.0 + np.arange(3))
    np.testing.assert_allclose(st.losses(), 1.0 / (tt + 1))
    with pytest.raises(FileNotFoundError):
        diffusion.open(tmp_path / "missing.npy")


def test_analyze_matches_cli(anodiff_bin, tmp_path):
    w = walk(400, 16, seed=3, dtype=np.float32)
    loss = np.abs(np.random.default_rng(4).standard_normal(400)) + 1.0
    wp, lp = tmp_path / "w.npy", tmp_path / "loss.npy"
    np.save(wp, w)
    np.save(lp, loss)
    args = ["--window", "200", "--lags", "log:20"]
    cli = json.loads(
        subprocess.run(
            [anodiff_bin, "analyze", str(wp), "--losses", str(lp), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    t = diffusion.open(wp, losses=lp)
    ours = diffusion.analyze(t, window=200, lags="log:20")
    d = ours.to_dict()
    assert d["trajectory"]["path"] == cli["trajectory"]["path"]
    assert json.dumps(d["windows"], sort_keys=True) == json.dumps(
        cli["windows"], sort_keys=True
    )
    assert json.dumps(d["regime"], sort_keys=True) == json.dumps(
        cli["regime"], sort_keys=True
    )
    assert ours.windows[0].msd["regime"] == cli["windows"][0]["msd"]["regime"]
    m = diffusion.msd_windows(t, window=200, lags="log:20")
    cli_m = json.loads(
        subprocess.run(
            [anodiff_bin, "msd", str(wp), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert json.dumps(m.to_dict(), sort_keys=True) == json.dumps(cli_m, sort_keys=True)


def switching_walk(n: int, d: int, t0: int, seed: int) -> np.ndarray:
    """A walk whose MSD exponent changes at step t0: a drifting random walk (MSD ~ tau^2 at
    the longer lags) followed by a strongly confined one (an AR(1) around the last position,
    MSD flat beyond a few steps)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, d))
    w[:t0] = np.cumsum(rng.standard_normal((t0, d)) + 0.5, axis=0)
    x = np.zeros(d)
    for t in range(t0, n):
        x = 0.5 * x + rng.standard_normal(d)
        w[t] = w[t0 - 1] + x
    return w.astype(np.float32)


def test_regime_matches_cli_and_finds_a_planted_change(anodiff_bin, tmp_path):
    w = switching_walk(1600, 12, 800, seed=7)
    p = tmp_path / "w.npy"
    np.save(p, w)
    cli = json.loads(
        subprocess.run(
            [anodiff_bin, "regime", str(p), "--window", "200", "--stride", "100"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    r = diffusion.regime(p, 200, stride=100)
    assert json.dumps(r.to_dict(), sort_keys=True) == json.dumps(cli, sort_keys=True)
    c = r.change
    assert c is not None and c.p_value < 0.05
    assert c.t0_ci95[0] <= 800 <= c.t0_ci95[1]
    assert c.alpha_before_ci95[0] > 1 and c.alpha_after_ci95[1] < 1
    # the same from an array, and the errors the command gives
    assert diffusion.regime(w, 200, stride=100).change.t0 == c.t0
    with pytest.raises(ValueError, match="windows"):
        diffusion.regime(w[:400], 200, stride=100)
    with pytest.raises(ValueError, match="level"):
        diffusion.regime(w, 200, level=1.5)
    with pytest.raises(TypeError):
        diffusion.regime(w, 200.0)


def test_analyze_array_input():
    w = walk(120, 8, seed=5)
    r = diffusion.analyze(w, window=60, lags="log:10")
    assert len(r.windows) == 2 and r.trajectory["path"] == "<array>"
    assert 0.5 < r.windows[0].msd["alpha"] < 1.5  # a random walk: MSD ~ tau

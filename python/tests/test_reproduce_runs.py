"""`anodiff reproduce --runs DIR` on runs trained by `anodiff.dask.train_many` on a
LocalCluster, from the list `anodiff reproduce --list-runs` prints: the same claims, with the
same statistics and verdicts, as a `reproduce` that trained the runs itself."""

import json
import subprocess

import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("pandas")
import anodiff.dask as ad

# Small enough to train twice in seconds, with every stage that reads a run.
CONFIG = """
[toy]
landscape_size = 65
walkers = 3
steps = 200
[network]
models = ["mlp:16"]
epochs = 2
seeds = 2
batch_size = 32
record_weights = "full"
record_grad = "sample:256"
[analysis]
window = 40
stride = 20
lags = 12
n_boot = 10
null_sims = 9
bins = 10
moving_window = 10
grad_samples = 500
[hessian]
k = 2
every_epochs = 1
batch_size = 16
[surface]
grid = 9
examples = 32
[sweeps]
steps = 40
depth = 8
batch_sizes = [16]
depths = [8]
learning_rates = [0.01]
record_weights = "subset:256"
window = 20
"""


def reproduce(binary, *args):
    r = subprocess.run(
        [binary, "reproduce", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return r


def test_runs_trained_by_train_many_give_the_same_verdicts(anodiff_bin, tmp_path):
    cfg = tmp_path / "settings.toml"
    cfg.write_text(CONFIG)
    here = tmp_path / "here"
    reproduce(anodiff_bin, "--config", cfg, "--out", here)
    runs = json.loads(reproduce(anodiff_bin, "--config", cfg, "--list-runs").stdout)
    runs = runs["runs"]
    assert len(runs) == 7
    root = tmp_path / "cluster"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        df = ad.train_many(
            [r["config"] for r in runs],
            client,
            out=[root / r["name"] for r in runs],
            binary=anodiff_bin,
        )
    assert set(df["status"]) == {"finished"}
    there = tmp_path / "there"
    err = reproduce(anodiff_bin, "--config", cfg, "--runs", root, "--out", there).stderr
    assert "trained elsewhere" in err
    ours = json.loads((here / "summary.json").read_text())["claims"]
    theirs = json.loads((there / "summary.json").read_text())["claims"]
    assert len(ours) == len(theirs) > 10
    for a, b in zip(ours, theirs, strict=True):
        assert a["id"] == b["id"]
        assert a["verdict"] == b["verdict"], a["id"]
        assert a["test"] == b["test"], a["id"]
        assert a["seeds"] == b["seeds"], a["id"]

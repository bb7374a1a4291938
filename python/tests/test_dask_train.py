"""anodiff.dask.train_many on a LocalCluster (processes): one `anodiff train` process per
configuration, a killed process resumed by Dask's retry into a store equal bit for bit to an
uninterrupted run's, results read back from the run directories, errors with stderr, a run
directory of another configuration refused, a locked run directory waited for."""

import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
import anodiff.dask as ad

# 1500 steps of a 2410-weight MLP: about a second, two store chunks, 30 checkpoints.
CFG = {
    "model": "mlp:32",
    "dataset": "digits",
    "batch-size": 32,
    "lr": 0.1,
    "steps": 1500,
    "checkpoint_every": 50,
    "seed": 3,
}

# Kills the first attempt of a run whose directory ends in "kill" once its checkpoint is past
# step 300 (and a few more steps are committed), as a lost worker would; passes everything else,
# the retry included, to the real binary.
KILLER = """#!{python}
import json, os, struct, subprocess, sys, time
real = {real!r}
args = sys.argv[1:]
out = args[args.index("--out") + 1] if "--out" in args else ""
if not out.endswith("kill") or os.path.exists(out + ".killed"):
    os.execv(real, [real, *args])
p = subprocess.Popen([real, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
last = os.path.join(out, "checkpoints", "last.safetensors")
while p.poll() is None:
    step = 0
    try:
        with open(last, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            step = int(json.loads(fh.read(n))["__metadata__"]["step"], 16)
    except (OSError, ValueError, KeyError, struct.error):
        pass
    if step >= 300:
        time.sleep(0.02)
        p.kill()
        p.wait()
        with open(out + ".killed", "w") as fh:
            fh.write(str(step))
        sys.exit("killed at checkpoint step %d" % step)
    time.sleep(0.001)
sys.exit("the run finished before it could be killed")
"""


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def store_arrays(run):
    """Every weight and loss row of a store, from its manifest and .npy chunks."""
    with open(os.path.join(run, "manifest.json")) as fh:
        m = json.load(fh)
    w = np.concatenate([np.load(os.path.join(run, c["weights"])) for c in m["chunks"]])
    lo = np.concatenate([np.load(os.path.join(run, c["losses"])) for c in m["chunks"]])
    return w, lo


def test_killed_run_resumes_bit_for_bit(client, anodiff_bin, tmp_path):
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER.format(python=sys.executable, real=anodiff_bin))
    killer.chmod(0o755)
    toml = tmp_path / "b.toml"
    toml.write_text(
        "\n".join(f"{k} = {json.dumps(v)}" for k, v in {**CFG, "seed": 4}.items())
    )
    df = ad.train_many(
        [CFG, str(toml)],
        client,
        out=[tmp_path / "kill", tmp_path / "plain"],
        retries=1,
        binary=killer,
    )
    assert isinstance(df, pd.DataFrame)
    # The first attempt really died mid-run: after checkpoint 300, before step 1500.
    killed_at = int((tmp_path / "kill.killed").read_text())
    assert 300 <= killed_at < 1500
    assert list(df["resumed"]) == [True, False]
    assert list(df["status"]) == ["finished", "finished"]
    assert list(df["steps"]) == [1500, 1500]
    assert df["config_file"].iloc[1] == str(toml)
    assert df["config.seed"].tolist() == [3, 4]
    # The reference: the same configuration, uninterrupted, by the CLI itself.
    ref = tmp_path / "ref"
    args = [anodiff_bin, "train", "--model", "mlp:32", "--dataset", "digits"]
    args += ["--batch-size", "32", "--lr", "0.1", "--steps", "1500"]
    args += ["--checkpoint-every", "50", "--seed", "3", "--out", str(ref)]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    w_ref, lo_ref = store_arrays(ref)
    w, lo = store_arrays(df["run"].iloc[0])
    assert w.shape == (1500, 2410)
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(lo, lo_ref)
    assert df["final_loss"].iloc[0] == lo_ref[-1]
    summary = json.loads(r.stdout)
    assert df["test_loss"].iloc[0] == summary["test_loss"]
    # A finished run is read, not retrained.
    again = ad.train_many(
        [CFG], client, out=[df["run"].iloc[0]], binary=anodiff_bin, as_frame=False
    )
    assert again[0]["steps"] == 1500 and again[0]["resumed"] is False
    np.testing.assert_array_equal(store_arrays(df["run"].iloc[0])[0], w_ref)


def test_errors(client, anodiff_bin, tmp_path):
    bad = {**CFG, "lr": -1.0, "steps": 5}
    with pytest.raises(RuntimeError, match="learning rate must be a positive"):
        ad.train_many([bad], client, out=tmp_path, retries=0, binary=anodiff_bin)
    with pytest.raises(ValueError, match=r"unknown .*\['momentum'\]"):
        ad.train_many([{**CFG, "momentum": 0.9}], client, out=tmp_path)
    with pytest.raises(ValueError, match="`dataset` is required"):
        ad.train_many([{"model": "mlp"}], client, out=tmp_path)
    with pytest.raises(ValueError, match="2 output directories for 1 configs"):
        ad.train_many([CFG], client, out=[tmp_path / "a", tmp_path / "b"])


# 200 steps of an 8-unit MLP: well under a second.
TINY = {
    "model": "mlp:8",
    "dataset": "digits",
    "steps": 200,
    "batch_size": 32,
    "lr": 0.1,
}


def hold_lock(run):
    """Holds `run`'s lock as a training process would (flock on run/.lock, holder inside)."""
    os.makedirs(run, exist_ok=True)
    fh = open(os.path.join(run, ".lock"), "a+")  # noqa: SIM115 (held past the function)
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fh.truncate(0)
    fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    fh.flush()
    return fh


def test_a_finished_run_of_another_configuration_is_refused(
    client, anodiff_bin, tmp_path
):
    run = tmp_path / "run"
    first = ad.train_many([TINY], client, out=[run], binary=anodiff_bin, as_frame=False)
    assert (first[0]["status"], first[0]["steps"]) == ("finished", 200)
    before = store_arrays(run)
    with pytest.raises(ValueError, match="another configuration") as e:
        ad.train_many(
            [{**TINY, "lr": 0.05}], client, out=[run], binary=anodiff_bin, retries=0
        )
    assert str(run) in str(e.value) and "lr: 0.05 here, 0.1 there" in str(e.value)
    # The device and the checkpoint interval are not part of the run: the run is read back.
    same = {**TINY, "checkpoint_every": 7, "device": "cpu"}
    again = ad.train_many([same], client, out=[run], binary=anodiff_bin, as_frame=False)
    assert again[0]["resumed"] is False and again[0]["steps"] == 200
    for a, b in zip(store_arrays(run), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_waits_for_a_held_run_directory(client, anodiff_bin, tmp_path):
    run = tmp_path / "run"
    fh = hold_lock(run)
    released = []

    def release():
        released.append(time.time())
        fh.close()

    timer = threading.Timer(1.0, release)
    timer.start()
    try:
        df = ad.train_many(
            [TINY], client, out=[run], binary=anodiff_bin, lock_timeout=60
        )
    finally:
        timer.cancel()
        fh.close()
    assert list(df["status"]) == ["finished"] and list(df["resumed"]) == [False]
    # The run started after the release: its initial checkpoint is younger than it.
    epoch0 = os.path.getmtime(run / "checkpoints" / "epoch-0.safetensors")
    assert released and epoch0 >= released[0] - 0.05


def test_lock_timeout(client, anodiff_bin, tmp_path):
    run = tmp_path / "run"
    with (
        hold_lock(run),
        pytest.raises(TimeoutError, match="still in use") as e,
    ):
        ad.train_many([TINY], client, out=[run], binary=anodiff_bin, lock_timeout=0.3)
    msg = str(e.value)
    assert str(run) in msg and f"pid {os.getpid()} on {socket.gethostname()}" in msg
    assert os.listdir(run) == [".lock"], "nothing trained while the directory was held"
    with pytest.raises(ValueError, match="lock_timeout"):
        ad.train_many([TINY], client, out=[run], lock_timeout=-1)

"""The Rust store writer from Python: killed with SIGKILL mid-run and resumed."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from anodiff import _core, diffusion

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from anodiff import _core
    run, resume = sys.argv[1], sys.argv[2] == "1"
    w = (_core.StoreWriter.resume(run) if resume else
         _core.StoreWriter.create(run, 5, gradient_dim=2, chunk_steps=3, subset_seed=9))
    t = w.n_steps
    while True:  # w[t, c] = t + c / 10, loss 1 / (t + 1), gradient -(t, t + 1)
        w.append((t + np.arange(5) / 10).astype(np.float32), 1.0 / (t + 1),
                 -np.array([t, t + 1], dtype=np.float32))
        t += 1
        if t == 40:
            w.finish()
            break
""")


def _wait_steps(run, n, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(os.path.join(run, "manifest.json")) as f:
                if json.load(f)["n_steps"] >= n:
                    return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, "writer ended early"
        time.sleep(0.005)
    raise AssertionError("writer too slow")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_then_resume(tmp_path):
    run = str(tmp_path / "run")
    p = subprocess.Popen([sys.executable, "-c", WRITER, run, "0"])
    _wait_steps(run, 7, p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    killed_at = diffusion.open(run).n_steps
    assert 7 <= killed_at < 40
    subprocess.run([sys.executable, "-c", WRITER, run, "1"], check=True, timeout=120)
    t = diffusion.open(run)
    assert (t.n_steps, t.dim, t.gradient_dim) == (40, 5, 2)
    steps = np.arange(40)
    np.testing.assert_array_equal(
        t[:], (steps[:, None] + np.arange(5) / 10).astype(np.float32)
    )
    np.testing.assert_array_equal(t.losses(), 1.0 / (steps + 1))
    np.testing.assert_array_equal(t.gradients(), -np.stack([steps, steps + 1], 1))
    with open(os.path.join(run, "manifest.json")) as f:
        m = json.load(f)
    assert m["finished"] and m["subset_seed"] == 9


def test_writer_rejects_bad_steps(tmp_path):
    w = _core.StoreWriter.create(str(tmp_path / "r"), 3, sync=False)
    with pytest.raises(ValueError, match="coordinates"):
        w.append(np.zeros(4, np.float32), 1.0)
    with pytest.raises(ValueError, match="weight is NaN"):
        w.append(np.array([0, np.nan, 0], np.float32), 1.0)
    with pytest.raises(ValueError, match="loss"):
        w.append(np.zeros(3, np.float32), float("inf"))
    w.append(np.zeros(3, np.float32)[::1], 1.0)
    w.finish()
    with pytest.raises(ValueError, match="finished"):
        w.append(np.zeros(3, np.float32), 1.0)
    with pytest.raises(ValueError, match="already"):
        _core.StoreWriter.create(str(tmp_path / "r"), 3)

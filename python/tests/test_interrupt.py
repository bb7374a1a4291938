"""Ctrl-C (SIGINT) interrupts a long compiled call, and the GIL is released during it."""

import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from anodiff.stats import levy_stable

LONG = textwrap.dedent("""
    import sys, time, numpy as np
    from anodiff.stats import levy_stable
    x = np.linspace(-50, 50, 20_000_000)   # minutes of quadrature
    print("start", flush=True)
    t0 = time.time()
    try:
        levy_stable.cdf(x, 1.3, 0.2)
    except KeyboardInterrupt:
        print(f"interrupted {time.time() - t0:.2f}", flush=True)
        sys.exit(3)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_sigint_interrupts_a_long_call():
    p = subprocess.Popen(
        [sys.executable, "-c", LONG], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.0)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 3, out
    assert time.time() - t0 < 10


def test_gil_is_released_during_compute():
    x = np.linspace(-20, 20, 40_000)
    ticks = []
    done = threading.Event()

    def work():
        levy_stable.cdf(x, 1.3, 0.2)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks.append(
            time.perf_counter()
        )  # runs only while the worker does not hold the GIL
        time.sleep(0.001)
    t.join()
    assert len(ticks) > 20

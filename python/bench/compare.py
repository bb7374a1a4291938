"""Speed of the anodiff Python package against scipy and tidynamics, measured in one run.

    python python/bench/compare.py            # from the repository root, after pip install ./python

Prints one line per comparison with both times and their ratio (best of a few repetitions for
the fast side; one run for the slow side where it takes seconds).
"""

import argparse
import time

import numpy as np


def best(f, reps):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


def line(name, ours, theirs, ref):
    print(f"{name:<44} anodiff {ours * 1e3:10.2f} ms   {ref} {theirs * 1e3:10.1f} ms   "
          f"ratio {theirs / ours:9.1f}x", flush=True)


def bench_pdf(n, n_scipy):
    import scipy.stats as ss
    from anodiff.stats import levy_stable
    x = np.random.default_rng(0).standard_normal(n) * 3
    ours = best(lambda: levy_stable.pdf(x, 1.5, 0.5), 5)
    # scipy evaluates one numerical integral per point: time a subset and scale per point.
    xs = x[:n_scipy]
    theirs = best(lambda: ss.levy_stable.pdf(xs, 1.5, 0.5), 1) * (n / n_scipy)
    line(f"levy_stable.pdf, {n} points (alpha 1.5)", ours, theirs, "scipy")


def bench_fit(n):
    import scipy.stats as ss
    from anodiff.stats import levy_stable
    x = levy_stable.rvs(1.5, 0.0, size=n, random_state=1)
    ours = best(lambda: levy_stable.fit(x), 3)
    theirs = best(lambda: ss.levy_stable.fit(x), 1)
    line(f"levy_stable.fit, n = {n}", ours, theirs, "scipy")


def bench_msd(T, d):
    import tidynamics
    from anodiff.diffusion import msd
    w = np.cumsum(np.random.default_rng(2).standard_normal((T, d), dtype=np.float32), axis=0)
    ours = best(lambda: msd(w), 3)
    theirs = best(lambda: tidynamics.msd(w), 1)
    line(f"msd, T = {T}, d = {d} (float32)", ours, theirs, "tidynamics")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf-points", type=int, default=100_000)
    ap.add_argument("--pdf-scipy-points", type=int, default=1_000)
    ap.add_argument("--fit-n", type=int, default=1_000)
    ap.add_argument("--msd-T", type=int, default=1000)
    ap.add_argument("--msd-d", type=int, default=200_000)
    a = ap.parse_args()
    bench_pdf(a.pdf_points, a.pdf_scipy_points)
    bench_fit(a.fit_n)
    bench_msd(a.msd_T, a.msd_d)

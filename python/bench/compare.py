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
    print(
        f"{name:<44} anodiff {ours * 1e3:10.2f} ms   {ref} {theirs * 1e3:10.1f} ms   "
        f"ratio {theirs / ours:9.1f}x",
        flush=True,
    )


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

    w = np.cumsum(
        np.random.default_rng(2).standard_normal((T, d), dtype=np.float32), axis=0
    )
    ours = best(lambda: msd(w), 3)
    theirs = best(lambda: tidynamics.msd(w), 1)
    line(f"msd, T = {T}, d = {d} (float32)", ours, theirs, "tidynamics")


def resnet20():
    """He et al. (2016) CIFAR ResNet-20: 3 stages of 3 basic blocks, 16/32/64 channels."""
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            o = F.relu(self.b1(self.c1(x)))
            o = self.b2(self.c2(o))
            return F.relu(o + (x if self.short is None else self.short(x)))

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def bench_hessian(k, batch, tol):
    """Top-k Hessian eigenvalues of an untrained ResNet-20 on one random CIFAR-shaped batch
    (eval mode, CPU): anodiff.torch.hessian_eigs (Lanczos, relative residual tol) against
    PyHessian's deflated power iteration (relative eigenvalue change tol)."""
    import torch
    from anodiff.torch import hessian_eigs

    try:
        from pyhessian import hessian
    except ImportError:
        print("pyhessian not installed: Hessian comparison skipped")
        return
    torch.manual_seed(0)
    model = resnet20().eval()
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    crit = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    # Power iteration finds the eigenvalues of largest magnitude: compare with which="LM".
    r = hessian_eigs(model, crit, (x, y), k=k, tol=tol, which="LM")
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    torch.manual_seed(0)
    ev, _ = hessian(model, crit, data=(x, y), cuda=False).eigenvalues(top_n=k, tol=tol)
    theirs = time.perf_counter() - t0
    ev = np.array(sorted(ev, key=abs, reverse=True))
    rel = np.max(np.abs(ev - r.eigenvalues) / np.abs(r.eigenvalues))
    line(
        f"Hessian top-{k}, ResNet-20, batch {batch}, tol {tol:g}",
        ours,
        theirs,
        "PyHessian",
    )
    print(
        f"    anodiff {r.matvecs} Hessian-vector products, max residual/|theta| "
        f"{np.max(r.residuals / np.abs(r.eigenvalues)):.1e}; largest relative difference "
        f"of the eigenvalues {rel:.1e}",
        flush=True,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf-points", type=int, default=100_000)
    ap.add_argument("--pdf-scipy-points", type=int, default=1_000)
    ap.add_argument("--fit-n", type=int, default=1_000)
    ap.add_argument("--msd-T", type=int, default=1000)
    ap.add_argument("--msd-d", type=int, default=200_000)
    ap.add_argument(
        "--hessian-k",
        type=int,
        default=0,
        help="also compare top-k Hessian eigenvalues of ResNet-20 with PyHessian",
    )
    ap.add_argument("--hessian-batch", type=int, default=128)
    ap.add_argument("--hessian-tol", type=float, default=1e-3)
    a = ap.parse_args()
    bench_pdf(a.pdf_points, a.pdf_scipy_points)
    bench_fit(a.fit_n)
    bench_msd(a.msd_T, a.msd_d)
    if a.hessian_k:
        bench_hessian(a.hessian_k, a.hessian_batch, a.hessian_tol)

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


class CountHvps:
    """Counts Hessian-vector products: calls of torch.autograd.grad with grad_outputs, the
    double-backward product both anodiff.torch and PyHessian make (gradients themselves are
    taken without grad_outputs or through loss.backward, so they are not counted)."""

    def __init__(self):
        import torch

        self.torch, self.n = torch, 0

    def __enter__(self):
        grad = self.orig = self.torch.autograd.grad

        def counted(*args, **kwargs):
            if kwargs.get("grad_outputs") is not None or len(args) > 2:
                self.n += 1
            return grad(*args, **kwargs)

        self.torch.autograd.grad = counted
        return self

    def __exit__(self, *exc):
        self.torch.autograd.grad = self.orig


def bench_hessian(k, batch, tol, ph_tol, ph_maxiter):
    """Top-k Hessian eigenvalues of an untrained ResNet-20 on one random CIFAR-shaped batch
    (eval mode, CPU): anodiff.torch.hessian_eigs (Lanczos, relative residual tol) against
    PyHessian's deflated power iteration (relative eigenvalue change ph_tol, at most ph_maxiter
    products per eigenvalue). Both count their Hessian-vector products the same way; PyHessian's
    eigenpairs are then checked by their residuals ||H v - lambda v|| / |lambda| (products made
    after the timed run, not counted), which bound each eigenvalue's distance to the spectrum."""
    import sys
    from collections import Counter

    import torch
    from anodiff.torch import hessian_eigs

    try:
        from pyhessian import hessian
    except ImportError:
        print("pyhessian not installed: Hessian comparison skipped")
        return
    ph_mod = sys.modules["pyhessian.hessian"]
    torch.manual_seed(0)
    model = resnet20().eval()
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    crit = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    # Power iteration finds the eigenvalues of largest magnitude: compare with which="LM".
    with CountHvps() as ours_n:
        r = hessian_eigs(model, crit, (x, y), k=k, tol=tol, which="LM")
    ours = time.perf_counter() - t0
    print(
        f"    anodiff: {time.perf_counter() - t0:.1f} s, {ours_n.n} Hessian-vector products "
        f"(solver reports {r.matvecs}), all converged {bool(np.all(r.converged))}, max "
        f"residual/|theta| {np.max(r.residuals / np.abs(r.eigenvalues)):.1e}",
        flush=True,
    )

    # Products per eigenvalue: PyHessian orthogonalises against the eigenvectors found so far
    # once per product, so the length of that list tells which eigenvalue a product serves.
    per_eig: Counter = Counter()
    orthnormal = ph_mod.orthnormal

    def orth_counted(w, v_list):
        i = len(v_list)
        if i and i not in per_eig:
            print(
                f"    PyHessian eigenvalue {i}: {per_eig[i - 1]} products",
                file=sys.stderr,
            )
        per_eig[i] += 1
        return orthnormal(w, v_list)

    ph_mod.orthnormal = orth_counted
    torch.manual_seed(0)
    t0 = time.perf_counter()
    try:
        with CountHvps() as theirs_n:
            h = hessian(model, crit, data=(x, y), cuda=False)
            ev, vecs = h.eigenvalues(top_n=k, tol=ph_tol, maxIter=ph_maxiter)
    finally:
        ph_mod.orthnormal = orthnormal
    theirs = time.perf_counter() - t0
    found = np.array(ev)
    capped = sum(1 for i in range(k) if per_eig[i] >= ph_maxiter)
    res = []
    for lam, v in zip(found, vecs):
        hv = ph_mod.hessian_vector_product(h.gradsH, h.params, v)
        nv = sum(float((a * a).sum()) for a in v) ** 0.5
        rr = sum(float(((a - lam * b) ** 2).sum()) for a, b in zip(hv, v)) ** 0.5
        res.append(rr / (abs(lam) * nv))
    in_order = bool(np.all(np.diff(np.abs(found)) <= 0))
    srt = np.array(sorted(found, key=abs, reverse=True))
    rel = np.abs(srt - r.eigenvalues) / np.abs(r.eigenvalues)
    line(
        f"Hessian top-{k}, ResNet-20, batch {batch}, tol {tol:g}/{ph_tol:g}",
        ours,
        theirs,
        "PyHessian",
    )
    print(
        f"    products: anodiff {ours_n.n}, PyHessian {theirs_n.n} "
        f"(ratio {theirs_n.n / ours_n.n:.1f}x); PyHessian per eigenvalue "
        f"{[per_eig[i] for i in range(k)]}, {capped} of {k} stopped at maxIter {ph_maxiter}",
        flush=True,
    )
    print(
        f"    PyHessian max residual/|lambda| {max(res):.1e}; found in decreasing |lambda| "
        f"order: {in_order}; largest relative difference of the sorted eigenvalues "
        f"{rel.max():.1e} (at index {int(rel.argmax())})",
        flush=True,
    )
    # Each PyHessian value against the nearest of anodiff's: a value far from all of them is
    # not one of the top-k (power iteration stopped before it converged, or deflation drifted).
    near = np.array([np.min(np.abs(r.eigenvalues - v)) / abs(v) for v in found])
    print(
        f"    PyHessian values farther than 1e-2 (relative) from every anodiff eigenvalue: "
        f"{int(np.sum(near > 1e-2))} of {k}; largest distance {near.max():.1e}",
        flush=True,
    )
    np.set_printoptions(precision=6, linewidth=120)
    print(f"    anodiff   {r.eigenvalues}", flush=True)
    print(f"    PyHessian {found} (order found)", flush=True)


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
    ap.add_argument(
        "--hessian-tol",
        type=float,
        default=1e-3,
        help="anodiff: relative residual ||H x - theta x|| / |theta| of every Ritz pair",
    )
    ap.add_argument(
        "--pyhessian-tol",
        type=float,
        default=1e-3,
        help="PyHessian: relative change of each eigenvalue between power iterations",
    )
    ap.add_argument(
        "--pyhessian-maxiter",
        type=int,
        default=100,
        help="PyHessian: most power iterations per eigenvalue (its default 100)",
    )
    ap.add_argument(
        "--hessian-only",
        action="store_true",
        help="skip the scipy/tidynamics comparisons",
    )
    a = ap.parse_args()
    if not a.hessian_only:
        bench_pdf(a.pdf_points, a.pdf_scipy_points)
        bench_fit(a.fit_n)
        bench_msd(a.msd_T, a.msd_d)
    if a.hessian_k:
        bench_hessian(
            a.hessian_k,
            a.hessian_batch,
            a.hessian_tol,
            a.pyhessian_tol,
            a.pyhessian_maxiter,
        )

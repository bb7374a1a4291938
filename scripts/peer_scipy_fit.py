"""Peer timing: scipy.stats.levy_stable.fit versus `anodiff stable fit` on the same data.

Usage (from the repository root, after `cargo build --release`):
    /work/venv-peers/bin/python scripts/peer_scipy_fit.py [N] [SEED]

Draws N (default 200) values from S0(alpha=1.5, beta=0.3, scale=1, loc=0) with numpy's
default_rng(SEED), writes them to /tmp/anodiff_peer_fitN.txt, times scipy's fit (generic
Nelder-Mead on the piecewise-quadrature pdf, S0, McCulloch start; no standard errors) and
`target/release/anodiff stable fit FILE` (4-parameter MLE with standard errors), and prints
one JSON line with both estimates, both wall times and their ratio.
"""
import json
import subprocess
import sys
import time

import numpy as np
import scipy
from scipy.stats import levy_stable

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
levy_stable.parameterization = "S0"
x = levy_stable.rvs(1.5, 0.3, loc=0.0, scale=1.0, size=n, random_state=np.random.default_rng(seed))
path = f"/tmp/anodiff_peer_fit{n}.txt"
np.savetxt(path, x, fmt="%.17g")

t0 = time.perf_counter()
p = subprocess.run(["target/release/anodiff", "stable", "fit", path], capture_output=True, text=True, check=True)
t_ours = time.perf_counter() - t0
ours = json.loads(p.stdout)

t0 = time.perf_counter()
a, b, loc, scale = levy_stable.fit(x)
t_scipy = time.perf_counter() - t0
ll_scipy = float(np.sum(levy_stable.logpdf(x, a, b, loc=loc, scale=scale)))

print(json.dumps({
    "n": n, "seed": seed, "scipy_version": scipy.__version__,
    "scipy": {"alpha": a, "beta": b, "scale": scale, "loc": loc, "loglik": ll_scipy, "seconds": t_scipy},
    "anodiff": {"alpha": ours["alpha"], "beta": ours["beta"], "scale": ours["scale"], "loc": ours["loc"],
                "loglik": ours["loglik"], "se_alpha": ours["se"]["alpha"], "seconds": t_ours},
    "ratio_scipy_over_anodiff": t_scipy / t_ours,
}))

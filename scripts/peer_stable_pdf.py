#!/usr/bin/env python3
"""Times scipy.stats.levy_stable.pdf on the points of benches/stable_pdf.rs.

Points: x_i = sinh(-7 + 14 i / 999), i = 0..999, S0 parameterization, alpha = 1.5, beta = 0.5 by
default or the given alpha, beta (scipy's default 'piecewise' method). Prints evaluations per
second (best of `reps` runs).

Usage: /work/venv-peers/bin/python scripts/peer_stable_pdf.py [reps [alpha beta]]
"""
import sys
import time

import numpy as np
import scipy
from scipy.stats import levy_stable

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 2
alpha = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
beta = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
levy_stable.parameterization = "S0"
x = np.sinh(-7.0 + 14.0 * np.arange(1000) / 999.0)
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    levy_stable.pdf(x, alpha, beta)
    best = min(best, time.perf_counter() - t0)
print(
    f"scipy {scipy.__version__} levy_stable.pdf alpha {alpha} beta {beta}: "
    f"{len(x) / best:.1f} evaluations/s ({best:.3f} s per 1000)"
)

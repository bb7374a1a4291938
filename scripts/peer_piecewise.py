#!/usr/bin/env python3
"""Times piecewise-regression's Fit(x, y, n_breakpoints=1, n_boot=100) on the data that
benches/segmented.rs uses (fixtures/msd/piecewise_regression.json, case seed 1), best of REPS runs.

Usage: python scripts/peer_piecewise.py [REPS]
Prints one JSON object: {"peer": "piecewise-regression", "seconds": ..., "breakpoint": ...}.
"""
import json
import os
import sys
import time

import numpy as np
import piecewise_regression

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
data = json.load(open(os.path.join(root, "fixtures", "msd", "piecewise_regression.json")))
x = np.array(data["x"])
y = np.array(data["cases"][0]["y"])
best = float("inf")
for _ in range(reps):
    np.random.seed(1)
    t0 = time.perf_counter()
    fit = piecewise_regression.Fit(x, y, n_breakpoints=1, n_boot=100)
    best = min(best, time.perf_counter() - t0)
bp = fit.get_results()["estimates"]["breakpoint1"]["estimate"]
print(json.dumps({"peer": "piecewise-regression", "version": piecewise_regression.__version__
                  if hasattr(piecewise_regression, "__version__") else "1.5.x",
                  "seconds": best, "breakpoint": bp}))

#!/usr/bin/env python3
"""ARPACK (scipy.sparse.linalg.eigsh) on the same planted operator as anodiff's Lanczos.

The operator is A = Q diag(lambda) Q^T with Q = H_1 ... H_r, H_i = I - 2 u_i u_i^T, read from
the .npy files that anodiff writes (eigenvalues (n,), unit reflectors (r, n)); see
fixtures/lanczos/README.md. Every matvec is counted by a wrapper, so the count includes all of
ARPACK's work (start vector included). Prints one JSON object.

Usage:
  /work/venv-peers/bin/python scripts/peer_lanczos.py \
      fixtures/lanczos/cifar3000_eigenvalues.npy fixtures/lanczos/cifar3000_reflectors.npy \
      [--k 20] [--seeds 5] [--tols 1e-8,0] [--ncv 41,60]
"""
import argparse
import json
import time

import numpy as np
import scipy
from scipy.sparse.linalg import LinearOperator, eigsh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eigenvalues")
    ap.add_argument("reflectors")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tols", default="1e-8,0")
    ap.add_argument("--ncv", default="default")
    args = ap.parse_args()

    lam = np.load(args.eigenvalues).astype(np.float64)
    refl = np.load(args.reflectors).astype(np.float64)
    refl = refl / np.linalg.norm(refl, axis=1, keepdims=True)
    n = lam.size
    count = [0]

    def apply(v):
        count[0] += 1
        x = np.array(v, dtype=np.float64).reshape(-1)
        for u in refl:  # Q^T: H_1 acts first
            x -= 2.0 * (u @ x) * u
        x *= lam
        for u in refl[::-1]:
            x -= 2.0 * (u @ x) * u
        return x

    op = LinearOperator((n, n), matvec=apply, dtype=np.float64)
    order = np.argsort(-lam)
    exact = lam[order[: args.k]]
    runs = []
    ncvs = [None if s == "default" else int(s) for s in args.ncv.split(",")]
    for ncv in ncvs:
        for tol in [float(t) for t in args.tols.split(",")]:
            for seed in range(args.seeds):
                v0 = np.random.default_rng(seed).standard_normal(n)
                count[0] = 0
                t0 = time.perf_counter()
                vals, vecs = eigsh(op, k=args.k, which="LA", tol=tol, v0=v0, ncv=ncv)
                wall = time.perf_counter() - t0
                mv = count[0]
                idx = np.argsort(-vals)
                vals, vecs = vals[idx], vecs[:, idx]
                res = [np.linalg.norm(apply(vecs[:, i]) - vals[i] * vecs[:, i]) / abs(vals[i])
                       for i in range(args.k)]
                runs.append({
                    "ncv": ncv if ncv is not None else min(n, max(2 * args.k + 1, 20)),
                    "tol": tol,
                    "seed": seed,
                    "matvecs": mv,
                    "wall_s": wall,
                    "max_rel_residual": float(max(res)),
                    "max_rel_eigenvalue_error": float(np.max(np.abs(vals - exact) / np.abs(exact))),
                })
    print(json.dumps({
        "tool": f"scipy {scipy.__version__} eigsh (ARPACK), numpy {np.__version__}",
        "n": int(n), "k": args.k, "which": "LA", "runs": runs,
    }, indent=1))


if __name__ == "__main__":
    main()

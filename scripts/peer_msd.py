"""Peer timing and accuracy for the MSD benchmark: tidynamics.msd on the same data as
benches/msd.rs (T = 1000, d coordinates, f32, memory-mapped .npy created by the bench).

Times tidynamics.msd including the conversion of the f32 memory map to f64 (tidynamics
needs (T, d) float64 input for full precision; it loops over coordinates itself), and measures
the accuracy of tidynamics and of anodiff (the `anodiff msd` binary, if given) against a
brute-force O(d T^2) float64 reference on the first K coordinates.

Run (after `cargo bench --bench msd`, which creates the data files):
  /work/venv-peers/bin/python scripts/peer_msd.py [--d 20000,200000] [--k 500] \
      [--anodiff target/release/anodiff]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import tidynamics

T = 1000


def brute(x):
    """MSD(tau) = 1/(T - tau) sum_t ||x(t + tau) - x(t)||^2 in float64, tau = 1..T-1."""
    x = np.asarray(x, dtype=np.float64)
    return np.array([np.sum((x[tau:] - x[:-tau]) ** 2) / (len(x) - tau) for tau in range(1, len(x))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", default="20000,200000")
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--anodiff", default=None)
    a = ap.parse_args()
    for d in [int(v) for v in a.d.split(",")]:
        path = f"/tmp/anodiff_msd_bench_T{T}_d{d}.npy"
        if not os.path.exists(path):
            print(f"{path} missing: run `cargo bench --bench msd` first")
            continue
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            mm = np.load(path, mmap_mode="r")
            x = np.asarray(mm, dtype=np.float64)
            m = tidynamics.msd(x)
            times.append(time.perf_counter() - t0)
            del x
        print(json.dumps({"peer": "tidynamics.msd", "version": getattr(tidynamics, "__version__", "?"),
                          "T": T, "d": d, "seconds_min": min(times), "seconds_all": times}))
        # Accuracy on the first K coordinates (brute force is O(K T^2)).
        sub = np.ascontiguousarray(np.load(path, mmap_mode="r")[:, : a.k])
        ref = brute(sub)
        td = tidynamics.msd(sub.astype(np.float64))[1:]
        td32 = tidynamics.msd(sub)[1:]  # without the f64 conversion
        out = {"accuracy_on_first_k_coords": a.k, "d": d,
               "tidynamics_f64_max_rel_err": float(np.max(np.abs(td - ref) / ref)),
               "tidynamics_f32_input_max_rel_err": float(np.max(np.abs(td32 - ref) / ref))}
        if a.anodiff:
            with tempfile.TemporaryDirectory() as tmp:
                f = os.path.join(tmp, "sub.npy")
                np.save(f, sub)
                r = subprocess.run([a.anodiff, "msd", f, "--lags", "all", "--blocks", "1"],
                                   capture_output=True, text=True, check=True)
                ours = np.array(json.loads(r.stdout)["windows"][0]["msd"])
                out["anodiff_max_rel_err"] = float(np.max(np.abs(ours - ref) / ref))
        print(json.dumps(out))


if __name__ == "__main__":
    main()

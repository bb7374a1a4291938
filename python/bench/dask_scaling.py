"""Throughput of `anodiff.dask.msd` on a LocalCluster with 1 and 2 workers, against the
single-process analysis (`anodiff msd` / `anodiff.diffusion.msd_windows`) on the same data.

    python python/bench/dask_scaling.py --dir /tmp/bench --steps 2000 --dim 500000

Writes a random-walk trajectory of steps x dim float32 (4 GB at the defaults) as a `.npy`,
converts it with `anodiff convert --to zarr` (default chunks, 1000 x 16384), runs the MSD of
every 1000-step window (`--lags log:20`, the default fit) on the Zarr group, and prints one JSON
line per configuration with the wall time and the throughput in GB/s of f32 weights analysed.
Each timing is the best of `--reps` runs after one warm-up (the page cache then holds the data:
this measures compute and reading from memory, not the disk). `--keep` keeps the files;
otherwise they are deleted at the end. `ANODIFF_BIN` names the binary that converts (default
`anodiff` on the PATH); `--cli BINARY` also times `anodiff msd` (use a release build).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time

import numpy as np


def write_walk(path: str, steps: int, dim: int, seed: int = 0) -> None:
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(steps, dim)
    )
    rng = np.random.default_rng(seed)
    x = np.zeros(dim, dtype=np.float32)
    for t in range(steps):
        out[t] = x
        x += rng.standard_normal(dim, dtype=np.float32) * np.float32(1e-3)
    out.flush()
    del out


def best(f, reps: int) -> float:
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="/tmp/anodiff-dask-bench")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=500_000)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--lags", default="log:20")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--cli", help="also time `anodiff msd` with this binary (use a release build)"
    )
    args = ap.parse_args()

    import anodiff.dask as ad
    import distributed
    from anodiff import diffusion

    os.makedirs(args.dir, exist_ok=True)
    npy = os.path.join(args.dir, "w.npy")
    zpath = os.path.join(args.dir, "w.zarr")
    binary = os.environ.get("ANODIFF_BIN", "anodiff")
    gb = args.steps * args.dim * 4 / 1e9
    try:
        if not os.path.exists(npy):
            t0 = time.perf_counter()
            write_walk(npy, args.steps, args.dim)
            print(
                json.dumps({"generated_gb": gb, "s": time.perf_counter() - t0}),
                flush=True,
            )
        if not os.path.exists(zpath):
            t0 = time.perf_counter()
            subprocess.run(
                [binary, "convert", npy, "--to", "zarr", zpath],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            print(json.dumps({"converted_s": time.perf_counter() - t0}), flush=True)

        def report(name: str, s: float, **extra) -> None:
            print(
                json.dumps(
                    {
                        "config": name,
                        "wall_s": round(s, 3),
                        "gb_per_s": round(gb / s, 3),
                        **extra,
                    }
                ),
                flush=True,
            )

        ref = diffusion.msd_windows(zpath, args.window, lags=args.lags)
        s1 = best(
            lambda: diffusion.msd_windows(zpath, args.window, lags=args.lags), args.reps
        )
        report("single process (anodiff.diffusion.msd_windows, rayon on all cores)", s1)
        if args.cli:
            cmd = [
                args.cli,
                "msd",
                zpath,
                "--window",
                str(args.window),
                "--lags",
                args.lags,
            ]
            sc = best(
                lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL),
                args.reps,
            )
            report(f"CLI: {' '.join(cmd)}", sc)
        times = {}
        # One core per worker: the kernel's own rayon threads would otherwise let one worker
        # use both cores (worker processes read this when their thread pool starts).
        os.environ["RAYON_NUM_THREADS"] = "1"
        for workers in (1, 2):
            with (
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                got = ad.msd(zpath, args.window, lags=args.lags, client=client)
                err = max(
                    float(np.max(np.abs(a.msd - b.msd) / b.msd))
                    for a, b in zip(got.windows, ref.windows, strict=True)
                )
                s = best(
                    lambda c=client: ad.msd(
                        zpath, args.window, lags=args.lags, client=c
                    ),
                    args.reps,
                )
                times[workers] = s
                report(
                    f"anodiff.dask.msd, LocalCluster {workers} worker(s) x 1 thread",
                    s,
                    max_rel_diff_vs_single=err,
                )
        print(
            json.dumps(
                {"scaling_efficiency_2_workers": round(times[1] / (2 * times[2]), 3)}
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Trajectory analyses on a Dask cluster (`dask.distributed`), equal to the single-process ones.

The MSD (eq. 3 of the paper) and the pair distances behind MSL and contour length are sums over
coordinates, so each window is a map over blocks of coordinates (every step of the window, a
block of columns; one Zarr chunk column with the default chunks of `anodiff convert`) and a sum.
The map step runs the compiled kernels with the GIL released (`_core.msd_block_sums`,
`_core.gram_block`); the sums are float64; the fits (exponent, crossover, regime change, MSL
and contour exponents) run on the reduced sums through the same core code as `anodiff msd`,
`anodiff regime` and `anodiff analyze`, so results agree with them up to the order of
floating-point additions (1e-12 relative in the tests).

Inputs: a Zarr v3 group written by `anodiff convert` (a local path or any URL zarr-python
opens, e.g. ``s3://bucket/run.zarr`` with s3fs installed), a bare 2-D Zarr array, a store
directory (read chunk file by chunk file with numpy), a dask array or a numpy array (steps x
coordinates). `train_many` runs many `anodiff train` processes as tasks that resume after a
kill. Every function takes `client`: a `distributed.Client` (default: the current one,
else Dask's local threaded scheduler; `train_many` needs a distributed one).

>>> import numpy as np, anodiff.dask as ad
>>> w = np.cumsum(np.random.default_rng(0).normal(size=(400, 64)), axis=0).astype(np.float32)
>>> r = ad.msd(w, window=200, lags="log:8")
>>> [win.t_w for win in r.windows]
[0, 200]
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from . import _core
from ._util import check_int, loads
from .diffusion import MsdResult, RegimeResult, _regime_result
from .diffusion import _msd_result as _msd_result_of

__all__ = [
    "Source",
    "msd",
    "open_source",
    "pair_stats",
    "regime",
    "sweep",
    "train_many",
]

#: Bytes of float32 per map task when a trajectory's column chunks must be cut: 64 MiB.
BLOCK_BYTES = 64 << 20


@dataclass(frozen=True)
class Source:
    """A trajectory as Dask sees it: the weights as a dask array (steps x coordinates,
    float32), the losses (None when not recorded) and the run's attributes."""

    weights: da.Array
    losses: np.ndarray | None
    name: str
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        n, d = self.weights.shape
        return int(n), int(d)


def _read_store_rows(
    run: str, files: list[tuple[str, int, int, int]], c0: int, c1: int
) -> np.ndarray:
    """Rows of a store's chunk files: each `(file, row0, row1, steps)` read memory-mapped,
    columns c0..c1 only."""
    parts = [
        np.array(np.load(os.path.join(run, f), mmap_mode="r")[r0:r1, c0:c1])
        for f, r0, r1, _ in files
    ]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _store_source(run: str) -> Source:
    with open(os.path.join(run, "manifest.json")) as fh:
        m = json.load(fh)
    n, d, cs = int(m["n_steps"]), int(m["dim"]), int(m["chunk_steps"])
    if n == 0 or d == 0:
        raise ValueError(f"{run}: empty trajectory ({n} steps x {d} coordinates)")
    width = max(1, min(d, BLOCK_BYTES // (4 * cs)))
    rows = []
    for k, c in enumerate(m["chunks"]):
        steps = int(c["steps"])
        cols = []
        for c0 in range(0, d, width):
            c1 = min(d, c0 + width)
            task = dask.delayed(_read_store_rows, pure=True)(
                run, [(c["weights"], 0, steps, steps)], c0, c1
            )
            cols.append(da.from_delayed(task, (steps, c1 - c0), np.float32))
        rows.append(da.concatenate(cols, axis=1))
    w = da.concatenate(rows, axis=0)
    losses = None
    if m["chunks"]:
        losses = np.concatenate(
            [
                np.load(os.path.join(run, c["losses"]))[: int(c["steps"])]
                for c in m["chunks"]
            ]
        ).astype(np.float64)
    attrs = {"config": m.get("metadata"), "subset_seed": m.get("subset_seed")}
    return Source(w, losses, run, attrs)


def _zarr_source(url: str) -> Source:
    import zarr

    node = zarr.open(url, mode="r")
    if isinstance(node, zarr.Array):
        return Source(da.from_zarr(url), None, url, dict(node.attrs))
    if "weights" not in node:
        raise ValueError(f"{url}: the Zarr group has no `weights` array")
    w = da.from_zarr(url, component="weights")
    losses = None
    if "losses" in node:
        lo: Any = node["losses"]
        losses = np.asarray(lo[:], dtype=np.float64)
    attrs: Any = dict(node.attrs).get("anodiff") or {}
    return Source(w, losses, url, dict(attrs))


def open_source(traj: Any, losses: Any = None) -> Source:
    """The `Source` of `traj`: a Zarr group or array (path or URL), a store directory, a dask
    array, a numpy array (steps x coordinates), or a `Source` (returned as is). `losses`
    replaces the recorded ones (e.g. for an array input)."""
    if isinstance(traj, Source):
        src = traj
    elif isinstance(traj, da.Array):
        src = Source(traj, None, "dask array")
    elif isinstance(traj, np.ndarray):
        src = Source(da.from_array(traj), None, "array")
    else:
        path = os.fspath(traj)
        if os.path.isfile(os.path.join(path, "manifest.json")):
            src = _store_source(path)
        else:
            src = _zarr_source(path)
    if src.weights.ndim != 2:
        raise ValueError(
            f"{src.name}: weights must be 2-D (steps x coordinates), got shape {src.weights.shape}"
        )
    if losses is not None:
        lo = np.asarray(losses, dtype=np.float64).ravel()
        if lo.shape[0] != src.shape[0]:
            raise ValueError(f"{lo.shape[0]} losses for {src.shape[0]} steps")
        src = dataclasses.replace(src, losses=lo)
    return src


def _window_blocks(w: da.Array, t_w: int, T: int) -> list[tuple[int, Any]]:
    """The blocks of a window as (first coordinate, delayed float32 block of T steps)."""
    x = w[t_w : t_w + T]
    d = int(x.shape[1])
    cols = x.chunks[1]
    width = max(1, BLOCK_BYTES // (4 * T))
    if max(cols) > width:
        x = x.rechunk({0: T, 1: width})
    else:
        x = x.rechunk({0: T})
    starts = np.concatenate([[0], np.cumsum(x.chunks[1])[:-1]]).astype(int)
    blocks = x.to_delayed()[0]
    assert sum(x.chunks[1]) == d
    return list(zip(starts.tolist(), blocks.tolist(), strict=True))


def _msd_sums(block, t_w, c0, dim, lags, layout):
    b = np.ascontiguousarray(block, dtype=np.float32)
    return _core.msd_block_sums(b, t_w, c0, dim, list(lags), layout)


def _add_sums(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def _add(a, b):
    return a + b


def _tree(items: list, op: Callable[[Any, Any], Any]) -> Any:
    """A pairwise reduction tree of delayed values (depth log2 n, so no worker receives every
    partial result)."""
    add = dask.delayed(op, pure=True)
    while len(items) > 1:
        nxt = [add(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def _finish_msd(total, kind, t_w, T, dim, lags, layout, fit_range, boot, seed):
    sums, s2, s4, n = total
    return _core.msd_reduced(
        kind, t_w, T, dim, list(lags), layout, sums, s2, s4, n, fit_range, boot, seed
    )


def _msd_window(src: Source, t_w, T, lags, kind, blocks, fit_range, boot, seed):
    dim = src.shape[1]
    layout = _core.msd_layout(kind, dim, T, blocks)
    parts = [
        dask.delayed(_msd_sums, pure=True)(b, t_w, c0, dim, lags, layout)
        for c0, b in _window_blocks(src.weights, t_w, T)
    ]
    total = _tree(parts, _add_sums)
    return dask.delayed(_finish_msd, pure=True)(
        total, kind, t_w, T, dim, lags, layout, fit_range, boot, seed
    )


def _compute(objs: Sequence[Any], client: Any = None, progress: bool = False) -> list:
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is None:
        return list(dask.compute(*objs))
    futures = client.compute(list(objs))
    if progress:
        from distributed import progress as show

        show(futures)
    return list(client.gather(futures))


def _range(r, name):
    if r is None:
        return None
    lo, hi = r
    return (float(lo), float(hi))


def _opt(v, name):
    return None if v is None else check_int(v, name)


def _msd_graph(
    src: Source,
    window,
    stride,
    starts,
    lags,
    max_lag,
    fit_range,
    blocks,
    boot,
    seed,
) -> list:
    plan = _core.msd_plan(
        src.shape[0],
        _opt(window, "window"),
        _opt(stride, "stride"),
        None if starts is None else [check_int(v, "starts") for v in starts],
        str(lags),
        _opt(max_lag, "max_lag"),
    )
    return [
        _msd_window(
            src,
            t_w,
            T,
            lg,
            "msd",
            check_int(blocks, "blocks", 1),
            _range(fit_range, "fit_range"),
            check_int(boot, "boot"),
            check_int(seed, "seed"),
        )
        for t_w, T, lg in plan
    ]


def _msd_result(texts: Sequence[str]) -> MsdResult:
    return _msd_result_of({"windows": [loads(s) for s in texts]})


def msd(
    traj: Any,
    window: int | None = None,
    *,
    stride: int | None = None,
    starts: Sequence[int] | None = None,
    lags: str = "per-decade:10",
    max_lag: int | None = None,
    fit_range: tuple[float, float] | None = None,
    blocks: int = 20,
    boot: int = 200,
    seed: int = 0,
    client: Any = None,
    progress: bool = False,
) -> MsdResult:
    """`anodiff msd` (and `anodiff.diffusion.msd_windows`) as a Dask graph: per window the
    MSD as a map over coordinate blocks and a float64 sum, then the exponent fit, the
    two-regime crossover test and the regime label on the reduced result. Same arguments,
    defaults and result as `anodiff.diffusion.msd_windows`."""
    src = open_source(traj)
    graph = _msd_graph(
        src, window, stride, starts, lags, max_lag, fit_range, blocks, boot, seed
    )
    return _msd_result(_compute(graph, client, progress))


def _gram(block):
    return _core.gram_block(np.ascontiguousarray(block, dtype=np.float32))


def _finish_pairs(gram, t_w, T, losses, bins, msl_range, seed):
    d = loads(_core.pair_stats(gram, t_w, losses, bins, msl_range, seed))
    return {"t_w": t_w, "T": T, **d}


def pair_stats(
    traj: Any,
    window: int | None = None,
    *,
    stride: int | None = None,
    starts: Sequence[int] | None = None,
    bins: int = 30,
    msl_range: tuple[float, float] | None = None,
    seed: int = 0,
    client: Any = None,
    progress: bool = False,
) -> list[dict]:
    """Contour length (fractal dimension) and MSL (eq. 5; with losses) per window, as the
    `contour` and `msl` keys of `anodiff analyze`'s windows: the window's centred Gram matrix
    summed over coordinate blocks (float64), then the core's binned fits on the pair distances.
    Memory: T x T float64 per reduction step (8 MB at T = 1000)."""
    src = open_source(traj)
    plan = _core.msd_plan(
        src.shape[0],
        _opt(window, "window"),
        _opt(stride, "stride"),
        None if starts is None else [check_int(v, "starts") for v in starts],
        "log:2",
        None,
    )
    bins = check_int(bins, "bins", 1)
    seed = check_int(seed, "seed")
    graph = []
    for t_w, T, _ in plan:
        parts = [
            dask.delayed(_gram, pure=True)(b)
            for _, b in _window_blocks(src.weights, t_w, T)
        ]
        lo = None if src.losses is None else src.losses[t_w : t_w + T].tolist()
        graph.append(
            dask.delayed(_finish_pairs, pure=True)(
                _tree(parts, _add),
                t_w,
                T,
                lo,
                bins,
                _range(msl_range, "msl_range"),
                seed,
            )
        )
    return _compute(graph, client, progress)


def _finish_regime(exponents, window, lags, level, seed):
    return _core.regime_reduced(
        json.dumps([loads(e) for e in exponents]), window, lags, level, seed
    )


def _regime_graph(src: Source, window, stride, max_lag, level, seed):
    wins, lags = _core.regime_plan(
        src.shape[0],
        check_int(window, "window", 2),
        _opt(stride, "stride"),
        _opt(max_lag, "max_lag"),
        float(level),
    )
    ex = [_msd_window(src, t_w, T, lags, "exponent", 1, None, 0, 0) for t_w, T in wins]
    return dask.delayed(_finish_regime, pure=True)(
        ex, window, lags, float(level), check_int(seed, "seed")
    )


def regime(
    traj: Any,
    window: int,
    *,
    stride: int | None = None,
    max_lag: int | None = None,
    level: float = 0.05,
    seed: int = 0,
    client: Any = None,
    progress: bool = False,
) -> RegimeResult:
    """`anodiff regime` (and `anodiff.diffusion.regime`) as a Dask graph: each sliding
    window's exponent from its MSD reduced over coordinate blocks, then the change-point test
    on the exponents. Same arguments, defaults and result."""
    src = open_source(traj)
    (text,) = _compute(
        [_regime_graph(src, window, stride, max_lag, level, seed)], client, progress
    )
    return _regime_result(text, level)


def sweep(
    runs: Sequence[Any],
    *,
    window: int | None = None,
    stride: int | None = None,
    lags: str = "per-decade:10",
    max_lag: int | None = None,
    fit_range: tuple[float, float] | None = None,
    boot: int = 200,
    seed: int = 0,
    client: Any = None,
    progress: bool = True,
):
    """The MSD exponent of every window of every run, as one Dask graph, into one table.

    `runs`: stores, Zarr groups (paths or URLs) or arrays. Returns a pandas DataFrame with one
    row per run and window: `run` (the path, or the index for arrays), `t_w`, `T`, `alpha`,
    `alpha_se`, `alpha_lo`, `alpha_hi` (95 % interval), `regime`, `tau0`, `p_one_vs_two`,
    and the run's configuration keys (prefixed `config.`) when it has them.
    With `progress`, a progress bar of the graph's tasks (`distributed.progress`)."""
    import pandas as pd

    srcs = [open_source(r) for r in runs]
    graphs = [
        _msd_graph(s, window, stride, None, lags, max_lag, fit_range, 20, boot, seed)
        for s in srcs
    ]
    flat = [g for gs in graphs for g in gs]
    texts = _compute(flat, client, progress)
    rows = []
    k = 0
    for i, (r, s, gs) in enumerate(zip(runs, srcs, graphs, strict=True)):
        name = r if isinstance(r, str | os.PathLike) else i
        config = (
            s.attrs.get("config") if isinstance(s.attrs.get("config"), dict) else {}
        )
        for _ in gs:
            w = loads(texts[k])
            k += 1
            f = w["fit"]
            two = f.get("two_regime") or {}
            rows.append(
                {
                    "run": os.fspath(name) if not isinstance(name, int) else name,
                    "t_w": w["t_w"],
                    "T": w["T"],
                    "alpha": f["alpha"],
                    "alpha_se": f["alpha_se"],
                    "alpha_lo": f["alpha_ci95"][0],
                    "alpha_hi": f["alpha_ci95"][1],
                    "regime": f.get("regime"),
                    "tau0": two.get("tau0"),
                    "p_one_vs_two": two.get("p_one_vs_two"),
                    **{f"config.{key}": v for key, v in (config or {}).items()},
                }
            )
    return pd.DataFrame(rows)


#: `anodiff train` options a `train_many` configuration may set (TOML keys; `-` or `_`).
TRAIN_KEYS = frozenset(
    {
        "model",
        "dataset",
        "loss",
        "batch_size",
        "lr",
        "epochs",
        "steps",
        "record",
        "record_weights",
        "record_grad",
        "seed",
        "device",
        "linear_init",
        "augment",
        "checkpoint_every",
        "sync",
    }
)


def _train_config(cfg: Any) -> tuple[dict[str, Any], str | None]:
    """The option table of one configuration (a TOML file or a mapping) and its file."""
    if isinstance(cfg, Mapping):
        table, path = dict(cfg), None
    else:
        path = os.fspath(cfg)
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    table = {str(k).replace("-", "_"): v for k, v in table.items()}
    where = path or "configuration"
    unknown = sorted(set(table) - TRAIN_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown `anodiff train` option(s) {unknown}; "
            f"allowed: {sorted(TRAIN_KEYS)} (the output directory is given separately)"
        )
    for k in ("model", "dataset"):
        if k not in table:
            raise ValueError(f"{where}: `{k}` is required")
    for k, v in table.items():
        if not isinstance(v, str | int | float | bool):
            raise TypeError(
                f"{where}: `{k}` must be a string, number or boolean, got {v!r}"
            )
    return table, path


def _train_flags(table: Mapping[str, Any]) -> list[str]:
    flags = []
    for k, v in table.items():
        opt = "--" + k.replace("_", "-")
        if k == "sync":
            if v:
                flags.append(opt)
        elif k == "augment" and isinstance(v, bool):
            flags += [opt, "on" if v else "off"]
        else:
            flags += [opt, str(v)]
    return flags


def _run_record(out: str) -> dict[str, Any]:
    """Status, steps and losses of the run directory `out` (run.json and the store)."""
    with open(os.path.join(out, "run.json")) as fh:
        r = json.load(fh)
    final = None
    mpath = os.path.join(out, "manifest.json")
    if os.path.isfile(mpath):
        with open(mpath) as fh:
            chunks = [c for c in json.load(fh)["chunks"] if int(c["steps"]) > 0]
        if chunks:
            lo = np.load(os.path.join(out, chunks[-1]["losses"]), mmap_mode="r")
            final = float(lo[int(chunks[-1]["steps"]) - 1])
    last = r["epochs"][-1] if r.get("epochs") else {}
    return {
        "status": r["status"],
        "steps": int(r["steps_done"]),
        "final_loss": final,
        "test_loss": last.get("test_loss"),
        "test_accuracy": last.get("test_accuracy"),
    }


#: `anodiff train`'s exit status for a run directory held by another process (EX_TEMPFAIL).
EXIT_IN_USE = 75


def _lock_holder(out: str, stderr: str) -> str:
    """Who holds `out`'s lock: "pid N on HOST" from its lock file, else the CLI's message."""
    try:
        with open(os.path.join(out, ".lock")) as fh:
            h = json.load(fh)
        return f"pid {int(h['pid'])} on {h['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        lines = stderr.strip().splitlines()
        return lines[-1] if lines else "an unknown process"


def _train_task(
    flags: list[str], out: str, binary: str | None, lock_timeout: float | None
) -> dict[str, Any]:
    """One `anodiff train --if-exists resume` process for `out`: a new run, the resume of a run
    a killed or failed earlier attempt left there (bit for bit on CPU), or the finished run read
    back; the binary decides under the run directory's lock. While another process holds the
    lock (exit status 75), waits with backoff for up to `lock_timeout` seconds.

    Errors a retry cannot fix (another configuration in `out`, the lock timeout) are returned
    as ``{"error": [kind, message]}`` rather than raised, so that Dask does not retry them."""
    b = binary or os.environ.get("ANODIFF_BIN") or shutil.which("anodiff")
    if not b:
        raise RuntimeError(
            "the anodiff binary is neither given, nor in ANODIFF_BIN, nor on PATH"
        )
    before = None
    try:
        before = _run_record(out)["status"]
    except (OSError, ValueError, KeyError):
        pass
    args = [b, "train", *flags, "--out", out, "--if-exists", "resume"]
    t0 = time.monotonic()
    delay = 0.1
    while True:
        p = subprocess.run(args, capture_output=True, text=True, check=False)
        if p.returncode != EXIT_IN_USE:
            break
        waited = time.monotonic() - t0
        if lock_timeout is not None and waited >= lock_timeout:
            holder = _lock_holder(out, p.stderr)
            message = (
                f"run directory {out} is still in use by another training process "
                f"({holder}) after {waited:.1f} s (lock_timeout={lock_timeout}); "
                "wait for it to end or end it"
            )
            return {"error": ["TimeoutError", message]}
        pause = delay if lock_timeout is None else min(delay, lock_timeout - waited)
        time.sleep(max(pause, 0.0))
        delay = min(2 * delay, 10.0)
    if p.returncode == 0:
        resumed = json.loads(p.stdout).get("action") == "resumed"
    elif "holds a run of another configuration" in p.stderr:
        return {"error": ["ValueError", p.stderr.strip().removeprefix("error: ")]}
    else:
        diverged = False
        try:
            diverged = _run_record(out)["status"] == "diverged"
        except (OSError, ValueError, KeyError):
            pass
        if not diverged:
            raise RuntimeError(
                f"anodiff train ({out}) exited with status {p.returncode}:\n"
                + p.stderr[-8000:]
            )
        # Diverged during this attempt (a non-zero exit without the JSON): it continued an
        # interrupted run when the directory held one before.
        resumed = before in ("running", "failed")
    return {**_run_record(out), "resumed": resumed}


def train_many(
    configs: Sequence[Any],
    client: Any = None,
    *,
    out: str | os.PathLike | Sequence[str | os.PathLike],
    retries: int = 2,
    binary: str | os.PathLike | None = None,
    as_frame: bool = True,
    progress: bool = False,
    lock_timeout: float | None = 600.0,
) -> Any:
    """Train many networks with `anodiff train`, one Dask task (one process) per configuration.

    A task whose process is killed or fails (a lost worker, a preempted node, an I/O error) is
    re-run by Dask up to `retries` times, and the re-run continues the run from its last
    checkpoint (as `anodiff train --resume`): the trainer recomputes the steps after the
    checkpoint, checks them against those already recorded and goes on, so the finished store
    equals an uninterrupted run's bit for bit (CPU). Every attempt runs
    ``anodiff train OPTIONS --out DIR --if-exists resume``, which decides under the run
    directory's lock: an absent or empty directory gets a new run; a run of the same
    configuration (the device, `checkpoint_every`, `sync` and the dataset's directory may
    differ) is resumed when it was interrupted and only read when it finished or diverged, so a
    repeated call is cheap; a run of another configuration is an error.

    One process trains a run directory at a time: `anodiff train` holds an advisory lock
    (``flock``) on ``DIR/.lock`` for the whole run, and the kernel releases it when that
    process ends, however it ends. A retry whose directory is still held (a worker died but its
    `anodiff train` child lives on) waits, polling with backoff, until the holder ends or
    `lock_timeout` passes.

    Parameters
    ----------
    configs : sequence of TOML paths or mappings
        Each one run: the `anodiff train` options as keys (`model`, `dataset`, `lr`,
        `batch_size`, `steps` or `epochs`, `seed`, `record`, `record_weights`, `record_grad`,
        `loss`, `device`, `linear_init`, `augment`, `checkpoint_every`, `sync`; `-` or `_`),
        values as on the command line (`sync`: a boolean; `augment`: a boolean or on/off).
        Dataset paths must be valid on the workers.
    client : distributed.Client, optional
        Default: the current client. Retries need a distributed scheduler.
    out : path or sequence of paths
        Run directories on storage every worker sees: one per configuration, or one parent
        directory that receives ``run-0000``, ``run-0001``, ...
    retries : int
        Re-runs (resumes) of a failed task.
    binary : path, optional
        The `anodiff` binary on the workers (default: their ``ANODIFF_BIN``, else ``PATH``).
    as_frame : bool
        A pandas DataFrame (else a list of dicts) with one row per configuration: `run` (the
        run directory, as `sweep`'s `run`: ``sweep(df.run)`` analyses them), `status`
        (finished or diverged), `steps` (SGD steps done), `final_loss` (minibatch loss at the
        last recorded step), `test_loss`, `test_accuracy` (after the last epoch, None before
        the first), `resumed` (the last attempt continued an interrupted run), `config_file`,
        and the configuration keys prefixed ``config.``.
    progress : bool
        Show a progress bar of the tasks (`distributed.progress`).
    lock_timeout : float or None
        Seconds a task waits for a run directory that another process is training (polling
        with backoff from 0.1 s to 10 s); None waits as long as it takes. The default, 600 s,
        outlasts the end of an orphaned process a scheduler is cleaning up, not a whole run.

    Returns
    -------
    pandas.DataFrame or list of dict

    Raises
    ------
    ValueError
        An unknown option, a missing `model`/`dataset`, or a count of `out` directories that
        does not match `configs` (before anything runs); a run directory that holds a run of
        another configuration (naming the directory and each differing setting; after the
        other tasks end).
    TypeError
        An option value that is not a string, number or boolean.
    RuntimeError
        A process that still fails after the retries, with its stderr (the run directory
        keeps everything it committed: ``anodiff train --resume DIR`` continues it). A
        diverged run is a result (status ``diverged``), not an error.
    TimeoutError
        A run directory still held by another process after `lock_timeout` seconds, naming
        the directory and the holder's pid and host (after the other tasks end).

    Notes
    -----
    The lock is as reliable as the file system's advisory locks: local file systems, NFS
    (locks reach the server unless the mount has ``local_lock=flock`` or ``nolock``), GPFS,
    CephFS and Lustre mounted with ``flock`` honour it across nodes.

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> client = Client(n_workers=4, threads_per_worker=1)  # doctest: +SKIP
    >>> cfgs = [{"model": "mlp:8", "dataset": "digits", "steps": 200, "lr": lr}
    ...         for lr in (0.05, 0.1, 0.2)]
    >>> df = train_many(cfgs, client, out="/shared/runs/lr", retries=3)  # doctest: +SKIP
    >>> sweep(list(df.run), window=100, client=client)  # doctest: +SKIP

    The paper's runs, trained here and analysed by ``anodiff reproduce --runs``:

    >>> import json, subprocess  # doctest: +SKIP
    >>> runs = json.loads(subprocess.run(
    ...     ["anodiff", "reproduce", "--scale", "small", "--cifar10", "/shared/cifar",
    ...      "--list-runs"], capture_output=True, check=True).stdout)["runs"]  # doctest: +SKIP
    >>> train_many([r["config"] for r in runs], client,
    ...            out=[f"/shared/runs/{r['name']}" for r in runs])  # doctest: +SKIP
    >>> # then: anodiff reproduce --scale small --cifar10 DIR --runs /shared/runs
    """
    tables = [_train_config(c) for c in configs]
    if isinstance(out, str | os.PathLike):
        root = os.fspath(out)
        outs = [os.path.join(root, f"run-{i:04d}") for i in range(len(tables))]
    else:
        outs = [os.fspath(o) for o in out]
        if len(outs) != len(tables):
            raise ValueError(
                f"{len(outs)} output directories for {len(tables)} configs"
            )
        if len(set(outs)) != len(outs):
            raise ValueError("two configurations share an output directory")
    outs = [os.path.abspath(o) for o in outs]
    retries = check_int(retries, "retries")
    if lock_timeout is not None:
        lock_timeout = float(lock_timeout)
        if not lock_timeout >= 0.0:
            raise ValueError(
                f"lock_timeout must be a non-negative number of seconds or None, "
                f"got {lock_timeout}"
            )
    if client is None:
        from distributed import get_client

        client = get_client()
    b = None if binary is None else os.fspath(binary)
    flags = [_train_flags(t) for t, _ in tables]
    # The key names the run directory and what is asked of it: a repeated call with another
    # configuration must reach the binary, not a result the scheduler still holds.
    futures = [
        client.submit(
            _train_task,
            f,
            o,
            b,
            lock_timeout,
            retries=retries,
            pure=False,
            key=f"anodiff-train-{i}-{tokenize(o, f, b, lock_timeout)}",
        )
        for i, (f, o) in enumerate(zip(flags, outs, strict=True))
    ]
    if progress:
        from distributed import progress as show

        show(futures)
    results = client.gather(futures)
    for res in results:
        if "error" in res:
            kind, message = res["error"]
            raise (TimeoutError if kind == "TimeoutError" else ValueError)(message)
    rows = [
        {
            "run": o,
            **res,
            "config_file": path,
            **{f"config.{k}": v for k, v in t.items()},
        }
        for (t, path), o, res in zip(tables, outs, results, strict=True)
    ]
    if not as_frame:
        return rows
    import pandas as pd

    return pd.DataFrame(rows)

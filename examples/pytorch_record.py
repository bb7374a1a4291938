#!/usr/bin/env python3
"""Record a PyTorch training run into anodiff's trajectory store, step by step.

With the Python package installed (`pip install ./python`), `anodiff.torch.Recorder` does it
through the Rust store writer (crash-safe, resumable after kill -9):

    from anodiff.torch import Recorder
    rec = Recorder("run", model, gradient_samples=10_000, metadata={"model": "mine", "lr": 0.1})
    for x, y in loader:
        loss = loss_fn(model(x), y)
        opt.zero_grad(); loss.backward()
        rec.record(loss)        # pre-update weights, the loss, a seeded gradient sample
        opt.step()
    rec.finish()

    anodiff msd run/ --window 1000 --lags log:40
    anodiff analyze run/ ...

or, from Python, `anodiff.diffusion.analyze("run", window=1000)`.

Without the compiled package, `StoreWriter` below writes the same format with numpy alone
(schema version 1, see core/src/trajectory/store.rs): a directory with `manifest.json` and chunk
files `weights_NNNNNN.npy` (C-order '<f4', shape (rows, dim)), `losses_NNNNNN.npy` ('<f8',
(rows,)) and optionally `gradients_NNNNNN.npy` ('<f4', (rows, gradient_dim)). Every chunk but
the last holds `chunk_steps` steps; a chunk file may have more rows than the manifest commits (it
is preallocated), and only the manifest says what is written. Like the Rust writer, it
preallocates each chunk with numpy's open_memmap, writes the step's row in place, flushes it, and
then atomically replaces manifest.json (write a temporary file, fsync, rename): a crash loses at
most the step being appended.

    python3 examples/pytorch_record.py --out run --steps 200              # tiny CNN, anodiff.torch
    python3 examples/pytorch_record.py --out run --numpy-demo --steps 500 # no torch: a random walk
"""

import argparse
import json
import os

import numpy as np

FORMAT_NAME = "anodiff-trajectory-store"
SCHEMA_VERSION = 1
CHUNK_BYTES = 256 * 1024 * 1024  # the Rust writer's default: as many steps as fit in 256 MiB


def default_chunk_steps(dim):
    return max(1, min(1000, CHUNK_BYTES // (4 * dim)))


class StoreWriter:
    """Appends steps (flat f32 weights, f64 loss, optional f32 gradient) to a new store."""

    def __init__(self, run_dir, dim, chunk_steps=None, gradient_dim=0, metadata=None,
                 subset_seed=None, sync=True):
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dir = run_dir
        self.dim = int(dim)
        self.chunk_steps = int(chunk_steps or default_chunk_steps(self.dim))
        if self.chunk_steps <= 0:
            raise ValueError("chunk_steps must be positive")
        self.gradient_dim = int(gradient_dim)
        self.metadata = metadata or {}
        self.subset_seed = subset_seed
        self.sync = sync
        os.makedirs(run_dir, exist_ok=True)
        if os.path.exists(os.path.join(run_dir, "manifest.json")):
            raise FileExistsError(f"{run_dir} already holds a store")
        self.n_steps = 0
        self.chunks = []  # manifest entries of committed chunks
        self._maps = None  # memmaps of the open (last) chunk
        self._write_manifest(finished=False)

    def _names(self, i):
        return {
            "weights": f"weights_{i:06d}.npy",
            "losses": f"losses_{i:06d}.npy",
            "gradients": f"gradients_{i:06d}.npy" if self.gradient_dim > 0 else None,
        }

    def _open_chunk(self, i):
        names = self._names(i)
        mm = np.lib.format.open_memmap
        c = self.chunk_steps
        path = lambda key: os.path.join(self.dir, names[key])  # noqa: E731
        self._maps = {
            "weights": mm(path("weights"), mode="w+", dtype="<f4", shape=(c, self.dim)),
            "losses": mm(path("losses"), mode="w+", dtype="<f8", shape=(c,)),
        }
        if self.gradient_dim > 0:
            self._maps["gradients"] = mm(path("gradients"), mode="w+", dtype="<f4",
                                         shape=(c, self.gradient_dim))
        self.chunks.append(dict(names, steps=0))

    def append(self, weights, loss, gradient=None):
        """Appends one step: `weights` (dim,) and `gradient` (gradient_dim,) array-likes."""
        w = np.asarray(weights, dtype="<f4").reshape(-1)
        if w.shape[0] != self.dim:
            raise ValueError(f"weights have {w.shape[0]} entries, the store has dim {self.dim}")
        if not np.all(np.isfinite(w)) or not np.isfinite(loss):
            raise ValueError(f"step {self.n_steps}: non-finite weights or loss (diverged?)")
        if (gradient is None) != (self.gradient_dim == 0):
            raise ValueError("give a gradient exactly when the store has gradient_dim > 0")
        row = self.n_steps % self.chunk_steps
        if row == 0:
            self._open_chunk(self.n_steps // self.chunk_steps)
        self._maps["weights"][row] = w
        self._maps["losses"][row] = float(loss)
        if gradient is not None:
            g = np.asarray(gradient, dtype="<f4").reshape(-1)
            if g.shape[0] != self.gradient_dim:
                raise ValueError(f"gradient has {g.shape[0]} entries, expected {self.gradient_dim}")
            self._maps["gradients"][row] = g
        if self.sync:
            for m in self._maps.values():
                m.flush()
        self.n_steps += 1
        self.chunks[-1]["steps"] = row + 1
        self._write_manifest(finished=False)

    def finish(self):
        """Shrinks the last chunk to its committed rows and marks the store finished."""
        if self.chunks and self.chunks[-1]["steps"] < self.chunk_steps:
            last, n = self.chunks[-1], self.chunks[-1]["steps"]
            exact = {key: np.array(m[:n]) for key, m in self._maps.items()}
            self._maps = None  # unmap before the files are replaced
            for key, a in exact.items():
                tmp = os.path.join(self.dir, last[key] + ".tmp")
                with open(tmp, "wb") as f:
                    np.lib.format.write_array(f, a)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, os.path.join(self.dir, last[key]))
        self._maps = None
        self._write_manifest(finished=True)

    def _write_manifest(self, finished):
        m = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "dim": self.dim,
            "dtype": "<f4",
            "loss_dtype": "<f8",
            "gradient_dim": self.gradient_dim,
            "chunk_steps": self.chunk_steps,
            "n_steps": self.n_steps,
            "chunks": self.chunks,
            "finished": finished,
            "subset_seed": self.subset_seed,
            "metadata": self.metadata,
        }
        path = os.path.join(self.dir, "manifest.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(m, f, indent=2)
            if self.sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)


def load_store(run):
    """Reads a store back with numpy alone: (weights (n_steps, dim) f32, losses (n_steps,), manifest)."""
    m = json.load(open(os.path.join(run, "manifest.json")))
    part = lambda key: [np.load(os.path.join(run, c[key]), mmap_mode="r")[: c["steps"]]  # noqa: E731
                        for c in m["chunks"]]
    w = np.concatenate(part("weights")) if m["chunks"] else np.zeros((0, m["dim"]), "f4")
    loss = np.concatenate(part("losses")) if m["chunks"] else np.zeros(0)
    return w, loss, m


def numpy_demo(args):
    """No torch: a heavy-tailed random walk in 50 dimensions, to exercise the writer."""
    rng = np.random.default_rng(args.seed)
    dim = 50
    w = np.zeros(dim)
    writer = StoreWriter(args.out, dim, chunk_steps=args.chunk_steps,
                         metadata={"producer": "examples/pytorch_record.py --numpy-demo",
                                   "seed": args.seed})
    for t in range(args.steps):
        loss = 0.5 * float(w @ w) / dim
        writer.append(w, loss)
        w = w + rng.standard_t(df=1.5, size=dim) * 0.01
    writer.finish()


def torch_demo(args):
    """A tiny CNN on random CIFAR-shaped data, vanilla SGD, every step recorded by
    anodiff.torch.Recorder (run it again on the same --out to resume after a kill: the recorder
    continues at the first unrecorded step; restore the model from your own checkpoint)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from anodiff.torch import Recorder
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    n = 1024
    x_all = torch.randn(n, 3, 32, 32, device=dev)
    y_all = torch.randint(0, 10, (n,), device=dev)
    rec = Recorder(args.out, model, gradient_samples=args.gradient_samples, seed=args.seed,
                   chunk_steps=args.chunk_steps,
                   metadata={"producer": "examples/pytorch_record.py", "framework": "pytorch",
                             "torch": torch.__version__, "lr": args.lr,
                             "batch_size": args.batch_size, "seed": args.seed})
    gen = torch.Generator().manual_seed(args.seed)
    for t in range(args.steps):
        idx = torch.randint(0, n, (args.batch_size,), generator=gen).to(dev)
        if t < rec.step:  # recorded before a restart
            continue
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        rec.record(loss)
        opt.step()
    rec.finish()


def main():
    ap = argparse.ArgumentParser(description="Record a PyTorch run into an anodiff trajectory store")
    ap.add_argument("--out", required=True, help="store directory to create")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--chunk-steps", type=int, default=None)
    ap.add_argument("--gradient-samples", type=int, default=0,
                    help="store the gradient at this many seeded random coordinates per step")
    ap.add_argument("--numpy-demo", action="store_true", help="no torch: record a random walk")
    args = ap.parse_args()
    (numpy_demo if args.numpy_demo else torch_demo)(args)
    w, loss, m = load_store(args.out)
    print(json.dumps({"out": args.out, "n_steps": m["n_steps"], "dim": m["dim"],
                      "chunks": len(m["chunks"]), "final_loss": float(loss[-1]) if len(loss) else None}))


if __name__ == "__main__":
    main()

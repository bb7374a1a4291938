"""PyTorch integration (needs `torch`, the optional extra ``anodiff[torch]``).

- `hessian_eigs`: top-k Hessian eigenvalues of a model's loss with exact double-backward
  Hessian-vector products, computed wherever the model lives (CPU or CUDA) and driven by the
  compiled thick-restart Lanczos, with residual norms.
- `Recorder`: a training-loop hook that appends each step's flat weights, loss and a seeded
  gradient sample to anodiff's crash-safe trajectory store, resumable after a kill.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import torch

from . import _core
from ._util import check_int
from .linalg import LanczosSolver

__all__ = [
    "HessianEigs",
    "Recorder",
    "flat_gradients",
    "flat_parameters",
    "hessian_eigs",
]


def _params(model, params=None) -> list:
    ps = list(model.parameters() if params is None else params)
    ps = [p for p in ps if p.requires_grad]
    if not ps:
        raise ValueError("the model has no parameters that require gradients")
    return ps


def flat_parameters(model, params=None) -> np.ndarray:
    """All trainable parameters of `model`, concatenated in `model.parameters()` order, as a
    float32 numpy vector."""
    with torch.no_grad():
        v = torch.cat([p.detach().reshape(-1).float() for p in _params(model, params)])
    return v.cpu().numpy()


def flat_gradients(model, params=None) -> np.ndarray:
    """The `.grad` of every trainable parameter (zeros where None), flat, float32."""
    parts = []
    for p in _params(model, params):
        g = p.grad
        parts.append(
            torch.zeros(p.numel(), device=p.device)
            if g is None
            else g.detach().reshape(-1).float()
        )
    return torch.cat(parts).cpu().numpy()


@dataclass(frozen=True)
class HessianEigs:
    """Top Hessian eigenvalues with residual norms ||H x - theta x||, converged flags, the
    number of Hessian-vector products and, on request, eigenvectors (columns, float64)."""

    eigenvalues: np.ndarray
    residuals: np.ndarray
    converged: np.ndarray
    matvecs: int
    eigenvectors: np.ndarray | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)


def _as_batches(batches) -> list:
    if (
        isinstance(batches, (tuple, list))
        and len(batches) == 2
        and all(isinstance(b, torch.Tensor) for b in batches)
    ):
        return [tuple(batches)]
    out = [tuple(b) for b in batches]
    if not out:
        raise ValueError("batches is empty")
    return out


def hessian_eigs(
    model,
    loss_fn: Callable,
    batches,
    k: int = 20,
    tol: float = 1e-6,
    *,
    which: str = "LA",
    maxiter: int | None = None,
    seed: int = 0,
    params: Sequence[torch.Tensor] | None = None,
    return_eigenvectors: bool = False,
) -> HessianEigs:
    """Top-`k` eigenvalues of the Hessian of the mean of `loss_fn(model(x), y)` over `batches`.

    `batches`: one `(x, y)` pair or an iterable of them (materialised once: the operator must be
    fixed during the solve). Products are exact double-backward HVPs in the parameters' dtype on
    their device; Lanczos runs in float64. The model's mode (train/eval) is left as it is:
    call `model.eval()` first for batch-norm statistics that do not depend on the batch.
    With one batch its gradient graph is built once and reused for every product.
    """
    ps = _params(model, params)
    shapes = [p.shape for p in ps]
    sizes = [p.numel() for p in ps]
    n = sum(sizes)
    dev, dt = ps[0].device, ps[0].dtype
    bs = _as_batches(batches)

    def grads_of(x, y):
        loss = loss_fn(model(x), y)
        return torch.autograd.grad(loss, ps, create_graph=True)

    cached = grads_of(*bs[0]) if len(bs) == 1 else None

    def hvp(q: np.ndarray) -> np.ndarray:
        v = torch.from_numpy(q).to(device=dev, dtype=dt)
        vs = [c.view(s) for c, s in zip(torch.split(v, sizes), shapes)]
        total: torch.Tensor | None = None
        for b in bs:
            g = cached if cached is not None else grads_of(*b)
            hv = torch.autograd.grad(
                g, ps, grad_outputs=vs, retain_graph=cached is not None
            )
            flat = torch.cat([h.reshape(-1) for h in hv]).to(torch.float64)
            total = flat if total is None else total + flat
        assert total is not None  # bs is never empty (checked above)
        return (total / len(bs)).cpu().numpy()

    s = LanczosSolver(
        n,
        k=k,
        which=which,
        tol=tol,
        maxiter=maxiter,
        seed=seed,
        return_eigenvectors=return_eigenvectors,
    )
    s.run(hvp)
    r = s.result(full_output=True)
    w, info = r[0], r[-1]
    vecs = r[1] if return_eigenvectors else None
    return HessianEigs(w, info.residuals, info.converged, info.matvecs, vecs, info.raw)


class Recorder:
    """Records a training run into anodiff's trajectory store, one step at a time.

    Call `record(loss)` after `loss.backward()` and before `optimizer.step()`: it appends the
    pre-update flat weights, the loss and, with `gradient_samples > 0`, the gradient at a fixed
    random subset of coordinates (chosen by `numpy.random.default_rng(seed)`, sorted; the seed is
    kept in the manifest). Each step is durable before `record` returns (unless `sync=False`);
    after a crash or `kill -9`, `Recorder(run_dir, model)` resumes at `recorder.step`, the
    first step not recorded.

        rec = Recorder("run", model, gradient_samples=10_000, metadata={"lr": 0.1})
        for t, (x, y) in enumerate(loader):
            if t < rec.step: continue            # after a resume
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward()
            rec.record(loss)
            opt.step()
        rec.finish()
    """

    def __init__(
        self,
        run_dir,
        model,
        *,
        gradient_samples: int = 0,
        seed: int = 0,
        chunk_steps: int | None = None,
        metadata: dict | None = None,
        sync: bool = True,
        params: Sequence[torch.Tensor] | None = None,
    ):
        self.run_dir = os.fspath(run_dir)
        self.model = model
        self._params = _params(model, params)
        dim = sum(p.numel() for p in self._params)
        gs = check_int(gradient_samples, "gradient_samples")
        if gs > dim:
            raise ValueError(f"gradient_samples {gs} exceeds the {dim} parameters")
        manifest = os.path.join(self.run_dir, "manifest.json")
        if os.path.exists(manifest):
            # Check before reopening: resuming un-finishes a finished store.
            with open(manifest) as f:
                m = json.load(f)
            if m.get("dim") != dim:
                raise ValueError(
                    f"{self.run_dir} holds a store of dim {m.get('dim')}; the "
                    f"model has {dim} parameters"
                )
            stored_seed = m.get("subset_seed")
            if m.get("gradient_dim") != gs or (gs and stored_seed != seed):
                raise ValueError(
                    f"{self.run_dir} records {m.get('gradient_dim')} gradient samples with seed "
                    f"{stored_seed}; asked for {gs} with seed {seed}"
                )
            self._w = _core.StoreWriter.resume(self.run_dir, bool(sync))
        else:
            meta = dict(metadata or {})
            if gs:
                meta.setdefault(
                    "gradient_subset",
                    "numpy.random.default_rng(subset_seed).choice(dim, "
                    "gradient_dim, replace=False), sorted",
                )
            self._w = _core.StoreWriter.create(
                self.run_dir,
                dim,
                gs,
                None
                if chunk_steps is None
                else check_int(chunk_steps, "chunk_steps", 1),
                seed if gs else None,
                json.dumps(meta),
                bool(sync),
            )
        self.dim = dim
        self.gradient_samples = gs
        self.subset = (
            np.sort(np.random.default_rng(seed).choice(dim, gs, replace=False))
            if gs
            else None
        )

    @property
    def step(self) -> int:
        """Number of steps recorded (the index of the next one)."""
        return self._w.n_steps

    def record(self, loss) -> None:
        """Appends the current weights, `loss` (a tensor or float) and the gradient sample."""
        lv = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        w = flat_parameters(self.model, self._params)
        g = None
        if self.gradient_samples:
            g = np.ascontiguousarray(
                flat_gradients(self.model, self._params)[self.subset]
            )
        self._w.append(w, lv, g)

    def finish(self) -> None:
        """Marks the store finished (shrinks the last chunk); the recorder is closed."""
        self._w.finish()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.finish()

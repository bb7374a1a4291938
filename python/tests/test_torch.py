"""anodiff.torch: Hessian eigenvalues against torch.autograd.functional.hessian computed
densely, and the Recorder (pre-update weights, seeded gradient sample, resume)."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from anodiff import diffusion
from anodiff.torch import Recorder, flat_parameters, hessian_eigs


def tiny():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)
    )
    model = model.double()
    x = torch.randn(32, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (32,))
    return model, x, y


def dense_hessian(model, loss_fn, batches):
    names = [n for n, _ in model.named_parameters()]
    base = [p.detach().clone() for p in model.parameters()]
    sizes = [p.numel() for p in base]

    def f(flat):
        parts = torch.split(flat, sizes)
        params = {n: t.view(b.shape) for n, t, b in zip(names, parts, base)}
        return sum(
            loss_fn(torch.func.functional_call(model, params, (x,)), y)
            for x, y in batches
        ) / len(batches)

    flat0 = torch.cat([b.reshape(-1) for b in base])
    return torch.autograd.functional.hessian(f, flat0).numpy()


def test_hessian_eigs_match_dense_hessian():
    model, x, y = tiny()
    loss_fn = torch.nn.functional.cross_entropy
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    H = dense_hessian(model, loss_fn, batches)
    exact = np.sort(np.linalg.eigvalsh(H))[::-1]
    r = hessian_eigs(model, loss_fn, batches, k=5, tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues, exact[:5], rtol=1e-7, atol=1e-10)
    assert np.all(r.converged) and r.matvecs > 5
    # one batch: the cached-graph path
    H1 = dense_hessian(model, loss_fn, [(x, y)])
    r1 = hessian_eigs(model, loss_fn, (x, y), k=3, tol=1e-10, return_eigenvectors=True)
    np.testing.assert_allclose(
        r1.eigenvalues, np.sort(np.linalg.eigvalsh(H1))[::-1][:3], rtol=1e-7
    )
    v = r1.eigenvectors
    np.testing.assert_allclose(
        np.linalg.norm(H1 @ v - v * r1.eigenvalues, axis=0), r1.residuals, atol=1e-8
    )


def test_recorder_records_pre_update_weights_and_resumes(tmp_path):
    model, x, y = tiny()
    model = model.float()
    x = x.float()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = tmp_path / "run"
    expected_w, expected_loss = [], []
    rec = Recorder(run, model, gradient_samples=7, seed=3, chunk_steps=4, sync=False)
    for t in range(6):
        if t == 3:  # simulate a restart: a fresh Recorder resumes the same store
            del rec
            rec = Recorder(run, model, gradient_samples=7, seed=3)
            assert rec.step == 3
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        expected_w.append(flat_parameters(model))
        expected_loss.append(loss.item())
        grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
        rec.record(loss)
        opt.step()
    rec.finish()
    t = diffusion.open(run)
    assert (t.n_steps, t.gradient_dim) == (6, 7)
    np.testing.assert_array_equal(t[:], np.stack(expected_w))
    np.testing.assert_allclose(t.losses(), expected_loss, rtol=1e-15)
    subset = np.sort(np.random.default_rng(3).choice(t.dim, 7, replace=False))
    np.testing.assert_array_equal(t.gradients()[-1], grads[subset])
    with open(os.path.join(run, "manifest.json")) as f:
        assert json.load(f)["subset_seed"] == 3
    with pytest.raises(ValueError, match="seed"):
        Recorder(run, model, gradient_samples=7, seed=4)

"""Zarr v3 groups written by `anodiff convert`: zarr-python 3, dask.array.from_zarr and
xarray.open_zarr read them unchanged, and anodiff reads them as it reads the store."""

import json
import subprocess

import numpy as np
import pytest
from anodiff import _core, diffusion

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")
xr = pytest.importorskip("xarray")


def make_store(run, n=50, d=12, gd=2, seed=0):
    rng = np.random.default_rng(seed)
    w = _core.StoreWriter.create(
        str(run),
        d,
        gradient_dim=gd,
        chunk_steps=16,
        subset_seed=4,
        metadata_json=json.dumps({"model": "mlp", "lr": 0.05, "seed": seed}),
        sync=False,
    )
    x = np.zeros(d, dtype=np.float32)
    for t in range(n):
        g = rng.normal(size=gd).astype(np.float32) if gd else None
        w.append(x.copy(), 1.0 / (t + 1), g)
        x += rng.normal(size=d).astype(np.float32) * np.float32(1 + t / n)
    w.finish()
    return str(run)


def convert(anodiff_bin, src, out, chunks=None):
    args = [anodiff_bin, "convert", str(src), "--to", "zarr", str(out)]
    if chunks:
        args += ["--chunks", chunks]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_python_readers_read_the_conversion(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run")
    out = tmp_path / "run.zarr"
    info = convert(anodiff_bin, run, out, "16,5")
    assert info["chunks"] == [16, 5]
    ref = diffusion.open(run)
    w_ref, loss_ref = ref[:], ref.losses()

    g = zarr.open_group(str(out), mode="r")
    w = g["weights"]
    assert w.shape == (50, 12) and w.dtype == np.float32 and w.chunks == (16, 5)
    assert tuple(w.metadata.dimension_names) == ("step", "param")
    np.testing.assert_array_equal(w[:], w_ref)
    np.testing.assert_array_equal(g["losses"][:], loss_ref)
    np.testing.assert_array_equal(g["gradients"][:], ref.gradients())
    attrs = g.attrs["anodiff"]
    assert attrs["config"] == {"model": "mlp", "lr": 0.05, "seed": 0}
    assert attrs["subset_seed"] == 4

    x = da.from_zarr(str(out), component="weights")
    assert x.chunks[0][0] == 16 and x.chunks[1][0] == 5
    np.testing.assert_array_equal(x.compute(), w_ref)

    ds = xr.open_zarr(str(out), consolidated=False)
    assert ds["weights"].dims == ("step", "param")
    assert ds["gradients"].dims == ("step", "gradient_param")
    np.testing.assert_array_equal(ds["losses"].values, loss_ref)
    assert ds.attrs["anodiff"]["n_steps"] == 50


def test_anodiff_reads_zarr_as_the_store(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", n=120, d=10)
    out = tmp_path / "run.zarr"
    convert(anodiff_bin, run, out)
    z = diffusion.open(str(out))
    assert z.shape == (120, 10)
    assert z.metadata() == {"model": "mlp", "lr": 0.05, "seed": 0}
    a = diffusion.msd_windows(run, 60, lags="log:6")
    b = diffusion.msd_windows(str(out), 60, lags="log:6")
    assert a.to_dict() == b.to_dict()


def test_zarr_python_output_is_read_by_anodiff(tmp_path):
    # An array written by zarr-python (not by us), uncompressed: read as steps x weights.
    rng = np.random.default_rng(1)
    w = np.cumsum(rng.normal(size=(80, 9)), axis=0).astype(np.float32)
    p = tmp_path / "w.zarr"
    a = zarr.create_array(
        str(p),
        shape=w.shape,
        chunks=(30, 4),
        dtype="float32",
        compressors=None,
        dimension_names=("step", "param"),
    )
    a[:] = w
    t = diffusion.open(str(p))
    np.testing.assert_array_equal(t[:], w)
    ref = diffusion.msd_windows(w, 40, lags="log:5")
    assert diffusion.msd_windows(t, 40, lags="log:5").to_dict() == ref.to_dict()
    # zarr-python's default compressor (zstd) needs a C library the reader is built without:
    # a clear error, not a wrong answer.
    q = tmp_path / "zstd.zarr"
    zarr.create_array(str(q), shape=w.shape, chunks=(30, 4), dtype="float32")[:] = w
    with pytest.raises(ValueError, match="zstd"):
        diffusion.open(str(q))


def test_missing_chunk_and_bad_dtype_are_named(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", gd=0)
    out = tmp_path / "run.zarr"
    convert(anodiff_bin, run, out, "16,5")
    (out / "weights" / "c" / "1" / "2").unlink()
    with pytest.raises(ValueError, match=r"array `weights`: chunk \[1, 2\].*missing"):
        diffusion.open(str(out))[:]
    p = tmp_path / "ints.zarr"
    a = zarr.create_array(str(p), shape=(10, 3), chunks=(5, 3), dtype="int16")
    a[:] = 1
    with pytest.raises(ValueError, match=r"data type \"int16\" is not handled"):
        diffusion.open(str(p))

"""Zarr v3 groups written by `anodiff convert`: zarr-python 3, dask.array.from_zarr and
xarray.open_zarr read them unchanged, and anodiff reads them as it reads the store, also when
zarr-python rewrites them with its default compressor (zstd) or with gzip."""

import json
import re
import subprocess
import sys

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


def convert(anodiff_bin, src, out, chunks=None, compress=None):
    args = [anodiff_bin, "convert", str(src), "--to", "zarr", str(out)]
    if chunks:
        args += ["--chunks", chunks]
    if compress:
        args += ["--compress", compress]
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


def rewrite(src, dst, compressors="auto"):
    """The group `src` rewritten by zarr-python 3 with `compressors` ("auto": its default), the
    same chunks, dimension names and attributes, every chunk stored."""
    s = zarr.open_group(str(src), mode="r")
    d = zarr.create_group(str(dst), attributes=s.attrs.asdict())
    for name, a in s.arrays():
        d.create_array(
            name,
            data=a[:],
            chunks=a.chunks,
            dimension_names=a.metadata.dimension_names,
            compressors=compressors,
            config={"write_empty_chunks": True},
        )
    return dst


def codec_names(group, array):
    meta = json.loads((group / array / "zarr.json").read_text())
    return [c["name"] for c in meta["codecs"]]


def run_cli(anodiff_bin, *args):
    r = subprocess.run([anodiff_bin, *map(str, args)], capture_output=True, check=False)
    return r


def test_cli_analyses_are_identical_on_compressed_rewrites(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", n=300, d=24, gd=3)
    plain = tmp_path / "plain.zarr"
    convert(anodiff_bin, run, plain, "50,8")
    zstd = rewrite(plain, tmp_path / "zstd.zarr")
    gzip = rewrite(plain, tmp_path / "gzip.zarr", zarr.codecs.GzipCodec())
    # zarr-python 3's default compressor is zstd: the case this test is about.
    for array in ("weights", "losses", "gradients"):
        assert codec_names(plain, array) == ["bytes"]
        assert codec_names(zstd, array) == ["bytes", "zstd"]
        assert codec_names(gzip, array) == ["bytes", "gzip"]
    commands = [
        ["msd", "--window", "100", "--lags", "log:8"],
        ["regime", "--window", "50", "--stride", "25"],
        ["analyze", "--window", "150", "--bins", "8", "--grad-samples", "3"],
    ]
    for cmd in commands:
        outs = []
        for group in (plain, zstd, gzip):
            r = run_cli(anodiff_bin, cmd[0], group, *cmd[1:])
            assert r.returncode == 0, r.stderr.decode()
            # `analyze` echoes its input path: the only bytes allowed to differ.
            outs.append(r.stdout.replace(str(group).encode(), b"GROUP"))
        assert json.loads(outs[0])
        assert outs[1] == outs[0], f"{cmd[0]}: zstd rewrite differs"
        assert outs[2] == outs[0], f"{cmd[0]}: gzip rewrite differs"


def test_compressed_conversions_are_read_by_python_readers(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", n=60, d=10)
    ref = diffusion.open(run)
    w_ref = ref[:]
    for compress, codec in (("zstd", "zstd"), ("zstd:-3", "zstd"), ("gzip:9", "gzip")):
        out = tmp_path / f"{compress.replace(':', '_')}.zarr"
        info = convert(anodiff_bin, run, out, "16,4", compress)
        assert info["compression"] == (compress if ":" in compress else "zstd:3")
        assert info["bytes"] == 4 * 60 * (10 + 2) + 8 * 60
        assert codec_names(out, "weights") == ["bytes", codec]
        g = zarr.open_group(str(out), mode="r")
        np.testing.assert_array_equal(g["weights"][:], w_ref)
        np.testing.assert_array_equal(g["gradients"][:], ref.gradients())
        np.testing.assert_array_equal(g["losses"][:], ref.losses())
        x = da.from_zarr(str(out), component="weights")
        np.testing.assert_array_equal(x.compute(), w_ref)
    r = run_cli(
        anodiff_bin,
        "convert",
        run,
        "--to",
        "zarr",
        tmp_path / "x.zarr",
        "--compress",
        "zstd:23",
    )
    assert r.returncode != 0 and b"zstd level 23 is out of range" in r.stderr
    assert not (tmp_path / "x.zarr").exists()


def test_zarr_python_output_is_read_by_anodiff(tmp_path):
    # Arrays written by zarr-python (not by us), uncompressed and with its default compressor
    # (zstd): read as steps x weights.
    rng = np.random.default_rng(1)
    w = np.cumsum(rng.normal(size=(80, 9)), axis=0).astype(np.float32)
    ref = diffusion.msd_windows(w, 40, lags="log:5")
    for name, compressors in (("none", None), ("zstd", "auto")):
        p = tmp_path / f"{name}.zarr"
        a = zarr.create_array(
            str(p),
            shape=w.shape,
            chunks=(30, 4),
            dtype="float32",
            compressors=compressors,
            dimension_names=("step", "param"),
        )
        a[:] = w
        t = diffusion.open(str(p))
        np.testing.assert_array_equal(t[:], w)
        assert diffusion.msd_windows(t, 40, lags="log:5").to_dict() == ref.to_dict()


def test_blosc_is_refused_with_a_command_that_fixes_it(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", n=80, d=6)
    plain = tmp_path / "plain.zarr"
    convert(anodiff_bin, run, plain, "20,4")
    blosc = rewrite(plain, tmp_path / "blosc.zarr", zarr.codecs.BloscCodec())
    r = run_cli(anodiff_bin, "msd", blosc, "--window", "40")
    err = r.stderr.decode()
    assert r.returncode != 0
    assert 'array `weights`: codec "blosc"' in err and "is not supported" in err, err
    # The command the error suggests rewrites the group with zstd, and the rewrite reads.
    code = re.search(r'python -c "([^"]*)"', err)
    assert code, err
    subprocess.run([sys.executable, "-c", code.group(1)], check=True)
    fixed = tmp_path / "blosc.zstd.zarr"
    assert codec_names(fixed, "weights") == ["bytes", "zstd"]
    a = run_cli(anodiff_bin, "msd", plain, "--window", "40")
    b = run_cli(anodiff_bin, "msd", fixed, "--window", "40")
    assert b.returncode == 0, b.stderr.decode()
    assert a.stdout == b.stdout


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


def test_zarr_v2_is_named_with_a_command_that_rewrites_it_as_v3(tmp_path, anodiff_bin):
    run = make_store(tmp_path / "run", n=80, d=6)
    plain = tmp_path / "plain.zarr"
    convert(anodiff_bin, run, plain, "20,4")
    s = zarr.open_group(str(plain), mode="r")
    v2 = zarr.create_group(str(tmp_path / "v2.zarr"), zarr_format=2)
    v2.attrs.update(s.attrs.asdict())
    for name, a in s.arrays():
        v2.create_array(name, data=a[:], chunks=a.chunks, fill_value=np.nan)
    r = run_cli(anodiff_bin, "msd", tmp_path / "v2.zarr", "--window", "40")
    err = r.stderr.decode()
    assert r.returncode != 0
    assert "a Zarr v2 group (.zgroup); anodiff reads Zarr v3" in err, err
    code = re.search(r'python -c "([^"]*)"', err)
    assert code, err
    subprocess.run([sys.executable, "-c", code.group(1)], check=True)
    a = run_cli(anodiff_bin, "msd", plain, "--window", "40")
    b = run_cli(anodiff_bin, "msd", tmp_path / "v2.zstd.zarr", "--window", "40")
    assert b.returncode == 0, b.stderr.decode()
    assert a.stdout == b.stdout


def test_a_chunk_left_out_for_equalling_the_fill_value_is_explained(
    tmp_path, anodiff_bin
):
    # zarr-python's default (write_empty_chunks off) does not store an all-zero chunk of an
    # array whose fill value is 0: Zarr would read zeros, a trajectory reader cannot tell that
    # chunk from a lost one.
    w = np.cumsum(np.random.default_rng(1).normal(size=(40, 8)), axis=0)
    w[20:, 4:] = 0.0
    p = tmp_path / "zeros.zarr"
    a = zarr.create_array(str(p), shape=w.shape, chunks=(20, 4), dtype="float32")
    a[:] = w.astype(np.float32)
    assert not (p / "c" / "1" / "1").exists()
    r = run_cli(anodiff_bin, "msd", p, "--window", "20")
    err = r.stderr.decode()
    assert r.returncode != 0
    assert "chunk [1, 1]" in err and "all 0" in err and "fill value" in err, err
    code = re.search(r'python -c "([^"]*)"', err)
    assert code, err
    subprocess.run([sys.executable, "-c", code.group(1)], check=True)
    r = run_cli(anodiff_bin, "msd", tmp_path / "zeros.zstd.zarr", "--window", "20")
    assert r.returncode == 0, r.stderr.decode()

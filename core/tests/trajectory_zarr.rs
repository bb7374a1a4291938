//! Zarr v3 trajectories: a conversion reads back exactly (weights, losses, gradients, any block),
//! uncompressed or compressed with zstd or gzip, analyses agree with the source they came from,
//! and damaged copies (missing, truncated or corrupted chunk, wrong metadata, unhandled data
//! type or codec, interrupted conversion) fail with errors naming the array and the chunk.

use anodiff_core::error::Error;
use anodiff_core::msd::{msd, Window};
use anodiff_core::trajectory::zarr::{write_zarr, Compression, ZarrOptions, ZarrTrajectory};
use anodiff_core::trajectory::{self, InMemoryTrajectory, TrajectorySource};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;
use std::path::{Path, PathBuf};

const N: usize = 37;
const D: usize = 23;
const GD: usize = 5;

fn source() -> InMemoryTrajectory {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut w = vec![0.0f32; N * D];
    for t in 1..N {
        for c in 0..D {
            w[t * D + c] = w[(t - 1) * D + c] + rng.random_range(-1.0f32..1.0);
        }
    }
    let losses: Vec<f64> = (0..N).map(|t| 1.0 / (1.0 + t as f64)).collect();
    let g: Vec<f32> = (0..N * GD)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    InMemoryTrajectory::from_weights(D, w, Some(losses))
        .unwrap()
        .with_gradients(GD, g)
        .unwrap()
}

/// Converts `source()` with chunks of 10 steps x 7 coordinates (neither divides the shape, so
/// edge chunks are partial).
fn converted(dir: &Path) -> PathBuf {
    converted_with(dir, Compression::None)
}

fn converted_with(dir: &Path, compression: Compression) -> PathBuf {
    let out = dir.join("run.zarr");
    let opts = ZarrOptions::default()
        .with_chunks(10, 7)
        .with_compression(compression)
        .with_config(serde_json::json!({"model": "mlp", "seed": 3}))
        .with_subset_seed(Some(11));
    let mut calls = 0;
    write_zarr(&source(), &out, &opts, |done, total| {
        calls += 1;
        assert!(done <= total);
    })
    .unwrap();
    // 4 step blocks x (4 weight + 1 gradient coordinate blocks).
    assert_eq!(calls, 4 * 5);
    out
}

fn block<S: TrajectorySource + ?Sized>(
    s: &S,
    steps: Range<usize>,
    coords: Range<usize>,
) -> Vec<f32> {
    let mut out = vec![0.0; steps.len() * coords.len()];
    s.read_weights(steps, coords, &mut out).unwrap();
    out
}

#[test]
fn conversion_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    let src = source();
    let z = ZarrTrajectory::open(&out).unwrap();
    assert_eq!((z.n_steps(), z.dim(), z.gradient_dim()), (N, D, GD));
    assert_eq!(z.chunks(), (10, 7));
    assert_eq!(block(&z, 0..N, 0..D), src.weights());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..50 {
        let (a, b) = (rng.random_range(0..N), rng.random_range(0..N));
        let (c, e) = (rng.random_range(0..D), rng.random_range(0..D));
        let steps = a.min(b)..a.max(b) + 1;
        let coords = c.min(e)..c.max(e) + 1;
        assert_eq!(
            block(&z, steps.clone(), coords.clone()),
            block(&src, steps, coords)
        );
    }
    assert_eq!(z.losses(5..30).unwrap(), src.losses(5..30).unwrap());
    let mut g1 = vec![0.0; 20 * 3];
    let mut g2 = vec![0.0; 20 * 3];
    z.read_gradients(3..23, 2..5, &mut g1).unwrap();
    src.read_gradients(3..23, 2..5, &mut g2).unwrap();
    assert_eq!(g1, g2);
    let attrs = &z.attributes()["anodiff"];
    assert_eq!(attrs["config"]["model"], "mlp");
    assert_eq!(attrs["subset_seed"], 11);
    assert_eq!(attrs["n_steps"], N);
    // Out-of-range blocks are parameter errors, not panics.
    assert!(z.read_weights(30..40, 0..1, &mut [0.0; 10]).is_err());
    assert!(z.read_weights(0..1, 20..24, &mut [0.0; 4]).is_err());
}

#[test]
fn open_dispatches_and_analyses_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    let z = trajectory::open(&out).unwrap();
    let w = Window { start: 2, len: 30 };
    let lags = [1, 2, 5, 10];
    let a = msd(&z, w, &lags).unwrap();
    let b = msd(&source(), w, &lags).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    // The weights array alone opens as a trajectory without losses.
    let bare = trajectory::open(out.join("weights")).unwrap();
    assert_eq!((bare.n_steps(), bare.dim()), (N, D));
    assert_eq!(bare.losses(0..N).unwrap(), None);
    assert_eq!(block(&bare, 0..N, 0..D), source().weights());
}

fn err_text(path: &Path) -> String {
    let z = ZarrTrajectory::open(path).and_then(|z| {
        let mut out = vec![0.0; N * D];
        z.read_weights(0..N, 0..D, &mut out).map(|_| ())
    });
    match z {
        Err(e) => e.to_string(),
        Ok(()) => panic!("reading {} succeeded", path.display()),
    }
}

#[test]
fn missing_chunk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    std::fs::remove_file(out.join("weights/c/1/2")).unwrap();
    let msg = err_text(&out);
    assert!(msg.contains("array `weights`"), "{msg}");
    assert!(msg.contains("chunk [1, 2]"), "{msg}");
    assert!(msg.contains("steps 10..20, coordinates 14..21"), "{msg}");
    assert!(msg.contains("missing"), "{msg}");
    // Reads that do not touch the chunk still work.
    let z = ZarrTrajectory::open(&out).unwrap();
    assert_eq!(block(&z, 0..10, 0..D), &source().weights()[..10 * D]);
}

#[test]
fn truncated_chunk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    let f = out.join("weights/c/3/0");
    let len = std::fs::metadata(&f).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let msg = err_text(&out);
    assert!(msg.contains("array `weights`"), "{msg}");
    assert!(msg.contains("chunk [3, 0]"), "{msg}");
    assert!(msg.contains("cannot be read"), "{msg}");
    // Losses: the same checks on the 1-D array.
    std::fs::remove_file(out.join("losses/c/2")).unwrap();
    let z = ZarrTrajectory::open(&out).unwrap();
    let e = z.losses(0..N).unwrap_err().to_string();
    assert!(
        e.contains("array `losses`: chunk [2]") && e.contains("missing"),
        "{e}"
    );
}

fn edit_meta(out: &Path, array: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let p = out.join(array).join("zarr.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn wrong_metadata_and_dtype_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    edit_meta(&out, "weights", |v| v["data_type"] = "int16".into());
    let msg = err_text(&out);
    assert!(
        msg.contains("array `weights`") && msg.contains("\"int16\" is not handled"),
        "{msg}"
    );

    edit_meta(&out, "weights", |v| {
        v["data_type"] = "float32".into();
        v["shape"] = serde_json::json!([N, D, 1]);
    });
    let msg = err_text(&out);
    assert!(msg.contains("has 3 dimensions, expected 2"), "{msg}");

    edit_meta(&out, "weights", |v| {
        v["shape"] = serde_json::json!([N, D]);
        v["zarr_format"] = 2.into();
    });
    assert!(err_text(&out).contains("not Zarr v3"));

    edit_meta(&out, "weights", |v| v["zarr_format"] = 3.into());
    edit_meta(&out, "losses", |v| v["shape"] = serde_json::json!([N + 1]));
    let msg = err_text(&out);
    assert!(msg.contains("array `losses` has 38 steps"), "{msg}");

    std::fs::write(out.join("weights/zarr.json"), "{not json").unwrap();
    let msg = err_text(&out);
    assert!(
        msg.contains("weights/zarr.json") && msg.contains("not valid JSON"),
        "{msg}"
    );
}

/// A source whose reads fail past a given step, as a conversion killed midway stops.
struct FailingAfter(InMemoryTrajectory, usize);

impl TrajectorySource for FailingAfter {
    fn n_steps(&self) -> usize {
        self.0.n_steps()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn read_weights(
        &self,
        s: Range<usize>,
        c: Range<usize>,
        out: &mut [f32],
    ) -> anodiff_core::error::Result<()> {
        if s.end > self.1 {
            return Err(Error::InvalidData("disk went away".into()));
        }
        self.0.read_weights(s, c, out)
    }
    fn losses(&self, s: Range<usize>) -> anodiff_core::error::Result<Option<Vec<f64>>> {
        self.0.losses(s)
    }
}

#[test]
fn interrupted_conversion_leaves_nothing_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.zarr");
    let partial = dir.path().join("run.zarr.partial");
    let opts = ZarrOptions::default().with_chunks(10, 7);
    let e = write_zarr(&FailingAfter(source(), 25), &out, &opts, |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("disk went away"));
    assert!(!out.exists() && !partial.exists());

    // A process killed midway leaves the `.partial` directory: chunks and array metadata but no
    // group metadata, so it does not open; the next conversion replaces it.
    let mut seen_partial = false;
    write_zarr(&source(), &out, &opts, |done, _| {
        if done == 3 {
            seen_partial =
                partial.join("weights/zarr.json").is_file() && !partial.join("zarr.json").exists();
            std::fs::create_dir_all(dir.path().join("snapshot")).unwrap();
            let snap = dir.path().join("snapshot/run.zarr");
            if !snap.exists() {
                copy_dir(&partial, &snap);
            }
        }
    })
    .unwrap();
    assert!(seen_partial);
    let msg = match trajectory::open(dir.path().join("snapshot/run.zarr")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an unfinished conversion opened"),
    };
    assert!(msg.contains("no zarr.json"), "{msg}");
    assert!(ZarrTrajectory::open(&out).is_ok());
    // An existing output is never overwritten.
    let e = write_zarr(&source(), &out, &opts, |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

/// The `codecs` list of an array's `zarr.json`.
fn codecs(out: &Path, array: &str) -> serde_json::Value {
    let p = out.join(array).join("zarr.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["codecs"].clone()
}

#[test]
fn compressed_conversions_read_back_exactly() {
    let src = source();
    for (compression, codec) in [
        (
            Compression::Zstd(3),
            serde_json::json!({"name": "zstd", "configuration": {"level": 3, "checksum": true}}),
        ),
        (
            Compression::Zstd(-5),
            serde_json::json!({"name": "zstd", "configuration": {"level": -5, "checksum": true}}),
        ),
        (
            Compression::Gzip(6),
            serde_json::json!({"name": "gzip", "configuration": {"level": 6}}),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = converted_with(dir.path(), compression);
        // The Zarr v3 codec chain as the zarr-extensions specs of zstd and gzip spell it.
        for array in ["weights", "losses", "gradients"] {
            let c = codecs(&out, array);
            assert_eq!(c[0]["name"], "bytes", "{compression}: {c}");
            assert_eq!(c[1], codec, "{compression}: {array}");
            assert_eq!(c.as_array().unwrap().len(), 2);
        }
        let z = ZarrTrajectory::open(&out).unwrap();
        assert_eq!(block(&z, 0..N, 0..D), src.weights(), "{compression}");
        assert_eq!(z.losses(0..N).unwrap(), src.losses(0..N).unwrap());
        let (mut g1, mut g2) = (vec![0.0; N * GD], vec![0.0; N * GD]);
        z.read_gradients(0..N, 0..GD, &mut g1).unwrap();
        src.read_gradients(0..N, 0..GD, &mut g2).unwrap();
        assert_eq!(g1, g2, "{compression}");
        let w = Window { start: 2, len: 30 };
        let a = msd(&z, w, &[1, 2, 5, 10]).unwrap();
        let b = msd(&src, w, &[1, 2, 5, 10]).unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{compression}");
    }
}

#[test]
fn zstd_array_written_by_zarrs_reads_as_its_values() {
    // A bare float64 array compressed as zarr-python 3 does by default (zstd level 0, no
    // checksum, fill value 0, chunks equal to the fill value not stored), written by zarrs'
    // own ArrayBuilder rather than by `write_zarr`.
    use std::sync::Arc;
    use zarrs::array::codec::ZstdCodec;
    use zarrs::array::{ArrayBuilder, ArraySubset};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.zarr");
    let store = Arc::new(zarrs::filesystem::FilesystemStore::new(&path).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let values: Vec<f64> = (0..N * D).map(|_| rng.random_range(-2.0..2.0)).collect();
    let array = ArrayBuilder::new(
        vec![N as u64, D as u64],
        vec![8, 5],
        zarrs::array::data_type::float64(),
        0.0f64,
    )
    .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(0, false))])
    .build(store, "/")
    .unwrap();
    array.store_metadata().unwrap();
    array
        .store_array_subset(
            &ArraySubset::new_with_ranges(&[0..N as u64, 0..D as u64]),
            &values,
        )
        .unwrap();
    assert_eq!(codecs(&path, "")[1]["name"], "zstd");
    let z = ZarrTrajectory::open(&path).unwrap();
    assert_eq!((z.n_steps(), z.dim(), z.chunks()), (N, D, (8, 5)));
    let expect: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    assert_eq!(block(&z, 0..N, 0..D), expect);
    assert_eq!(block(&z, 9..20, 3..17), {
        let mut e = Vec::new();
        for t in 9..20 {
            e.extend_from_slice(&expect[t * D + 3..t * D + 17]);
        }
        e
    });
}

/// Rewrites chunk file `rel` of `out` with `f` applied to its bytes.
fn damage(out: &Path, rel: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let p = out.join(rel);
    let mut bytes = std::fs::read(&p).unwrap();
    f(&mut bytes);
    std::fs::write(&p, bytes).unwrap();
}

#[test]
fn damaged_compressed_chunks_are_named() {
    for compression in [Compression::Zstd(3), Compression::Gzip(6)] {
        // Truncated: the frame ends early.
        let dir = tempfile::tempdir().unwrap();
        let out = converted_with(dir.path(), compression);
        damage(&out, "weights/c/1/2", |b| b.truncate(b.len() / 2));
        let msg = err_text(&out);
        assert!(msg.contains("array `weights`"), "{compression}: {msg}");
        assert!(msg.contains("chunk [1, 2]"), "{compression}: {msg}");
        assert!(msg.contains("steps 10..20, coordinates 14..21"), "{msg}");
        assert!(msg.contains("cannot be read"), "{compression}: {msg}");
        // Other chunks still read.
        let z = ZarrTrajectory::open(&out).unwrap();
        assert_eq!(block(&z, 0..10, 0..D), &source().weights()[..10 * D]);

        // One byte flipped inside the compressed data: caught by zstd's content checksum or
        // gzip's CRC-32 (or by the decoder itself), never decoded into other values.
        let dir = tempfile::tempdir().unwrap();
        let out = converted_with(dir.path(), compression);
        damage(&out, "weights/c/2/1", |b| {
            let k = b.len() * 2 / 3;
            b[k] ^= 0x10;
        });
        let msg = err_text(&out);
        assert!(
            msg.contains("array `weights`: chunk [2, 1]") && msg.contains("cannot be read"),
            "{compression}: {msg}"
        );

        // An empty file and a missing losses chunk.
        damage(&out, "weights/c/2/1", Vec::clear);
        assert!(err_text(&out).contains("chunk [2, 1]"));
        std::fs::remove_file(out.join("losses/c/1")).unwrap();
        let e = ZarrTrajectory::open(&out)
            .unwrap()
            .losses(0..N)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("array `losses`: chunk [1]") && e.contains("missing"),
            "{e}"
        );
    }
}

#[test]
fn unsupported_codecs_are_named_with_a_rewrite_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = converted(dir.path());
    let bytes = serde_json::json!({"name": "bytes", "configuration": {"endian": "little"}});
    // zarr-python 3's blosc codec, as it writes it.
    let blosc = serde_json::json!({"name": "blosc", "configuration": {
        "typesize": 4, "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "blocksize": 0}});
    edit_meta(&out, "gradients", |v| {
        v["codecs"] = serde_json::json!([bytes, blosc]);
    });
    let msg = err_text(&out);
    for part in [
        "array `gradients`",
        "codec \"blosc\"",
        "\"cname\":\"zstd\"",
        "is not supported",
        "bytes, zstd, gzip, crc32c, sharding_indexed",
        "rewrite the group with zstd",
        "zarr.open_group(",
        "run.zstd.zarr",
    ] {
        assert!(msg.contains(part), "missing {part:?} in: {msg}");
    }
    // Inside a shard, and an array-to-array codec.
    edit_meta(&out, "gradients", |v| {
        v["codecs"] = serde_json::json!([{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [5, 5],
            "codecs": [bytes, {"name": "numcodecs.lz4", "configuration": {"acceleration": 1}}],
            "index_codecs": [bytes, {"name": "crc32c"}],
            "index_location": "end"}}]);
    });
    let msg = err_text(&out);
    assert!(msg.contains("codec \"numcodecs.lz4\""), "{msg}");
    edit_meta(&out, "gradients", |v| {
        v["codecs"] =
            serde_json::json!([{"name": "transpose", "configuration": {"order": [1, 0]}}, bytes]);
    });
    assert!(err_text(&out).contains("codec \"transpose\""));
    // A bare array gets the command for an array.
    edit_meta(&out, "weights", |v| {
        v["codecs"] = serde_json::json!([bytes, blosc]);
    });
    let msg = match ZarrTrajectory::open(out.join("weights")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a blosc array opened"),
    };
    assert!(
        msg.contains("rewrite the array") && msg.contains("zarr.open_array("),
        "{msg}"
    );
}

#[test]
fn compression_levels_are_checked() {
    for (text, expect) in [
        ("none", Compression::None),
        ("zstd", Compression::Zstd(3)),
        ("zstd:1", Compression::Zstd(1)),
        ("zstd:22", Compression::Zstd(22)),
        ("zstd:-131072", Compression::Zstd(-131_072)),
        ("gzip", Compression::Gzip(6)),
        ("gzip:0", Compression::Gzip(0)),
        ("gzip:9", Compression::Gzip(9)),
    ] {
        let c: Compression = text.parse().unwrap();
        assert_eq!(c, expect);
        assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
    }
    for (text, reason) in [
        ("zstd:0", "zstd level 0 is out of range"),
        ("zstd:23", "zstd level 23 is out of range"),
        ("zstd:-131073", "out of range"),
        ("zstd:99999999999", "out of range"),
        ("gzip:10", "gzip level 10 is out of range: use 0"),
        ("gzip:-1", "gzip level -1 is out of range"),
        ("zstd:fast", "the level `fast` is not an integer"),
        ("blosc", "`blosc` is not a compression"),
        ("none:3", "is not a compression"),
    ] {
        let e = text.parse::<Compression>().unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { .. }), "{text}: {e:?}");
        assert!(e.to_string().contains(reason), "{text}: {e}");
    }
    // A level built directly is checked before anything is written.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.zarr");
    let opts = ZarrOptions::default().with_compression(Compression::Gzip(12));
    let e = write_zarr(&source(), &out, &opts, |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("gzip level 12"), "{e}");
    assert!(!out.exists() && !dir.path().join("run.zarr.partial").exists());
}

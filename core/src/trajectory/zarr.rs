//! Trajectories as Zarr v3 groups: [`write_zarr`] converts any [`TrajectorySource`] into one,
//! and [`ZarrTrajectory`] reads one (or a bare 2-D Zarr v3 array) as a [`TrajectorySource`].
//!
//! Zarr is the exchange format for large runs: zarr-python 3, `dask.array.from_zarr` and
//! `xarray.open_zarr` read it on one machine or from an object store, chunk by chunk. The
//! project's own store ([`super::store`]) stays the recording format, because it is appended to
//! step by step and survives a crash; a finished (or paused) run is converted with
//! `anodiff convert RUN --to zarr RUN.zarr`.
//!
//! # Layout
//!
//! ```text
//! run.zarr/
//!   zarr.json          group; attributes {"anodiff": {format, schema_version, n_steps, dim,
//!                      gradient_dim, subset_seed, config}}
//!   weights/           float32, shape [n_steps, dim], dimension_names ["step", "param"]
//!   losses/            float64, shape [n_steps], dimension_names ["step"] (when recorded)
//!   gradients/         float32, shape [n_steps, gradient_dim], ["step", "gradient_param"]
//!                      (when recorded)
//! ```
//!
//! Every array uses a regular chunk grid, the default chunk key encoding (`weights/c/i/j`), the
//! little-endian `bytes` codec, and NaN as fill value, so that a chunk that was never written can
//! never pass for data. Chunks are uncompressed by default ([`Compression::None`]: trained f32
//! weights have near-random low mantissa bits and barely compress, see
//! [Compression](#compression)); [`ZarrOptions::with_compression`] (`anodiff convert --compress
//! zstd[:LEVEL]|gzip[:LEVEL]`) adds a `zstd` (with its content checksum) or `gzip` codec after
//! `bytes`.
//!
//! The reader decodes the codecs `bytes`, `zstd`, `gzip`, `crc32c` and `sharding_indexed`, so a
//! group that zarr-python 3, `dask.array.to_zarr` or `xarray.to_zarr` writes with its default
//! compressor (zstd) opens as it is. Any other codec (`blosc`, zarr v2's default; `transpose`,
//! which zarr-python 3 never writes unasked; `numcodecs.*`) is refused when the trajectory is
//! opened, with an error naming the array and the codec and giving a zarr-python command that
//! rewrites the group with zstd.
//!
//! # Chunks
//!
//! [`default_chunks`]: [`DEFAULT_CHUNK_STEPS`] = 1000 steps x [`DEFAULT_CHUNK_COORDS`] = 16384
//! coordinates (62.5 MiB of f32 per chunk). The analyses that read a Zarr run (MSD, pair
//! distances, exponents per window) need, for each block of coordinates, every step of a
//! window, and nothing from other coordinate blocks: with chunks of whole windows along time
//! (1000 steps is the paper's window) one window of one coordinate block is one chunk, read
//! once, and a Dask task per chunk column is a natural map step. 16384 coordinates keep each
//! chunk near the 10-100 MB that Dask and object stores handle best, give ResNet-110's 1.7 M
//! weights 104 coordinate blocks (enough parallelism for a cluster), and make one step's row of
//! a chunk 64 KiB long, so reading a chunk row by row is still sequential I/O. ResNet-110 over
//! 24,000 steps is then 24 x 104 = 2,496 chunk files of 62.5 MiB.
//!
//! # Compression
//!
//! Measured on a recorded run: ResNet-8 on the bundled digits, 6000 SGD steps of batch 32,
//! 8192 recorded weights and 1024 gradient coordinates (221 MB of values, 197 MB of weights),
//! default chunks (1000 x 8192); `anodiff msd GROUP --window 1000` (6 windows, identical JSON
//! for every codec), best of 15 runs with the group in the page cache, on 2 shared cores, with
//! the binary `cargo test` builds (workspace crates at opt-level 2; zarrs, libzstd and the
//! DEFLATE decoder at opt-level 3, as in a release build):
//!
//! | `--compress` | stored / raw | convert, s | msd wall, s | weights read by msd, MB/s | msd CPU, s |
//! |---|---:|---:|---:|---:|---:|
//! | `none` | 1.000 | 0.78 | 0.92 | 214 | 1.50 |
//! | `zstd:1` | 0.929 | 0.56 | 1.08 | 182 | 1.67 |
//! | `zstd:3` | 0.927 | 1.07 | 1.12 | 176 | 1.70 |
//! | `gzip:6` | 0.931 | 7.43 | 1.56 | 126 | 2.16 |
//!
//! Trained float32 weights keep only 7 % of their size off disk under zstd (their low mantissa
//! bits are close to random), and zstd costs msd 0.17-0.20 s of CPU to decode
//! the 197 MB of weights (gzip 0.66 s, and about 10x the time of `none` to write), so `none`
//! stays the default: compression pays only where storage or transfer is billed by the byte,
//! and there `zstd:1` has nearly all of zstd's saving at about the write time of `none`.
//! Reproduce (`BENCHMARKS.md`):
//!
//! ```text
//! anodiff train --model resnet8 --dataset digits --batch-size 32 --steps 6000 --out r8 \
//!     --record-weights subset:8192 --record-grad sample:1024
//! for c in none zstd:1 zstd:3 gzip:6; do
//!   anodiff convert r8 --to zarr r8-$c.zarr --compress $c    # bytes, stored_bytes
//!   for i in $(seq 15); do /usr/bin/time -f "%e s, CPU %U+%S s" anodiff msd r8-$c.zarr --window 1000 >/dev/null; done
//! done
//! ```
//!
//! # Integrity
//!
//! Reading checks what Zarr itself would let through: a chunk file that is missing (Zarr would
//! return the fill value) is an error naming the array, the chunk index and its steps and
//! coordinates; a truncated or otherwise undecodable chunk is an error naming the array and the
//! chunk (for a compressed chunk: a frame that ends early, fails zstd's checksum or gzip's CRC,
//! or decodes to the wrong length); a NaN or infinite weight is an error naming the step and
//! coordinate; metadata that is not a Zarr v3 array of the expected rank, a chunk grid other
//! than `regular`, a data type other than float32 or float64, and a codec the reader does not
//! decode are rejected when the trajectory is opened. A Zarr v2 group or array (`.zgroup`,
//! `.zarray`) is named as such. Both errors, and a missing chunk of an array whose fill value
//! is a number (zarr-python and Dask leave out chunks equal to it by default), come with a
//! zarr-python 3 command that rewrites the data as Zarr v3 with every chunk stored.
//!
//! [`write_zarr`] writes into `OUT.partial` and renames it to `OUT` only after every chunk and
//! the group metadata are written, so a conversion that is killed leaves no `OUT`, and
//! `OUT.partial` has no group metadata and does not open.
//!
//! # Examples
//! ```
//! use anodiff_core::trajectory::zarr::{write_zarr, ZarrOptions, ZarrTrajectory};
//! use anodiff_core::trajectory::{InMemoryTrajectory, TrajectorySource};
//! let w: Vec<f32> = (0..15).map(|v| v as f32).collect();
//! let src = InMemoryTrajectory::from_weights(3, w, Some(vec![1.0, 0.5, 0.25, 0.2, 0.1])).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let out = dir.path().join("run.zarr");
//! write_zarr(&src, &out, &ZarrOptions::default().with_chunks(2, 2), |_, _| {}).unwrap();
//! let z = ZarrTrajectory::open(&out).unwrap();
//! assert_eq!((z.n_steps(), z.dim()), (5, 3));
//! let mut col = [0.0f32; 5];
//! z.read_weights(0..5, 1..2, &mut col).unwrap();
//! assert_eq!(col, [1.0, 4.0, 7.0, 10.0, 13.0]);
//! assert_eq!(z.losses(3..5).unwrap(), Some(vec![0.2, 0.1]));
//! ```

use super::{check_block, TrajectorySource};
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zarrs::array::codec::{GzipCodec, ZstdCodec};
use zarrs::array::{Array, ArrayBuilder, BytesToBytesCodecTraits, CodecOptions};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::GroupBuilder;

/// Default steps per chunk: the paper's window of 1000 steps (see the [module docs](self)).
pub const DEFAULT_CHUNK_STEPS: usize = 1000;
/// Default coordinates per chunk: 16384 (64 KiB per step-row of a chunk, 62.5 MiB per chunk).
pub const DEFAULT_CHUNK_COORDS: usize = 16384;
/// Value of `attributes.anodiff.format` in the group's `zarr.json`.
pub const ZARR_FORMAT_NAME: &str = "anodiff-trajectory-zarr";
/// Budget of decoded chunks kept between reads of one [`ZarrTrajectory`]: 1 GiB, so that
/// readers that go step by step over a band of chunks decode each chunk once.
pub const CHUNK_CACHE_BYTES: usize = 1 << 30;

/// The default chunk shape (steps, coordinates) of a trajectory of `n_steps` x `dim`:
/// [`DEFAULT_CHUNK_STEPS`] x [`DEFAULT_CHUNK_COORDS`], each capped at the array's extent.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::zarr::default_chunks;
/// assert_eq!(default_chunks(24_000, 1_700_000), (1000, 16384));
/// assert_eq!(default_chunks(500, 100), (500, 100));
/// ```
pub fn default_chunks(n_steps: usize, dim: usize) -> (usize, usize) {
    (
        n_steps.clamp(1, DEFAULT_CHUNK_STEPS),
        dim.clamp(1, DEFAULT_CHUNK_COORDS),
    )
}

/// Options of [`write_zarr`].
#[derive(Debug, Clone, Default)]
pub struct ZarrOptions {
    chunks: Option<(usize, usize)>,
    compression: Compression,
    config: Value,
    subset_seed: Option<u64>,
}

impl ZarrOptions {
    /// Chunks of `steps` x `coords` instead of [`default_chunks`] (each capped at the array's
    /// extent).
    pub fn with_chunks(mut self, steps: usize, coords: usize) -> Self {
        self.chunks = Some((steps, coords));
        self
    }

    /// Compress every chunk with `compression` (default [`Compression::None`]).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The run's configuration (model, learning rate, seeds, ...), stored as
    /// `attributes.anodiff.config` of the group.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// The seed of the coordinate subset the run recorded, stored as
    /// `attributes.anodiff.subset_seed`.
    pub fn with_subset_seed(mut self, seed: Option<u64>) -> Self {
        self.subset_seed = seed;
        self
    }
}

/// The zstd levels [`Compression::Zstd`] takes: 1 (fastest) to 22 (smallest), and the negative
/// "fast" levels down to zstd's minimum, -131072 (faster still, larger). Level 0, which zstd reads
/// as "its default", is refused so that the stored level is the level used.
pub const ZSTD_LEVELS: (i32, i32) = (-131_072, 22);

/// Compression of the chunks [`write_zarr`] writes: the bytes-to-bytes codec after `bytes` in
/// each array's `zarr.json`. zarr-python 3, Dask and xarray decode all three.
///
/// Parsed from `none`, `zstd[:LEVEL]` (level 3 when omitted, zstd's own default) or
/// `gzip[:LEVEL]` (level 6 when omitted, gzip's own default).
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::zarr::Compression;
/// assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::Zstd(3));
/// assert_eq!("gzip:9".parse::<Compression>().unwrap(), Compression::Gzip(9));
/// assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
/// assert!("zstd:23".parse::<Compression>().is_err());
/// assert!("blosc".parse::<Compression>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compressor: a chunk file is the chunk's little-endian values.
    #[default]
    None,
    /// Zstandard at a level in [`ZSTD_LEVELS`] (not 0), with zstd's content checksum, so that a
    /// corrupted chunk fails to decode instead of yielding wrong values.
    Zstd(i32),
    /// gzip at a level 0 (stored, no compression) to 9; its CRC-32 trailer is checked on
    /// decoding.
    Gzip(u32),
}

fn zstd_level_error(level: impl std::fmt::Display) -> Error {
    Error::param(
        "compress",
        format!(
            "zstd level {level} is out of range: use 1 (fastest) to 22 (smallest), or a negative fast level down to {}",
            ZSTD_LEVELS.0
        ),
    )
}

fn gzip_level_error(level: impl std::fmt::Display) -> Error {
    Error::param(
        "compress",
        format!("gzip level {level} is out of range: use 0 (no compression) to 9 (smallest)"),
    )
}

impl Compression {
    /// Checks the level.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zstd level outside [`ZSTD_LEVELS`] or equal to 0, or a
    /// gzip level above 9.
    pub fn validate(self) -> Result<Self> {
        match self {
            Compression::Zstd(l) if l == 0 || l < ZSTD_LEVELS.0 || l > ZSTD_LEVELS.1 => {
                Err(zstd_level_error(l))
            }
            Compression::Gzip(l) if l > 9 => Err(gzip_level_error(l)),
            c => Ok(c),
        }
    }

    /// The bytes-to-bytes codecs of an array written with this compression.
    fn codecs(self) -> Result<Vec<Arc<dyn BytesToBytesCodecTraits>>> {
        Ok(match self.validate()? {
            Compression::None => vec![],
            Compression::Zstd(l) => vec![Arc::new(ZstdCodec::new(l, true))],
            Compression::Gzip(l) => {
                vec![Arc::new(
                    GzipCodec::new(l).map_err(|_| gzip_level_error(l))?,
                )]
            }
        })
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        // Parsed wide, so that an out-of-range number gets the range error, not "not an integer".
        let parse_level = |l: &str| {
            l.trim().parse::<i64>().map_err(|_| {
                Error::param(
                    "compress",
                    format!("`{s}`: the level `{l}` is not an integer"),
                )
            })
        };
        match (name, level) {
            ("none", None) => Ok(Compression::None),
            ("zstd", None) => Ok(Compression::Zstd(3)),
            ("gzip", None) => Ok(Compression::Gzip(6)),
            ("zstd", Some(l)) => {
                let l = parse_level(l)?;
                let l = i32::try_from(l).map_err(|_| zstd_level_error(l))?;
                Compression::Zstd(l).validate()
            }
            ("gzip", Some(l)) => {
                let l = parse_level(l)?;
                let l = u32::try_from(l).map_err(|_| gzip_level_error(l))?;
                Compression::Gzip(l).validate()
            }
            _ => Err(Error::param(
                "compress",
                format!("`{s}` is not a compression: use none, zstd[:LEVEL] or gzip[:LEVEL]"),
            )),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => write!(f, "none"),
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
            Compression::Gzip(l) => write!(f, "gzip:{l}"),
        }
    }
}

fn zerr(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::format(path, what.to_string())
}

/// Writes `source` as a Zarr v3 group at `out` (layout in the [module docs](self)), calling
/// `progress(chunks_done, chunks_total)` after each chunk of weights or gradients.
///
/// The group is written into `out` + `.partial` and renamed to `out` at the end; a leftover
/// `.partial` from an interrupted conversion is removed first.
///
/// # Errors
/// [`Error::InvalidParameter`] for a zero chunk size, a compression level out of range, an
/// `out` that already exists or an empty trajectory; any read error of `source` (the partial output is then removed); [`Error::Io`]
/// or [`Error::Format`] for a failed write.
pub fn write_zarr<S, P>(
    source: &S,
    out: impl AsRef<Path>,
    options: &ZarrOptions,
    mut progress: P,
) -> Result<()>
where
    S: TrajectorySource + ?Sized,
    P: FnMut(usize, usize),
{
    let out = out.as_ref();
    let (n, d) = (source.n_steps(), source.dim());
    if n == 0 || d == 0 {
        return Err(Error::param(
            "traj",
            format!("cannot convert an empty trajectory ({n} steps x {d} coordinates)"),
        ));
    }
    options.compression.validate()?;
    let (cs, cc) = options.chunks.unwrap_or_else(|| default_chunks(n, d));
    if cs == 0 || cc == 0 {
        return Err(Error::param(
            "chunks",
            format!("chunk sizes must be at least 1, got {cs},{cc}"),
        ));
    }
    let (cs, cc) = (cs.min(n), cc.min(d));
    if out.exists() {
        return Err(Error::param(
            "out",
            format!(
                "{} already exists; remove it or choose another path",
                out.display()
            ),
        ));
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    let result = write_into(source, &partial, options, (cs, cc), &mut progress);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out).map_err(|e| Error::io(out, e))?;
    Ok(())
}

fn write_into<S, P>(
    source: &S,
    dir: &Path,
    options: &ZarrOptions,
    (cs, cc): (usize, usize),
    progress: &mut P,
) -> Result<()>
where
    S: TrajectorySource + ?Sized,
    P: FnMut(usize, usize),
{
    let (n, d, gd) = (source.n_steps(), source.dim(), source.gradient_dim());
    let store = Arc::new(FilesystemStore::new(dir).map_err(|e| zerr(dir, e))?);
    // Empty chunks are stored too: a missing chunk file always means a damaged copy.
    let write_opts = CodecOptions::default().with_store_empty_chunks(true);
    let codecs = options.compression.codecs()?;

    let build_2d = |name: &str, cols: usize, dims: [&str; 2]| -> Result<Array<FilesystemStore>> {
        let array = ArrayBuilder::new(
            vec![n as u64, cols as u64],
            vec![cs as u64, cc.min(cols) as u64],
            zarrs::array::data_type::float32(),
            f32::NAN,
        )
        .dimension_names(Some(dims))
        .bytes_to_bytes_codecs(codecs.clone())
        .build(store.clone(), &format!("/{name}"))
        .map_err(|e| zerr(dir, format!("array `{name}`: {e}")))?;
        array
            .store_metadata()
            .map_err(|e| zerr(dir, format!("array `{name}`: {e}")))?;
        Ok(array)
    };

    let weights = build_2d("weights", d, ["step", "param"])?;
    let gradients = if gd > 0 {
        Some(build_2d("gradients", gd, ["step", "gradient_param"])?)
    } else {
        None
    };
    let row_blocks = n.div_ceil(cs);
    let total = row_blocks * (d.div_ceil(cc) + gd.div_ceil(cc.min(gd).max(1)));
    let mut done = 0;
    let mut buf = vec![0.0f32; cs * cc];
    for (array, name, cols) in [
        (Some(&weights), "weights", d),
        (gradients.as_ref(), "gradients", gd),
    ] {
        let Some(array) = array else { continue };
        let width = cc.min(cols);
        for i in 0..row_blocks {
            let steps = i * cs..((i + 1) * cs).min(n);
            for j in 0..cols.div_ceil(width) {
                let coords = j * width..((j + 1) * width).min(cols);
                let (h, w) = (steps.len(), coords.len());
                let block = &mut buf[..h * w];
                if name == "weights" {
                    source.read_weights(steps.clone(), coords.clone(), block)?;
                } else {
                    source.read_gradients(steps.clone(), coords.clone(), block)?;
                }
                // Edge chunks are stored at the full chunk shape, padded with the fill value.
                let chunk: Vec<f32> = if h == cs && w == width {
                    block.to_vec()
                } else {
                    let mut c = vec![f32::NAN; cs * width];
                    for r in 0..h {
                        c[r * width..r * width + w].copy_from_slice(&block[r * w..(r + 1) * w]);
                    }
                    c
                };
                array
                    .store_chunk_opt(&[i as u64, j as u64], &chunk, &write_opts)
                    .map_err(|e| zerr(dir, format!("array `{name}`, chunk [{i}, {j}]: {e}")))?;
                done += 1;
                progress(done, total);
            }
        }
    }

    if let Some(losses) = source.losses(0..n)? {
        let array = ArrayBuilder::new(
            vec![n as u64],
            vec![cs as u64],
            zarrs::array::data_type::float64(),
            f64::NAN,
        )
        .dimension_names(Some(["step"]))
        .bytes_to_bytes_codecs(codecs.clone())
        .build(store.clone(), "/losses")
        .map_err(|e| zerr(dir, format!("array `losses`: {e}")))?;
        array
            .store_metadata()
            .map_err(|e| zerr(dir, format!("array `losses`: {e}")))?;
        for i in 0..row_blocks {
            let mut chunk = vec![f64::NAN; cs];
            let part = &losses[i * cs..((i + 1) * cs).min(n)];
            chunk[..part.len()].copy_from_slice(part);
            array
                .store_chunk_opt(&[i as u64], &chunk, &write_opts)
                .map_err(|e| zerr(dir, format!("array `losses`, chunk [{i}]: {e}")))?;
        }
    }

    let attrs = json!({
        "anodiff": {
            "format": ZARR_FORMAT_NAME,
            "schema_version": 1,
            "n_steps": n,
            "dim": d,
            "gradient_dim": gd,
            "chunks": [cs, cc],
            "subset_seed": options.subset_seed,
            "config": options.config,
        }
    });
    let Value::Object(attrs) = attrs else {
        unreachable!("a json! object literal")
    };
    // The group metadata last: a directory without it is not a finished conversion.
    GroupBuilder::new()
        .attributes(attrs)
        .build(store.clone(), "/")
        .map_err(|e| zerr(dir, e))?
        .store_metadata()
        .map_err(|e| zerr(dir, e))?;
    Ok(())
}

/// Element type of an array we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Float {
    F32,
    F64,
}

/// One opened array: its zarrs handle and the facts checked from its `zarr.json`.
struct ZArray {
    name: String,
    array: Array<FilesystemStore>,
    float: Float,
    shape: Vec<usize>,
    chunk: Vec<usize>,
    /// The fill value when it is a number (`None` for NaN, as written here): a writer may have
    /// left out chunks equal to it.
    fill: Option<f64>,
}

impl std::fmt::Debug for ZArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZArray")
            .field("name", &self.name)
            .field("float", &self.float)
            .field("shape", &self.shape)
            .field("chunk", &self.chunk)
            .finish()
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| zerr(path, format!("not valid JSON: {e}")))
}

/// The codecs the reader decodes: those of the zarrs features the workspace enables.
const READ_CODECS: [&str; 5] = ["bytes", "zstd", "gzip", "crc32c", "sharding_indexed"];

/// The first codec of a `codecs` list (sharding's inner and index codecs included) that is not
/// in [`READ_CODECS`], quoted, with its configuration when it has one.
fn unreadable_codec(codecs: &Value) -> Option<String> {
    // A codec is a name string or an object with `name` (and `configuration`).
    for c in codecs.as_array()? {
        let name = c.as_str().or_else(|| c.get("name").and_then(Value::as_str));
        let Some(name) = name else {
            return Some(c.to_string());
        };
        if !READ_CODECS.contains(&name) {
            return Some(match c.get("configuration") {
                Some(conf) => format!("\"{name}\" ({conf})"),
                None => format!("\"{name}\""),
            });
        }
        let conf = c.get("configuration");
        for inner in ["codecs", "index_codecs"] {
            if let Some(found) = conf.and_then(|c| c.get(inner)).and_then(unreadable_codec) {
                return Some(found);
            }
        }
    }
    None
}

/// A zarr-python 3 command that rewrites the group (or bare array) at `root` next to it with
/// zarr-python's default codecs (`bytes` + `zstd`), same chunks, dimension names and
/// attributes, every chunk written.
fn rewrite_command(root: &Path, bare_array: bool) -> String {
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("run");
    let stem = name.strip_suffix(".zarr").unwrap_or(name);
    let out = root.with_file_name(format!("{stem}.zstd.zarr"));
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "\\'"));
    let (src, dst) = (quote(root), quote(&out));
    let keep = "chunks=a.chunks, dimension_names=getattr(a.metadata, 'dimension_names', None), config={'write_empty_chunks': True}";
    if bare_array {
        format!(
            "python -c \"import zarr; a = zarr.open_array({src}, mode='r'); zarr.create_array({dst}, data=a[:], {keep})\""
        )
    } else {
        format!(
            "python -c \"import zarr; s = zarr.open_group({src}, mode='r'); d = zarr.create_group({dst}, attributes=s.attrs.asdict()); [d.create_array(k, data=a[:], {keep}) for k, a in s.arrays()]\""
        )
    }
}

/// Parses and checks the `zarr.json` of the array at `root/name` (`name` empty: `root` itself).
fn open_array(
    store: &Arc<FilesystemStore>,
    root: &Path,
    name: &str,
    ndim: usize,
) -> Result<ZArray> {
    let dir = if name.is_empty() {
        root.to_path_buf()
    } else {
        root.join(name)
    };
    let meta_path = dir.join("zarr.json");
    let label = if name.is_empty() {
        "the array".to_string()
    } else {
        format!("array `{name}`")
    };
    let bad = |reason: String| zerr(&meta_path, format!("{label}: {reason}"));
    let meta = read_json(&meta_path)?;
    if meta.get("zarr_format").and_then(Value::as_u64) != Some(3) {
        return Err(bad("not Zarr v3 metadata (zarr_format is not 3)".into()));
    }
    if meta.get("node_type").and_then(Value::as_str) != Some("array") {
        return Err(bad("node_type is not \"array\"".into()));
    }
    let float = match meta.get("data_type").and_then(Value::as_str) {
        Some("float32") => Float::F32,
        Some("float64") => Float::F64,
        other => {
            return Err(bad(format!(
                "data type {} is not handled (float32 or float64)",
                other.map_or_else(
                    || meta
                        .get("data_type")
                        .map_or("missing".into(), Value::to_string),
                    |s| format!("\"{s}\"")
                )
            )))
        }
    };
    let ints = |v: Option<&Value>, what: &str| -> Result<Vec<usize>> {
        v.and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_u64().map(|x| x as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| bad(format!("{what} is missing or not a list of integers")))
    };
    let shape = ints(meta.get("shape"), "shape")?;
    if shape.len() != ndim {
        return Err(bad(format!(
            "has {} dimensions, expected {ndim}",
            shape.len()
        )));
    }
    let grid = meta.get("chunk_grid");
    if grid.and_then(|g| g.get("name")).and_then(Value::as_str) != Some("regular") {
        return Err(bad("chunk grid is not \"regular\"".into()));
    }
    let chunk = ints(
        grid.and_then(|g| g.get("configuration"))
            .and_then(|c| c.get("chunk_shape")),
        "chunk_grid.configuration.chunk_shape",
    )?;
    if chunk.len() != ndim || chunk.contains(&0) {
        return Err(bad(format!(
            "chunk shape {chunk:?} does not fit the shape {shape:?}"
        )));
    }
    if let Some(codec) = meta.get("codecs").and_then(unreadable_codec) {
        return Err(bad(format!(
            "codec {codec} is not supported (anodiff decodes {}); rewrite the {} with zstd (zarr-python 3's default) or with no compressor, e.g. {}",
            READ_CODECS.join(", "),
            if name.is_empty() { "array" } else { "group" },
            rewrite_command(root, name.is_empty()),
        )));
    }
    let node = if name.is_empty() {
        "/".to_string()
    } else {
        format!("/{name}")
    };
    let array = Array::open(store.clone(), &node).map_err(|e| bad(e.to_string()))?;
    let fill = meta
        .get("fill_value")
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite());
    Ok(ZArray {
        name: if name.is_empty() {
            "weights".into()
        } else {
            name.into()
        },
        array,
        float,
        shape,
        chunk,
        fill,
    })
}

/// A decoded chunk, converted to the type the reader hands out.
type Chunk<T> = Arc<Vec<T>>;

/// Which array (0: weights, 1: gradients) and which chunk.
type ChunkKey = (usize, Vec<u64>);

/// Least recently used decoded chunks, up to a byte budget.
#[derive(Default)]
struct ChunkCache {
    entries: Vec<(ChunkKey, Chunk<f32>)>,
    bytes: usize,
}

/// A Zarr v3 group written by [`write_zarr`] (or a bare 2-D float array of steps x weights)
/// read as a [`TrajectorySource`]. Chunks are decoded whole and kept in a cache of
/// [`CHUNK_CACHE_BYTES`]; reads check every chunk exists and every value is finite.
pub struct ZarrTrajectory {
    path: PathBuf,
    weights: ZArray,
    losses: Option<ZArray>,
    gradients: Option<ZArray>,
    attributes: Map<String, Value>,
    cache: Mutex<ChunkCache>,
}

impl std::fmt::Debug for ZarrTrajectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrTrajectory")
            .field("path", &self.path)
            .field("weights", &self.weights)
            .field("losses", &self.losses)
            .field("gradients", &self.gradients)
            .finish_non_exhaustive()
    }
}

/// Whether the directory `path` is meant as Zarr: it has a `zarr.json`, a `weights/zarr.json`
/// (an unfinished conversion) or a name ending in `.zarr` or `.zarr.partial`, so that
/// [`super::open`] reports what is wrong with it as Zarr rather than as a store.
pub fn is_zarr(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_dir()
        && (path.join("zarr.json").is_file()
            || path.join("weights").join("zarr.json").is_file()
            || path.join(".zgroup").is_file()
            || path.join(".zarray").is_file()
            || name.ends_with(".zarr")
            || name.ends_with(".zarr.partial"))
}

impl ZarrTrajectory {
    /// Opens the group at `path` (its `weights`, and `losses` and `gradients` when present), or
    /// a bare 2-D float array of steps x weights.
    ///
    /// # Errors
    /// [`Error::Io`] if `path/zarr.json` cannot be read (an interrupted conversion leaves only
    /// `OUT.zarr.partial`, without one); [`Error::Format`] naming the array for metadata that is
    /// not a Zarr v3 float32/float64 array of the right rank with a regular chunk grid, or for
    /// arrays whose lengths disagree.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta_path = path.join("zarr.json");
        for (file, what, bare) in [(".zgroup", "group", false), (".zarray", "array", true)] {
            if !meta_path.is_file() && path.join(file).is_file() {
                return Err(zerr(
                    &path,
                    format!(
                        "a Zarr v2 {what} ({file}); anodiff reads Zarr v3: rewrite it as v3, e.g. {}",
                        rewrite_command(&path, bare)
                    ),
                ));
            }
        }
        if !meta_path.is_file() {
            return Err(zerr(
                &path,
                "no zarr.json: not a Zarr v3 group or array (a conversion that did not finish leaves only a `.partial` directory)",
            ));
        }
        let meta = read_json(&meta_path)?;
        if meta.get("zarr_format").and_then(Value::as_u64) != Some(3) {
            return Err(zerr(
                &meta_path,
                "not Zarr v3 metadata (zarr_format is not 3)",
            ));
        }
        let store = Arc::new(FilesystemStore::new(&path).map_err(|e| zerr(&path, e))?);
        let attributes = meta
            .get("attributes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let (weights, losses, gradients) = match meta.get("node_type").and_then(Value::as_str) {
            Some("array") => (open_array(&store, &path, "", 2)?, None, None),
            Some("group") => {
                if !path.join("weights").join("zarr.json").is_file() {
                    return Err(zerr(&path, "the group has no `weights` array"));
                }
                let w = open_array(&store, &path, "weights", 2)?;
                let l = if path.join("losses").join("zarr.json").is_file() {
                    Some(open_array(&store, &path, "losses", 1)?)
                } else {
                    None
                };
                let g = if path.join("gradients").join("zarr.json").is_file() {
                    Some(open_array(&store, &path, "gradients", 2)?)
                } else {
                    None
                };
                (w, l, g)
            }
            _ => {
                return Err(zerr(
                    &meta_path,
                    "node_type is neither \"group\" nor \"array\"",
                ))
            }
        };
        let n = weights.shape[0];
        for other in losses.iter().chain(gradients.iter()) {
            if other.shape[0] != n {
                return Err(zerr(
                    &path,
                    format!(
                        "array `{}` has {} steps, `weights` has {n}",
                        other.name, other.shape[0]
                    ),
                ));
            }
        }
        Ok(ZarrTrajectory {
            path,
            weights,
            losses,
            gradients,
            attributes,
            cache: Mutex::new(ChunkCache::default()),
        })
    }

    /// The group's (or array's) attributes; a group written by [`write_zarr`] has the run's
    /// configuration under `anodiff.config`.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// The path the trajectory was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chunk shape (steps, coordinates) of the weights.
    pub fn chunks(&self) -> (usize, usize) {
        (self.weights.chunk[0], self.weights.chunk[1])
    }

    fn chunk_path(&self, a: &ZArray, idx: &[u64]) -> PathBuf {
        self.path.join(a.array.chunk_key(idx).as_str())
    }

    /// Decodes chunk `idx` of `a` as f32 values (full chunk shape, row-major), failing on a
    /// missing or undecodable chunk.
    fn decode_f32(&self, slot: usize, a: &ZArray, idx: &[u64]) -> Result<Chunk<f32>> {
        let key = (slot, idx.to_vec());
        if let Ok(mut c) = self.cache.lock() {
            if let Some(pos) = c.entries.iter().position(|(k, _)| *k == key) {
                let entry = c.entries.remove(pos);
                let v = entry.1.clone();
                c.entries.push(entry);
                return Ok(v);
            }
        }
        let values: Vec<f32> = match a.float {
            Float::F32 => self.retrieve::<f32>(a, idx)?,
            Float::F64 => self
                .retrieve::<f64>(a, idx)?
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        };
        let values = Arc::new(values);
        if let Ok(mut c) = self.cache.lock() {
            let size = values.len() * std::mem::size_of::<f32>();
            while !c.entries.is_empty() && c.bytes + size > CHUNK_CACHE_BYTES {
                let (_, old) = c.entries.remove(0);
                c.bytes -= old.len() * std::mem::size_of::<f32>();
            }
            if size <= CHUNK_CACHE_BYTES {
                c.bytes += size;
                c.entries.push((key, values.clone()));
            }
        }
        Ok(values)
    }

    fn retrieve<T>(&self, a: &ZArray, idx: &[u64]) -> Result<Vec<T>>
    where
        T: zarrs::array::ElementOwned,
    {
        let describe = || {
            let mut s = format!("array `{}`: chunk {idx:?}", a.name);
            let r = idx[0] as usize * a.chunk[0];
            s += &format!(" (steps {r}..{}", (r + a.chunk[0]).min(a.shape[0]));
            if idx.len() == 2 {
                let c = idx[1] as usize * a.chunk[1];
                s += &format!(", coordinates {c}..{}", (c + a.chunk[1]).min(a.shape[1]));
            }
            s + ")"
        };
        match a.array.retrieve_chunk_if_exists::<Vec<T>>(idx) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(zerr(
                &self.chunk_path(a, idx),
                match a.fill {
                    // zarr-python (write_empty_chunks off, its default) and Dask leave out a
                    // chunk that equals the fill value, which Zarr then reads as that value:
                    // a trajectory cannot tell such a chunk from a lost one, so it says how to
                    // write every chunk.
                    Some(f) => format!(
                        "{} is missing (its writer may have left it out for being all {f}, the \
                         fill value: rewrite the group with every chunk stored, e.g. {})",
                        describe(),
                        rewrite_command(&self.path, !self.path.join("weights").is_dir())
                    ),
                    None => format!("{} is missing", describe()),
                },
            )),
            Err(e) => Err(zerr(
                &self.chunk_path(a, idx),
                format!("{} cannot be read: {e}", describe()),
            )),
        }
    }

    /// Copies `rows` x `cols` of the 2-D array `a` into `out`, chunk by chunk, checking values.
    fn read_2d(
        &self,
        slot: usize,
        a: &ZArray,
        rows: Range<usize>,
        cols: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let (cr, cc) = (a.chunk[0], a.chunk[1]);
        let w = cols.len();
        if rows.is_empty() || cols.is_empty() {
            return Ok(());
        }
        for i in rows.start / cr..=(rows.end - 1) / cr {
            let r0 = (i * cr).max(rows.start);
            let r1 = ((i + 1) * cr).min(rows.end);
            for j in cols.start / cc..=(cols.end - 1) / cc {
                let c0 = (j * cc).max(cols.start);
                let c1 = ((j + 1) * cc).min(cols.end);
                let chunk = self.decode_f32(slot, a, &[i as u64, j as u64])?;
                for r in r0..r1 {
                    let src = &chunk[(r - i * cr) * cc + (c0 - j * cc)..][..c1 - c0];
                    if let Some(k) = src.iter().position(|v| !v.is_finite()) {
                        return Err(zerr(
                            &self.chunk_path(a, &[i as u64, j as u64]),
                            format!(
                                "array `{}`: step {r}, coordinate {}: value is {}",
                                a.name,
                                c0 + k,
                                src[k]
                            ),
                        ));
                    }
                    let dst = (r - rows.start) * w + (c0 - cols.start);
                    out[dst..dst + (c1 - c0)].copy_from_slice(src);
                }
            }
        }
        Ok(())
    }
}

impl TrajectorySource for ZarrTrajectory {
    fn n_steps(&self) -> usize {
        self.weights.shape[0]
    }

    fn dim(&self) -> usize {
        self.weights.shape[1]
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        check_block(&steps, &coords, self.n_steps(), self.dim(), out.len())?;
        self.read_2d(0, &self.weights, steps, coords, out)
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        check_block(&steps, &(0..0), self.n_steps(), self.dim(), 0)?;
        let Some(a) = &self.losses else {
            return Ok(None);
        };
        let cr = a.chunk[0];
        let mut out = Vec::with_capacity(steps.len());
        if steps.is_empty() {
            return Ok(Some(out));
        }
        for i in steps.start / cr..=(steps.end - 1) / cr {
            let chunk: Vec<f64> = match a.float {
                Float::F64 => self.retrieve::<f64>(a, &[i as u64])?,
                Float::F32 => self
                    .retrieve::<f32>(a, &[i as u64])?
                    .into_iter()
                    .map(f64::from)
                    .collect(),
            };
            let r0 = (i * cr).max(steps.start);
            let r1 = ((i + 1) * cr).min(steps.end);
            out.extend_from_slice(&chunk[r0 - i * cr..r1 - i * cr]);
        }
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(zerr(
                &self.path,
                format!(
                    "array `losses`: step {}: loss is {}",
                    steps.start + k,
                    out[k]
                ),
            ));
        }
        Ok(Some(out))
    }

    fn gradient_dim(&self) -> usize {
        self.gradients.as_ref().map_or(0, |g| g.shape[1])
    }

    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        let Some(g) = &self.gradients else {
            return Err(Error::InvalidData(format!(
                "{}: this trajectory has no recorded gradients",
                self.path.display()
            )));
        };
        check_block(&steps, &coords, self.n_steps(), g.shape[1], out.len())?;
        self.read_2d(1, g, steps, coords, out)
    }
}

//! The project's on-disk trajectory store: a directory of `.npy` chunks plus a JSON manifest,
//! appended step by step while training runs, crash-safe, and readable by numpy alone.
//!
//! # Format (schema version 1)
//!
//! ```text
//! run/
//!   manifest.json            which steps are committed (the only source of truth)
//!   weights_000000.npy       steps 0 .. C-1       shape (C, dim)           '<f4', C order
//!   losses_000000.npy        their losses         shape (C,)              '<f8'
//!   gradients_000000.npy     optional gradients   shape (C, gradient_dim)  '<f4'
//!   weights_000001.npy       steps C .. 2C-1, and so on
//! ```
//!
//! `manifest.json` (written by serde; unknown keys are ignored by readers):
//!
//! ```json
//! {
//!   "format": "anodiff-trajectory-store",
//!   "schema_version": 1,
//!   "dim": 175258,
//!   "dtype": "<f4",
//!   "loss_dtype": "<f8",
//!   "gradient_dim": 0,
//!   "chunk_steps": 382,
//!   "n_steps": 1000,
//!   "chunks": [
//!     {"weights": "weights_000000.npy", "losses": "losses_000000.npy", "gradients": null, "steps": 382},
//!     {"weights": "weights_000001.npy", "losses": "losses_000001.npy", "gradients": null, "steps": 382},
//!     {"weights": "weights_000002.npy", "losses": "losses_000002.npy", "gradients": null, "steps": 236}
//!   ],
//!   "finished": false,
//!   "subset_seed": null,
//!   "metadata": {"model": "resnet14", "lr": 0.1}
//! }
//! ```
//!
//! Invariants: every chunk but the last holds exactly `chunk_steps` steps, the last holds 1 to
//! `chunk_steps`, and the chunk `steps` add up to `n_steps`; step `t` is row `t % chunk_steps` of
//! chunk `t / chunk_steps`. A chunk file may have **more rows than its `steps`**: the writer
//! preallocates each chunk at its full size (a sparse file) and only the first `steps` rows are
//! committed; [`StoreWriter::finish`] shrinks the last chunk to its exact size. `subset_seed`
//! records the seed of a random coordinate subset when the producer stored one (else `null`);
//! `metadata` is free-form JSON for the producer.
//!
//! # Loading with numpy alone
//!
//! ```python
//! import json, os, numpy as np
//! def load_store(run):
//!     m = json.load(open(os.path.join(run, "manifest.json")))
//!     part = lambda key: [np.load(os.path.join(run, c[key]), mmap_mode="r")[: c["steps"]]
//!                         for c in m["chunks"]]
//!     w = np.concatenate(part("weights")) if m["chunks"] else np.zeros((0, m["dim"]), "f4")
//!     loss = np.concatenate(part("losses")) if m["chunks"] else np.zeros(0)
//!     return w, loss, m   # w: (n_steps, dim) float32, loss: (n_steps,) float64
//! ```
//!
//! (`np.concatenate` copies; for runs larger than memory keep the list of per-chunk memmaps.)
//!
//! # Crash safety
//!
//! [`StoreWriter::append`] writes the step's row into each chunk file (preallocated, so nothing
//! else in the file moves), makes the rows durable (`fdatasync`, unless
//! [`StoreOptions::with_sync`] turned that off), then publishes the step by writing the new
//! manifest to `manifest.json.tmp`, syncing it and renaming it over `manifest.json` (an atomic
//! replacement on POSIX file systems), then syncing the directory. A reader only ever looks at
//! rows the manifest it read lists, so it never sees a half-written step; a crash or `kill -9`
//! at any point loses at most the step being appended. [`StoreWriter::resume`] reopens such a
//! store at its committed count: rows written after the last commit are overwritten, chunk files
//! past the manifest are deleted. One writer per store at a time (there is no lock file).
//!
//! # Examples
//! ```
//! use anodiff_core::trajectory::store::{StoreOptions, StoreReader, StoreWriter};
//! use anodiff_core::trajectory::{Step, TrajectorySink, TrajectorySource};
//! let dir = tempfile::tempdir().unwrap();
//! let run = dir.path().join("run");
//! let mut writer = StoreWriter::create(&run, StoreOptions::new(3).with_chunk_steps(2)).unwrap();
//! for t in 0..5 {
//!     let w = [t as f32, 0.5, -1.0];
//!     writer.append(&Step { weights: &w, loss: 1.0 / (t + 1) as f64, gradient: None }).unwrap();
//! }
//! writer.finish().unwrap();
//! let store = StoreReader::open(&run).unwrap();
//! assert_eq!((store.n_steps(), store.dim()), (5, 3));
//! let mut first_coord = [0.0f32; 5];
//! store.read_weights(0..5, 0..1, &mut first_coord).unwrap();
//! assert_eq!(first_coord, [0.0, 1.0, 2.0, 3.0, 4.0]);
//! assert_eq!(store.losses(3..5).unwrap(), Some(vec![0.25, 0.2]));
//! ```

use super::{check_block, Step, TrajectorySink, TrajectorySource};
use crate::error::{Error, Result};
use crate::npy::{Dtype, Header, NpyArray};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Value of the manifest's `format` key.
pub const FORMAT_NAME: &str = "anodiff-trajectory-store";
/// The manifest schema version this code writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The manifest's file name inside a store directory.
pub const MANIFEST: &str = "manifest.json";

/// The parsed `manifest.json` of a store (see the [module docs](self) for the format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`SCHEMA_VERSION`] for stores this code reads.
    pub schema_version: u32,
    /// Weight coordinates per step.
    pub dim: usize,
    /// numpy dtype of weights and gradients (`"<f4"`).
    pub dtype: String,
    /// numpy dtype of losses (`"<f8"`).
    pub loss_dtype: String,
    /// Gradient coordinates per step (0: no gradients recorded).
    pub gradient_dim: usize,
    /// Steps per chunk file.
    pub chunk_steps: usize,
    /// Committed steps.
    pub n_steps: usize,
    /// The chunks, in step order.
    pub chunks: Vec<ChunkEntry>,
    /// Whether the writer called [`StoreWriter::finish`] (the last chunk then has its exact size).
    #[serde(default)]
    pub finished: bool,
    /// Seed of the random coordinate subset the producer stored, if it stored a subset.
    #[serde(default)]
    pub subset_seed: Option<u64>,
    /// Free-form metadata from the producer.
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// One chunk in the manifest: file names relative to the store directory and committed steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// The weights file (`steps` x `dim` committed rows).
    pub weights: String,
    /// The losses file (1-D).
    pub losses: String,
    /// The gradients file, when gradients are recorded.
    #[serde(default)]
    pub gradients: Option<String>,
    /// Committed steps in this chunk.
    pub steps: usize,
}

/// File names of chunk `i`.
fn chunk_names(i: usize, with_gradients: bool) -> ChunkEntry {
    ChunkEntry {
        weights: format!("weights_{i:06}.npy"),
        losses: format!("losses_{i:06}.npy"),
        gradients: with_gradients.then(|| format!("gradients_{i:06}.npy")),
        steps: 0,
    }
}

impl Manifest {
    /// Reads and checks `dir/manifest.json`: known format and version, supported dtypes, and
    /// chunk step counts that fit together (the invariants in the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read; [`Error::Format`] naming the manifest and the
    /// disagreement (with the chunk and its steps) otherwise.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::format(&path, format!("not a valid store manifest: {e}")))?;
        m.check(&path)?;
        Ok(m)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::format(path, reason));
        if self.format != FORMAT_NAME {
            return bad(format!(
                "format is '{}', expected '{FORMAT_NAME}'",
                self.format
            ));
        }
        if self.schema_version != SCHEMA_VERSION {
            return bad(format!(
                "schema_version {} is not supported (this build reads {SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        if Dtype::from_descr(&self.dtype) != Ok(Dtype::F32Le) {
            return bad(format!(
                "dtype '{}' is not supported (use '<f4')",
                self.dtype
            ));
        }
        if !matches!(
            Dtype::from_descr(&self.loss_dtype),
            Ok(Dtype::F64Le | Dtype::F32Le)
        ) {
            return bad(format!(
                "loss_dtype '{}' is not supported (use '<f8' or '<f4')",
                self.loss_dtype
            ));
        }
        if self.dim == 0 || self.chunk_steps == 0 {
            return bad(format!(
                "dim ({}) and chunk_steps ({}) must be positive",
                self.dim, self.chunk_steps
            ));
        }
        let mut start = 0usize;
        let last = self.chunks.len().saturating_sub(1);
        for (i, c) in self.chunks.iter().enumerate() {
            let ok = if i < last {
                c.steps == self.chunk_steps
            } else {
                (1..=self.chunk_steps).contains(&c.steps)
            };
            if !ok {
                return bad(format!(
                    "chunk {i} ({}) lists {} steps (from step {start}); every chunk but the last \
                     must hold chunk_steps = {} and the last 1 to {}",
                    c.weights, c.steps, self.chunk_steps, self.chunk_steps
                ));
            }
            if (self.gradient_dim > 0) != c.gradients.is_some() {
                return bad(format!(
                    "chunk {i} ({}) {} a gradients file but gradient_dim is {}",
                    c.weights,
                    if c.gradients.is_some() {
                        "has"
                    } else {
                        "lacks"
                    },
                    self.gradient_dim
                ));
            }
            for name in [Some(&c.weights), Some(&c.losses), c.gradients.as_ref()]
                .into_iter()
                .flatten()
            {
                if name.contains('/') || name.contains('\\') || name.starts_with('.') {
                    return bad(format!(
                        "chunk {i}: file name '{name}' must be a plain name"
                    ));
                }
            }
            start += c.steps;
        }
        if start != self.n_steps {
            return bad(format!(
                "n_steps is {} but the chunks hold {start} steps",
                self.n_steps
            ));
        }
        Ok(())
    }

    /// Writes the manifest atomically: temporary file, (sync), rename, (sync directory).
    fn write_atomic(&self, dir: &Path, sync: bool) -> Result<()> {
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let path = dir.join(MANIFEST);
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::format(&path, format!("cannot serialise manifest: {e}")))?;
        text.push(b'\n');
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&text).map_err(|e| Error::io(&tmp, e))?;
        if sync {
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        if sync {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Settings of a new store. `dim` is required; everything else has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    dim: usize,
    chunk_steps: Option<usize>,
    gradient_dim: usize,
    subset_seed: Option<u64>,
    metadata: serde_json::Value,
    sync: bool,
}

impl StoreOptions {
    /// Options for steps of `dim` weights: no gradients, default chunk size, syncing on.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            chunk_steps: None,
            gradient_dim: 0,
            subset_seed: None,
            metadata: serde_json::Value::Object(Default::default()),
            sync: true,
        }
    }

    /// Steps per chunk file. Default: as many as fit in 256 MiB of weights, at least 1 and at
    /// most 1000 (for ResNet-14, d = 175,258: 382 steps, 268 MB per chunk).
    pub fn with_chunk_steps(mut self, chunk_steps: usize) -> Self {
        self.chunk_steps = Some(chunk_steps);
        self
    }

    /// Records `gradient_dim` gradient coordinates per step (default 0: none).
    pub fn with_gradient_dim(mut self, gradient_dim: usize) -> Self {
        self.gradient_dim = gradient_dim;
        self
    }

    /// Records the seed of the random coordinate subset the producer stores (default none).
    pub fn with_subset_seed(mut self, seed: u64) -> Self {
        self.subset_seed = Some(seed);
        self
    }

    /// Free-form JSON metadata kept in the manifest (default `{}`).
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Whether each step is made durable with `fdatasync` before it is committed (default
    /// `true`). With `false`, a killed process still loses at most the step in flight (the
    /// operating system keeps written pages), but a power loss or kernel crash may lose or
    /// damage recent steps.
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    fn resolved_chunk_steps(&self) -> usize {
        self.chunk_steps
            .unwrap_or_else(|| ((256usize << 20) / (4 * self.dim.max(1))).clamp(1, 1000))
    }
}

/// The open files of the chunk being appended to.
#[derive(Debug)]
struct OpenChunk {
    weights: File,
    losses: File,
    gradients: Option<File>,
    weights_offset: u64,
    losses_offset: u64,
    gradients_offset: u64,
}

/// Appends steps to a store directory (see the [module docs](self) for format and guarantees).
#[derive(Debug)]
pub struct StoreWriter {
    dir: PathBuf,
    manifest: Manifest,
    sync: bool,
    chunk: Option<OpenChunk>,
    row: Vec<u8>,
}

/// Bytes of one `width`-wide f32 row.
fn row_bytes(width: usize) -> u64 {
    width as u64 * 4
}

impl StoreWriter {
    /// Creates a new store in `dir` (created if missing; it must not already hold a manifest).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim == 0` or `chunk_steps == 0`; [`Error::Format`] if
    /// `dir` already holds a store (use [`StoreWriter::resume`]); [`Error::Io`] otherwise.
    pub fn create(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if options.dim == 0 {
            return Err(Error::param("dim", "a store needs at least one coordinate"));
        }
        let chunk_steps = options.resolved_chunk_steps();
        if chunk_steps == 0 {
            return Err(Error::param("chunk_steps", "must be at least 1"));
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if dir.join(MANIFEST).exists() {
            return Err(Error::format(
                dir.join(MANIFEST),
                "a store already exists here; resume it (StoreWriter::resume) or pick a new directory",
            ));
        }
        let manifest = Manifest {
            format: FORMAT_NAME.into(),
            schema_version: SCHEMA_VERSION,
            dim: options.dim,
            dtype: Dtype::F32Le.descr().into(),
            loss_dtype: Dtype::F64Le.descr().into(),
            gradient_dim: options.gradient_dim,
            chunk_steps,
            n_steps: 0,
            chunks: Vec::new(),
            finished: false,
            subset_seed: options.subset_seed,
            metadata: options.metadata,
        };
        manifest.write_atomic(&dir, options.sync)?;
        Ok(Self {
            dir,
            manifest,
            sync: options.sync,
            chunk: None,
            row: Vec::new(),
        })
    }

    /// Reopens an existing store to append after its last committed step, e.g. after a crash.
    /// Rows written after the last commit are ignored (and overwritten by the next steps); chunk
    /// files beyond the manifest are deleted; a finished last chunk is grown back to full size.
    ///
    /// `sync` is as in [`StoreOptions::with_sync`].
    ///
    /// # Errors
    /// Anything [`StoreReader::open`] reports (a missing, truncated or inconsistent chunk).
    pub fn resume(dir: impl AsRef<Path>, sync: bool) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        // Full validation of the committed data (shapes and lengths; not values).
        let reader = StoreReader::open(&dir)?;
        let mut manifest = reader.manifest().clone();
        drop(reader);
        // Remove chunk files that a crash left behind past the last committed chunk.
        let mut i = manifest.chunks.len();
        loop {
            let names = chunk_names(i, true);
            let mut any = false;
            for name in [
                names.weights,
                names.losses,
                names.gradients.unwrap_or_default(),
            ] {
                let p = dir.join(&name);
                if p.exists() {
                    any = true;
                    std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                }
            }
            if !any {
                break;
            }
            i += 1;
        }
        let mut writer = Self {
            dir,
            sync,
            chunk: None,
            row: Vec::new(),
            manifest: manifest.clone(),
        };
        if let Some(last) = manifest.chunks.last() {
            if last.steps < manifest.chunk_steps {
                writer.chunk = Some(writer.open_chunk(last, false)?);
            }
        }
        if manifest.finished {
            manifest.finished = false;
            writer.manifest = manifest;
            writer.manifest.write_atomic(&writer.dir, sync)?;
        }
        Ok(writer)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest as last committed.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Opens (and, when `create`, creates and preallocates) the files of chunk `entry`, each with
    /// a header for `chunk_steps` rows.
    fn open_chunk(&self, entry: &ChunkEntry, create: bool) -> Result<OpenChunk> {
        let m = &self.manifest;
        let prep = |name: &str, shape: &[usize]| -> Result<(File, u64)> {
            let path = self.dir.join(name);
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(create)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let header = Header::to_bytes(Dtype::F32Le, shape, 0);
            // The loss file is f64; its header differs only in descr.
            let header = if shape.len() == 1 {
                Header::to_bytes(Dtype::F64Le, shape, 0)
            } else {
                header
            };
            let elem = if shape.len() == 1 { 8 } else { 4 };
            let total = header.len() as u64 + shape.iter().product::<usize>() as u64 * elem;
            f.seek(SeekFrom::Start(0))
                .and_then(|_| f.write_all(&header))
                .and_then(|_| {
                    // Grow only: never cut committed rows of an existing file.
                    let len = f.metadata()?.len();
                    if len < total {
                        f.set_len(total)
                    } else {
                        Ok(())
                    }
                })
                .map_err(|e| Error::io(&path, e))?;
            if self.sync {
                f.sync_all().map_err(|e| Error::io(&path, e))?;
            }
            Ok((f, header.len() as u64))
        };
        let c = m.chunk_steps;
        let (weights, weights_offset) = prep(&entry.weights, &[c, m.dim])?;
        let (losses, losses_offset) = prep(&entry.losses, &[c])?;
        let (gradients, gradients_offset) = match &entry.gradients {
            Some(name) => {
                let (f, o) = prep(name, &[c, m.gradient_dim])?;
                (Some(f), o)
            }
            None => (None, 0),
        };
        Ok(OpenChunk {
            weights,
            losses,
            gradients,
            weights_offset,
            losses_offset,
            gradients_offset,
        })
    }

    /// Writes the last chunk's header with its committed row count and cuts the preallocated
    /// tail, so that `np.load` of every chunk gives exactly its committed steps. The store stays
    /// resumable. Dropping a writer without `finish` is also safe (like a crash after a commit).
    ///
    /// # Errors
    /// An I/O error; the store is then still valid (unfinished).
    pub fn finish(mut self) -> Result<()> {
        self.chunk = None;
        let m = self.manifest.clone();
        if let Some(last) = m.chunks.last() {
            let shrink = |name: &str, dtype: Dtype, cols: Option<usize>| -> Result<()> {
                let path = self.dir.join(name);
                let full: Vec<usize> = match cols {
                    Some(d) => vec![m.chunk_steps, d],
                    None => vec![m.chunk_steps],
                };
                let exact: Vec<usize> = match cols {
                    Some(d) => vec![last.steps, d],
                    None => vec![last.steps],
                };
                let full_len = Header::to_bytes(dtype, &full, 0).len();
                let header = Header::to_bytes(dtype, &exact, full_len);
                if header.len() != full_len {
                    // Cannot happen (a smaller row count never lengthens the shape text), but a
                    // header that changed size would shift the data: leave the chunk as it is.
                    return Ok(());
                }
                let per_row = cols.unwrap_or(1) as u64 * dtype.size() as u64;
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                // Header first (still valid for the longer file), then cut the tail.
                f.write_all(&header)
                    .and_then(|_| f.sync_all())
                    .and_then(|_| f.set_len(full_len as u64 + last.steps as u64 * per_row))
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io(&path, e))
            };
            shrink(&last.weights, Dtype::F32Le, Some(m.dim))?;
            shrink(&last.losses, Dtype::F64Le, None)?;
            if let Some(g) = &last.gradients {
                shrink(g, Dtype::F32Le, Some(m.gradient_dim))?;
            }
        }
        self.manifest.finished = true;
        self.manifest.write_atomic(&self.dir, true)
    }

    fn write_row(
        file: &mut File,
        offset: u64,
        bytes: &[u8],
        path: &Path,
        sync: bool,
    ) -> Result<()> {
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.write_all(bytes))
            .and_then(|_| if sync { file.sync_data() } else { Ok(()) })
            .map_err(|e| Error::io(path, e))
    }
}

impl TrajectorySink for StoreWriter {
    /// Appends one step: validates it, writes its rows, syncs them, then commits the manifest.
    ///
    /// # Errors
    /// [`Error::Shape`] for a weight or gradient vector of the wrong length,
    /// [`Error::InvalidData`] naming the step and coordinate of a NaN or infinite value (nothing
    /// is written), [`Error::Io`] naming the file on a write failure (the step is then not
    /// committed; the store stays valid at its previous length).
    fn append(&mut self, step: &Step<'_>) -> Result<()> {
        let m = &self.manifest;
        let t = m.n_steps;
        step.check(t, m.dim, m.gradient_dim)?;

        let chunk_steps = m.chunk_steps;
        let row_in_chunk = t % chunk_steps;
        let mut new_manifest = m.clone();
        if row_in_chunk == 0 {
            let entry = chunk_names(t / chunk_steps, m.gradient_dim > 0);
            self.chunk = Some(self.open_chunk(&entry, true)?);
            new_manifest.chunks.push(entry);
        }
        let Some(last) = new_manifest.chunks.last_mut() else {
            return Err(Error::format(
                self.dir.join(MANIFEST),
                "internal: no chunk to append to",
            ));
        };
        let names = last.clone();
        last.steps += 1;
        new_manifest.n_steps += 1;
        new_manifest.finished = false;

        let sync = self.sync;
        let dir = self.dir.clone();
        let Some(chunk) = self.chunk.as_mut() else {
            return Err(Error::format(
                dir.join(MANIFEST),
                "internal: chunk not open",
            ));
        };
        let r = row_in_chunk as u64;
        self.row.clear();
        self.row
            .extend(step.weights.iter().flat_map(|v| v.to_le_bytes()));
        Self::write_row(
            &mut chunk.weights,
            chunk.weights_offset + r * row_bytes(m.dim),
            &self.row,
            &dir.join(&names.weights),
            sync,
        )?;
        Self::write_row(
            &mut chunk.losses,
            chunk.losses_offset + r * 8,
            &step.loss.to_le_bytes(),
            &dir.join(&names.losses),
            sync,
        )?;
        if let (Some(f), Some(g), Some(name)) = (
            chunk.gradients.as_mut(),
            step.gradient,
            names.gradients.as_ref(),
        ) {
            self.row.clear();
            self.row.extend(g.iter().flat_map(|v| v.to_le_bytes()));
            Self::write_row(
                f,
                chunk.gradients_offset + r * row_bytes(m.gradient_dim),
                &self.row,
                &dir.join(name),
                sync,
            )?;
        }
        new_manifest.write_atomic(&self.dir, sync)?;
        self.manifest = new_manifest;
        Ok(())
    }

    fn len(&self) -> usize {
        self.manifest.n_steps
    }
}

/// Opens a chunk file and checks it against the manifest: dtype, 1-D/2-D shape with `cols`
/// columns, at least `steps` rows, and a file long enough for the committed rows.
fn open_chunk_file(
    dir: &Path,
    name: &str,
    dtype_ok: &[Dtype],
    cols: Option<usize>,
    steps: usize,
    first_step: usize,
) -> Result<NpyArray> {
    let path = dir.join(name);
    let span = format!("steps {first_step}..{}", first_step + steps);
    let mut file = File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::format(
                &path,
                format!("missing chunk file (the manifest lists it for {span})"),
            )
        } else {
            Error::io(&path, e)
        }
    })?;
    let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(65_536)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(&path, e))?;
    let header = Header::parse(&head, &path)?;
    if !dtype_ok.contains(&header.dtype) {
        return Err(Error::format(
            &path,
            format!(
                "dtype {} disagrees with the manifest ({})",
                header.dtype.descr(),
                dtype_ok[0].descr()
            ),
        ));
    }
    let (rows, width) = match (cols, &header.shape[..]) {
        (Some(d), &[r, c]) if c == d => (r, d),
        (None, &[r]) => (r, 1),
        _ => {
            return Err(Error::format(
                &path,
                format!(
                    "shape {:?} disagrees with the manifest, which expects {} ({span})",
                    header.shape,
                    match cols {
                        Some(d) => format!("(rows, {d})"),
                        None => "(rows,)".to_string(),
                    }
                ),
            ))
        }
    };
    if rows < steps {
        return Err(Error::format(
            &path,
            format!(
                "holds {rows} rows but the manifest commits {steps} ({span}); \
                 step {} is missing",
                first_step + rows
            ),
        ));
    }
    if header.fortran_order {
        return Err(Error::format(
            &path,
            format!("chunk is in Fortran (column-major) order ({span}); the store writes C order"),
        ));
    }
    let row = (width * header.dtype.size()) as u64;
    let needed = header.data_offset as u64 + steps as u64 * row;
    if file_len < needed {
        let committed = Header {
            shape: match cols {
                Some(d) => vec![steps, d],
                None => vec![steps],
            },
            len: steps * width,
            ..header.clone()
        };
        return Err(committed.truncated(&path, file_len, first_step, "step"));
    }
    NpyArray::from_parts(file, path, header, file_len)
}

/// A store opened for reading: a [`TrajectorySource`] over the steps committed when it was
/// opened (see the [module docs](self)).
///
/// Opening checks the manifest and every chunk file's header and length against it, so a
/// missing chunk, a truncated chunk or a manifest that disagrees with its chunks is reported up
/// front, naming the file and the steps. Values are checked as they are read: a NaN or
/// infinite weight is an error naming the file, the step and the coordinate
/// ([`TrajectorySource::validate`] reads everything once).
#[derive(Debug)]
pub struct StoreReader {
    dir: PathBuf,
    manifest: Manifest,
    weights: Vec<NpyArray>,
    gradients: Vec<NpyArray>,
    losses: Vec<f64>,
}

impl StoreReader {
    /// Opens the store in `dir` at its currently committed length.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable manifest; [`Error::Format`] naming the file for a bad
    /// manifest, a missing or truncated chunk, a chunk whose dtype or shape disagrees with the
    /// manifest, or a non-finite loss (naming the step).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let mut weights = Vec::with_capacity(manifest.chunks.len());
        let mut gradients = Vec::new();
        let mut losses = Vec::with_capacity(manifest.n_steps);
        let mut first = 0;
        for c in &manifest.chunks {
            weights.push(open_chunk_file(
                &dir,
                &c.weights,
                &[Dtype::F32Le],
                Some(manifest.dim),
                c.steps,
                first,
            )?);
            if let Some(g) = &c.gradients {
                gradients.push(open_chunk_file(
                    &dir,
                    g,
                    &[Dtype::F32Le],
                    Some(manifest.gradient_dim),
                    c.steps,
                    first,
                )?);
            }
            let l = open_chunk_file(
                &dir,
                &c.losses,
                &[Dtype::F64Le, Dtype::F32Le],
                None,
                c.steps,
                first,
            )?;
            {
                let mut chunk = vec![0.0; c.steps];
                l.read_f64(0, &mut chunk)?;
                if let Some(i) = chunk.iter().position(|v| !v.is_finite()) {
                    return Err(Error::format(
                        l.path(),
                        format!("step {}: loss is {}", first + i, chunk[i]),
                    ));
                }
                losses.extend(chunk);
            }
            first += c.steps;
        }
        Ok(Self {
            dir,
            manifest,
            weights,
            gradients,
            losses,
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens the store again, to see the steps a running writer has committed since this reader
    /// was opened (a reader is a snapshot of the manifest it read).
    ///
    /// # Errors
    /// As [`StoreReader::open`].
    pub fn reopen(&self) -> Result<Self> {
        Self::open(&self.dir)
    }

    /// The manifest as read at open.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Free-form metadata of the producer.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.manifest.metadata
    }

    /// Reads `steps` x `coords` of the chunked matrix `arrays` (weights or gradients).
    fn read_chunked(
        &self,
        arrays: &[NpyArray],
        width: usize,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
        what: &str,
    ) -> Result<()> {
        check_block(&steps, &coords, self.manifest.n_steps, width, out.len())?;
        let c = self.manifest.chunk_steps;
        let w = coords.len();
        let mut t = steps.start;
        while t < steps.end {
            let k = t / c;
            let end = steps.end.min((k + 1) * c);
            let a = &arrays[k];
            let o = (t - steps.start) * w;
            let dst = &mut out[o..o + (end - t) * w];
            a.read_rows(
                width,
                t - k * c..end - k * c,
                coords.clone(),
                dst,
                k * c,
                "step",
                what,
            )?;
            t = end;
        }
        Ok(())
    }
}

impl TrajectorySource for StoreReader {
    fn n_steps(&self) -> usize {
        self.manifest.n_steps
    }

    fn dim(&self) -> usize {
        self.manifest.dim
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        self.read_chunked(
            &self.weights,
            self.manifest.dim,
            steps,
            coords,
            out,
            "weight",
        )
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        check_block(&steps, &(0..0), self.manifest.n_steps, self.manifest.dim, 0)?;
        Ok(Some(self.losses[steps].to_vec()))
    }

    fn gradient_dim(&self) -> usize {
        self.manifest.gradient_dim
    }

    fn read_gradients(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        if self.manifest.gradient_dim == 0 {
            return Err(Error::InvalidData(format!(
                "{}: this store has no recorded gradients",
                self.dir.display()
            )));
        }
        self.read_chunked(
            &self.gradients,
            self.manifest.gradient_dim,
            steps,
            coords,
            out,
            "gradient",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunk_steps() {
        assert_eq!(StoreOptions::new(175_258).resolved_chunk_steps(), 382);
        assert_eq!(StoreOptions::new(10).resolved_chunk_steps(), 1000);
        assert_eq!(StoreOptions::new(usize::MAX / 8).resolved_chunk_steps(), 1);
    }

    #[test]
    fn manifest_invariants() {
        let dir = tempfile::tempdir().unwrap();
        let mut w =
            StoreWriter::create(dir.path(), StoreOptions::new(2).with_chunk_steps(3)).unwrap();
        for t in 0..7 {
            w.append(&Step {
                weights: &[t as f32, 1.0],
                loss: 0.5,
                gradient: None,
            })
            .unwrap();
        }
        let m = w.manifest().clone();
        assert_eq!(m.n_steps, 7);
        assert_eq!(
            m.chunks.iter().map(|c| c.steps).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        let p = Path::new("m.json");
        let mut bad = m.clone();
        bad.n_steps = 8;
        assert!(bad.check(p).unwrap_err().to_string().contains("hold 7"));
        let mut bad = m.clone();
        bad.chunks[1].steps = 2;
        assert!(bad.check(p).unwrap_err().to_string().contains("chunk 1"));
        let mut bad = m;
        bad.chunks[0].weights = "../x.npy".into();
        assert!(bad.check(p).is_err());
    }
}

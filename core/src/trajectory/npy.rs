//! NumPy `.npy` files: header parsing and writing, and [`NpyTrajectory`], a memory-mapped 2-D
//! `.npy` (steps x d) read as a [`TrajectorySource`].
//!
//! Only what trajectories need is supported: little-endian `f32` (`<f4`) or `f64` (`<f8`) data in
//! C order, 1-D (losses) or 2-D (weights, gradients). Anything else (Fortran order, integers,
//! big-endian, 3-D arrays, a file shorter than its header promises) is rejected with an error that
//! names the file and the problem. The header is parsed by the crate's one `.npy` header parser
//! (shared with [`crate::io`] and the binned fit, so a malformed file reads the same everywhere),
//! not through ndarray-npy, so that a truncated file can be reported as "holds N bytes, header needs M" with the first
//! missing step, and so that the on-disk store can preallocate chunk files whose header is later
//! rewritten in place (see [`super::store`]).

use super::{check_block, TrajectorySource};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::npy::MAGIC;

/// Element type of an `.npy` array this crate reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// Little-endian IEEE single precision, numpy descr `<f4`.
    F32,
    /// Little-endian IEEE double precision, numpy descr `<f8`.
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// The numpy `descr` string (`"<f4"` or `"<f8"`).
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// Parses a numpy `descr`; `None` for anything but little-endian (or native on a
    /// little-endian machine) `f4`/`f8`.
    pub fn from_descr(descr: &str) -> Option<Dtype> {
        let native_le = cfg!(target_endian = "little");
        match descr {
            "<f4" => Some(Dtype::F32),
            "<f8" => Some(Dtype::F64),
            "=f4" | "f4" if native_le => Some(Dtype::F32),
            "=f8" | "f8" if native_le => Some(Dtype::F64),
            _ => None,
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: Dtype,
    /// Array shape (C order).
    pub shape: Vec<usize>,
    /// Byte offset of the first element (the total header length).
    pub data_offset: usize,
}

impl NpyHeader {
    /// Number of elements the shape describes (1 for a 0-D array).
    pub fn n_elements(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
    }

    /// File length the header implies: `data_offset + n_elements * dtype.size()`.
    pub fn needed_len(&self) -> Option<u64> {
        let n = self.n_elements()?.checked_mul(self.dtype.size())?;
        (self.data_offset as u64).checked_add(n as u64)
    }
}

/// Reads and validates the header at the start of `bytes` (the first bytes of `path`, used only
/// in error messages). Accepts format versions 1.0, 2.0 and 3.0.
///
/// # Errors
/// [`Error::Format`] naming `path` for a missing magic string, an unsupported version, a header
/// that is not a dict with `descr`, `fortran_order` and `shape`, a shape that overflows, Fortran
/// order, or a dtype other than little-endian `f4`/`f8`.
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<NpyHeader> {
    let h = crate::npy::parse(bytes, path)?;
    // The structure is checked by the crate's one parser; what is left is this reader's policy:
    // rows must be contiguous little-endian values, so that a step is one slice of the map.
    if h.big_endian {
        return Err(Error::format(
            path,
            format!(
                "unsupported dtype '{}': expected little-endian float32 ('<f4') or float64                  ('<f8'); convert with a.astype('<f4')",
                h.descr
            ),
        ));
    }
    if h.fortran_order {
        return Err(Error::format(
            path,
            "array is in Fortran (column-major) order; save it in C order \
             (np.ascontiguousarray) so that each step is one contiguous row",
        ));
    }
    let dtype = match h.dtype {
        crate::io::Dtype::F32 => Dtype::F32,
        crate::io::Dtype::F64 => Dtype::F64,
    };
    Ok(NpyHeader {
        dtype,
        shape: h.shape,
        data_offset: h.data_offset,
    })
}

/// Builds a version 1.0 `.npy` header for `dtype` and `shape`, padded with spaces so that its
/// total length is a multiple of 64 bytes (numpy's own alignment) and at least `min_len`.
///
/// Padding to a fixed `min_len` lets the store rewrite the shape in place (the shape text may
/// change length, the header may not).
pub fn header_bytes(dtype: Dtype, shape: &[usize], min_len: usize) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}",
        dtype.descr()
    );
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.max(min_len).div_ceil(64) * 64;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

fn write_array(path: &Path, dtype: Dtype, shape: &[usize], payload: &[u8]) -> Result<()> {
    let mut file = std::io::BufWriter::new(File::create(path).map_err(|e| Error::io(path, e))?);
    file.write_all(&header_bytes(dtype, shape, 0))
        .and_then(|_| file.write_all(payload))
        .and_then(|_| file.flush())
        .map_err(|e| Error::io(path, e))
}

/// Writes a 2-D `f32` array (`rows` x `cols`, row-major `data`) as a C-order `.npy` file.
///
/// # Errors
/// [`Error::Shape`] if `data.len() != rows * cols`; [`Error::Io`] on a write failure.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::npy::{write_npy_f32, NpyTrajectory};
/// use anodiff_core::trajectory::TrajectorySource;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("w.npy");
/// write_npy_f32(&path, 3, 2, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
/// let traj = NpyTrajectory::open(&path).unwrap();
/// assert_eq!((traj.n_steps(), traj.dim()), (3, 2));
/// let mut col = [0.0f32; 3];
/// traj.read_weights(0..3, 1..2, &mut col).unwrap();
/// assert_eq!(col, [1.0, 3.0, 5.0]);
/// ```
pub fn write_npy_f32(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f32]) -> Result<()> {
    check_len(data.len(), rows, cols)?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_array(path.as_ref(), Dtype::F32, &[rows, cols], &bytes)
}

/// Writes a 2-D `f64` array (`rows` x `cols`, row-major `data`) as a C-order `.npy` file.
///
/// # Errors
/// As [`write_npy_f32`].
pub fn write_npy_f64(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f64]) -> Result<()> {
    check_len(data.len(), rows, cols)?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_array(path.as_ref(), Dtype::F64, &[rows, cols], &bytes)
}

/// Writes a 1-D `f64` array (e.g. losses) as a `.npy` file.
///
/// # Errors
/// [`Error::Io`] on a write failure.
pub fn write_npy_1d_f64(path: impl AsRef<Path>, data: &[f64]) -> Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_array(path.as_ref(), Dtype::F64, &[data.len()], &bytes)
}

fn check_len(len: usize, rows: usize, cols: usize) -> Result<()> {
    if rows.checked_mul(cols) != Some(len) {
        return Err(Error::Shape(format!(
            "{len} values cannot fill a {rows} x {cols} array"
        )));
    }
    Ok(())
}

/// Reads the header of the file at `path` and checks that the file is long enough for it.
fn open_checked(path: &Path) -> Result<(File, NpyHeader, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(65_536)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let header = parse_header(&head, path)?;
    Ok((file, header, file_len))
}

/// Error for a data region shorter than the header promises, naming the first missing row.
pub(crate) fn truncated(
    path: &Path,
    header: &NpyHeader,
    file_len: u64,
    row_bytes: u64,
    first_step: usize,
) -> Error {
    let needed = header.needed_len().unwrap_or(u64::MAX);
    let have_rows = file_len
        .saturating_sub(header.data_offset as u64)
        .checked_div(row_bytes)
        .unwrap_or(0);
    Error::format(
        path,
        format!(
            "truncated: file holds {file_len} bytes, header (shape {:?}, {}) needs {needed}; \
             step {} is the first incomplete one",
            header.shape,
            header.dtype.descr(),
            first_step as u64 + have_rows
        ),
    )
}

/// Memory-maps `file`; an empty data region is allowed (`None`).
pub(crate) fn map_file(file: &File, path: &Path, file_len: u64) -> Result<Option<Mmap>> {
    if file_len == 0 {
        return Ok(None);
    }
    // SAFETY: the map is read-only. Like every mmap reader (numpy's included), we rely on no other
    // process truncating the file while it is mapped; the store's writer only ever extends files
    // or rewrites rows that readers are not yet allowed to see.
    let map = unsafe { Mmap::map(file) }.map_err(|e| Error::io(path, e))?;
    // No access-pattern advice: the map serves strided coordinate blocks, for which the default
    // read-around keeps neighbouring pages (the next blocks) cached, whereas "sequential" would
    // drop them; whole-row streaming goes through `pread` and the kernel's read-ahead instead.
    Ok(Some(map))
}

/// Decodes little-endian `dtype` values from `src` into `dst`, returning the index of the first
/// non-finite value, if any. Works in L1-sized pieces: decode, then check the piece while it is
/// still in cache, so the finiteness check costs next to nothing beside the read itself.
pub(crate) fn decode_f32(src: &[u8], dtype: Dtype, dst: &mut [f32]) -> Option<usize> {
    const PIECE: usize = 2048;
    let es = dtype.size();
    let mut any_bad = false;
    for (d, s) in dst.chunks_mut(PIECE).zip(src.chunks(PIECE * es)) {
        match dtype {
            Dtype::F32 => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(4)) {
                    *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            Dtype::F64 => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(8)) {
                    *x =
                        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32;
                }
            }
        }
        any_bad |= any_non_finite(d);
    }
    if any_bad {
        dst.iter().position(|v| !v.is_finite())
    } else {
        None
    }
}

/// Whether `values` holds a NaN or an infinity. NaN and infinities are exactly the values whose
/// exponent bits are all ones; an OR of those comparisons vectorises on baseline x86-64 (SSE2),
/// where `position(!is_finite)` or an unsigned max would not (measured 1.5-2x cheaper).
fn any_non_finite(values: &[f32]) -> bool {
    values.iter().fold(0u32, |acc, v| {
        acc | u32::from(v.to_bits() & 0x7f80_0000 == 0x7f80_0000)
    }) != 0
}

/// Index of the first NaN or infinity in `values`, checked in L1-sized pieces.
fn first_non_finite(values: &[f32]) -> Option<usize> {
    let mut start = 0;
    for piece in values.chunks(2048) {
        if any_non_finite(piece) {
            return piece.iter().position(|v| !v.is_finite()).map(|j| start + j);
        }
        start += piece.len();
    }
    None
}

/// Reads a whole 1-D `.npy` of `f32` or `f64` as `f64` values.
///
/// # Errors
/// A malformed or truncated file, or an array that is not 1-D.
pub fn read_npy_1d(path: impl AsRef<Path>) -> Result<Vec<f64>> {
    let path = path.as_ref();
    let (mut file, header, file_len) = open_checked(path)?;
    if header.shape.len() != 1 {
        return Err(Error::format(
            path,
            format!("expected a 1-D array, found shape {:?}", header.shape),
        ));
    }
    let needed = header.needed_len().unwrap_or(u64::MAX);
    if file_len < needed {
        return Err(Error::format(
            path,
            format!(
                "truncated: file holds {file_len} bytes, header (shape {:?}) needs {needed}",
                header.shape
            ),
        ));
    }
    let mut bytes = Vec::new();
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(header.data_offset as u64))
        .and_then(|_| {
            file.take(needed - header.data_offset as u64)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| Error::io(path, e))?;
    Ok(decode_f64(&bytes, header.dtype))
}

fn decode_f64(bytes: &[u8], dtype: Dtype) -> Vec<f64> {
    match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f64)
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|s| f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
            .collect(),
    }
}

/// A 2-D `.npy` file (steps x d, `f32` or `f64`, C order) read through a memory map.
///
/// Opening reads only the header and checks it against the file length, so opening a 17 GB
/// trajectory is instant. [`TrajectorySource::read_weights`] copies a block of steps x
/// coordinates out of the map: each step is one contiguous row, so a block of coordinates over
/// many steps is one strided read per step. `f64` files are narrowed to `f32` on read. Every
/// value read is checked: a NaN or infinite weight is an [`Error::Format`] naming the file, the
/// step and the coordinate.
///
/// # Examples
/// ```
/// use anodiff_core::trajectory::npy::{write_npy_1d_f64, write_npy_f64, NpyTrajectory};
/// use anodiff_core::trajectory::TrajectorySource;
/// let dir = tempfile::tempdir().unwrap();
/// write_npy_f64(dir.path().join("w.npy"), 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// write_npy_1d_f64(dir.path().join("loss.npy"), &[0.5, 0.25]).unwrap();
/// let traj = NpyTrajectory::open(dir.path().join("w.npy"))
///     .unwrap()
///     .with_losses(dir.path().join("loss.npy"))
///     .unwrap();
/// let mut step1 = [0.0f32; 3];
/// traj.read_weights(1..2, 0..3, &mut step1).unwrap();
/// assert_eq!(step1, [4.0, 5.0, 6.0]);
/// assert_eq!(traj.losses(0..2).unwrap(), Some(vec![0.5, 0.25]));
/// ```
#[derive(Debug)]
pub struct NpyTrajectory {
    array: MappedArray,
    n_steps: usize,
    dim: usize,
    losses: Option<Vec<f64>>,
}

impl NpyTrajectory {
    /// Opens a 2-D `.npy` file of weights (steps x d).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened; [`Error::Format`] naming the file for a
    /// malformed header, an unsupported dtype or Fortran order, an array that is not 2-D, or a
    /// file shorter than its header needs ("file holds N bytes, header needs M").
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (file, header, file_len) = open_checked(&path)?;
        let (n_steps, dim) = match header.shape[..] {
            [n, d] => (n, d),
            _ => {
                return Err(Error::format(
                    &path,
                    format!(
                        "expected a 2-D array of steps x weights, found {}-D shape {:?}",
                        header.shape.len(),
                        header.shape
                    ),
                ))
            }
        };
        let needed = header
            .needed_len()
            .ok_or_else(|| Error::format(&path, format!("shape {:?} overflows", header.shape)))?;
        if file_len < needed {
            let row = (dim * header.dtype.size()) as u64;
            return Err(truncated(&path, &header, file_len, row, 0));
        }
        Ok(Self {
            array: MappedArray::new(file, path, header, file_len)?,
            n_steps,
            dim,
            losses: None,
        })
    }

    /// Attaches per-step losses from a 1-D `.npy` (`f32` or `f64`) with one value per step.
    ///
    /// # Errors
    /// A malformed file, or a length different from the number of steps.
    pub fn with_losses(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let losses = read_npy_1d(path)?;
        if losses.len() != self.n_steps {
            return Err(Error::format(
                path,
                format!(
                    "holds {} losses but {} has {} steps",
                    losses.len(),
                    self.array.path.display(),
                    self.n_steps
                ),
            ));
        }
        self.losses = Some(losses);
        Ok(self)
    }

    /// The file this trajectory was opened from.
    pub fn path(&self) -> &Path {
        &self.array.path
    }

    /// Element type stored in the file.
    pub fn dtype(&self) -> Dtype {
        self.array.header.dtype
    }
}

/// Rows are read with `pread` rather than through the map when each row's run of requested
/// bytes is at least this long: the kernel's read-ahead then works exactly as for `cat`, and no
/// page faults are taken. Narrow coordinate blocks (strided access) use the map.
const PREAD_MIN_RUN: usize = 32 << 10;
/// Bytes per `pread` when whole rows are requested (several adjacent rows per call).
const PREAD_BUF: usize = 1 << 20;

/// One `.npy` array on disk: the open file, its header and a read-only map of it.
#[derive(Debug)]
pub(crate) struct MappedArray {
    pub(crate) path: PathBuf,
    pub(crate) header: NpyHeader,
    #[cfg_attr(not(unix), allow(dead_code))]
    file: File,
    map: Option<Mmap>,
}

impl MappedArray {
    pub(crate) fn new(file: File, path: PathBuf, header: NpyHeader, file_len: u64) -> Result<Self> {
        let map = map_file(&file, &path, file_len)?;
        Ok(Self {
            path,
            header,
            file,
            map,
        })
    }

    /// The mapped bytes (empty for an empty file).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Copies `rows` x `coords` of the row-major matrix of `dim` columns into `out`, validating
    /// finiteness. `first_step` is the global step of row 0 (for messages); `what` names the
    /// values ("weight", "gradient").
    pub(crate) fn read_rows(
        &self,
        dim: usize,
        rows: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
        first_step: usize,
        what: &str,
    ) -> Result<()> {
        let width = coords.len();
        if width == 0 || rows.is_empty() {
            return Ok(());
        }
        let dtype = self.header.dtype;
        let es = dtype.size();
        let run = width * es;
        let report = |row: usize, j: usize, v: f32| {
            Error::format(
                &self.path,
                format!(
                    "step {}, coordinate {}: {what} is {v}",
                    first_step + row,
                    coords.start + j
                ),
            )
        };
        #[cfg(unix)]
        if run >= PREAD_MIN_RUN {
            use std::os::unix::fs::FileExt;
            thread_local! {
                static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            // Whole rows are adjacent in the file: read several per call.
            let per_read = if width == dim {
                (PREAD_BUF / run).max(1)
            } else {
                1
            };
            if width != dim && rows.len() > 1 {
                // Runs of a coordinate panel are strided: the kernel's read-ahead does not see a
                // sequential pattern, and one synchronous `pread` after another would wait for
                // the disk once per step. Announcing every run first queues all their reads at
                // once (asynchronously), so a cold panel streams at disk speed. Advice only:
                // failures are harmless.
                if let Some(map) = &self.map {
                    for row in rows.clone() {
                        let offset = self.header.data_offset + (row * dim + coords.start) * es;
                        let _ = map.advise_range(memmap2::Advice::WillNeed, offset, run);
                    }
                }
            }
            return BUF.with(|buf| {
                let mut buf = buf.borrow_mut();
                let mut row = rows.start;
                while row < rows.end {
                    let n = per_read.min(rows.end - row);
                    let len = n * run;
                    let offset = (self.header.data_offset + (row * dim + coords.start) * es) as u64;
                    let eof = |e: std::io::Error| {
                        if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            Error::format(
                                &self.path,
                                format!(
                                    "step {}: data ends before this step (file shrank?)",
                                    first_step + row
                                ),
                            )
                        } else {
                            Error::io(&self.path, e)
                        }
                    };
                    let o = (row - rows.start) * width;
                    let dst = &mut out[o..o + n * width];
                    if dtype == Dtype::F32 && cfg!(target_endian = "little") {
                        // The file's bytes are the f32 values: read them straight into `out`
                        // (saves a copy), then check them in place.
                        // SAFETY: any bytes are a valid f32, u8 has alignment 1, and the byte
                        // view covers exactly `dst`, which it borrows mutably and exclusively.
                        let raw = unsafe {
                            std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), len)
                        };
                        self.file.read_exact_at(raw, offset).map_err(eof)?;
                        if let Some(j) = first_non_finite(dst) {
                            return Err(report(row + j / width, j % width, dst[j]));
                        }
                    } else {
                        if buf.len() < len {
                            buf.resize(len, 0);
                        }
                        self.file
                            .read_exact_at(&mut buf[..len], offset)
                            .map_err(eof)?;
                        if let Some(j) = decode_f32(&buf[..len], dtype, dst) {
                            return Err(report(row + j / width, j % width, dst[j]));
                        }
                    }
                    row += n;
                }
                Ok(())
            });
        }
        let bytes = self.bytes();
        for (i, row) in rows.enumerate() {
            let start = self.header.data_offset + (row * dim + coords.start) * es;
            let src = bytes.get(start..start + run).ok_or_else(|| {
                Error::format(
                    &self.path,
                    format!(
                        "step {}: data ends before this step (file shrank?)",
                        first_step + row
                    ),
                )
            })?;
            let dst = &mut out[i * width..(i + 1) * width];
            if let Some(j) = decode_f32(src, dtype, dst) {
                return Err(report(row, j, dst[j]));
            }
        }
        Ok(())
    }
}

impl TrajectorySource for NpyTrajectory {
    fn n_steps(&self) -> usize {
        self.n_steps
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        check_block(&steps, &coords, self.n_steps, self.dim, out.len())?;
        self.array
            .read_rows(self.dim, steps, coords, out, 0, "weight")
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        check_block(&steps, &(0..0), self.n_steps, self.dim, 0)?;
        Ok(self.losses.as_ref().map(|l| l[steps].to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_alignment() {
        let h = header_bytes(Dtype::F32, &[24_000, 175_258], 0);
        assert_eq!(h.len() % 64, 0);
        let p = parse_header(&h, Path::new("x.npy")).unwrap();
        assert_eq!(p.shape, vec![24_000, 175_258]);
        assert_eq!(p.dtype, Dtype::F32);
        assert_eq!(p.data_offset, h.len());
        let h1 = header_bytes(Dtype::F64, &[7], 256);
        assert_eq!(h1.len(), 256);
        assert_eq!(parse_header(&h1, Path::new("x")).unwrap().shape, vec![7]);
    }

    #[test]
    fn parses_numpy_written_header_variants() {
        // Exactly what numpy 1.x/2.x writes (keys sorted, trailing comma, newline padding).
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let len = 118usize;
        b.extend_from_slice(&(len as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.resize(10 + len - 1, b' ');
        b.push(b'\n');
        let h = parse_header(&b, Path::new("x")).unwrap();
        assert_eq!(
            (h.dtype, h.shape.clone(), h.data_offset),
            (Dtype::F64, vec![3, 4], 128)
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let p = Path::new("bad.npy");
        let mk = |d: &str| {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(d.len() as u16).to_le_bytes());
            b.extend_from_slice(d.as_bytes());
            b
        };
        let e = parse_header(
            &mk("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad.npy") && e.contains("<i8"), "{e}");
        let e = parse_header(
            &mk("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }"),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("Fortran"), "{e}");
        let e = parse_header(
            &mk("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }"),
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(">f4"), "{e}");
        assert!(parse_header(b"PK\x03\x04", p).is_err());
        let short = &mk("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }")[..20];
        assert!(parse_header(short, p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
    }

    #[test]
    fn decode_reports_first_non_finite() {
        let src: Vec<u8> = [1.0f32, f32::NAN, f32::INFINITY]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut dst = [0.0f32; 3];
        assert_eq!(decode_f32(&src, Dtype::F32, &mut dst), Some(1));
        assert_eq!(decode_f32(&src[..4], Dtype::F32, &mut dst[..1]), None);
    }
}

//! NumPy `.npy` files: the crate's one element type ([`Dtype`], byte order included), header
//! parser and writer ([`Header`]), memory-mapped reader ([`NpyArray`]) and writers.
//!
//! Every `.npy` reader of the crate goes through this module: [`crate::io`] (flat samples),
//! [`crate::trajectory::NpyTrajectory`] and the on-disk store (memory-mapped rows), and
//! [`crate::fit::Histogram::from_npy`] (streamed histograms). The format (magic string, format
//! versions 1.0, 2.0 and 3.0, the header dictionary, dtype, shape, data size) is checked here,
//! once, so a malformed file is reported in the same words whatever reads it. Readers differ
//! only in policy: the trajectory readers need C order (a step is one contiguous row), the flat
//! readers accept Fortran order and any number of dimensions.
//!
//! Supported elements are IEEE-754 `float32` and `float64` in either byte order (`<f4`, `>f4`,
//! `<f8`, `>f8`, and the native-order spellings `=f4`, `f8`, ...). Writers produce what
//! `numpy.save` produces for a C-order little-endian array: a version 1.0 header padded to a
//! multiple of 64 bytes.
//!
//! # Examples
//! ```
//! use anodiff_core::npy::{self, Dtype, NpyArray};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a.npy");
//! npy::write_f64(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! let a = NpyArray::open(&path).unwrap();
//! assert_eq!((a.dtype(), a.shape()), (Dtype::F64Le, &[2usize, 3][..]));
//! assert_eq!(a.to_array2().unwrap()[[1, 0]], 4.0);
//! ```

use crate::error::{Error, Result};
use memmap2::Mmap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The 6-byte magic string that starts every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Element type of a `.npy` array: width and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// Little-endian IEEE-754 binary32, descr `<f4`.
    F32Le,
    /// Big-endian IEEE-754 binary32, descr `>f4`.
    F32Be,
    /// Little-endian IEEE-754 binary64, descr `<f8`.
    F64Le,
    /// Big-endian IEEE-754 binary64, descr `>f8`.
    F64Be,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        if self.is_f32() {
            4
        } else {
            8
        }
    }

    /// Whether the elements are binary32.
    pub fn is_f32(self) -> bool {
        matches!(self, Dtype::F32Le | Dtype::F32Be)
    }

    /// Whether the elements are stored big-endian.
    pub fn is_big_endian(self) -> bool {
        matches!(self, Dtype::F32Be | Dtype::F64Be)
    }

    /// NumPy's name of the element type, `float32` or `float64`.
    pub fn name(self) -> &'static str {
        if self.is_f32() {
            "float32"
        } else {
            "float64"
        }
    }

    /// The `descr` string this crate writes: `<f4`, `>f4`, `<f8` or `>f8`.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::F32Le => "<f4",
            Dtype::F32Be => ">f4",
            Dtype::F64Le => "<f8",
            Dtype::F64Be => ">f8",
        }
    }

    /// Parses a NumPy `descr` string (`<f8`, `>f4`, `=f8`, `f4`, ...; no prefix or `=` is the
    /// machine's order).
    ///
    /// # Errors
    /// A message naming the descr and what it holds (integers, text, Python objects, ...) for
    /// anything but float32 and float64.
    ///
    /// # Examples
    /// ```
    /// use anodiff_core::npy::Dtype;
    /// assert_eq!(Dtype::from_descr(">f8"), Ok(Dtype::F64Be));
    /// assert!(Dtype::from_descr("<i8").unwrap_err().contains("integers"));
    /// ```
    pub fn from_descr(descr: &str) -> std::result::Result<Dtype, String> {
        let native_big = cfg!(target_endian = "big");
        let (big, code) = match descr.chars().next() {
            Some('<') => (Some(false), &descr[1..]),
            Some('>') => (Some(true), &descr[1..]),
            Some('=') => (Some(native_big), &descr[1..]),
            Some('|') => (None, &descr[1..]),
            _ => (Some(native_big), descr),
        };
        let f32 = match code {
            "f4" => true,
            "f8" => false,
            _ => {
                let what = match code.chars().next() {
                    Some('O') => "Python objects (pickled)",
                    Some('U') | Some('S') | Some('a') => "text (a string array)",
                    Some('i') | Some('u') => "integers",
                    Some('b') => "booleans",
                    Some('f') => "floating point of an unsupported width",
                    Some('c') => "complex numbers",
                    _ => "an unsupported type",
                };
                return Err(format!(
                    "non-numeric or unsupported .npy dtype '{descr}' ({what}): only float32 and \
                     float64 are read; convert with numpy.save(path, a.astype(numpy.float64))"
                ));
            }
        };
        let big = big.ok_or_else(|| format!("dtype '{descr}' gives no byte order"))?;
        Ok(match (f32, big) {
            (true, false) => Dtype::F32Le,
            (true, true) => Dtype::F32Be,
            (false, false) => Dtype::F64Le,
            (false, true) => Dtype::F64Be,
        })
    }
}

impl fmt::Display for Dtype {
    /// `float32`, or `float32 (big-endian)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if self.is_big_endian() {
            f.write_str(" (big-endian)")?;
        }
        Ok(())
    }
}

/// A structurally valid `.npy` header with a float32 or float64 dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Element type and byte order.
    pub dtype: Dtype,
    /// Whether the array is stored column-major.
    pub fortran_order: bool,
    /// The array's shape; `[]` for a 0-d array holding one value.
    pub shape: Vec<usize>,
    /// Byte offset of the first element (the total header length).
    pub data_offset: usize,
    /// Number of elements (product of `shape`, checked for overflow).
    pub len: usize,
}

impl Header {
    /// Parses and validates the header at the start of `bytes` (the first bytes of the file
    /// `path`, which only names it in messages). Accepts format versions 1.0, 2.0 and 3.0.
    ///
    /// # Errors
    /// [`Error::Format`] naming `path` for a missing magic string, an unsupported version, a
    /// header shorter than its length field says (with both byte counts), a header that is not
    /// a NumPy header dictionary, a dtype other than float32/float64 (naming the dtype found),
    /// or a shape whose byte count overflows.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Header> {
        let fail = |reason: String| Error::format(path, reason);
        if !bytes.starts_with(MAGIC) {
            return Err(fail(
                "not a .npy file: it does not start with the NumPy magic string \\x93NUMPY \
                 (write it with numpy.save, or give a text file with one number per line)"
                    .into(),
            ));
        }
        if bytes.len() < 8 {
            return Err(fail(format!(
                "truncated .npy header: the file holds {} bytes, the format version needs 8",
                bytes.len()
            )));
        }
        let (major, minor) = (bytes[6], bytes[7]);
        let header_start = match major {
            1 => 10,
            2 | 3 => 12,
            _ => {
                return Err(fail(format!(
                    "unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are read)"
                )))
            }
        };
        if bytes.len() < header_start {
            return Err(fail(format!(
                "truncated .npy header: the file holds {} bytes, the header length field needs \
                 {header_start}",
                bytes.len()
            )));
        }
        let header_len = if header_start == 10 {
            u16::from_le_bytes([bytes[8], bytes[9]]) as usize
        } else {
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        };
        let data_offset = header_start
            .checked_add(header_len)
            .ok_or_else(|| fail("corrupt .npy header length".into()))?;
        if bytes.len() < data_offset {
            return Err(fail(format!(
                "truncated .npy header: the file holds {} bytes, the header needs {data_offset}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(&bytes[header_start..data_offset])
            .map_err(|_| fail("corrupt .npy header: not ASCII/UTF-8 text".into()))?;
        let dict =
            parse_header_dict(text).map_err(|r| fail(format!("corrupt .npy header: {r}")))?;
        let dtype = Dtype::from_descr(&dict.descr).map_err(fail)?;
        let len = dict
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|n| {
                n.checked_mul(dtype.size())
                    .and_then(|b| b.checked_add(data_offset))
                    .is_some()
            })
            .ok_or_else(|| {
                fail(format!(
                    "corrupt .npy header: shape {} overflows",
                    shape_string(&dict.shape)
                ))
            })?;
        Ok(Header {
            dtype,
            fortran_order: dict.fortran_order,
            shape: dict.shape,
            data_offset,
            len,
        })
    }

    /// The header bytes of a C-order array of `dtype` and `shape`: format version 1.0, padded
    /// with spaces so that its length is a multiple of 64 bytes (NumPy's own alignment) and at
    /// least `min_len`.
    ///
    /// A fixed `min_len` lets a writer rewrite the shape in place later (the shape text may
    /// change length, the header may not).
    pub fn to_bytes(dtype: Dtype, shape: &[usize], min_len: usize) -> Vec<u8> {
        let dict = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
            dtype.descr(),
            shape_string(shape)
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

    /// The shape written as NumPy prints it, e.g. `(3, 4)` or `(5,)`.
    pub fn shape_string(&self) -> String {
        shape_string(&self.shape)
    }

    /// File length the header implies: `data_offset + len * dtype.size()` (cannot overflow:
    /// [`Header::parse`] checks it).
    pub fn file_len(&self) -> u64 {
        self.data_offset as u64 + self.len as u64 * self.dtype.size() as u64
    }

    /// Checks that a file of `file_len` bytes holds exactly the data this header announces.
    ///
    /// # Errors
    /// [`Error::Format`] naming `path` for a truncated file (both byte counts, the number of
    /// values present and, for a 2-D array, the first incomplete row) or for bytes after the
    /// data.
    pub fn check_file_len(&self, file_len: u64, path: &Path) -> Result<()> {
        let needed = self.file_len();
        if file_len < needed {
            return Err(self.truncated(path, file_len, 0, "row"));
        }
        if file_len > needed {
            return Err(Error::format(
                path,
                format!(
                    "corrupt .npy file: the header says {} {} values (shape {}), but {} bytes \
                     follow the data",
                    self.len,
                    self.dtype,
                    self.shape_string(),
                    file_len - needed
                ),
            ));
        }
        Ok(())
    }

    /// The error for a file of `file_len` bytes, shorter than this header needs. For a 2-D
    /// array it names the first incomplete row as `{row_name} {first_row + k}`.
    pub(crate) fn truncated(
        &self,
        path: &Path,
        file_len: u64,
        first_row: usize,
        row_name: &str,
    ) -> Error {
        let size = self.dtype.size() as u64;
        let data = file_len.saturating_sub(self.data_offset as u64);
        let whole = data / size;
        let stray = if !data.is_multiple_of(size) {
            format!(" and {} stray bytes", data % size)
        } else {
            String::new()
        };
        let row = match self.shape[..] {
            [_, d] if d > 0 => format!(
                "; {row_name} {} is the first incomplete one",
                first_row as u64 + whole / d as u64
            ),
            _ => String::new(),
        };
        Error::format(
            path,
            format!(
                "truncated .npy file: it holds {file_len} bytes and the header (shape {}, {}) \
                 needs {}: {whole} of the {} values{stray} are present{row}",
                self.shape_string(),
                self.dtype,
                self.file_len(),
                self.len
            ),
        )
    }
}

/// A shape written as NumPy prints it, e.g. `(3, 4)` or `(5,)`.
pub(crate) fn shape_string(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Decodes `dst.len()` elements of `dtype` from `src` into `dst`, widening float32 to f64.
///
/// # Panics
/// If `src` holds fewer than `dst.len()` elements.
pub fn decode_f64(dtype: Dtype, src: &[u8], dst: &mut [f64]) {
    let src = &src[..dst.len() * dtype.size()];
    match dtype {
        Dtype::F64Le => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(8)) {
                *o = f64::from_le_bytes(c.try_into().expect("chunk of 8"));
            }
        }
        Dtype::F64Be => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(8)) {
                *o = f64::from_be_bytes(c.try_into().expect("chunk of 8"));
            }
        }
        Dtype::F32Le => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *o = f64::from(f32::from_le_bytes(c.try_into().expect("chunk of 4")));
            }
        }
        Dtype::F32Be => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *o = f64::from(f32::from_be_bytes(c.try_into().expect("chunk of 4")));
            }
        }
    }
}

/// Decodes elements of `dtype` from `src` into `dst` as f32 (float64 rounded to nearest) and
/// returns the index of the first non-finite value, if any. Works in L1-sized pieces: decode,
/// then check the piece while it is still in cache, so the finiteness check costs next to
/// nothing beside the read itself.
pub(crate) fn decode_f32(dtype: Dtype, src: &[u8], dst: &mut [f32]) -> Option<usize> {
    const PIECE: usize = 2048;
    let es = dtype.size();
    let mut any_bad = false;
    for (d, s) in dst.chunks_mut(PIECE).zip(src.chunks(PIECE * es)) {
        match dtype {
            Dtype::F32Le => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(4)) {
                    *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            Dtype::F32Be => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(4)) {
                    *x = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            Dtype::F64Le => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(8)) {
                    *x = f64::from_le_bytes(b.try_into().expect("chunk of 8")) as f32;
                }
            }
            Dtype::F64Be => {
                for (x, b) in d.iter_mut().zip(s.chunks_exact(8)) {
                    *x = f64::from_be_bytes(b.try_into().expect("chunk of 8")) as f32;
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

/// Rows are read with `pread` rather than through the map when each row's run of requested
/// bytes is at least this long: the kernel's read-ahead then works exactly as for `cat`, and no
/// page faults are taken. Narrow coordinate blocks (strided access) use the map.
const PREAD_MIN_RUN: usize = 32 << 10;
/// Bytes per `pread` when whole rows are requested (several adjacent rows per call).
const PREAD_BUF: usize = 1 << 20;

/// A float32 or float64 `.npy` file (either byte order, any shape) read through a read-only
/// memory map.
///
/// Opening reads only the header and checks it against the file length (a truncated file fails
/// there, naming both byte counts), so opening a 17 GB file is instant. Values are then read
/// flat in storage order ([`read_f64`](NpyArray::read_f64), [`for_each_chunk`](
/// NpyArray::for_each_chunk), [`par_map_chunks`](NpyArray::par_map_chunks), [`values`](
/// NpyArray::values)), as an `ndarray` ([`to_array1`](NpyArray::to_array1),
/// [`to_array2`](NpyArray::to_array2)), or as blocks of rows x columns of a 2-D C-order array
/// narrowed to f32 ([`read_block`](NpyArray::read_block)). The operating system pages the map
/// in and out, so resident memory stays bounded whatever the file size.
///
/// # Examples
/// ```
/// use anodiff_core::npy::{self, NpyArray};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("w.npy");
/// npy::write_f32(&path, &[3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
/// let a = NpyArray::open(&path).unwrap();
/// let mut col = [0.0f32; 3];
/// a.read_block(0..3, 1..2, &mut col).unwrap();
/// assert_eq!(col, [1.0, 3.0, 5.0]);
/// let mut sum = 0.0;
/// a.for_each_chunk(4, |_start, chunk| sum += chunk.iter().sum::<f64>());
/// assert_eq!(sum, 15.0);
/// ```
#[derive(Debug)]
pub struct NpyArray {
    path: PathBuf,
    header: Header,
    #[cfg_attr(not(unix), allow(dead_code))]
    file: File,
    map: Option<Mmap>,
}

impl NpyArray {
    /// Opens `path` and checks its header and that the file holds exactly the data the header
    /// announces.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened or mapped; [`Error::Format`] naming the file
    /// for an empty file, anything [`Header::parse`] rejects, a truncated file and bytes after
    /// the data ([`Header::check_file_len`]).
    pub fn open(path: impl AsRef<Path>) -> Result<NpyArray> {
        let path = path.as_ref();
        let (file, header, file_len) = read_header(path)?;
        header.check_file_len(file_len, path)?;
        NpyArray::from_parts(file, path.to_path_buf(), header, file_len)
    }

    /// An array over an open `file` whose `header` the caller has checked against `file_len`
    /// (the store opens chunk files whose header describes more rows than are committed).
    pub(crate) fn from_parts(
        file: File,
        path: PathBuf,
        header: Header,
        file_len: u64,
    ) -> Result<NpyArray> {
        let map = if file_len == 0 {
            None
        } else {
            // SAFETY: the map is read-only. Like every mmap reader (numpy's included), we rely
            // on no other process truncating the file while it is mapped (reads would fault);
            // the store's writer only ever extends files or rewrites rows that readers are not
            // yet allowed to see.
            Some(unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?)
        };
        // No access-pattern advice: the map serves strided coordinate blocks, for which the
        // default read-around keeps neighbouring pages (the next blocks) cached, whereas
        // "sequential" would drop them; whole-row streaming goes through `pread` and the
        // kernel's read-ahead instead.
        Ok(NpyArray {
            path,
            header,
            file,
            map,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Element type and byte order stored in the file.
    pub fn dtype(&self) -> Dtype {
        self.header.dtype
    }

    /// The array's shape as stored in the header.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// Number of values (product of the shape).
    pub fn len(&self) -> usize {
        self.header.len
    }

    /// Whether the array holds no values.
    pub fn is_empty(&self) -> bool {
        self.header.len == 0
    }

    /// The mapped data section (empty for an empty array).
    fn data(&self) -> &[u8] {
        match &self.map {
            Some(m) => m.get(self.header.data_offset..).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Decodes the values `[start, start + out.len())` in storage order into `out` (float32
    /// widened to f64).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the range runs past the end of the array.
    pub fn read_f64(&self, start: usize, out: &mut [f64]) -> Result<()> {
        if start.checked_add(out.len()).is_none_or(|e| e > self.len()) {
            return Err(Error::param(
                "start",
                format!(
                    "range {start}..{} runs past the {} values of {}",
                    start.saturating_add(out.len()),
                    self.len(),
                    self.path.display()
                ),
            ));
        }
        let size = self.dtype().size();
        decode_f64(self.dtype(), &self.data()[start * size..], out);
        Ok(())
    }

    /// Calls `f(start, chunk)` for consecutive chunks of at most `chunk_len` values (decoded to
    /// f64, storage order); `start` is the flat index of the chunk's first value. A `chunk_len`
    /// of 0 is treated as 1.
    pub fn for_each_chunk<F: FnMut(usize, &[f64])>(&self, chunk_len: usize, mut f: F) {
        let chunk_len = chunk_len.max(1);
        let size = self.dtype().size();
        let mut buf = vec![0.0; chunk_len.min(self.len())];
        let mut start = 0;
        while start < self.len() {
            let m = chunk_len.min(self.len() - start);
            decode_f64(self.dtype(), &self.data()[start * size..], &mut buf[..m]);
            f(start, &buf[..m]);
            start += m;
        }
    }

    /// Like [`for_each_chunk`](NpyArray::for_each_chunk) but hands out float32 values as
    /// stored, without widening, for binning by the float32 bit pattern.
    ///
    /// # Errors
    /// [`Error::InvalidData`] if the file holds float64 values (narrowing would lose digits).
    pub fn for_each_chunk_f32<F: FnMut(usize, &[f32])>(
        &self,
        chunk_len: usize,
        mut f: F,
    ) -> Result<()> {
        if !self.dtype().is_f32() {
            return Err(Error::InvalidData(format!(
                "{} holds {} values, not float32",
                self.path.display(),
                self.dtype()
            )));
        }
        let chunk_len = chunk_len.max(1);
        let mut buf = vec![0.0f32; chunk_len.min(self.len())];
        let mut start = 0;
        while start < self.len() {
            let m = chunk_len.min(self.len() - start);
            decode_f32(self.dtype(), &self.data()[start * 4..], &mut buf[..m]);
            f(start, &buf[..m]);
            start += m;
        }
        Ok(())
    }

    /// Maps `f(start, chunk)` over chunks of at most `chunk_len` values in parallel (rayon) and
    /// returns the results in chunk order; each worker decodes into its own buffer. Use it for
    /// one-pass reductions (histograms, compensated sums) that merge afterwards.
    pub fn par_map_chunks<T, F>(&self, chunk_len: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, &[f64]) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        let chunk_len = chunk_len.max(1);
        let size = self.dtype().size();
        let n_chunks = self.len().div_ceil(chunk_len);
        (0..n_chunks)
            .into_par_iter()
            .map_init(
                || vec![0.0; chunk_len.min(self.len())],
                |buf, c| {
                    let start = c * chunk_len;
                    let m = chunk_len.min(self.len() - start);
                    decode_f64(self.dtype(), &self.data()[start * size..], &mut buf[..m]);
                    f(start, &buf[..m])
                },
            )
            .collect()
    }

    /// Every value in storage order, widened to f64, NaN and infinity included.
    pub fn values(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        decode_f64(self.dtype(), self.data(), &mut out);
        out
    }

    /// Every value in storage order, widened to f64, rejecting NaN and infinity.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file and the flat index of the first non-finite value.
    pub fn finite_values(&self) -> Result<Vec<f64>> {
        let out = self.values();
        check_finite(&out, &self.path)?;
        Ok(out)
    }

    /// The array as a 1-D `ndarray`.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file if the array is not 1-D.
    pub fn to_array1(&self) -> Result<ndarray::Array1<f64>> {
        self.expect_ndim(1)?;
        Ok(ndarray::Array1::from(self.values()))
    }

    /// The array as a 2-D `ndarray` (C or Fortran order, as stored).
    ///
    /// # Errors
    /// [`Error::Format`] naming the file if the array is not 2-D.
    pub fn to_array2(&self) -> Result<ndarray::Array2<f64>> {
        use ndarray::ShapeBuilder;
        self.expect_ndim(2)?;
        let (r, c) = (self.shape()[0], self.shape()[1]);
        let shape = if self.header.fortran_order {
            (r, c).f()
        } else {
            (r, c).into_shape_with_order()
        };
        ndarray::Array2::from_shape_vec(shape, self.values())
            .map_err(|e| Error::format(&self.path, format!("shape ({r}, {c}): {e}")))
    }

    /// Checks that the array has `ndim` dimensions.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file, the dimensions expected and the shape found.
    pub fn expect_ndim(&self, ndim: usize) -> Result<()> {
        if self.shape().len() != ndim {
            return Err(Error::format(
                &self.path,
                format!(
                    "expected a {ndim}-D array, found {}-D shape {}",
                    self.shape().len(),
                    self.header.shape_string()
                ),
            ));
        }
        Ok(())
    }

    /// Copies rows `rows` x columns `cols` of a 2-D C-order array into `out` (row-major,
    /// narrowed to f32), checking that every value is finite.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file for an array that is not 2-D or is in Fortran order,
    /// and the row and column of a NaN or infinite value; [`Error::Shape`] for a block outside
    /// the array or an `out` of the wrong length.
    pub fn read_block(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        self.expect_ndim(2)?;
        self.expect_c_order("each row is read as one contiguous run")?;
        let (n, d) = (self.shape()[0], self.shape()[1]);
        crate::trajectory::check_block(&rows, &cols, n, d, out.len())?;
        self.read_rows(d, rows, cols, out, 0, "row", "value")
    }

    /// Checks that the array is stored in C (row-major) order; `why` ends the message.
    ///
    /// # Errors
    /// [`Error::Format`] naming the file for a Fortran-order array.
    pub fn expect_c_order(&self, why: &str) -> Result<()> {
        if self.header.fortran_order {
            return Err(Error::format(
                &self.path,
                format!(
                    "the array is in Fortran (column-major) order, and {why}; save it in C \
                     order (numpy.ascontiguousarray)"
                ),
            ));
        }
        Ok(())
    }

    /// Copies `rows` x `coords` of the row-major matrix of `dim` columns into `out`, validating
    /// finiteness. `first_row` is the global index of row 0 (for messages); `row_name` and
    /// `what` name the rows and the values ("step", "weight").
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read_rows(
        &self,
        dim: usize,
        rows: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
        first_row: usize,
        row_name: &str,
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
            let col = if row_name == "step" {
                "coordinate"
            } else {
                "column"
            };
            Error::format(
                &self.path,
                format!(
                    "{row_name} {}, {col} {}: {what} is {v}",
                    first_row + row,
                    coords.start + j
                ),
            )
        };
        let shrank = |row: usize| {
            Error::format(
                &self.path,
                format!(
                    "{row_name} {}: data ends before this {row_name} (file shrank?)",
                    first_row + row
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
                // the disk once per row. Announcing every run first queues all their reads at
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
                            shrank(row)
                        } else {
                            Error::io(&self.path, e)
                        }
                    };
                    let o = (row - rows.start) * width;
                    let dst = &mut out[o..o + n * width];
                    if dtype == Dtype::F32Le && cfg!(target_endian = "little") {
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
                        if let Some(j) = decode_f32(dtype, &buf[..len], dst) {
                            return Err(report(row + j / width, j % width, dst[j]));
                        }
                    }
                    row += n;
                }
                Ok(())
            });
        }
        let bytes = self.map.as_deref().unwrap_or(&[]);
        for (i, row) in rows.enumerate() {
            let start = self.header.data_offset + (row * dim + coords.start) * es;
            let src = bytes.get(start..start + run).ok_or_else(|| shrank(row))?;
            let dst = &mut out[i * width..(i + 1) * width];
            if let Some(j) = decode_f32(dtype, src, dst) {
                return Err(report(row, j, dst[j]));
            }
        }
        Ok(())
    }
}

/// Opens `path` and parses its header; returns the file, the header and the file's length.
pub(crate) fn read_header(path: &Path) -> Result<(File, Header, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if file_len == 0 {
        return Err(Error::format(path, "empty file (0 bytes): no .npy header"));
    }
    // NumPy caps version 1.0 headers at 64 KiB; longer (version 2.0/3.0) headers hold
    // structured dtypes, which are not read anyway.
    let mut head = Vec::with_capacity(4096);
    (&mut file)
        .take(65_536 + 12)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let header = Header::parse(&head, path)?;
    Ok((file, header, file_len))
}

/// The error for the first NaN or infinity of `values` read flat from `path`, if any.
pub(crate) fn check_finite(values: &[f64], path: &Path) -> Result<()> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            format!(
                "value at flat index {i} is {} (NaN and infinity are not allowed in data)",
                values[i]
            ),
        ));
    }
    Ok(())
}

fn check_shape(len: usize, shape: &[usize]) -> Result<()> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n != Some(len) {
        return Err(Error::Shape(format!(
            "{len} values cannot fill an array of shape {}",
            shape_string(shape)
        )));
    }
    Ok(())
}

fn write_bytes(path: &Path, dtype: Dtype, shape: &[usize], payload: &[u8]) -> Result<()> {
    let mut file = std::io::BufWriter::new(File::create(path).map_err(|e| Error::io(path, e))?);
    file.write_all(&Header::to_bytes(dtype, shape, 0))
        .and_then(|_| file.write_all(payload))
        .and_then(|_| file.flush())
        .map_err(|e| Error::io(path, e))
}

/// Writes `data` (C order) as a little-endian float64 `.npy` file of the given `shape`, as
/// `numpy.save` would.
///
/// # Errors
/// [`Error::Shape`] if `data.len()` is not the product of `shape`; [`Error::Io`] on a write
/// failure.
pub fn write_f64(path: impl AsRef<Path>, shape: &[usize], data: &[f64]) -> Result<()> {
    check_shape(data.len(), shape)?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_bytes(path.as_ref(), Dtype::F64Le, shape, &bytes)
}

/// Writes `data` (C order) as a little-endian float32 `.npy` file of the given `shape`.
///
/// # Errors
/// As [`write_f64`].
pub fn write_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    check_shape(data.len(), shape)?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_bytes(path.as_ref(), Dtype::F32Le, shape, &bytes)
}

/// Reads a whole 2-D float `.npy` file (C or Fortran order) as f64 values; NaN and infinity are
/// kept.
///
/// # Errors
/// As [`NpyArray::open`], and [`Error::Format`] for an array that is not 2-D.
pub fn read_array2(path: impl AsRef<Path>) -> Result<ndarray::Array2<f64>> {
    NpyArray::open(path)?.to_array2()
}

/// Reads a whole 1-D float `.npy` file as f64 values; NaN and infinity are kept.
///
/// # Errors
/// As [`NpyArray::open`], and [`Error::Format`] for an array that is not 1-D.
pub fn read_array1(path: impl AsRef<Path>) -> Result<ndarray::Array1<f64>> {
    NpyArray::open(path)?.to_array1()
}

#[derive(Debug)]
struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses NumPy's header, a Python dict literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header_dict(text: &str) -> std::result::Result<HeaderDict, String> {
    let t = text.trim_end_matches(['\n', ' ', '\0']).trim();
    if !(t.starts_with('{') && t.ends_with('}')) {
        return Err(format!(
            "expected a Python dict, found {:?}",
            truncate(t, 80)
        ));
    }
    let value_after = |key: &str| -> std::result::Result<&str, String> {
        let pat_sq = format!("'{key}'");
        let pat_dq = format!("\"{key}\"");
        let pos = t
            .find(&pat_sq)
            .or_else(|| t.find(&pat_dq))
            .ok_or_else(|| format!("key '{key}' missing in {:?}", truncate(t, 120)))?;
        let rest = t[pos + pat_sq.len()..].trim_start();
        let rest = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("no ':' after key '{key}'"))?;
        Ok(rest.trim_start())
    };
    let d = value_after("descr")?;
    let descr = if let Some(q) = d.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let body = &d[1..];
        let close = body
            .find(q)
            .ok_or_else(|| "unterminated 'descr' string".to_string())?;
        body[..close].to_string()
    } else {
        // Structured dtypes are lists of fields; report what we saw rather than a parse error.
        return Err(format!(
            "'descr' is {:?}, not a simple dtype string (structured arrays are not supported)",
            truncate(d, 60)
        ));
    };
    let f = value_after("fortran_order")?;
    let fortran_order = if f.starts_with("True") {
        true
    } else if f.starts_with("False") {
        false
    } else {
        return Err(format!(
            "'fortran_order' is {:?}, expected True or False",
            truncate(f, 20)
        ));
    };
    let s = value_after("shape")?;
    let s = s
        .strip_prefix('(')
        .ok_or_else(|| format!("'shape' is {:?}, expected a tuple", truncate(s, 40)))?;
    let close = s
        .find(')')
        .ok_or_else(|| "unterminated 'shape' tuple".to_string())?;
    let mut shape = Vec::new();
    for part in s[..close].split(',') {
        let p = part.trim().trim_end_matches('L');
        if p.is_empty() {
            continue;
        }
        shape.push(
            p.parse::<usize>()
                .map_err(|_| format!("'shape' entry {p:?} is not a non-negative integer"))?,
        );
    }
    Ok(HeaderDict {
        descr,
        fortran_order,
        shape,
    })
}

/// `s` cut to `n` characters (with `...` when cut), for quoting file contents in messages.
pub(crate) fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: u8, dict: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend([version, 0]);
        if version == 1 {
            b.extend((dict.len() as u16).to_le_bytes());
        } else {
            b.extend((dict.len() as u32).to_le_bytes());
        }
        b.extend(dict.as_bytes());
        b
    }

    #[test]
    fn header_dict_variants() {
        let d =
            parse_header_dict("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3, 4), }   \n")
                .unwrap();
        assert_eq!(d.descr, ">f4");
        assert!(d.fortran_order);
        assert_eq!(d.shape, vec![2, 3, 4]);
        let d =
            parse_header_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(d.shape.is_empty());
        assert!(parse_header_dict(
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }"
        )
        .unwrap_err()
        .contains("structured"));
        assert!(parse_header_dict("not a dict").is_err());
        assert!(parse_header_dict("{'descr': '<f8', 'shape': (1,), }")
            .unwrap_err()
            .contains("fortran_order"));
    }

    #[test]
    fn descr_codes() {
        assert_eq!(Dtype::from_descr("<f8").unwrap(), Dtype::F64Le);
        assert_eq!(Dtype::from_descr(">f4").unwrap(), Dtype::F32Be);
        assert!(Dtype::from_descr("<i8").unwrap_err().contains("integers"));
        assert!(Dtype::from_descr("|O").unwrap_err().contains("objects"));
        assert!(Dtype::from_descr("<U5").unwrap_err().contains("string"));
        assert!(Dtype::from_descr("<f2").unwrap_err().contains("width"));
    }

    #[test]
    fn versions_and_structure() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
        for v in [1, 2, 3] {
            let h = Header::parse(&file(v, dict), Path::new("x")).unwrap();
            assert_eq!(
                (h.dtype, h.len, h.shape.clone()),
                (Dtype::F32Le, 6, vec![3, 2])
            );
            assert_eq!(h.data_offset, if v == 1 { 10 } else { 12 } + dict.len());
        }
        let p = Path::new("bad.npy");
        let e = |b: &[u8]| Header::parse(b, p).unwrap_err().to_string();
        let msg = e(b"PK\x03\x04");
        assert!(msg.contains("magic") && msg.contains("bad.npy"), "{msg}");
        assert!(e(&file(4, dict)).contains("version 4.0"));
        // Cut inside the length field and inside the dictionary: both byte counts named.
        assert!(e(&file(2, dict)[..9]).contains("holds 9 bytes, the header length field needs 12"));
        let msg = e(&file(1, dict)[..30]);
        assert!(
            msg.contains("truncated .npy header") && msg.contains("holds 30 bytes"),
            "{msg}"
        );
        assert!(msg.contains(&format!("needs {}", 10 + dict.len())), "{msg}");
        assert!(e(&file(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"
        ))
        .contains("corrupt .npy header"));
        let huge = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }";
        assert!(e(&file(1, huge)).contains("overflows"));
    }

    #[test]
    fn written_header_roundtrips_and_is_aligned() {
        let h = Header::to_bytes(Dtype::F32Le, &[24_000, 175_258], 0);
        assert_eq!(h.len() % 64, 0);
        let p = Header::parse(&h, Path::new("x.npy")).unwrap();
        assert_eq!(p.shape, vec![24_000, 175_258]);
        assert_eq!(p.dtype, Dtype::F32Le);
        assert_eq!(p.data_offset, h.len());
        let h1 = Header::to_bytes(Dtype::F64Be, &[7], 256);
        assert_eq!(h1.len(), 256);
        let p1 = Header::parse(&h1, Path::new("x")).unwrap();
        assert_eq!((p1.shape, p1.dtype), (vec![7], Dtype::F64Be));
    }

    #[test]
    fn parses_numpy_written_header() {
        // Exactly what numpy 1.x/2.x writes (keys sorted, trailing comma, newline padding).
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let len = 118usize;
        b.extend_from_slice(&(len as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.resize(10 + len - 1, b' ');
        b.push(b'\n');
        let h = Header::parse(&b, Path::new("x")).unwrap();
        assert_eq!(
            (h.dtype, h.shape.clone(), h.data_offset, h.len),
            (Dtype::F64Le, vec![3, 4], 128, 12)
        );
    }

    #[test]
    fn decode_reports_first_non_finite_in_either_byte_order() {
        let vals = [1.0f32, f32::NAN, f32::INFINITY];
        let le: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let mut dst = [0.0f32; 3];
        assert_eq!(decode_f32(Dtype::F32Le, &le, &mut dst), Some(1));
        assert_eq!(decode_f32(Dtype::F32Be, &be, &mut dst), Some(1));
        assert_eq!(dst[0], 1.0);
        assert_eq!(decode_f32(Dtype::F32Le, &le[..4], &mut dst[..1]), None);
        let mut wide = [0.0f64; 1];
        decode_f64(Dtype::F64Be, &(-2.5f64).to_be_bytes(), &mut wide);
        assert_eq!(wide, [-2.5]);
    }
}

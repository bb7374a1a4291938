//! Reading numeric data from text, `.npy` files and standard input.
//!
//! Every command of the `anodiff` binary reads its sample through this module, so the input
//! contract is stated once:
//!
//! - **plain text**: one number per line; blank lines and lines starting with `#` are skipped;
//!   surrounding whitespace and Windows line endings are ignored; a line that is not a number is
//!   reported with its 1-based line number and content;
//! - **`.npy`** (NumPy format versions 1.0, 2.0, 3.0): `float32` or `float64`, little or big
//!   endian, any shape, read flat in storage order (C order for the arrays NumPy writes by
//!   default, column-major for `fortran_order` arrays; order does not matter for a sample);
//! - **`-`**: standard input, holding either of the above (a `.npy` stream is recognised by its
//!   magic string).
//!
//! A file whose name ends in `.npy` must be a valid `.npy` file; any other name is read as `.npy`
//! if it starts with the `.npy` magic string and as text otherwise.
//!
//! [`read_values`] rejects NaN and infinite values, naming the line (text) or flat index
//! (`.npy`). [`validate_sample`] adds the checks a fit needs: enough values, and not all equal.
//!
//! For samples too large for memory (10^8-10^9 values), [`NpyValues`] memory-maps a flat
//! `.npy` file and hands out converted chunks, so memory stays bounded by the chunk size.
//!
//! # Examples
//! ```
//! use anodiff_core::io::{read_values, validate_sample};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("x.txt");
//! std::fs::write(&path, "# gradients\n1.5\n\n-2\n3e-1\n").unwrap();
//! let x = read_values(&path).unwrap();
//! assert_eq!(x, vec![1.5, -2.0, 0.3]);
//! assert!(validate_sample(&x, 5).is_err()); // only 3 values
//! ```

// `!(x > 0.0)` is deliberate throughout: it rejects NaN, which `x <= 0.0` would let through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use crate::error::{Error, Result};
use crate::npy::truncate;
use std::fmt;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// The name used in messages for data read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Element type of a `.npy` file that this module can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE-754 binary32 (`<f4` / `>f4`).
    F32,
    /// IEEE-754 binary64 (`<f8` / `>f8`).
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
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        })
    }
}

/// The parsed header of a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: Dtype,
    /// Whether the elements are stored big-endian (`>f8`).
    pub big_endian: bool,
    /// Whether the array is stored in column-major order (irrelevant when read flat).
    pub fortran_order: bool,
    /// The array's shape; `[]` for a 0-d array holding one value.
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
    /// Number of elements (product of `shape`).
    pub len: usize,
}

impl NpyHeader {
    /// Parses the header at the start of `bytes` and checks that `file_len` bytes hold exactly
    /// the data it announces. `path` only names the file in error messages.
    ///
    /// # Errors
    /// [`Error::Format`] for a bad magic string, an unknown format version, a header that is not
    /// a NumPy header dictionary, a dtype other than float32/float64, or a data size that differs
    /// from the header's (truncated file or trailing bytes).
    pub fn parse(bytes: &[u8], file_len: u64, path: &Path) -> Result<NpyHeader> {
        let h = crate::npy::parse(bytes, path)?;
        let header = NpyHeader {
            dtype: h.dtype,
            big_endian: h.big_endian,
            fortran_order: h.fortran_order,
            shape: h.shape,
            data_offset: h.data_offset,
            len: h.len,
        };
        header.check_size(file_len, path)?;
        Ok(header)
    }

    fn check_size(&self, file_len: u64, path: &Path) -> Result<()> {
        let size = self.dtype.size() as u64;
        let data = file_len.saturating_sub(self.data_offset as u64);
        let expected = (self.len as u64).saturating_mul(size);
        if data < expected {
            let whole = data / size;
            let part = if !data.is_multiple_of(size) {
                format!(" and {} stray bytes", data % size)
            } else {
                String::new()
            };
            return Err(Error::format(
                path,
                format!(
                    "truncated .npy file: the header says {} {} values (shape {}), the file holds {whole}{part}",
                    self.len,
                    self.dtype,
                    self.shape_string()
                ),
            ));
        }
        if data > expected {
            return Err(Error::format(
                path,
                format!(
                    "corrupt .npy file: the header says {} {} values (shape {}), but {} bytes follow the data",
                    self.len,
                    self.dtype,
                    self.shape_string(),
                    data - expected
                ),
            ));
        }
        Ok(())
    }

    /// The shape written as NumPy would print it, e.g. `(3, 4)` or `(5,)`.
    pub fn shape_string(&self) -> String {
        crate::npy::shape_string(&self.shape)
    }

    /// Decodes elements `[start, start + out.len())` of the data section `data` (which starts at
    /// the first element) into `out`, widening float32 to f64.
    fn decode_into(&self, data: &[u8], start: usize, out: &mut [f64]) {
        let size = self.dtype.size();
        let bytes = &data[start * size..(start + out.len()) * size];
        match (self.dtype, self.big_endian) {
            (Dtype::F64, false) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_le_bytes(c.try_into().expect("chunk of 8"));
                }
            }
            (Dtype::F64, true) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_be_bytes(c.try_into().expect("chunk of 8"));
                }
            }
            (Dtype::F32, false) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes(c.try_into().expect("chunk of 4")) as f64;
                }
            }
            (Dtype::F32, true) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_be_bytes(c.try_into().expect("chunk of 4")) as f64;
                }
            }
        }
    }

    fn decode_f32_into(&self, data: &[u8], start: usize, out: &mut [f32]) {
        let bytes = &data[start * 4..(start + out.len()) * 4];
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            let b: [u8; 4] = c.try_into().expect("chunk of 4");
            *o = if self.big_endian {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            };
        }
    }
}

/// Reads a sample from a text or `.npy` file (see the [module docs](self) for the format).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file for an empty
/// file or one with no numbers, a malformed line (with its line number and content), a NaN or
/// infinite value (with its line number or flat index), and a truncated, corrupt or
/// non-float `.npy` file.
///
/// # Examples
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("bad.txt");
/// std::fs::write(&path, "1\n2\nabc\n").unwrap();
/// let err = anodiff_core::io::read_values(&path).unwrap_err().to_string();
/// assert!(err.contains("line 3") && err.contains("abc"));
/// ```
pub fn read_values(path: &Path) -> Result<Vec<f64>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let is_npy_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if meta.is_file() && meta.len() > 0 {
        // Regular files: peek at the magic string; a .npy file is memory-mapped and decoded
        // straight into the output (no second in-memory copy of its bytes).
        let mut head = [0u8; 6];
        let got = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        if is_npy_name || head[..got] == *crate::npy::MAGIC {
            drop(file);
            return NpyValues::open(path)?.to_vec();
        }
        file.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
    }
    // Text, or a pipe / special file (e.g. `<(command)`, never peeked at), which cannot be
    // mapped: read it whole.
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if is_npy_name || bytes.starts_with(crate::npy::MAGIC) {
        parse_npy(&bytes, path)
    } else {
        parse_text(&bytes, path)
    }
}

/// Reads until `buf` is full or the file ends; returns the number of bytes read.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads a sample from `source`: a file path, or `-` for standard input (text or `.npy`).
///
/// # Errors
/// As [`read_values`]; data from standard input are named `<stdin>` in messages.
pub fn read_values_from(source: &str) -> Result<Vec<f64>> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(STDIN_NAME, e))?;
        read_values_bytes(&bytes, Path::new(STDIN_NAME))
    } else {
        read_values(Path::new(source))
    }
}

/// Parses a sample held in memory: `.npy` bytes if they start with the magic string, else text.
/// `name` only labels error messages.
///
/// # Errors
/// As [`read_values`].
///
/// # Examples
/// ```
/// let x = anodiff_core::io::read_values_bytes(b"1\n# c\n2.5\n", "mem".as_ref()).unwrap();
/// assert_eq!(x, vec![1.0, 2.5]);
/// ```
pub fn read_values_bytes(bytes: &[u8], name: &Path) -> Result<Vec<f64>> {
    if bytes.starts_with(crate::npy::MAGIC) {
        parse_npy(bytes, name)
    } else {
        parse_text(bytes, name)
    }
}

fn parse_npy(bytes: &[u8], path: &Path) -> Result<Vec<f64>> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file (0 bytes): no values"));
    }
    let h = NpyHeader::parse(bytes, bytes.len() as u64, path)?;
    if h.len == 0 {
        return Err(Error::format(
            path,
            format!(
                "the .npy array has shape {} and holds no values",
                h.shape_string()
            ),
        ));
    }
    let mut out = vec![0.0; h.len];
    h.decode_into(&bytes[h.data_offset..], 0, &mut out);
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            format!(
                "value at flat index {i} is {} (NaN and infinity are not allowed in data)",
                out[i]
            ),
        ));
    }
    Ok(out)
}

fn parse_text(bytes: &[u8], path: &Path) -> Result<Vec<f64>> {
    if bytes.is_empty() {
        return Err(Error::format(path, "empty file (0 bytes): no values"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::new();
    let mut lines = 0usize;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let lineno = i + 1;
        lines = lineno;
        let Ok(line) = std::str::from_utf8(raw) else {
            return Err(Error::format(
                path,
                format!("line {lineno} is not valid UTF-8 text (is this a binary file?)"),
            ));
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v: f64 = line.parse().map_err(|_| {
            Error::format(
                path,
                format!(
                    "line {lineno}: cannot read {:?} as a number (expected one number per line)",
                    truncate(line, 60)
                ),
            )
        })?;
        if !v.is_finite() {
            return Err(Error::format(
                path,
                format!(
                    "line {lineno}: value {:?} is {} (NaN and infinity are not allowed in data)",
                    line,
                    if v.is_nan() { "NaN" } else { "infinite" }
                ),
            ));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(Error::format(
            path,
            format!("no values: all {lines} lines are blank or comments"),
        ));
    }
    Ok(out)
}

/// Checks that a sample can be fitted: at least `min_len` values, all finite, not all equal.
///
/// # Errors
/// [`Error::InvalidData`] naming the problem: no values, too few values, the index of the first
/// NaN or infinite value, or the value all entries share.
///
/// # Examples
/// ```
/// use anodiff_core::io::validate_sample;
/// assert!(validate_sample(&[1.0, 2.0, 3.0, 4.0, 5.0], 5).is_ok());
/// assert!(validate_sample(&[2.0; 10], 5).unwrap_err().to_string().contains("equal"));
/// assert!(validate_sample(&[1.0, f64::NAN, 3.0, 4.0, 5.0], 5).unwrap_err().to_string().contains("index 1"));
/// ```
pub fn validate_sample(values: &[f64], min_len: usize) -> Result<()> {
    if values.is_empty() {
        return Err(Error::InvalidData("no values".into()));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidData(format!(
            "value at index {i} is {} (NaN and infinity are not allowed)",
            values[i]
        )));
    }
    if values.len() < min_len {
        return Err(Error::InvalidData(format!(
            "only {} value{}; at least {min_len} are needed",
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        )));
    }
    let first = values[0];
    if values.iter().all(|&v| v == first) {
        return Err(Error::InvalidData(format!(
            "all {} values are equal to {first}: a constant sample has no spread to fit",
            values.len()
        )));
    }
    Ok(())
}

/// A flat float32 or float64 `.npy` file, memory-mapped and read in chunks.
///
/// This is the reader for samples too large to hold as `Vec<f64>` (the binned fit of 10^8-10^9
/// values): the header is validated on [`open`](NpyValues::open) (size included, so a
/// truncated file fails there), and each chunk is decoded into a small f64 (or f32) buffer.
/// The operating system pages the mapping in and out, so resident memory stays bounded.
/// Values are not checked for NaN/infinity here: a streaming consumer counts or rejects them
/// as it bins (the index of a chunk's first element is passed along for messages).
///
/// # Examples
/// ```
/// use anodiff_core::io::{NpyValues, Dtype};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.npy");
/// // What numpy.save(path, numpy.array([1, 2, 3], dtype='<f4')) writes:
/// let mut header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }".to_vec();
/// while !(10 + header.len() + 1).is_multiple_of(64) { header.push(b' '); }
/// header.push(b'\n');
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend((header.len() as u16).to_le_bytes());
/// bytes.extend(header);
/// for v in [1.0f32, 2.0, 3.0] { bytes.extend(v.to_le_bytes()); }
/// std::fs::write(&path, bytes).unwrap();
///
/// let npy = NpyValues::open(&path).unwrap();
/// assert_eq!((npy.len(), npy.dtype()), (3, Dtype::F32));
/// let mut sum = 0.0;
/// npy.for_each_chunk(2, |_start, chunk| sum += chunk.iter().sum::<f64>());
/// assert_eq!(sum, 6.0);
/// ```
#[derive(Debug)]
pub struct NpyValues {
    path: PathBuf,
    header: NpyHeader,
    map: Option<memmap2::Mmap>,
}

impl NpyValues {
    /// Opens and validates a `.npy` file of float32 or float64 values (any shape, read flat).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened or mapped; [`Error::Format`] for anything
    /// [`NpyHeader::parse`] rejects, and for an array with no values.
    pub fn open(path: &Path) -> Result<NpyValues> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if file_len == 0 {
            return Err(Error::format(path, "empty file (0 bytes): no values"));
        }
        // SAFETY: the mapping is read-only and private to this value. If another process
        // truncates the file while it is mapped, reads may fault (SIGBUS); that is the usual
        // memory-map caveat, documented on `memmap2::Mmap::map`, and we accept it for
        // data files that are written once and then analysed.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        #[cfg(unix)]
        {
            // Only a hint: failure changes speed, not results.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let header = NpyHeader::parse(&map, file_len, path)?;
        if header.len == 0 {
            return Err(Error::format(
                path,
                format!(
                    "the .npy array has shape {} and holds no values",
                    header.shape_string()
                ),
            ));
        }
        Ok(NpyValues {
            path: path.to_path_buf(),
            header,
            map: Some(map),
        })
    }

    /// Number of values (product of the shape).
    pub fn len(&self) -> usize {
        self.header.len
    }

    /// Always `false`: [`open`](NpyValues::open) rejects empty arrays.
    pub fn is_empty(&self) -> bool {
        self.header.len == 0
    }

    /// Element type stored in the file.
    pub fn dtype(&self) -> Dtype {
        self.header.dtype
    }

    /// The array's shape as stored in the header.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// The parsed header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn data(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m[self.header.data_offset..],
            None => &[],
        }
    }

    /// Decodes the values `[start, start + out.len())` into `out` (f32 widened to f64).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the range runs past the end of the array.
    pub fn read_range(&self, start: usize, out: &mut [f64]) -> Result<()> {
        self.check_range(start, out.len())?;
        self.header.decode_into(self.data(), start, out);
        Ok(())
    }

    fn check_range(&self, start: usize, len: usize) -> Result<()> {
        if start.checked_add(len).is_none_or(|e| e > self.len()) {
            return Err(Error::param(
                "start",
                format!(
                    "range {start}..{} runs past the {} values of {}",
                    start.saturating_add(len),
                    self.len(),
                    self.path.display()
                ),
            ));
        }
        Ok(())
    }

    /// Calls `f(start, chunk)` for consecutive chunks of at most `chunk_len` values (decoded to
    /// f64), in order; `start` is the flat index of the chunk's first value.
    ///
    /// A `chunk_len` of 0 is treated as 1.
    pub fn for_each_chunk<F: FnMut(usize, &[f64])>(&self, chunk_len: usize, mut f: F) {
        let chunk_len = chunk_len.max(1);
        let mut buf = vec![0.0; chunk_len.min(self.len())];
        let mut start = 0;
        while start < self.len() {
            let m = chunk_len.min(self.len() - start);
            self.header.decode_into(self.data(), start, &mut buf[..m]);
            f(start, &buf[..m]);
            start += m;
        }
    }

    /// Like [`for_each_chunk`](NpyValues::for_each_chunk) but hands out the values as stored,
    /// without widening, for binning by the float32 bit pattern.
    ///
    /// # Errors
    /// [`Error::InvalidData`] if the file holds float64 values (narrowing would lose digits).
    pub fn for_each_chunk_f32<F: FnMut(usize, &[f32])>(
        &self,
        chunk_len: usize,
        mut f: F,
    ) -> Result<()> {
        if self.dtype() != Dtype::F32 {
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
            self.header
                .decode_f32_into(self.data(), start, &mut buf[..m]);
            f(start, &buf[..m]);
            start += m;
        }
        Ok(())
    }

    /// Maps `f(start, chunk)` over chunks of at most `chunk_len` values in parallel (rayon) and
    /// returns the results in chunk order; each worker decodes into its own buffer.
    ///
    /// Use it for one-pass reductions (histograms, compensated sums) that merge afterwards.
    pub fn par_map_chunks<T, F>(&self, chunk_len: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, &[f64]) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        let chunk_len = chunk_len.max(1);
        let n_chunks = self.len().div_ceil(chunk_len);
        (0..n_chunks)
            .into_par_iter()
            .map_init(
                || vec![0.0; chunk_len.min(self.len())],
                |buf, c| {
                    let start = c * chunk_len;
                    let m = chunk_len.min(self.len() - start);
                    self.header.decode_into(self.data(), start, &mut buf[..m]);
                    f(start, &buf[..m])
                },
            )
            .collect()
    }

    /// Reads every value into memory, rejecting NaN and infinity (as [`read_values`] does).
    ///
    /// # Errors
    /// [`Error::Format`] naming the flat index of the first non-finite value.
    pub fn to_vec(&self) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.len()];
        self.header.decode_into(self.data(), 0, &mut out);
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::format(
                &self.path,
                format!(
                    "value at flat index {i} is {} (NaN and infinity are not allowed in data)",
                    out[i]
                ),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_messages() {
        assert!(validate_sample(&[], 5)
            .unwrap_err()
            .to_string()
            .contains("no values"));
        assert!(validate_sample(&[1.0, 2.0], 5)
            .unwrap_err()
            .to_string()
            .contains("only 2 values"));
        let e = validate_sample(&[1.0, 2.0, f64::INFINITY, 3.0, 4.0], 5).unwrap_err();
        assert!(e.to_string().contains("index 2") && e.to_string().contains("inf"));
        assert!(validate_sample(&[1.0, 2.0, 1.0, 1.0, 1.0], 5).is_ok());
    }
}

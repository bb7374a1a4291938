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
use crate::npy::{truncate, Header, NpyArray};
use std::io::{Read, Seek};
use std::path::Path;

/// The name used in messages for data read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

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
    let h = Header::parse(bytes, path)?;
    h.check_file_len(bytes.len() as u64, path)?;
    check_not_empty(&h, path)?;
    let mut out = vec![0.0; h.len];
    crate::npy::decode_f64(h.dtype, &bytes[h.data_offset..], &mut out);
    crate::npy::check_finite(&out, path)?;
    Ok(out)
}

fn check_not_empty(h: &Header, path: &Path) -> Result<()> {
    if h.len == 0 {
        return Err(Error::format(
            path,
            format!(
                "the .npy array has shape {} and holds no values",
                h.shape_string()
            ),
        ));
    }
    Ok(())
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

/// A float32 or float64 `.npy` file (either byte order, any shape, read flat), memory-mapped
/// and read in chunks: an [`NpyArray`] that holds at least one value.
///
/// This is the reader for samples too large to hold as `Vec<f64>` (the binned fit of 10^8-10^9
/// values): the header is validated on [`open`](NpyValues::open) (size included, so a
/// truncated file fails there), and each chunk is decoded into a small f64 (or f32) buffer
/// ([`NpyArray::for_each_chunk`], [`NpyArray::par_map_chunks`], through `Deref`). Values are
/// not checked for NaN/infinity chunk by chunk: a streaming consumer counts or rejects them as
/// it bins (the index of a chunk's first element is passed along for messages);
/// [`to_vec`](NpyValues::to_vec) rejects them.
///
/// # Examples
/// ```
/// use anodiff_core::io::NpyValues;
/// use anodiff_core::npy::Dtype;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.npy");
/// // What numpy.save(path, numpy.array([1, 2, 3], dtype='>f4')) writes:
/// let mut header = b"{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }".to_vec();
/// while !(10 + header.len() + 1).is_multiple_of(64) { header.push(b' '); }
/// header.push(b'\n');
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// bytes.extend((header.len() as u16).to_le_bytes());
/// bytes.extend(header);
/// for v in [1.0f32, 2.0, 3.0] { bytes.extend(v.to_be_bytes()); }
/// std::fs::write(&path, bytes).unwrap();
///
/// let npy = NpyValues::open(&path).unwrap();
/// assert_eq!((npy.len(), npy.dtype()), (3, Dtype::F32Be));
/// let mut sum = 0.0;
/// npy.for_each_chunk(2, |_start, chunk| sum += chunk.iter().sum::<f64>());
/// assert_eq!(sum, 6.0);
/// ```
#[derive(Debug)]
pub struct NpyValues {
    array: NpyArray,
}

impl NpyValues {
    /// Opens and validates a `.npy` file of float32 or float64 values (any shape, read flat).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened or mapped; [`Error::Format`] for anything
    /// [`NpyArray::open`] rejects, and for an array with no values.
    pub fn open(path: &Path) -> Result<NpyValues> {
        let array = NpyArray::open(path)?;
        check_not_empty(array.header(), path)?;
        Ok(NpyValues { array })
    }

    /// Decodes the values `[start, start + out.len())` into `out` (f32 widened to f64).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the range runs past the end of the array.
    pub fn read_range(&self, start: usize, out: &mut [f64]) -> Result<()> {
        self.array.read_f64(start, out)
    }

    /// Reads every value into memory, rejecting NaN and infinity (as [`read_values`] does).
    ///
    /// # Errors
    /// [`Error::Format`] naming the flat index of the first non-finite value.
    pub fn to_vec(&self) -> Result<Vec<f64>> {
        self.array.finite_values()
    }
}

impl std::ops::Deref for NpyValues {
    type Target = NpyArray;

    fn deref(&self) -> &NpyArray {
        &self.array
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

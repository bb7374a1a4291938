//! The crate's one `.npy` header parser.
//!
//! Three readers consume `.npy` files: [`crate::io`] (flat samples, any shape and byte order),
//! [`crate::trajectory::npy`] (C-order little-endian trajectories, memory-mapped by row) and
//! [`crate::fit::binned`] (streamed histograms). They differ in what they accept, but the file's
//! structure (magic string, format version, header length, the header dictionary, the dtype, the
//! shape) is checked here, once, so that every reader reports a malformed file in the same words.
//! Each reader then applies its own policy (byte order, Fortran order, number of dimensions, data
//! size) to the [`Header`] returned.

use crate::error::{Error, Result};
use crate::io::Dtype;
use std::path::Path;

/// The 6-byte magic string that starts every `.npy` file.
pub(crate) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A structurally valid `.npy` header with a float32 or float64 dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// Element type.
    pub dtype: Dtype,
    /// Whether the elements are stored big-endian.
    pub big_endian: bool,
    /// The `descr` string as written in the file (for messages).
    pub descr: String,
    /// Whether the array is stored column-major.
    pub fortran_order: bool,
    /// The array's shape; `[]` for a 0-d array.
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
    /// Number of elements (product of `shape`, checked for overflow).
    pub len: usize,
}

/// Parses and validates the header at the start of `bytes` (the first bytes of the file `path`,
/// which only names it in messages). Accepts format versions 1.0, 2.0 and 3.0.
///
/// # Errors
/// [`Error::Format`] naming `path` for a missing magic string, an unsupported version, a header
/// shorter than its length field says (with both byte counts), a header that is not a NumPy
/// header dictionary, a dtype other than float32/float64 (naming the dtype found), or a shape
/// whose element count overflows.
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<Header> {
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
            "truncated .npy header: the file holds {} bytes, the header length field needs {header_start}",
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
    let dict = parse_header_dict(text).map_err(|r| fail(format!("corrupt .npy header: {r}")))?;
    let (dtype, big_endian) = parse_descr(&dict.descr).map_err(fail)?;
    let len = dict
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|n| n.checked_mul(dtype.size()).is_some())
        .ok_or_else(|| {
            fail(format!(
                "corrupt .npy header: shape {} overflows",
                shape_string(&dict.shape)
            ))
        })?;
    Ok(Header {
        dtype,
        big_endian,
        descr: dict.descr,
        fortran_order: dict.fortran_order,
        shape: dict.shape,
        data_offset,
        len,
    })
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

/// Element type and byte order (`true` = big-endian) of a `descr` string.
fn parse_descr(descr: &str) -> std::result::Result<(Dtype, bool), String> {
    let native_big = cfg!(target_endian = "big");
    let (order, code) = match descr.chars().next() {
        Some('<') => (Some(false), &descr[1..]),
        Some('>') => (Some(true), &descr[1..]),
        Some('=') => (Some(native_big), &descr[1..]),
        Some('|') => (None, &descr[1..]),
        _ => (Some(native_big), descr),
    };
    let dtype = match code {
        "f8" => Dtype::F64,
        "f4" => Dtype::F32,
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
    let big = order.ok_or_else(|| format!("dtype '{descr}' gives no byte order"))?;
    Ok((dtype, big))
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
        assert_eq!(parse_descr("<f8").unwrap(), (Dtype::F64, false));
        assert_eq!(parse_descr(">f4").unwrap(), (Dtype::F32, true));
        assert!(parse_descr("<i8").unwrap_err().contains("integers"));
        assert!(parse_descr("|O").unwrap_err().contains("objects"));
        assert!(parse_descr("<U5").unwrap_err().contains("string"));
        assert!(parse_descr("<f2").unwrap_err().contains("width"));
    }

    #[test]
    fn versions_and_structure() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
        for v in [1, 2, 3] {
            let h = parse(&file(v, dict), Path::new("x")).unwrap();
            assert_eq!(
                (h.dtype, h.len, h.shape.clone()),
                (Dtype::F32, 6, vec![3, 2])
            );
            assert_eq!(h.data_offset, if v == 1 { 10 } else { 12 } + dict.len());
        }
        let p = Path::new("bad.npy");
        let e = |b: &[u8]| parse(b, p).unwrap_err().to_string();
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
}

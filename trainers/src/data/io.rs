//! Whole-file reads with transparent gzip, shared by the readers.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::{Error, Result};

/// The two bytes every gzip member starts with (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `path` whole, decompressing it when it is gzip.
///
/// Gzip is recognised by its magic bytes, not by the extension, so a `.gz` that was already
/// unpacked by a browser (a common accident with the MNIST files) still reads.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decompress_if_gz(path, raw)
}

/// Decompresses `raw` if it is gzip; `path` only names the source in errors.
pub(crate) fn decompress_if_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    // MultiGzDecoder is not needed: the published files are single-member, and a second member
    // would be a corrupt or concatenated file that the size checks downstream then reject.
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, format!("corrupt gzip data: {e}")))?;
    Ok(out)
}

/// Formats a byte count with thousands separators, as the error messages quote sizes.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3073), "3,073");
        assert_eq!(thousands(30_730_000), "30,730,000");
    }

    #[test]
    fn gzip_is_detected_by_magic_not_name() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello").unwrap();
        let gz = enc.finish().unwrap();
        let p = Path::new("no-extension");
        assert_eq!(decompress_if_gz(p, gz).unwrap(), b"hello");
        assert_eq!(decompress_if_gz(p, b"plain".to_vec()).unwrap(), b"plain");
    }

    #[test]
    fn corrupt_gzip_names_the_file() {
        let bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff];
        let err = decompress_if_gz(Path::new("x/bad.gz"), bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x/bad.gz") && msg.contains("gzip"), "{msg}");
    }
}

//! MNIST in the IDX format of LeCun et al. (<http://yann.lecun.com/exdb/mnist/>), plain or gzipped.
//!
//! An IDX file is a 4-byte magic `00 00 08 D` (`08` = unsigned bytes, `D` = number of
//! dimensions), `D` big-endian `u32` sizes, then the data in row-major order. Images have
//! `D = 3` (count, rows, columns), labels `D = 1` (count).

use std::path::{Path, PathBuf};

use super::io::{read_maybe_gz, thousands};
use super::{check_same_shape, Dataset, Splits};
use crate::{Error, Result};

/// Magic of an IDX image file: unsigned bytes, 3 dimensions.
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX label file: unsigned bytes, 1 dimension.
const LABELS_MAGIC: u32 = 0x0000_0801;
/// MNIST has the ten digits.
const CLASSES: usize = 10;

/// The four files, with their canonical uncompressed sizes (quoted when one is missing).
const FILES: [(&str, usize); 4] = [
    ("train-images-idx3-ubyte", 47_040_016),
    ("train-labels-idx1-ubyte", 60_008),
    ("t10k-images-idx3-ubyte", 7_840_016),
    ("t10k-labels-idx1-ubyte", 10_008),
];

/// Parses the IDX header of `bytes`: checks the magic and returns the dimension sizes and the
/// header length.
fn idx_header(path: &Path, bytes: &[u8], magic: u32, what: &str) -> Result<(Vec<usize>, usize)> {
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            format!(
                "truncated: {} bytes, too short for an IDX magic number",
                bytes.len()
            ),
        ));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(Error::format(
            path,
            format!(
                "wrong IDX magic number 0x{found:08x}; an MNIST {what} file starts with 0x{magic:08x}"
            ),
        ));
    }
    if bytes.len() < header {
        return Err(Error::format(
            path,
            format!(
                "truncated: the IDX header of an MNIST {what} file is {header} bytes, the file has {}",
                bytes.len()
            ),
        ));
    }
    let dims = (0..ndim)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    Ok((dims, header))
}

/// Checks that the payload after the header is exactly `payload` bytes.
fn check_size(
    path: &Path,
    len: usize,
    header: usize,
    payload: Option<usize>,
    says: &str,
) -> Result<()> {
    let expected = payload.and_then(|p| p.checked_add(header)).ok_or_else(|| {
        Error::format(
            path,
            format!("corrupt IDX header: {says} overflows the address space"),
        )
    })?;
    if len != expected {
        let problem = if len < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(Error::format(
            path,
            format!(
                "{problem}: the header says {says}, so the file should be {} bytes (uncompressed); it has {}",
                thousands(expected),
                thousands(len)
            ),
        ));
    }
    Ok(())
}

/// Reads an IDX image file (`*-images-idx3-ubyte`, optionally gzipped).
///
/// Returns `(pixels, count, rows, columns)`, pixels as the raw bytes in row-major order.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file when the gzip
/// stream is corrupt, the magic is not `0x00000803`, a size is zero, or the length disagrees
/// with the header (quoting the expected size).
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize)> {
    let mut bytes = read_maybe_gz(path)?;
    let (dims, header) = idx_header(path, &bytes, IMAGES_MAGIC, "image")?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    let says = format!("{n} images of {rows}x{cols}");
    if n == 0 || rows == 0 || cols == 0 {
        return Err(Error::format(
            path,
            format!("empty: the header says {says}"),
        ));
    }
    let payload = n.checked_mul(rows).and_then(|x| x.checked_mul(cols));
    check_size(path, bytes.len(), header, payload, &says)?;
    bytes.drain(..header);
    Ok((bytes, n, rows, cols))
}

/// Reads an IDX label file (`*-labels-idx1-ubyte`, optionally gzipped).
///
/// # Errors
///
/// As [`read_idx_images`] (magic `0x00000801`), plus [`Error::Format`] when a label is `>= 10`,
/// naming its index and value.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = read_maybe_gz(path)?;
    let (dims, header) = idx_header(path, &bytes, LABELS_MAGIC, "label")?;
    let n = dims[0];
    let says = format!("{n} labels");
    if n == 0 {
        return Err(Error::format(
            path,
            format!("empty: the header says {says}"),
        ));
    }
    check_size(path, bytes.len(), header, Some(n), &says)?;
    bytes.drain(..header);
    if let Some((i, &l)) = bytes
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= CLASSES)
    {
        return Err(Error::format(
            path,
            format!("label {l} at index {i} is out of range; MNIST labels are 0..=9"),
        ));
    }
    Ok(bytes)
}

/// Reads one MNIST split from an image file and a label file, pixels scaled to `[0, 1]` (`/255`).
///
/// # Errors
///
/// As [`read_idx_images`] and [`read_idx_labels`], plus [`Error::Format`] naming both files
/// when their counts differ.
pub fn read_mnist_pair(images: &Path, labels: &Path) -> Result<Dataset> {
    let (pixels, n, rows, cols) = read_idx_images(images)?;
    let lab = read_idx_labels(labels)?;
    if lab.len() != n {
        return Err(Error::format(
            images,
            format!(
                "holds {n} images but {} holds {} labels; the counts must match",
                labels.display(),
                lab.len()
            ),
        ));
    }
    Ok(Dataset {
        images: pixels.iter().map(|&b| f32::from(b) / 255.0).collect(),
        labels: lab,
        channels: 1,
        height: rows,
        width: cols,
        num_classes: CLASSES,
    })
}

/// Finds `name` in `dir`: as is, gzipped (`.gz`), or with the `-idx` dash written as a dot
/// (`train-images.idx3-ubyte`, as some mirrors name them).
fn find(dir: &Path, name: &str, canonical_size: usize) -> Result<PathBuf> {
    let dotted = name.replacen("-idx", ".idx", 1);
    for cand in [
        name.to_string(),
        format!("{name}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ] {
        let p = dir.join(&cand);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::format(
        dir.join(name),
        format!(
            "missing MNIST file: expected `{name}` or `{name}.gz` in {} (the full file is {} bytes uncompressed; a subset's size follows from its header)",
            dir.display(),
            thousands(canonical_size)
        ),
    ))
}

/// Reads the MNIST training and test splits from `dir`.
///
/// `dir` holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
/// and `t10k-labels-idx1-ubyte`, each plain or gzipped (recognised by content; a `.gz` suffix
/// is optional). Subsets with rewritten headers, such as the bundled `fixtures/data/mnist-ci`,
/// read the same way. Pixels are scaled to `[0, 1]`.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::read_mnist_dir;
///
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/data/mnist-ci");
/// let s = read_mnist_dir(dir.as_ref())?;
/// assert_eq!((s.train.len(), s.test.len()), (2000, 1000));
/// assert_eq!(s.train.image_shape(), [1, 28, 28]);
/// assert_eq!(&s.train.labels[..5], &[5, 0, 4, 1, 9]);
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Format`] naming the first missing file (and its canonical size), and whatever
/// [`read_mnist_pair`] reports; also when the two splits' image sizes differ.
pub fn read_mnist_dir(dir: &Path) -> Result<Splits> {
    let [ti, tl, vi, vl] = FILES.map(|(name, size)| find(dir, name, size));
    let train = read_mnist_pair(&ti?, &tl?)?;
    let test = read_mnist_pair(&vi?, &vl?)?;
    check_same_shape(dir, &train, &test)?;
    Ok(Splits { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_a_hand_made_pair() {
        let d = tempfile::tempdir().unwrap();
        let im = write(
            d.path(),
            "i",
            &idx(IMAGES_MAGIC, &[2, 1, 2], &[0, 255, 51, 102]),
        );
        let lb = write(d.path(), "l", &idx(LABELS_MAGIC, &[2], &[7, 0]));
        let ds = read_mnist_pair(&im, &lb).unwrap();
        assert_eq!(ds.labels, vec![7, 0]);
        assert_eq!(ds.images, vec![0.0, 1.0, 0.2, 0.4]);
        assert_eq!(ds.image_shape(), [1, 1, 2]);
    }

    #[test]
    fn bad_files_give_named_errors() {
        let d = tempfile::tempdir().unwrap();
        let lb = write(d.path(), "l", &idx(LABELS_MAGIC, &[2], &[1, 2]));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                idx(LABELS_MAGIC, &[2, 1, 2], &[0; 4]),
                "wrong IDX magic number 0x00000801",
            ),
            (idx(IMAGES_MAGIC, &[2, 1, 2], &[0; 3]), "should be 20 bytes"),
            (idx(IMAGES_MAGIC, &[2, 1, 2], &[0; 5]), "too long"),
            (idx(IMAGES_MAGIC, &[0, 28, 28], &[]), "empty"),
            (vec![0, 0, 8], "too short"),
            (idx(IMAGES_MAGIC, &[2], &[]), "header"),
            (idx(IMAGES_MAGIC, &[3, 1, 1], &[0; 3]), "3 images but"),
        ];
        for (k, (bytes, want)) in cases.into_iter().enumerate() {
            let im = write(d.path(), &format!("img{k}"), &bytes);
            let e = read_mnist_pair(&im, &lb).unwrap_err().to_string();
            assert!(
                e.contains(&format!("img{k}")) && e.contains(want),
                "case {k}: {e}"
            );
        }
        let im = write(d.path(), "ok", &idx(IMAGES_MAGIC, &[2, 1, 1], &[0; 2]));
        let bad = write(d.path(), "lbad", &idx(LABELS_MAGIC, &[2], &[9, 10]));
        let e = read_mnist_pair(&im, &bad).unwrap_err().to_string();
        assert!(
            e.contains("lbad") && e.contains("label 10 at index 1"),
            "{e}"
        );
        let e = read_mnist_pair(&d.path().join("nope"), &lb)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn missing_file_names_it_and_its_size() {
        let d = tempfile::tempdir().unwrap();
        let e = read_mnist_dir(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("train-images-idx3-ubyte") && e.contains("47,040,016"),
            "{e}"
        );
    }
}

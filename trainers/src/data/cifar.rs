//! CIFAR-10 in its binary format (Krizhevsky 2009, <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! A batch file is a sequence of 3073-byte records: one label byte (0..=9), then 1024 red,
//! 1024 green and 1024 blue bytes, each plane row-major 32x32. That is already CHW, so a record
//! maps to an image without reordering.

use std::path::Path;

use super::io::{read_maybe_gz, thousands};
use super::{check_same_shape, Dataset, Splits};
use crate::{Error, Result};

/// Bytes per record: 1 label + 3 x 32 x 32 pixels.
pub const CIFAR10_RECORD_BYTES: usize = 3073;
/// Bytes in each of the six published batch files (10,000 records).
pub const CIFAR10_BATCH_BYTES: usize = 10_000 * CIFAR10_RECORD_BYTES;
/// The five training batches [`read_cifar10_dir`] requires.
pub const CIFAR10_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch [`read_cifar10_dir`] requires.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";

const SIDE: usize = 32;
const CLASSES: usize = 10;

/// The folder the published archive unpacks to; accepted one level below the given directory.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";

/// Reads one CIFAR-10 binary batch file (any number of records; plain or gzipped), pixels
/// scaled to `[0, 1]` (`/255`).
///
/// # Examples
///
/// ```
/// use anodiff_trainers::data::read_cifar_batch;
///
/// // The bundled sample: the first 20 CIFAR-10 test images.
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/data/cifar10-sample/test_batch.bin");
/// let ds = read_cifar_batch(path.as_ref())?;
/// assert_eq!(ds.len(), 20);
/// assert_eq!(ds.image_shape(), [3, 32, 32]);
/// assert_eq!(&ds.labels[..4], &[3, 8, 8, 0]); // cat, ship, ship, airplane
/// # Ok::<(), anodiff_trainers::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file when it is
/// empty, its size is not a multiple of 3073 bytes (quoting its size), or a label is `>= 10`.
pub fn read_cifar_batch(path: &Path) -> Result<Dataset> {
    let bytes = read_maybe_gz(path)?;
    if bytes.is_empty() {
        return Err(Error::format(
            path,
            format!(
                "empty file; a CIFAR-10 batch is {} bytes of 3,073-byte records",
                thousands(CIFAR10_BATCH_BYTES)
            ),
        ));
    }
    if !bytes.len().is_multiple_of(CIFAR10_RECORD_BYTES) {
        return Err(Error::format(
            path,
            format!(
                "truncated or corrupt: {} bytes is not a multiple of the 3,073-byte record (1 label + 3,072 pixels); a full batch is {} bytes",
                thousands(bytes.len()),
                thousands(CIFAR10_BATCH_BYTES)
            ),
        ));
    }
    let n = bytes.len() / CIFAR10_RECORD_BYTES;
    let mut labels = Vec::with_capacity(n);
    let mut images = Vec::with_capacity(n * (CIFAR10_RECORD_BYTES - 1));
    for (i, rec) in bytes.chunks_exact(CIFAR10_RECORD_BYTES).enumerate() {
        if usize::from(rec[0]) >= CLASSES {
            return Err(Error::format(
                path,
                format!(
                    "label {} of record {i} (byte offset {}) is out of range; CIFAR-10 labels are 0..=9",
                    rec[0],
                    i * CIFAR10_RECORD_BYTES
                ),
            ));
        }
        labels.push(rec[0]);
        images.extend(rec[1..].iter().map(|&b| f32::from(b) / 255.0));
    }
    Ok(Dataset {
        images,
        labels,
        channels: 3,
        height: SIDE,
        width: SIDE,
        num_classes: CLASSES,
    })
}

/// Reads the CIFAR-10 training split (`data_batch_1.bin` .. `data_batch_5.bin`, concatenated in
/// that order) and test split (`test_batch.bin`) from `dir`.
///
/// `dir` may also be the folder that contains the unpacked `cifar-10-batches-bin/`. All six
/// files are required; each may hold any whole number of records (the published ones hold
/// 10,000), which lets tests use small synthetic batches.
///
/// # Errors
///
/// [`Error::Format`] listing every missing file with the published size (30,730,000 bytes), and
/// whatever [`read_cifar_batch`] reports for a file.
pub fn read_cifar10_dir(dir: &Path) -> Result<Splits> {
    let nested = dir.join(ARCHIVE_DIR);
    let dir = if !dir.join(CIFAR10_TEST_FILE).exists() && nested.is_dir() {
        nested.as_path()
    } else {
        dir
    };
    let names: Vec<&str> = CIFAR10_TRAIN_FILES
        .iter()
        .copied()
        .chain([CIFAR10_TEST_FILE])
        .collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !dir.join(n).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(Error::format(
            dir,
            format!(
                "missing CIFAR-10 file(s) {} (each published batch is {} bytes); the directory must hold data_batch_1.bin .. data_batch_5.bin and test_batch.bin from cifar-10-binary.tar.gz",
                missing.join(", "),
                thousands(CIFAR10_BATCH_BYTES)
            ),
        ));
    }
    let mut train = read_cifar_batch(&dir.join(CIFAR10_TRAIN_FILES[0]))?;
    for name in &CIFAR10_TRAIN_FILES[1..] {
        let more = read_cifar_batch(&dir.join(name))?;
        train.images.extend_from_slice(&more.images);
        train.labels.extend_from_slice(&more.labels);
    }
    let test = read_cifar_batch(&dir.join(CIFAR10_TEST_FILE))?;
    check_same_shape(dir, &train, &test)?;
    Ok(Splits { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, fill: impl Fn(usize) -> u8) -> Vec<u8> {
        std::iter::once(label).chain((0..3072).map(fill)).collect()
    }

    #[test]
    fn record_layout_is_chw() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.bin");
        // Pixel k holds k / 1024 (its channel) * 100 + (k % 32) (its column).
        let rec = record(4, |k| ((k / 1024) * 100 + k % 32) as u8);
        std::fs::write(&p, &rec).unwrap();
        let ds = read_cifar_batch(&p).unwrap();
        assert_eq!(ds.labels, vec![4]);
        // Channel 2 (blue), row 5, column 7.
        let v = ds.images[2 * 1024 + 5 * 32 + 7];
        assert_eq!(v, 207.0 / 255.0);
    }

    #[test]
    fn bad_batches_give_named_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("short.bin");
        std::fs::write(&p, vec![0u8; 3073 + 100]).unwrap();
        let e = read_cifar_batch(&p).unwrap_err().to_string();
        assert!(
            e.contains("short.bin") && e.contains("3,173 bytes") && e.contains("3,073"),
            "{e}"
        );
        std::fs::write(&p, []).unwrap();
        let e = read_cifar_batch(&p).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let mut two = record(1, |_| 0);
        two.extend(record(10, |_| 0));
        std::fs::write(&p, &two).unwrap();
        let e = read_cifar_batch(&p).unwrap_err().to_string();
        assert!(e.contains("label 10 of record 1"), "{e}");
    }

    #[test]
    fn missing_files_are_all_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("data_batch_1.bin"), record(0, |_| 0)).unwrap();
        std::fs::write(d.path().join("data_batch_3.bin"), record(0, |_| 0)).unwrap();
        let e = read_cifar10_dir(d.path()).unwrap_err().to_string();
        for want in [
            "data_batch_2.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin",
            "30,730,000",
        ] {
            assert!(e.contains(want), "{e}");
        }
        assert!(!e.contains("data_batch_1.bin,"), "{e}");
    }

    #[test]
    fn directory_concatenates_batches_in_order() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join(ARCHIVE_DIR);
        std::fs::create_dir(&d).unwrap();
        for (b, name) in CIFAR10_TRAIN_FILES.iter().enumerate() {
            let mut bytes = record(b as u8, |_| b as u8);
            bytes.extend(record(9 - b as u8, |_| 0));
            std::fs::write(d.join(name), bytes).unwrap();
        }
        std::fs::write(d.join(CIFAR10_TEST_FILE), record(7, |_| 255)).unwrap();
        // Given the parent folder, the reader finds cifar-10-batches-bin/ below it.
        let s = read_cifar10_dir(root.path()).unwrap();
        assert_eq!(s.train.labels, vec![0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
        assert_eq!(s.train.image(4)[3071], 2.0 / 255.0);
        assert_eq!(s.test.labels, vec![7]);
        assert!(s.test.images.iter().all(|&x| x == 1.0));
    }
}

//! The UCI optical-recognition digits (Alpaydin & Kaynak 1998) as scikit-learn bundles them:
//! a CSV without header, one 8x8 image per row, 64 pixel counts `0..=16` then the label.
//!
//! The copy in `fixtures/data/digits/digits.csv.gz` (scikit-learn 1.9.1; see the provenance
//! README there) is compiled into the crate, so [`bundled_digits`] works from any directory.

use std::path::Path;

use super::io::{decompress_if_gz, read_maybe_gz};
use super::{Dataset, Splits};
use crate::{Error, Result};

/// The bundled file, gzipped (58 KB).
static BUNDLED_GZ: &[u8] = include_bytes!("../../../fixtures/data/digits/digits.csv.gz");

/// How errors name the bundled copy.
pub(super) const BUNDLED_NAME: &str = "<bundled fixtures/data/digits/digits.csv.gz>";

/// Rows in the bundled digits file.
pub const DIGITS_BUNDLED_ROWS: usize = 1797;
/// Rows of the bundled file that [`split_digits`] puts in the training split (the rest, 360,
/// are the test split).
pub const DIGITS_TRAIN_ROWS: usize = 1437;

const SIDE: usize = 8;
const PIXELS: usize = SIDE * SIDE;
const MAX_COUNT: f64 = 16.0;
const CLASSES: usize = 10;

/// Parses digits CSV text; `source` only names the file in errors.
///
/// Each non-blank line holds 64 numbers in `0..=16` (pixel counts, row-major) and a label in
/// `0..=9`; pixels are scaled to `[0, 1]` by dividing by 16. Blank lines are skipped.
///
/// # Errors
///
/// [`Error::Format`] naming `source` and the 1-based line number when a line does not hold
/// exactly 65 fields, a field is not a number, a pixel is outside `0..=16`, or a label is not an
/// integer in `0..=9`; and when there are no rows at all.
pub fn parse_digits_csv(text: &str, source: &Path) -> Result<Dataset> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let lineno = k + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(Error::format(
                source,
                format!(
                    "line {lineno} has {} values; a digits row has 65 (64 pixel counts 0..16, then the label)",
                    fields.len()
                ),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let v: f64 = f.trim().parse().map_err(|_| {
                Error::format(
                    source,
                    format!("line {lineno}, value {}: `{f}` is not a number", j + 1),
                )
            })?;
            if j < PIXELS {
                if !(0.0..=MAX_COUNT).contains(&v) {
                    return Err(Error::format(
                        source,
                        format!(
                            "line {lineno}, value {}: pixel count {v} is outside 0..=16",
                            j + 1
                        ),
                    ));
                }
                images.push((v / MAX_COUNT) as f32);
            } else {
                if !(v.fract() == 0.0 && (0.0..CLASSES as f64).contains(&v)) {
                    return Err(Error::format(
                        source,
                        format!(
                            "line {lineno}: label {v} is out of range; digits labels are 0..=9"
                        ),
                    ));
                }
                labels.push(v as u8);
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::format(source, "empty: no digits rows"));
    }
    Ok(Dataset {
        images,
        labels,
        channels: 1,
        height: SIDE,
        width: SIDE,
        num_classes: CLASSES,
    })
}

/// Reads a digits CSV file (plain or gzipped); see [`parse_digits_csv`].
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Format`] when it is not UTF-8 or
/// [`parse_digits_csv`] rejects it.
pub fn read_digits_csv(path: &Path) -> Result<Dataset> {
    let bytes = read_maybe_gz(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
    parse_digits_csv(&text, path)
}

/// The 1797 bundled digits, all in one set (pixels in `[0, 1]`).
///
/// # Errors
///
/// None in practice: the bytes are fixed at compile time and a unit test reads them. The
/// `Result` keeps a corrupt build from panicking.
pub fn bundled_digits() -> Result<Dataset> {
    let name = Path::new(BUNDLED_NAME);
    let bytes = decompress_if_gz(name, BUNDLED_GZ.to_vec())?;
    let text =
        String::from_utf8(bytes).map_err(|e| Error::format(name, format!("not UTF-8: {e}")))?;
    parse_digits_csv(&text, name)
}

/// Splits a digits set deterministically: the first `floor(4n/5)` rows train, the rest test.
///
/// For the bundled 1797 rows that is 1437 training and 360 test images. No shuffling is
/// needed: scikit-learn's file cycles through the classes (row `i` is mostly digit `i mod 10`),
/// so both parts hold every class in near-equal numbers, and a fixed cut keeps the split
/// independent of any seed.
///
/// # Panics
///
/// Never; a set of one row gives an empty training split and a one-row test split.
pub fn split_digits(all: &Dataset) -> Splits {
    let n_train = all.len() * 4 / 5;
    let cut = n_train * all.image_len();
    let part = |images: &[f32], labels: &[u8]| Dataset {
        images: images.to_vec(),
        labels: labels.to_vec(),
        ..all.clone_shape()
    };
    Splits {
        train: part(&all.images[..cut], &all.labels[..n_train]),
        test: part(&all.images[cut..], &all.labels[n_train..]),
    }
}

impl Dataset {
    /// An empty dataset with this one's shape and classes (for struct-update syntax).
    fn clone_shape(&self) -> Dataset {
        Dataset {
            images: Vec::new(),
            labels: Vec::new(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            num_classes: self.num_classes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_set_has_the_published_size_and_split() {
        let all = bundled_digits().unwrap();
        assert_eq!(all.len(), DIGITS_BUNDLED_ROWS);
        let s = split_digits(&all);
        assert_eq!(s.train.len(), DIGITS_TRAIN_ROWS);
        assert_eq!(s.test.len(), DIGITS_BUNDLED_ROWS - DIGITS_TRAIN_ROWS);
        assert_eq!(s.test.image(0), all.image(DIGITS_TRAIN_ROWS));
    }

    #[test]
    fn bad_rows_name_the_line() {
        let p = Path::new("d.csv");
        let good = format!("{}0", "1,".repeat(64));
        let cases = [
            (format!("{good}\n1,2,3\n"), "line 2 has 3 values"),
            (
                format!("{good}\n\n{}", good.replacen('1', "x", 1)),
                "line 3, value 1: `x`",
            ),
            (good.replacen('1', "17", 1), "pixel count 17"),
            (format!("{}10", "1,".repeat(64)), "label 10"),
            (format!("{}2.5", "1,".repeat(64)), "label 2.5"),
            ("\n\n".to_string(), "empty"),
        ];
        for (text, want) in cases {
            let e = parse_digits_csv(&text, p).unwrap_err().to_string();
            assert!(e.contains("d.csv") && e.contains(want), "{want}: {e}");
        }
        let ds = parse_digits_csv(&format!("{good}\n{good}\n"), p).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.images[0], 1.0 / 16.0);
    }
}

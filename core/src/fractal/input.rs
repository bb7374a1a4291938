//! Reading sets and surfaces from `.npy` files of any numeric or boolean dtype.

use super::Bitmap;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayD, Ix2};
use ndarray_npy::{ReadNpyError, ReadNpyExt, ReadableElement};
use std::path::Path;

/// Reads a 2-D `.npy` array of any integer, float or bool dtype as f64 (bool: 0 or 1).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Format`] when it is not a valid `.npy`
/// file (bad header, truncated data, unsupported dtype such as complex or string);
/// [`Error::Shape`] when the array is not 2-D.
pub fn read_array2_f64(path: impl AsRef<Path>) -> Result<Array2<f64>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let a: ArrayD<f64> = read_any(path, &bytes)?;
    if a.ndim() != 2 {
        return Err(Error::Shape(format!(
            "{}: expected a 2-D array, got {} dimension(s) with shape {:?}",
            path.display(),
            a.ndim(),
            a.shape()
        )));
    }
    a.into_dimensionality::<Ix2>()
        .map_err(|e| Error::Shape(format!("{}: {e}", path.display())))
}

/// Reads a 2-D `.npy` array as a binary image: non-zero entries are in the set.
///
/// Rows of the array are image rows (y), columns are x.
///
/// # Errors
/// As [`read_array2_f64`], plus [`Error::InvalidData`] for an empty array or a NaN entry
/// (which is neither in nor out of the set).
pub fn read_bitmap_npy(path: impl AsRef<Path>) -> Result<Bitmap> {
    let path = path.as_ref();
    let a = read_array2_f64(path)?;
    if let Some(i) = a.iter().position(|v| v.is_nan()) {
        return Err(Error::InvalidData(format!(
            "{}: entry {i} (row-major) is NaN; a binary image needs numbers or booleans",
            path.display()
        )));
    }
    Bitmap::from_array(a.view(), |&v| v != 0.0)
        .map_err(|e| Error::InvalidData(format!("{}: {e}", path.display())))
}

fn read_any(path: &Path, bytes: &[u8]) -> Result<ArrayD<f64>> {
    macro_rules! try_types {
        ($($t:ty),*) => {
            $(
                match read_as::<$t>(bytes) {
                    Ok(a) => return Ok(a.mapv(|v| v as f64)),
                    Err(ReadNpyError::WrongDescriptor(_)) => {}
                    Err(e) => return Err(npy_error(path, e)),
                }
            )*
        };
    }
    try_types!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);
    match read_as::<bool>(bytes) {
        Ok(a) => Ok(a.mapv(|v| f64::from(u8::from(v)))),
        Err(e) => Err(npy_error(path, e)),
    }
}

fn read_as<T: ReadableElement>(bytes: &[u8]) -> std::result::Result<ArrayD<T>, ReadNpyError> {
    ArrayD::<T>::read_npy(bytes)
}

fn npy_error(path: &Path, e: ReadNpyError) -> Error {
    let reason = match e {
        ReadNpyError::WrongDescriptor(d) => {
            format!("unsupported .npy dtype {d} (expected an integer, float or bool array)")
        }
        ReadNpyError::MissingData => {
            "truncated .npy file (fewer bytes than the header says)".into()
        }
        other => format!("not a valid .npy file: {other}"),
    };
    Error::format(path, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array1};
    use ndarray_npy::WriteNpyExt;

    fn write<T: ndarray_npy::WritableElement, D: ndarray::Dimension>(
        dir: &tempfile::TempDir,
        name: &str,
        a: &ndarray::Array<T, D>,
    ) -> std::path::PathBuf {
        let p = dir.path().join(name);
        a.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
        p
    }

    #[test]
    fn reads_every_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let b = arr2(&[[true, false], [false, true]]);
        let u = arr2(&[[3u8, 0], [0, 7]]);
        let i = arr2(&[[-1i16, 0], [0, 2]]);
        let f = arr2(&[[0.5f32, 0.0], [0.0, 1e-3]]);
        for p in [
            write(&dir, "b.npy", &b),
            write(&dir, "u.npy", &u),
            write(&dir, "i.npy", &i),
            write(&dir, "f.npy", &f),
        ] {
            let bm = read_bitmap_npy(&p).unwrap();
            assert_eq!(bm.count(), 2, "{}", p.display());
            assert!(bm.get(0, 0) && bm.get(1, 1));
        }
    }

    #[test]
    fn errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p1 = write(&dir, "one.npy", &Array1::from(vec![1.0f64, 2.0]));
        let e = read_array2_f64(&p1).unwrap_err().to_string();
        assert!(e.contains("2-D"), "{e}");
        let missing = read_array2_f64(dir.path().join("nope.npy")).unwrap_err();
        assert!(matches!(missing, Error::Io { .. }));
        let junk = dir.path().join("junk.npy");
        std::fs::write(&junk, b"hello").unwrap();
        assert!(matches!(read_array2_f64(&junk), Err(Error::Format { .. })));
        // Truncated: a valid header with half the data cut off.
        let bytes =
            std::fs::read(write(&dir, "t.npy", &arr2(&[[1.0f64, 2.0], [3.0, 4.0]]))).unwrap();
        std::fs::write(&junk, &bytes[..bytes.len() - 8]).unwrap();
        let e = read_array2_f64(&junk).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}

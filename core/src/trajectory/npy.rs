//! [`NpyTrajectory`]: a memory-mapped 2-D `.npy` file (steps x d) read as a
//! [`TrajectorySource`], and the writers of trajectory files.
//!
//! The file format is read by [`crate::npy`]: float32 or float64, either byte order. A
//! trajectory additionally needs C order (each step is one contiguous row of the file) and two
//! dimensions; anything else (Fortran order, integers, 3-D arrays, a file shorter than its
//! header promises) is rejected with an error that names the file and the problem.

use super::{check_block, TrajectorySource};
use crate::error::{Error, Result};
use crate::npy::{Dtype, NpyArray};
use std::ops::Range;
use std::path::Path;

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
    crate::npy::write_f32(path, &[rows, cols], data)
}

/// Writes a 2-D `f64` array (`rows` x `cols`, row-major `data`) as a C-order `.npy` file.
///
/// # Errors
/// As [`write_npy_f32`].
pub fn write_npy_f64(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f64]) -> Result<()> {
    crate::npy::write_f64(path, &[rows, cols], data)
}

/// Writes a 1-D `f64` array (e.g. losses) as a `.npy` file.
///
/// # Errors
/// [`Error::Io`] on a write failure.
pub fn write_npy_1d_f64(path: impl AsRef<Path>, data: &[f64]) -> Result<()> {
    crate::npy::write_f64(path, &[data.len()], data)
}

/// Reads a whole 1-D `.npy` of `f32` or `f64` (either byte order) as `f64` values.
///
/// # Errors
/// A malformed or truncated file, or an array that is not 1-D.
pub fn read_npy_1d(path: impl AsRef<Path>) -> Result<Vec<f64>> {
    let a = NpyArray::open(path)?;
    a.expect_ndim(1)?;
    Ok(a.values())
}

/// A 2-D `.npy` file (steps x d, `f32` or `f64`, either byte order, C order) read through a
/// memory map.
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
    array: NpyArray,
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
    /// file whose length differs from what its header needs (a truncated file is reported as
    /// "it holds N bytes and the header ... needs M" with the first incomplete step).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (file, header, file_len) = crate::npy::read_header(path)?;
        let (n_steps, dim) = match header.shape[..] {
            [n, d] => (n, d),
            _ => {
                return Err(Error::format(
                    path,
                    format!(
                        "expected a 2-D array of steps x weights, found {}-D shape {}",
                        header.shape.len(),
                        header.shape_string()
                    ),
                ))
            }
        };
        if file_len < header.file_len() {
            return Err(header.truncated(path, file_len, 0, "step"));
        }
        header.check_file_len(file_len, path)?;
        let array = NpyArray::from_parts(file, path.to_path_buf(), header, file_len)?;
        array.expect_c_order("a trajectory reads each step as one contiguous row")?;
        Ok(Self {
            array,
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
                    self.array.path().display(),
                    self.n_steps
                ),
            ));
        }
        self.losses = Some(losses);
        Ok(self)
    }

    /// The file this trajectory was opened from.
    pub fn path(&self) -> &Path {
        self.array.path()
    }

    /// Element type stored in the file.
    pub fn dtype(&self) -> Dtype {
        self.array.dtype()
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
            .read_rows(self.dim, steps, coords, out, 0, "step", "weight")
    }

    fn losses(&self, steps: Range<usize>) -> Result<Option<Vec<f64>>> {
        check_block(&steps, &(0..0), self.n_steps, self.dim, 0)?;
        Ok(self.losses.as_ref().map(|l| l[steps].to_vec()))
    }
}

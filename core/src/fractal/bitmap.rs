//! A 2-D binary image: the set whose box-counting dimension is measured.

use crate::error::{Error, Result};
use ndarray::ArrayView2;

/// A rectangular binary image, row-major, `true` = the pixel belongs to the set.
///
/// Pixel `(x, y)` is column `x` (0 ≤ x < width) of row `y` (0 ≤ y < height), so a 2-D array of
/// shape `(rows, cols)` becomes a bitmap of width `cols` and height `rows`.
///
/// # Examples
/// ```
/// use anodiff_core::fractal::Bitmap;
/// let b = Bitmap::from_fn(4, 3, |x, y| x == y).unwrap();
/// assert_eq!((b.width(), b.height(), b.count()), (4, 3, 3));
/// assert!(b.get(2, 2) && !b.get(3, 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: usize,
    height: usize,
    // One byte per pixel (0 or 1): summed-area tables and row sums read bytes faster than bits.
    data: Vec<u8>,
}

impl Bitmap {
    /// A bitmap from row-major pixels.
    ///
    /// # Errors
    /// [`Error::Shape`] when `pixels.len() != width * height`; [`Error::InvalidData`] when the
    /// image is empty (a zero dimension).
    pub fn new(width: usize, height: usize, pixels: &[bool]) -> Result<Bitmap> {
        check_dims(width, height)?;
        if pixels.len() != width * height {
            return Err(Error::Shape(format!(
                "bitmap of {width} x {height} needs {} pixels, got {}",
                width * height,
                pixels.len()
            )));
        }
        Ok(Bitmap {
            width,
            height,
            data: pixels.iter().map(|&p| u8::from(p)).collect(),
        })
    }

    /// A bitmap whose pixel `(x, y)` is `f(x, y)`.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when `width` or `height` is zero.
    pub fn from_fn(
        width: usize,
        height: usize,
        f: impl Fn(usize, usize) -> bool,
    ) -> Result<Bitmap> {
        check_dims(width, height)?;
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            data.extend((0..width).map(|x| u8::from(f(x, y))));
        }
        Ok(Bitmap {
            width,
            height,
            data,
        })
    }

    /// A bitmap from a 2-D array (rows = y): a pixel is in the set when `in_set` says so.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when the array is empty.
    pub fn from_array<T>(a: ArrayView2<'_, T>, in_set: impl Fn(&T) -> bool) -> Result<Bitmap> {
        let (h, w) = a.dim();
        check_dims(w, h)?;
        let data = a.iter().map(|v| u8::from(in_set(v))).collect();
        Ok(Bitmap {
            width: w,
            height: h,
            data,
        })
    }

    /// Width in pixels (number of columns).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels (number of rows).
    pub fn height(&self) -> usize {
        self.height
    }

    /// Whether pixel `(x, y)` is in the set.
    ///
    /// # Panics
    /// When `(x, y)` is outside the image.
    pub fn get(&self, x: usize, y: usize) -> bool {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside the bitmap"
        );
        self.data[y * self.width + x] != 0
    }

    /// Sets pixel `(x, y)`.
    ///
    /// # Panics
    /// When `(x, y)` is outside the image.
    pub fn set(&mut self, x: usize, y: usize, value: bool) {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside the bitmap"
        );
        self.data[y * self.width + x] = u8::from(value);
    }

    /// Number of pixels in the set.
    pub fn count(&self) -> usize {
        self.data.iter().map(|&p| p as usize).sum()
    }

    /// The smallest rectangle `[x0, x1) x [y0, y1)` holding every set pixel, or `None` for an
    /// empty set.
    pub fn bounding_box(&self) -> Option<[usize; 4]> {
        let w = self.width;
        let rows: Vec<usize> = (0..self.height)
            .filter(|&y| self.data[y * w..(y + 1) * w].iter().any(|&p| p != 0))
            .collect();
        let (&y0, &y1) = (rows.first()?, rows.last()?);
        let mut x0 = w;
        let mut x1 = 0;
        for &y in &rows {
            let row = &self.data[y * w..(y + 1) * w];
            if let Some(a) = row.iter().position(|&p| p != 0) {
                x0 = x0.min(a);
            }
            if let Some(b) = row.iter().rposition(|&p| p != 0) {
                x1 = x1.max(b + 1);
            }
        }
        Some([x0, y0, x1, y1 + 1])
    }

    /// The sub-image `[x0, x1) x [y0, y1)`.
    pub(crate) fn crop(&self, [x0, y0, x1, y1]: [usize; 4]) -> Bitmap {
        let mut data = Vec::with_capacity((x1 - x0) * (y1 - y0));
        for y in y0..y1 {
            data.extend_from_slice(&self.data[y * self.width + x0..y * self.width + x1]);
        }
        Bitmap {
            width: x1 - x0,
            height: y1 - y0,
            data,
        }
    }

    /// Row-major pixels as bytes (0 or 1).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data
    }
}

fn check_dims(width: usize, height: usize) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidData(format!(
            "image is empty ({width} x {height} pixels)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounding_box_and_crop() {
        let b = Bitmap::from_fn(10, 8, |x, y| (2..5).contains(&x) && (3..7).contains(&y)).unwrap();
        assert_eq!(b.bounding_box(), Some([2, 3, 5, 7]));
        let c = b.crop([2, 3, 5, 7]);
        assert_eq!((c.width(), c.height(), c.count()), (3, 4, 12));
        let empty = Bitmap::from_fn(3, 3, |_, _| false).unwrap();
        assert_eq!(empty.bounding_box(), None);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(Bitmap::new(0, 3, &[]).is_err());
        assert!(Bitmap::new(2, 2, &[true; 3]).is_err());
        assert!(Bitmap::from_fn(3, 0, |_, _| true).is_err());
    }
}

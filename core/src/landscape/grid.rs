//! A validated square landscape on `[-1, 1]^2` with bilinear values and gradients.

use crate::error::{Error, Result};
use ndarray::Array2;

/// A loss landscape `L(x, y)` sampled on an `n x n` grid over `[-1, 1]^2`: node `[i, j]` sits at
/// `x = -1 + i h`, `y = -1 + j h` with `h = 2 / (n - 1)` (axis 0 is `x`, axis 1 is `y`).
///
/// The gradient at a node is the central difference of its neighbours (one-sided on the border,
/// like MATLAB's `gradient`), and the gradient anywhere else is the **bilinear interpolation**
/// of the four surrounding nodes' gradients, so the walker of [`crate::toy`] feels a gradient
/// that varies continuously inside each cell rather than jumping at the nearest node.
///
/// # Examples
/// ```
/// use anodiff_core::landscape::{paraboloid, Landscape};
/// let land = Landscape::new(paraboloid(201, 1.0).unwrap()).unwrap();
/// // L = x^2 + y^2: grad = (2x, 2y); central differences are exact for quadratics.
/// let g = land.gradient([0.3, -0.25]).unwrap();
/// assert!((g[0] - 0.6).abs() < 1e-3 && (g[1] + 0.5).abs() < 1e-3);
/// assert!(land.gradient([1.5, 0.0]).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Landscape {
    z: Array2<f64>,
    n: usize,
    h: f64,
}

impl Landscape {
    /// Validates a grid as a landscape.
    ///
    /// # Errors
    /// A non-square array, a side below 3, or a NaN or infinite value (the message gives its
    /// node).
    pub fn new(z: Array2<f64>) -> Result<Landscape> {
        let (r, c) = z.dim();
        if r != c {
            return Err(Error::Shape(format!(
                "a landscape must be square, got {r} x {c}"
            )));
        }
        if r < 3 {
            return Err(Error::Shape(format!(
                "a landscape needs at least 3 x 3 nodes, got {r} x {c}"
            )));
        }
        if let Some(((i, j), v)) = z.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::InvalidData(format!(
                "the landscape has a non-finite value {v} at node [{i}, {j}]"
            )));
        }
        Ok(Landscape {
            n: r,
            h: 2.0 / (r - 1) as f64,
            z,
        })
    }

    /// Grid side `n`.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Node spacing `h = 2 / (n - 1)`.
    pub fn spacing(&self) -> f64 {
        self.h
    }

    /// The grid values.
    pub fn values(&self) -> &Array2<f64> {
        &self.z
    }

    /// Cell index and fractional offset along one axis, or `None` outside `[-1, 1]`.
    #[inline]
    fn locate(&self, x: f64) -> Option<(usize, f64)> {
        if !(-1.0..=1.0).contains(&x) {
            return None;
        }
        let u = (x + 1.0) / self.h;
        let i = (u.floor() as usize).min(self.n - 2);
        Some((i, u - i as f64))
    }

    /// `dL/dx` and `dL/dy` at node `[i, j]` by central differences (one-sided on the border).
    #[inline]
    fn node_gradient(&self, i: usize, j: usize) -> [f64; 2] {
        let z = &self.z;
        let n = self.n;
        let gx = if i == 0 {
            (z[[1, j]] - z[[0, j]]) / self.h
        } else if i == n - 1 {
            (z[[n - 1, j]] - z[[n - 2, j]]) / self.h
        } else {
            (z[[i + 1, j]] - z[[i - 1, j]]) / (2.0 * self.h)
        };
        let gy = if j == 0 {
            (z[[i, 1]] - z[[i, 0]]) / self.h
        } else if j == n - 1 {
            (z[[i, n - 1]] - z[[i, n - 2]]) / self.h
        } else {
            (z[[i, j + 1]] - z[[i, j - 1]]) / (2.0 * self.h)
        };
        [gx, gy]
    }

    /// Bilinear interpolation of the landscape at `p = [x, y]`, or `None` outside `[-1, 1]^2`.
    pub fn value(&self, p: [f64; 2]) -> Option<f64> {
        let (i, fx) = self.locate(p[0])?;
        let (j, fy) = self.locate(p[1])?;
        let z = &self.z;
        Some(
            (1.0 - fx) * (1.0 - fy) * z[[i, j]]
                + fx * (1.0 - fy) * z[[i + 1, j]]
                + (1.0 - fx) * fy * z[[i, j + 1]]
                + fx * fy * z[[i + 1, j + 1]],
        )
    }

    /// Gradient at `p = [x, y]`: bilinear interpolation of the central-difference gradients of
    /// the four surrounding nodes, or `None` outside `[-1, 1]^2`.
    pub fn gradient(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let (i, fx) = self.locate(p[0])?;
        let (j, fy) = self.locate(p[1])?;
        let g00 = self.node_gradient(i, j);
        let g10 = self.node_gradient(i + 1, j);
        let g01 = self.node_gradient(i, j + 1);
        let g11 = self.node_gradient(i + 1, j + 1);
        let w = [
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        ];
        let mut g = [0.0; 2];
        for k in 0..2 {
            g[k] = w[0] * g00[k] + w[1] * g10[k] + w[2] * g01[k] + w[3] * g11[k];
        }
        Some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_square_small_and_non_finite() {
        assert!(matches!(
            Landscape::new(Array2::zeros((4, 5))),
            Err(Error::Shape(_))
        ));
        assert!(Landscape::new(Array2::zeros((2, 2))).is_err());
        let mut z = Array2::zeros((5, 5));
        z[[2, 3]] = f64::INFINITY;
        let e = Landscape::new(z).unwrap_err().to_string();
        assert!(e.contains("[2, 3]"), "{e}");
    }

    #[test]
    fn gradient_is_exact_on_planes_and_interpolates_between_nodes() {
        // Plane L = 3x - 2y: every finite difference is exact, everywhere including borders.
        let n = 9;
        let h = 2.0 / (n - 1) as f64;
        let z = Array2::from_shape_fn((n, n), |(i, j)| {
            3.0 * (-1.0 + i as f64 * h) - 2.0 * (-1.0 + j as f64 * h)
        });
        let land = Landscape::new(z).unwrap();
        for p in [[-1.0, -1.0], [1.0, 1.0], [0.123, -0.77], [1.0, -1.0]] {
            let g = land.gradient(p).unwrap();
            assert!((g[0] - 3.0).abs() < 1e-12 && (g[1] + 2.0).abs() < 1e-12);
            let v = land.value(p).unwrap();
            assert!((v - (3.0 * p[0] - 2.0 * p[1])).abs() < 1e-12);
        }
        // L = x^3: node gradients (central) are 3x^2 + h^2; between nodes the gradient is the
        // linear blend of the two node values, not the nearest one.
        let z = Array2::from_shape_fn((n, n), |(i, _)| (-1.0 + i as f64 * h).powi(3));
        let land = Landscape::new(z).unwrap();
        let (x0, x1) = (0.0, h);
        let g0 = 3.0 * x0 * x0 + h * h;
        let g1 = 3.0 * x1 * x1 + h * h;
        let x = x0 + 0.3 * h;
        let g = land.gradient([x, 0.0]).unwrap();
        assert!((g[0] - (0.7 * g0 + 0.3 * g1)).abs() < 1e-12);
        assert!(land.gradient([f64::NAN, 0.0]).is_none());
        assert!(land.gradient([0.0, -1.0000001]).is_none());
    }
}

//! Test operators with known spectra: Marchenko-Pastur bulks, CIFAR-like Hessian spectra, and
//! `Q diag(lambda) Q^T` with `Q` a product of Householder reflectors (O(r n) per product).

use super::operator::{check_len, dot, norm, LinearOperator};
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// `count` deterministic points of the Marchenko-Pastur law with aspect ratio `ratio` in (0, 1],
/// rescaled so that the upper edge of the support is `upper_edge`: the quantiles at
/// `(i + 1/2) / count`, ascending.
///
/// The unscaled law (unit variance) has support `[(1 - sqrt y)^2, (1 + sqrt y)^2]` and density
/// `sqrt((b - x)(x - a)) / (2 pi y x)`. Quantiles stand in for a random sample so that the
/// spectrum, and every benchmark built on it, is reproducible bit for bit; near the upper edge
/// they are spaced like a Wishart sample's typical eigenvalues (gaps ~ (i/count)^(1/3) / count^(2/3)).
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::marchenko_pastur_quantiles;
///
/// let q = marchenko_pastur_quantiles(1000, 0.5, 5.0).unwrap();
/// assert!(q.windows(2).all(|w| w[0] < w[1]));
/// assert!(q[999] < 5.0 && q[999] > 4.8);
/// // Mean of the unit-variance law is 1, i.e. 5 / (1 + sqrt 0.5)^2 after rescaling.
/// let mean = q.iter().sum::<f64>() / 1000.0;
/// assert!((mean - 5.0 / (1.0 + 0.5f64.sqrt()).powi(2)).abs() < 1e-3);
/// ```
///
/// # Errors
///
/// `count = 0`, `ratio` outside (0, 1], or a non-positive `upper_edge`.
pub fn marchenko_pastur_quantiles(count: usize, ratio: f64, upper_edge: f64) -> Result<Vec<f64>> {
    if count == 0 {
        return Err(Error::param("count", "need at least one point"));
    }
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(Error::param(
            "ratio",
            format!("must be in (0, 1], got {ratio}"),
        ));
    }
    if !(upper_edge > 0.0 && upper_edge.is_finite()) {
        return Err(Error::param(
            "upper_edge",
            format!("must be positive and finite, got {upper_edge}"),
        ));
    }
    let s = ratio.sqrt();
    let (a, b) = ((1.0 - s).powi(2), (1.0 + s).powi(2));
    let half = (b - a) / 2.0;
    // x(t) = a + (b - a)(1 - cos t)/2 turns the square-root edges into a smooth integrand
    // f(x) dx = half^2 sin^2 t / (2 pi y x(t)) dt, integrated by the trapezoidal rule.
    let x_of = |t: f64| a + half * (1.0 - t.cos());
    let g = |t: f64| half * half * t.sin().powi(2) / (2.0 * std::f64::consts::PI * ratio * x_of(t));
    let steps = 200_000usize;
    let h = std::f64::consts::PI / steps as f64;
    let mut cdf = Vec::with_capacity(steps + 1);
    cdf.push(0.0);
    let mut acc = 0.0;
    for i in 0..steps {
        let (t0, t1) = (i as f64 * h, (i + 1) as f64 * h);
        acc += 0.5 * h * (g(t0) + g(t1));
        cdf.push(acc);
    }
    // For y < 1 the total is 1 up to quadrature error; for y = 1 the pole at 0 is integrable and
    // the small deficit is spread proportionally.
    let total = acc;
    let mut out = Vec::with_capacity(count);
    let mut idx = 0usize;
    for i in 0..count {
        let p = (i as f64 + 0.5) / count as f64 * total;
        while idx + 1 < cdf.len() && cdf[idx + 1] < p {
            idx += 1;
        }
        let (c0, c1) = (cdf[idx], cdf[idx + 1]);
        let frac = if c1 > c0 { (p - c0) / (c1 - c0) } else { 0.0 };
        let t = (idx as f64 + frac) * h;
        out.push(x_of(t) * upper_edge / b);
    }
    Ok(out)
}

/// A spectrum shaped like the Hessian of a trained 10-class network (Papyan 2019; Ghorbani et al.
/// 2019): 9 outliers log-spaced from 200 down to 50, a Marchenko-Pastur bulk (ratio 0.5) with
/// upper edge 5, and 5 small negative eigenvalues (-0.1, -0.2, -0.3, -0.5, -1). Sorted
/// descending. The top 20 are the 9 outliers and the 11 largest bulk points, which are closely
/// spaced and need restarts: the hard case of the project notes (analysis-methods.md, s.2.4).
///
/// # Errors
///
/// `n < 30`.
pub fn cifar_like_spectrum(n: usize) -> Result<Vec<f64>> {
    if n < 30 {
        return Err(Error::param("n", format!("need n >= 30, got {n}")));
    }
    let mut s: Vec<f64> = (0..9)
        .map(|i| 200.0 * (50.0f64 / 200.0).powf(i as f64 / 8.0))
        .collect();
    let negatives = [-0.1, -0.2, -0.3, -0.5, -1.0];
    let mut bulk = marchenko_pastur_quantiles(n - 9 - negatives.len(), 0.5, 5.0)?;
    bulk.reverse();
    s.extend(bulk);
    s.extend(negatives);
    Ok(s)
}

/// `A = Q diag(lambda) Q^T` with `Q = H_1 H_2 ... H_r` a product of Householder reflectors
/// `H_i = I - 2 u_i u_i^T` (unit `u_i`): a symmetric operator with exactly known eigenvalues
/// `lambda` and eigenvectors `Q e_j`, applied in O(r n) without storing `Q`.
///
/// # Examples
///
/// ```
/// use anodiff_core::lanczos::{Lanczos, PlantedOperator};
///
/// let lambda: Vec<f64> = (0..300).map(|i| 1.0 / (1.0 + i as f64)).collect();
/// let op = PlantedOperator::random(lambda, 4, 7).unwrap();
/// let res = Lanczos::new(2).unwrap().run(&op).unwrap();
/// assert!((res.eigenvalues[0] - 1.0).abs() < 1e-10);
/// assert!((res.eigenvalues[1] - 0.5).abs() < 1e-10);
/// ```
#[derive(Debug, Clone)]
pub struct PlantedOperator {
    lambda: Vec<f64>,
    reflectors: Vec<Vec<f64>>,
}

impl PlantedOperator {
    /// Builds the operator from eigenvalues and reflector vectors (normalised here).
    ///
    /// # Errors
    ///
    /// Empty or non-finite eigenvalues, reflectors of the wrong length, zero or non-finite.
    pub fn new(lambda: Vec<f64>, reflectors: Vec<Vec<f64>>) -> Result<Self> {
        let n = lambda.len();
        if n == 0 {
            return Err(Error::InvalidData("no eigenvalues given".into()));
        }
        if lambda.iter().any(|x| !x.is_finite()) {
            return Err(Error::InvalidData(
                "an eigenvalue is NaN or infinite".into(),
            ));
        }
        let mut units = Vec::with_capacity(reflectors.len());
        for (i, mut u) in reflectors.into_iter().enumerate() {
            if u.len() != n {
                return Err(Error::Shape(format!(
                    "reflector {i} has length {}, the operator dimension is {n}",
                    u.len()
                )));
            }
            let nu = norm(&u);
            if !(nu > 0.0 && nu.is_finite()) {
                return Err(Error::InvalidData(format!(
                    "reflector {i} is zero or not finite"
                )));
            }
            u.iter_mut().for_each(|x| *x /= nu);
            units.push(u);
        }
        Ok(PlantedOperator {
            lambda,
            reflectors: units,
        })
    }

    /// Like [`PlantedOperator::new`] with `count` Gaussian reflectors from `ChaCha8Rng` seeded
    /// with `seed`.
    ///
    /// # Errors
    ///
    /// As [`PlantedOperator::new`].
    pub fn random(lambda: Vec<f64>, count: usize, seed: u64) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = lambda.len();
        let refl = (0..count)
            .map(|_| (0..n).map(|_| StandardNormal.sample(&mut rng)).collect())
            .collect();
        PlantedOperator::new(lambda, refl)
    }

    /// The planted eigenvalues, in the order given.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.lambda
    }

    /// The unit reflector vectors `u_i`.
    pub fn reflectors(&self) -> &[Vec<f64>] {
        &self.reflectors
    }

    /// The unit eigenvector `Q e_j` of `eigenvalues()[j]`.
    ///
    /// # Panics
    ///
    /// If `j` is not below the dimension.
    pub fn eigenvector(&self, j: usize) -> Vec<f64> {
        let mut x = vec![0.0; self.lambda.len()];
        x[j] = 1.0;
        for u in self.reflectors.iter().rev() {
            reflect(u, &mut x);
        }
        x
    }
}

fn reflect(u: &[f64], x: &mut [f64]) {
    let c = 2.0 * dot(u, x);
    for (xi, ui) in x.iter_mut().zip(u) {
        *xi -= c * ui;
    }
}

impl LinearOperator for PlantedOperator {
    fn dim(&self) -> usize {
        self.lambda.len()
    }

    fn apply(&self, v: &[f64], out: &mut [f64]) -> Result<()> {
        check_len(self.lambda.len(), v, out)?;
        out.copy_from_slice(v);
        // Q^T = H_r ... H_1, so H_1 acts first.
        for u in &self.reflectors {
            reflect(u, out);
        }
        for (o, l) in out.iter_mut().zip(&self.lambda) {
            *o *= l;
        }
        for u in self.reflectors.iter().rev() {
            reflect(u, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_eigenvectors_are_eigenvectors() {
        let op = PlantedOperator::random(vec![3.0, 1.0, -2.0, 0.5, 7.0], 3, 1).unwrap();
        let mut out = vec![0.0; 5];
        for j in 0..5 {
            let x = op.eigenvector(j);
            assert!((norm(&x) - 1.0).abs() < 1e-14);
            op.apply(&x, &mut out).unwrap();
            for (o, xi) in out.iter().zip(&x) {
                assert!((o - op.eigenvalues()[j] * xi).abs() < 1e-13);
            }
        }
    }

    #[test]
    fn mp_quantiles_match_moments_of_the_law() {
        // Unit-variance MP law: mean 1, second moment 1 + y (Bai & Silverstein 2010, s.3.1).
        let y: f64 = 0.5;
        let b = (1.0 + y.sqrt()).powi(2);
        let q = marchenko_pastur_quantiles(20_000, y, b).unwrap();
        let m1 = q.iter().sum::<f64>() / q.len() as f64;
        let m2 = q.iter().map(|x| x * x).sum::<f64>() / q.len() as f64;
        // Midpoint quantiles carry an O(1/count) discretisation error: 1e-3 is ample.
        assert!((m1 - 1.0).abs() < 1e-3, "{m1}");
        assert!((m2 - 1.5).abs() < 1e-3, "{m2}");
        assert!(marchenko_pastur_quantiles(10, 1.5, 1.0).is_err());
        assert!(marchenko_pastur_quantiles(0, 0.5, 1.0).is_err());
    }

    #[test]
    fn cifar_spectrum_shape() {
        let s = cifar_like_spectrum(3000).unwrap();
        assert_eq!(s.len(), 3000);
        assert!((s[0] - 200.0).abs() < 1e-12 && (s[8] - 50.0).abs() < 1e-12);
        assert!(s[9] < 5.0 && s[9] > 4.9);
        assert_eq!(s.iter().filter(|&&x| x < 0.0).count(), 5);
        assert!(cifar_like_spectrum(10).is_err());
    }
}

//! Exact fractional Brownian motion analysed at the data's lags: the single-power-law null
//! model behind [`super::fit_msd`]'s model-based error and its one-vs-two-regime test.

use crate::error::Result;
use crate::landscape::FgnGenerator;
use crate::msd::{msd, Window};
use crate::trajectory::InMemoryTrajectory;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Most independent coordinates in each null simulation; data with more effective coordinates
/// are matched by scaling (the variance of a log-MSD statistic goes as `1 / d_eff`, exactly so
/// once `ln MSD` is close to linear in its noise, as it is at 16 coordinates).
pub(crate) const NULL_DIM_MAX: usize = 16;

/// `Σ_i (a_i - b_i)^2`, in four independent partial sums so that the loop vectorises.
fn sq_diff_sum(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            let d = x[k] - y[k];
            s[k] += d * d;
        }
    }
    s[0] + s[1] + s[2] + s[3] + tail
}

/// `ln MSD` at `lags` of `n_sims` exact fBm paths with Hurst exponent `h`, each of `len` steps
/// in `dim` independent unit coordinates; simulation `i` draws from stream `i` of a ChaCha8
/// generator seeded with `seed`, so the result does not depend on the number of threads.
/// Curves with a non-positive MSD value (possible only in degenerate cases) are dropped.
///
/// With few lags the MSD is summed directly at each lag in f64 (`O(len)` per lag and
/// coordinate, cheaper than an FFT of length `2 len` for up to ~`3 log2(2 len)` lags); with
/// many, the paths go through [`crate::msd::msd`] as an [`InMemoryTrajectory`].
///
/// # Errors
/// `len < 2` or `h` outside (0, 1).
pub(crate) fn fbm_log_msd_curves(
    h: f64,
    len: usize,
    dim: usize,
    lags: &[usize],
    n_sims: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    let gen = FgnGenerator::new(len.saturating_sub(1), h)?;
    let direct = (lags.len() as f64) <= 3.0 * ((2 * len) as f64).log2();
    let one = |i: usize| -> Option<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        let mut paths = Vec::with_capacity(dim);
        while paths.len() < dim {
            let (a, b) = gen.sample_pair(&mut rng);
            for noise in [a, b] {
                if paths.len() < dim {
                    let mut p = Vec::with_capacity(len);
                    let mut x = 0.0;
                    p.push(x);
                    for v in noise {
                        x += v;
                        p.push(x);
                    }
                    paths.push(p);
                }
            }
        }
        let m: Vec<f64> = if direct {
            lags.iter()
                .map(|&tau| {
                    let s: f64 = paths
                        .iter()
                        .map(|p| sq_diff_sum(&p[tau..], &p[..len - tau]))
                        .sum();
                    s / (len - tau) as f64
                })
                .collect()
        } else {
            let w: Vec<f32> = (0..len)
                .flat_map(|t| paths.iter().map(move |p| p[t] as f32))
                .collect();
            let tr = InMemoryTrajectory::from_weights(dim, w, None).ok()?;
            msd(&tr, Window { start: 0, len }, lags).ok()?.msd
        };
        m.iter()
            .all(|v| *v > 0.0)
            .then(|| m.iter().map(|v| v.ln()).collect())
    };
    Ok((0..n_sims).into_par_iter().filter_map(one).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean simulated MSD of fBm is `tau^{2H}` per coordinate (stationary increments of unit
    /// variance at lag 1): checked for both branches against the analytic value.
    #[test]
    fn simulated_msd_has_the_fbm_mean() {
        let lags = [1usize, 4, 16, 64];
        for (h, many) in [(0.3, false), (0.8, true)] {
            let lag_list: Vec<usize> = if many {
                (1..=64).collect()
            } else {
                lags.to_vec()
            };
            let c = fbm_log_msd_curves(h, 256, 4, &lag_list, 400, 9).unwrap();
            assert_eq!(c.len(), 400);
            for &tau in &lags {
                let k = lag_list.iter().position(|&l| l == tau).unwrap();
                let mean = c.iter().map(|v| v[k].exp()).sum::<f64>() / 400.0 / 4.0;
                let want = (tau as f64).powf(2.0 * h);
                // 1600 coordinate-paths; the relative sd of one path's TAMSD at tau <= 64 of
                // 256 steps is below 0.6, so the mean is within 0.6 / 40 = 1.5 % (4 sd: 6 %).
                assert!(
                    (mean / want - 1.0).abs() < 0.06,
                    "H {h} tau {tau}: {mean} vs {want}"
                );
            }
        }
    }

    #[test]
    fn simulations_do_not_depend_on_threads() {
        let a = fbm_log_msd_curves(0.4, 100, 3, &[1, 5, 20], 20, 1).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| fbm_log_msd_curves(0.4, 100, 3, &[1, 5, 20], 20, 1).unwrap());
        assert_eq!(a, b);
    }
}

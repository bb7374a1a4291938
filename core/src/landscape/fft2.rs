//! In-place 2-D FFT on a row-major complex buffer (rows, then columns through a transpose).

use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;

/// Unnormalised forward 2-D DFT of `data` (`rows` x `cols`, row-major), in place.
pub(crate) fn fft2_forward(data: &mut [Complex64], rows: usize, cols: usize) {
    debug_assert_eq!(data.len(), rows * cols);
    let mut planner = FftPlanner::<f64>::new();
    let frow = planner.plan_fft_forward(cols);
    let fcol = planner.plan_fft_forward(rows);
    data.par_chunks_mut(cols).for_each(|row| frow.process(row));
    let mut t = transpose(data, rows, cols);
    t.par_chunks_mut(rows).for_each(|col| fcol.process(col));
    let back = transpose(&t, cols, rows);
    data.copy_from_slice(&back);
}

fn transpose(data: &[Complex64], rows: usize, cols: usize) -> Vec<Complex64> {
    let mut out = vec![Complex64::new(0.0, 0.0); rows * cols];
    // Blocked so that both reads and writes stay in cache.
    const B: usize = 32;
    for i0 in (0..rows).step_by(B) {
        for j0 in (0..cols).step_by(B) {
            for i in i0..(i0 + B).min(rows) {
                for j in j0..(j0 + B).min(cols) {
                    out[j * rows + i] = data[i * cols + j];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_direct_dft() {
        let (r, c) = (3, 5);
        let data: Vec<Complex64> = (0..r * c)
            .map(|k| Complex64::new((k as f64).sin(), (k as f64 * 0.3).cos()))
            .collect();
        let mut fast = data.clone();
        fft2_forward(&mut fast, r, c);
        for p in 0..r {
            for q in 0..c {
                let mut s = Complex64::new(0.0, 0.0);
                for i in 0..r {
                    for j in 0..c {
                        let ang = -2.0
                            * std::f64::consts::PI
                            * ((p * i) as f64 / r as f64 + (q * j) as f64 / c as f64);
                        s += data[i * c + j] * Complex64::from_polar(1.0, ang);
                    }
                }
                assert!((s - fast[p * c + q]).norm() < 1e-12);
            }
        }
    }
}

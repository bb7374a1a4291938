//! Automatic choice of the scaling range of a log-log plot.

/// The widest run of consecutive points whose local slopes are flat, as inclusive indices
/// `(first, last)`, or `None` when no run of `min_points` points is flat.
///
/// The local slope between points `k` and `k + 1` is `(y[k+1] - y[k]) / (x[k+1] - x[k])`. A run
/// of points `first..=last` is **flat** when the largest and smallest of its local slopes differ
/// by at most `tolerance`. Among flat runs the one with the most points wins; ties go to the run
/// with the smaller spread of local slopes, then to the one that comes first.
///
/// Why this criterion: a power law is a straight line, so its local slopes are constant up to
/// noise; the crossovers at the pixel scale and at the size of the set bend the curve and make
/// the local slopes drift, which the spread detects without a model of either crossover. The
/// tolerance is absolute, in units of dimension.
///
/// # Examples
/// ```
/// use anodiff_core::fractal::select_flat_range;
/// // Slope 1.5 on points 1..=5, bent at both ends.
/// let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let y = [0.0, 0.5, 2.0, 3.5, 5.0, 6.5, 6.6];
/// assert_eq!(select_flat_range(&x, &y, 0.1, 4), Some((1, 5)));
/// ```
pub fn select_flat_range(
    x: &[f64],
    y: &[f64],
    tolerance: f64,
    min_points: usize,
) -> Option<(usize, usize)> {
    let n = x.len().min(y.len());
    if n < min_points.max(2) {
        return None;
    }
    let d: Vec<f64> = (0..n - 1)
        .map(|k| (y[k + 1] - y[k]) / (x[k + 1] - x[k]))
        .collect();
    let mut best: Option<(usize, usize, f64)> = None;
    for a in 0..n - 1 {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for b in a + 1..n {
            let s = d[b - 1];
            if !s.is_finite() {
                break;
            }
            lo = lo.min(s);
            hi = hi.max(s);
            let spread = hi - lo;
            if spread > tolerance {
                break;
            }
            if b - a + 1 < min_points {
                continue;
            }
            let better = match best {
                None => true,
                Some((ba, bb, bs)) => {
                    let (len, blen) = (b - a, bb - ba);
                    len > blen || (len == blen && spread < bs)
                }
            };
            if better {
                best = Some((a, b, spread));
            }
        }
    }
    best.map(|(a, b, _)| (a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_line_uses_everything() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.7 * v).collect();
        assert_eq!(select_flat_range(&x, &y, 1e-9, 4), Some((0, 9)));
    }

    #[test]
    fn no_flat_run() {
        let x: Vec<f64> = (0..6).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v * v).collect();
        assert_eq!(select_flat_range(&x, &y, 0.5, 4), None);
        assert_eq!(select_flat_range(&x[..2], &y[..2], 0.5, 4), None);
    }

    #[test]
    fn prefers_smaller_spread_on_ties() {
        // Two flat runs of 4 points: slopes (1, 1.05, 1) and (2, 2, 2).
        let x: Vec<f64> = (0..8).map(f64::from).collect();
        let y = [0.0, 1.0, 2.05, 3.05, 9.0, 11.0, 13.0, 15.0];
        assert_eq!(select_flat_range(&x, &y, 0.1, 4), Some((4, 7)));
    }
}

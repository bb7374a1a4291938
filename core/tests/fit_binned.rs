//! The binned (grouped) likelihood against the per-point MLE, and streaming from `.npy`.

mod fit_support;

use anodiff_core::fit::{BinnedMle, Estimator, Histogram, Method, Mle};
use fit_support::sample;

/// Writes a 1-D (or 2-D, `cols` > 1) little-endian float32 `.npy` file.
fn write_npy_f32(path: &std::path::Path, x: &[f32], cols: usize) {
    let shape = if cols > 1 {
        format!("({}, {}), ", x.len() / cols, cols)
    } else {
        format!("({},), ", x.len())
    };
    let mut hdr = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}}}");
    while (10 + hdr.len() + 1) % 64 != 0 {
        hdr.push(' ');
    }
    hdr.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
    b.extend_from_slice(hdr.as_bytes());
    for v in x {
        b.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

fn binned_vs_points(n: usize, seed: u64) -> (f64, f64) {
    let x = sample(n, seed, [1.5, 0.2, 1.0, 0.0]);
    let point = Mle::new().fit(&x).unwrap();
    let binned = BinnedMle::new().fit(&x).unwrap();
    assert!(point.converged && binned.converged);
    assert_eq!(binned.method, Method::Binned);
    assert_eq!(binned.n, n as u64);
    let d = (binned.alpha - point.alpha).abs();
    eprintln!(
        "n = {n}: alpha point {} binned {} |diff| {d:e}; loglik point {} binned {}",
        point.alpha, binned.alpha, point.loglik, binned.loglik
    );
    // the grouped log-likelihood (with its curvature correction) tracks the point one
    assert!((binned.loglik - point.loglik).abs() < 1e-6 * point.loglik.abs());
    (d, point.se.alpha.unwrap())
}

#[test]
fn binned_alpha_agrees_with_point_mle_1e5() {
    // The target is 1e-4 at n = 1e6 (next test); with 2^-10 relative bins and
    // evaluation at the bin means the grouping bias is O(1e-6), so 1e-4 holds at 1e5 as well.
    let (d, se) = binned_vs_points(100_000, 31);
    assert!(d < 1e-4, "{d}");
    assert!(d < 0.02 * se);
}

#[test]
fn binned_alpha_agrees_with_point_mle_1e6() {
    let (d, _) = binned_vs_points(1_000_000, 32);
    assert!(d < 1e-4, "{d}");
}

#[test]
fn npy_stream_equals_in_memory_histogram() {
    let x: Vec<f32> = sample(20_000, 5, [1.7, -0.3, 2.0, 1.0])
        .iter()
        .map(|&v| v as f32)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p1 = dir.path().join("flat.npy");
    let p2 = dir.path().join("matrix.npy");
    write_npy_f32(&p1, &x, 1);
    write_npy_f32(&p2, &x, 4);
    let mut mem = Histogram::new(10).unwrap();
    mem.extend_f32(&x);
    for p in [&p1, &p2] {
        let h = Histogram::from_npy(p, 10).unwrap();
        assert_eq!(h.n(), 20_000);
        assert_eq!(h.bins(), mem.bins());
        assert_eq!(h.min_max(), mem.min_max());
        let exact: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((h.sum() - exact).abs() < 1e-9 * exact.abs().max(1.0));
    }
    let a = BinnedMle::new().fit_npy(&p1).unwrap();
    let b = BinnedMle::new().fit_histogram(&mem).unwrap();
    assert_eq!(a.alpha, b.alpha);
    assert!(a.converged && (a.alpha - 1.7).abs() < 0.1);
}

#[test]
fn binned_rejects_bad_input() {
    let mut h = Histogram::new(10).unwrap();
    h.extend_f64(&[1.0, 2.0, 3.0, 4.0, f64::NAN, 5.0]);
    assert!(BinnedMle::new()
        .fit_histogram(&h)
        .unwrap_err()
        .to_string()
        .contains("NaN"));
    let mut h = Histogram::new(10).unwrap();
    h.extend_f64(&[1.0; 50]);
    assert!(BinnedMle::new()
        .fit_histogram(&h)
        .unwrap_err()
        .to_string()
        .contains("equal"));
    let h = Histogram::new(10).unwrap();
    assert!(BinnedMle::new()
        .fit_histogram(&h)
        .unwrap_err()
        .to_string()
        .contains("no values"));
    assert!(Histogram::new(3).is_err());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    write_npy_f32(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&p, &bytes).unwrap();
    assert!(BinnedMle::new()
        .fit_npy(&p)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    assert!(BinnedMle::new()
        .fit_npy(dir.path().join("missing.npy"))
        .is_err());
}

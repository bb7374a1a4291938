//! End-to-end tests of `anodiff boxcount` (fixtures: fixtures/fractal/README.md).

mod common;

use common::{anodiff_sub, assert_fails, npy, Exit};
use ndarray::Array2;
use std::path::{Path, PathBuf};

const LOG3_LOG2: f64 = 1.584_962_500_721_156_2; // ln 3 / ln 2
const LOG8_LOG3: f64 = 1.892_789_260_714_372; // ln 8 / ln 3

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fractal")
        .join(name)
}

/// Runs the binary; returns (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = anodiff_sub("boxcount", args);
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    common::json(&anodiff_sub("boxcount", args))
}

fn fails(args: &[&str], needle: &str) {
    assert_fails(&anodiff_sub("boxcount", args), Exit::Failure, &[needle]);
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn png_sierpinski_contract() {
    let p = fixture("sierpinski_256.png");
    let (_, out, _) = run(&[p.to_str().unwrap()]);
    assert!(out.starts_with("{\"dimension\":"), "{out}");
    let v = json(&[p.to_str().unwrap()]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for k in ["dimension", "se", "ci95", "scales", "counts", "fit_range"] {
        assert!(keys.contains(&k), "missing {k} in {v}");
    }
    assert_eq!(keys.len(), 6, "{v}");
    assert!((f(&v["dimension"]) - LOG3_LOG2).abs() < 1e-9, "{v}");
    let counts: Vec<f64> = v["counts"].as_array().unwrap().iter().map(f).collect();
    let scales: Vec<f64> = v["scales"].as_array().unwrap().iter().map(f).collect();
    assert_eq!(scales, vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
    for (k, c) in counts.iter().enumerate() {
        assert_eq!(*c, 3f64.powi(8 - k as i32));
    }
    assert_eq!(v["fit_range"], serde_json::json!([1.0, 64.0]));
    let ci = v["ci95"].as_array().unwrap();
    assert!(f(&ci[0]) <= f(&v["dimension"]) && f(&v["dimension"]) <= f(&ci[1]));
    // The same set drawn dark on light.
    let p = fixture("sierpinski_256_inverted.png");
    let w = json(&[p.to_str().unwrap(), "--invert"]);
    assert_eq!(w["counts"], v["counts"]);
}

#[test]
fn pgm_carpet_on_triadic_ladder() {
    let p = fixture("carpet_243.pgm");
    let v = json(&[
        p.to_str().unwrap(),
        "--ratio",
        "3",
        "--min-scale",
        "1",
        "--max-scale",
        "81",
    ]);
    assert_eq!(v["scales"], serde_json::json!([1.0, 3.0, 9.0, 27.0, 81.0]));
    assert_eq!(
        v["counts"],
        serde_json::json!([32768.0, 4096.0, 512.0, 64.0, 8.0])
    );
    assert!((f(&v["dimension"]) - LOG8_LOG3).abs() < 1e-9, "{v}");
    assert_eq!(v["fit_range"], serde_json::json!([1.0, 81.0]));
}

#[test]
fn npy_images_points_and_user_range() {
    let dir = tempfile::tempdir().unwrap();
    // Filled 300 x 300 square in a bool array.
    let sq = Array2::from_shape_fn((400, 400), |(i, j)| {
        (50..350).contains(&i) && (20..320).contains(&j)
    });
    let p = npy(dir.path(), "sq.npy", &sq);
    let v = json(&[&p]);
    assert!((f(&v["dimension"]) - 2.0).abs() < 0.02, "{v}");
    // A user range fixes the scales and the fit range.
    let v = json(&[&p, "--min-scale", "2", "--max-scale", "32", "--details"]);
    assert_eq!(v["scales"], serde_json::json!([2.0, 4.0, 8.0, 16.0, 32.0]));
    assert_eq!(v["fit_range"], serde_json::json!([2.0, 32.0]));
    assert_eq!(v["local_slopes"].as_array().unwrap().len(), 4);
    // Points on a segment in 3-D: dimension 1 (see tests/fractal_oracles.rs for the tolerance).
    let pts = Array2::from_shape_fn((4096, 3), |(i, j)| i as f64 * [1.0, 0.3, -0.2][j]);
    let p = npy(dir.path(), "pts.npy", &pts);
    let v = json(&[&p, "--points"]);
    assert!((f(&v["dimension"]) - 1.0).abs() < 0.04, "{v}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = npy(dir.path(), "zeros.npy", &Array2::<u8>::zeros((64, 64)));
    fails(&[&zeros], "all zero");
    let empty = npy(dir.path(), "empty.npy", &Array2::<f64>::zeros((0, 5)));
    fails(&[&empty], "empty");
    let dot = npy(
        dir.path(),
        "dot.npy",
        &Array2::from_shape_fn((64, 64), |(i, j)| i == 5 && j == 9),
    );
    fails(&[&dot], "at least 3");
    let small = npy(
        dir.path(),
        "small.npy",
        &Array2::from_shape_fn((64, 64), |(i, j)| i < 6 && j < 6),
    );
    fails(
        &[&small, "--min-scale", "8"],
        "smaller than the smallest box",
    );
    let three = npy(
        dir.path(),
        "three.npy",
        &ndarray::Array3::<f64>::ones((4, 4, 4)),
    );
    fails(&[&three], "2-D");
    let mut nan = Array2::<f64>::ones((32, 32));
    nan[[3, 4]] = f64::NAN;
    let nan = npy(dir.path(), "nan.npy", &nan);
    fails(&[&nan], "NaN");
    fails(&[&nan, "--points"], "NaN");
    fails(
        &[dir.path().join("missing.png").to_str().unwrap()],
        "missing.png",
    );
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"this is not an image").unwrap();
    fails(&[junk.to_str().unwrap()], "Invalid PNG signature");
    let junk = dir.path().join("junk.dat");
    std::fs::write(&junk, b"this is not an image").unwrap();
    fails(&[junk.to_str().unwrap()], "not a PNG, PGM/PBM/PPM or .npy");
    let bytes = std::fs::read(fixture("sierpinski_256.png")).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails(&[cut.to_str().unwrap()], "cannot decode");
    let p = fixture("sierpinski_256.png");
    fails(&[p.to_str().unwrap(), "--ratio", "1"], "ratio");
    fails(
        &[p.to_str().unwrap(), "--min-scale", "8", "--max-scale", "4"],
        "max_scale",
    );
    fails(&[p.to_str().unwrap(), "--min-scale=-1"], "min_scale");
    fails(&[p.to_str().unwrap(), "--min-scale", "0"], "min_scale");
}

#[test]
fn help_has_an_example() {
    let (ok, out, _) = run(&["--help"]);
    assert!(ok && out.contains("Examples:") && out.contains("anodiff boxcount"));
}

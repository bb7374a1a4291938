//! End-to-end tests of `anodiff surface-dim`.

mod common;

use anodiff_core::landscape::{fbm_surface, FbmSurfaceConfig};
use common::{anodiff_sub, assert_fails, npy, Exit};
use ndarray::Array2;
use rand::SeedableRng;

/// Runs the binary; returns (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = anodiff_sub("surface-dim", args);
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    common::json(&anodiff_sub("surface-dim", args))
}

fn fails(args: &[&str], needle: &str) {
    assert_fails(&anodiff_sub("surface-dim", args), Exit::Failure, &[needle]);
}

fn dim(v: &serde_json::Value) -> f64 {
    v["dimension"].as_f64().unwrap()
}

/// Exact fBm (Stein's embedding) with H = 0.4: D = 2.6. Tolerance 0.02 as in
/// tests/fractal_surfaces.rs (block standard errors 0.002-0.006 on 257-513 grids).
#[test]
fn fbm_surface_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let z = fbm_surface(
        &FbmSurfaceConfig {
            size: 257,
            hurst: 0.4,
            scale: 1.0,
        },
        &mut rng,
    )
    .unwrap();
    let p = npy(dir.path(), "fbm.npy", &z);
    for method in ["variogram", "madogram"] {
        let v = json(&[&p, "--method", method]);
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
        assert_eq!(v["method"], method);
        assert!((dim(&v) - 2.6).abs() < 0.02, "{method}: {v}");
        let ci = v["ci95"].as_array().unwrap();
        assert!(ci[0].as_f64().unwrap() < dim(&v) && dim(&v) < ci[1].as_f64().unwrap());
    }
    let (ok, out, _) = run(&[&p]);
    assert!(ok && out.starts_with("{\"dimension\":"), "{out}");
    let v = json(&[&p]);
    assert_eq!(v["method"], "variogram");
    let v = json(&[&p, "--method", "dbc"]);
    assert!(dim(&v) < 2.6 && dim(&v) > 2.0, "dbc is biased low: {v}");
    let v = json(&[&p, "--method", "level-set", "--details"]);
    assert_eq!(v["method"], "level-set");
    assert!(dim(&v) > 1.0 && dim(&v) < 2.0, "{v}");
    let v = json(&[&p, "--details"]);
    assert_eq!(v["hurst_by_direction"].as_array().unwrap().len(), 4);
}

#[test]
fn smooth_surfaces_from_float32_and_ints() {
    let dir = tempfile::tempdir().unwrap();
    let plane = Array2::from_shape_fn((64, 80), |(i, j)| (2 * i + 3 * j) as i32);
    let p = npy(dir.path(), "plane.npy", &plane);
    assert!((dim(&json(&[&p])) - 2.0).abs() < 1e-9);
    let bowl = Array2::from_shape_fn((300, 300), |(i, j)| {
        let (x, y) = (i as f32 - 150.0, j as f32 - 150.0);
        x * x + y * y
    });
    let p = npy(dir.path(), "bowl.npy", &bowl);
    let v = json(&[&p, "--method", "level-set", "--level", "10000"]);
    assert!((dim(&v) - 1.0).abs() < 0.05, "circle contour: {v}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut z = Array2::from_shape_fn((32, 32), |(i, j)| (i * j) as f64);
    z[[4, 9]] = f64::NAN;
    fails(&[&npy(dir.path(), "nan.npy", &z)], "row 4, column 9");
    z[[4, 9]] = f64::NEG_INFINITY;
    fails(
        &[&npy(dir.path(), "inf.npy", &z), "--method", "dbc"],
        "-inf",
    );
    fails(
        &[&npy(dir.path(), "inf2.npy", &z), "--method", "level-set"],
        "finite",
    );
    let one = npy(dir.path(), "one.npy", &ndarray::Array1::<f64>::ones(100));
    fails(&[&one], "2-D");
    let three = npy(
        dir.path(),
        "three.npy",
        &ndarray::Array3::<f64>::ones((8, 8, 8)),
    );
    fails(&[&three], "2-D");
    let flat = npy(
        dir.path(),
        "flat.npy",
        &Array2::<f64>::from_elem((64, 64), 3.0),
    );
    fails(&[&flat], "constant");
    let small = npy(
        dir.path(),
        "small.npy",
        &Array2::from_shape_fn((8, 8), |(i, j)| (i + j) as f64),
    );
    fails(&[&small], "too small");
    let empty = npy(dir.path(), "empty.npy", &Array2::<f64>::zeros((0, 0)));
    fails(&[&empty], "empty");
    fails(&[dir.path().join("nope.npy").to_str().unwrap()], "nope.npy");
    let junk = dir.path().join("junk.npy");
    std::fs::write(&junk, b"\x93NUMPY garbage").unwrap();
    fails(&[junk.to_str().unwrap()], "npy");
    let ok = npy(
        dir.path(),
        "ok.npy",
        &Array2::from_shape_fn((32, 32), |(i, j)| ((i * 7 + j * 3) % 5) as f64),
    );
    fails(&[&ok, "--level", "1"], "level-set");
    fails(&[&ok, "--method", "level-set", "--level", "99"], "outside");
    fails(&[&ok, "--max-lag", "1"], "max_lag");
}

#[test]
fn help_has_an_example() {
    let (ok, out, _) = run(&["--help"]);
    assert!(ok && out.contains("Examples:") && out.contains("anodiff surface-dim"));
}

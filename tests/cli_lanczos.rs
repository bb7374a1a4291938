//! End-to-end tests of `anodiff lanczos`.

mod common;

use common::{assert_fails, Exit};
use ndarray::Array2;
use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::anodiff_sub("lanczos", args)
}

/// The 1-D Laplacian tridiag(-1, 2, -1), eigenvalues 2 - 2 cos(j pi / (n + 1)).
fn laplacian(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| {
        if i == j {
            2.0
        } else if i.abs_diff(j) == 1 {
            -1.0
        } else {
            0.0
        }
    })
}

fn write(dir: &Path, name: &str, a: &Array2<f64>) -> String {
    common::npy(dir, name, a)
}

#[test]
fn prints_the_contract_json_with_closed_form_eigenvalues() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60;
    let path = write(dir.path(), "lap.npy", &laplacian(n));
    let exact = |j: usize| 2.0 - 2.0 * (j as f64 * std::f64::consts::PI / (n as f64 + 1.0)).cos();
    for (which, js) in [("largest", [60, 59, 58]), ("smallest", [1, 2, 3])] {
        let out = run(&[&path, "--k", "3", "--which", which]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{text}");
        for key in ["eigenvalues", "residuals", "converged", "matvecs"] {
            assert!(v.get(key).is_some(), "missing {key} in {text}");
        }
        let eig = v["eigenvalues"].as_array().unwrap();
        assert_eq!(eig.len(), 3);
        for (e, j) in eig.iter().zip(js) {
            // Default tol 1e-8: Bauer-Fike bounds the error by 1e-8 |lambda| (floor ~1e-12).
            let (got, want) = (e.as_f64().unwrap(), exact(j));
            assert!(
                (got - want).abs() <= 1e-8 * want + 1e-12,
                "{which}: {got} vs {want}"
            );
        }
        assert!(v["converged"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_bool() == Some(true)));
        assert!(v["residuals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.as_f64().unwrap() <= 1e-7));
        assert!(v["matvecs"].as_u64().unwrap() <= n as u64);
    }
}

#[test]
fn reads_float32_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = laplacian(20).mapv(|x| x as f32);
    let p = dir.path().join("lap32.npy");
    ndarray_npy::write_npy(&p, &a).unwrap();
    let out = run(&[p.to_str().unwrap(), "--k", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = 2.0 - 2.0 * (20.0 * std::f64::consts::PI / 21.0).cos();
    assert!((v["eigenvalues"][0].as_f64().unwrap() - want).abs() < 1e-8);
}

fn fails_with(args: &[&str], needle: &str) {
    assert_fails(&run(args), Exit::Failure, &[needle]);
}

#[test]
fn bad_input_is_rejected_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut asym = laplacian(5);
    asym[[0, 4]] = 0.5;
    let asym = write(dir.path(), "asym.npy", &asym);
    fails_with(&[&asym], "not symmetric");
    fails_with(&[&asym], "1.0e-10");
    let lap = write(dir.path(), "lap.npy", &laplacian(5));
    fails_with(&[&lap, "--k", "6"], "dimension 5");
    fails_with(&[&lap, "--k", "0"], "k");
    fails_with(&[&lap, "--tol", "0"], "tol");
    let mut nan = laplacian(4);
    nan[[1, 2]] = f64::NAN;
    nan[[2, 1]] = f64::NAN;
    let nan = write(dir.path(), "nan.npy", &nan);
    fails_with(&[&nan], "NaN");
    let rect = write(dir.path(), "rect.npy", &Array2::zeros((3, 4)));
    fails_with(&[&rect], "square");
    let one_d = dir.path().join("v.npy");
    ndarray_npy::write_npy(&one_d, &ndarray::Array1::<f64>::zeros(4)).unwrap();
    fails_with(&[one_d.to_str().unwrap()], "2-D");
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"not a numpy file").unwrap();
    fails_with(&[garbage.to_str().unwrap()], "garbage.npy");
    fails_with(
        &[dir.path().join("missing.npy").to_str().unwrap()],
        "missing.npy",
    );
    let empty = write(dir.path(), "empty.npy", &Array2::zeros((0, 0)));
    fails_with(&[&empty], "empty");
}

#[test]
fn help_has_an_example() {
    let out = run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("anodiff lanczos hessian.npy"), "{text}");
}

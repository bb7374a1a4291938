//! End-to-end tests of `anodiff landscape`.

mod common;

use common::{anodiff, assert_fails, json, Exit};
use ndarray::Array2;
use std::path::Path;

fn fails_with(args: &[&str], needle: &str) {
    assert_fails(&anodiff(args), Exit::ErrorOrUsage, &[needle]);
}

fn read(p: &Path) -> Array2<f64> {
    ndarray_npy::read_npy(p).expect("a 2-D f64 .npy")
}

#[test]
fn every_method_writes_a_square_f64_grid() {
    let dir = tempfile::tempdir().unwrap();
    for (method, extra) in [
        ("diamond-square", vec![]),
        ("fbm", vec!["--hurst", "0.3"]),
        ("spectral", vec!["--hurst", "0.7"]),
        ("paraboloid", vec![]),
        ("cone", vec![]),
        ("shuffled", vec!["--blur-sigma", "2"]),
    ] {
        let path = dir.path().join(format!("{method}.npy"));
        let p = path.to_str().unwrap();
        let mut args = vec!["landscape", "generate", "--method", method, "--size", "33"];
        args.extend(extra);
        args.extend(["--seed", "4", "-o", p]);
        let v = json(&anodiff(&args));
        assert_eq!(v["method"], method);
        assert_eq!(v["size"], 33);
        let z = read(&path);
        assert_eq!(z.dim(), (33, 33));
        assert!(z.iter().all(|x| x.is_finite()));
        assert!(
            (v["max"].as_f64().unwrap() - z.iter().cloned().fold(f64::MIN, f64::max)).abs() < 1e-12
        );
    }
}

#[test]
fn convex_baselines_match_their_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let cone = dir.path().join("cone.npy");
    json(&anodiff(&[
        "landscape",
        "generate",
        "--method",
        "cone",
        "--size",
        "17",
        "--slope",
        "0.5",
        "-o",
        cone.to_str().unwrap(),
    ]));
    let para = dir.path().join("para.npy");
    json(&anodiff(&[
        "landscape",
        "generate",
        "--method",
        "paraboloid",
        "--size",
        "17",
        "--curvature",
        "2",
        "-o",
        para.to_str().unwrap(),
    ]));
    let (c, p) = (read(&cone), read(&para));
    for i in 0..17 {
        for j in 0..17 {
            let (x, y) = (-1.0 + i as f64 / 8.0, -1.0 + j as f64 / 8.0);
            assert!((c[[i, j]] - 0.5 * x.hypot(y)).abs() < 1e-12);
            assert!((p[[i, j]] - 2.0 * (x * x + y * y)).abs() < 1e-12);
        }
    }
}

#[test]
fn seeds_make_outputs_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |name: &str, seed: &str| {
        let p = dir.path().join(name);
        json(&anodiff(&[
            "landscape",
            "generate",
            "--method",
            "diamond-square",
            "--size",
            "65",
            "--seed",
            seed,
            "-o",
            p.to_str().unwrap(),
        ]));
        read(&p)
    };
    let (a, b, c) = (gen("a.npy", "9"), gen("b.npy", "9"), gen("c.npy", "10"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Douillet's generator: corners 0, centre uniform on [-r0/2, r0/2] with r0 = 3.
    assert_eq!(a[[0, 0]], 0.0);
    assert!(a[[32, 32]].abs() <= 1.5);
}

#[test]
fn sorkin_recovers_the_hurst_exponent_of_an_fbm_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fbm.npy");
    json(&anodiff(&[
        "landscape",
        "generate",
        "--method",
        "fbm",
        "--size",
        "257",
        "--hurst",
        "0.7",
        "--seed",
        "1",
        "-o",
        p.to_str().unwrap(),
    ]));
    let v = json(&anodiff(&[
        "landscape",
        "sorkin",
        p.to_str().unwrap(),
        "--seed",
        "2",
    ]));
    // One 257 x 257 surface: Sorkin's 2H scatters by ~0.03 over seeds; allow 0.1.
    let two_h = v["two_h"].as_f64().unwrap();
    assert!((two_h - 1.4).abs() < 0.1, "2H {two_h}");
    assert!((v["hurst"].as_f64().unwrap() - two_h / 2.0).abs() < 1e-15);
    assert_eq!(
        v["distance"].as_array().unwrap().len(),
        v["mean_sq_diff"].as_array().unwrap().len()
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let o = out.to_str().unwrap();
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "diamond-square",
            "--size",
            "100",
            "-o",
            o,
        ],
        "2^k + 1",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "shuffled",
            "--size",
            "64",
            "-o",
            o,
        ],
        "2^k + 1",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "fbm",
            "--size",
            "33",
            "--hurst",
            "1.2",
            "-o",
            o,
        ],
        "hurst",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "spectral",
            "--size",
            "2",
            "-o",
            o,
        ],
        "size",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "cone",
            "--size",
            "9",
            "--hurst",
            "0.5",
            "-o",
            o,
        ],
        "--hurst applies",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "paraboloid",
            "--size",
            "9",
            "--curvature=-1",
            "-o",
            o,
        ],
        "curvature",
    );
    fails_with(
        &[
            "landscape",
            "generate",
            "--method",
            "cone",
            "--size",
            "9",
            "-o",
            "/nonexistent-dir/x.npy",
        ],
        "cannot write",
    );
    let missing = dir.path().join("missing.npy");
    fails_with(
        &["landscape", "sorkin", missing.to_str().unwrap()],
        "missing.npy",
    );
    let flat = dir.path().join("flat.npy");
    ndarray_npy::write_npy(&flat, &Array2::<f64>::zeros((40, 40))).unwrap();
    fails_with(&["landscape", "sorkin", flat.to_str().unwrap()], "constant");
    let bad = dir.path().join("bad.npy");
    std::fs::write(&bad, b"not an npy file").unwrap();
    fails_with(&["landscape", "sorkin", bad.to_str().unwrap()], "bad.npy");
}

#[test]
fn help_has_examples() {
    for args in [
        vec!["landscape", "--help"],
        vec!["landscape", "generate", "--help"],
        vec!["landscape", "sorkin", "--help"],
    ] {
        let out = anodiff(&args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example"));
    }
}

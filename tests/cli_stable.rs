//! End-to-end tests of `anodiff stable pdf|logpdf|cdf|sf|quantile|sample`.

mod common;

use common::{assert_fails, json, Exit};
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::anodiff_sub("stable", args)
}

fn values(v: &serde_json::Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("key {key} in {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn pdf_of_cauchy_with_negative_values() {
    // alpha = 1, beta = 0 is Cauchy: f(x) = 1/(pi (1 + x^2)); negative positional values work
    let v = json(&run(&[
        "pdf", "--alpha", "1", "--beta", "0", "-2", "0", "3",
    ]));
    let got = values(&v, "pdf");
    for (g, x) in got.iter().zip([-2.0f64, 0.0, 3.0]) {
        let want = 1.0 / (std::f64::consts::PI * (1.0 + x * x));
        assert!((g - want).abs() < 1e-15, "{g} {want}");
    }
}

#[test]
fn logpdf_cdf_sf_quantile_keys_and_values() {
    // Gauss (alpha = 2, scale 1): N(0, 2); logpdf(1) = -1/4 - ln(2 sqrt(pi))
    let v = json(&run(&["logpdf", "--alpha", "2", "--beta", "0", "1"]));
    let want = -0.25 - (2.0 * std::f64::consts::PI.sqrt()).ln();
    assert!((values(&v, "logpdf")[0] - want).abs() < 1e-14);
    let c = values(
        &json(&run(&[
            "cdf", "--alpha", "1.5", "--beta", "-0.3", "--scale", "2", "--loc", "-1", "0.5",
        ])),
        "cdf",
    )[0];
    let s = values(
        &json(&run(&[
            "sf", "--alpha", "1.5", "--beta", "-0.3", "--scale", "2", "--loc", "-1", "0.5",
        ])),
        "sf",
    )[0];
    assert!((c + s - 1.0).abs() < 1e-12);
    let q = values(
        &json(&run(&[
            "quantile",
            "--alpha",
            "1.5",
            "--beta",
            "-0.3",
            "--scale",
            "2",
            "--loc",
            "-1",
            &c.to_string(),
        ])),
        "quantile",
    )[0];
    assert!((q - 0.5).abs() < 1e-9, "{q}");
}

#[test]
fn s1_parameterization_shifts_location() {
    // Levy: alpha = 1/2, beta = 1 in S1 has f(x) = (2 pi)^{-1/2} x^{-3/2} e^{-1/(2x)}
    let v = json(&run(&[
        "pdf", "--alpha", "0.5", "--beta", "1", "--param", "s1", "2",
    ]));
    let want = (2.0 * std::f64::consts::PI).powf(-0.5) * 2f64.powf(-1.5) * (-0.25f64).exp();
    assert!((values(&v, "pdf")[0] - want).abs() < 1e-15 * want * 10.0);
}

#[test]
fn sample_prints_n_lines_and_is_seeded() {
    let a = run(&[
        "sample", "--alpha", "1.5", "--beta", "0.5", "--n", "50", "--seed", "7",
    ]);
    let b = run(&[
        "sample", "--alpha", "1.5", "--beta", "0.5", "--n", "50", "--seed", "7",
    ]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    let xs: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(xs.len(), 50);
    assert!(xs.iter().all(|x| x.is_finite()));
}

#[test]
fn bad_parameters_fail_cleanly() {
    for (args, word) in [
        (vec!["pdf", "--alpha", "2.5", "--beta", "0", "1"], "alpha"),
        (vec!["pdf", "--alpha", "1.5", "--beta", "-1.5", "1"], "beta"),
        (
            vec!["cdf", "--alpha", "1.5", "--beta", "0", "--scale", "-1", "1"],
            "scale",
        ),
        (
            vec!["sf", "--alpha", "1.5", "--beta", "0", "--param", "s2", "1"],
            "param",
        ),
        (
            vec!["quantile", "--alpha", "1.5", "--beta", "0", "1.5"],
            "probability",
        ),
        (
            vec![
                "sample", "--alpha", "0", "--beta", "0", "--n", "5", "--seed", "1",
            ],
            "alpha",
        ),
        (vec!["pdf", "--alpha", "nan", "--beta", "0", "1"], "alpha"),
    ] {
        assert_fails(&run(&args), Exit::Failure, &[word]);
    }
}

#[test]
fn help_has_examples() {
    for sub in ["pdf", "logpdf", "cdf", "sf", "quantile", "sample"] {
        let out = run(&[sub, "--help"]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{sub}"
        );
    }
}

/// Points read from a text file, a `.npy` file and standard input give what the library gives
/// point by point (`Stable::pdf`, `ln_pdf`, `cdf`, `sf`, `quantile`): 2,000 points, enough for
/// the density's certified batch path (`Stable::ln_pdf_many`, within 1e-10 relative of the
/// quadrature); cdf, sf and quantile are the same function per point, so they must agree
/// exactly.
#[test]
fn points_from_file_and_stdin_match_per_point_values() {
    use anodiff_core::stable::{Param, Stable};
    let law = Stable::new(1.5, 0.5, 2.0, -1.0, Param::S0).unwrap();
    let xs: Vec<f64> = (0..2000).map(|i| -40.0 + 0.04 * i as f64).collect();
    let ps: Vec<f64> = (0..2000).map(|i| (i as f64 + 0.5) / 2000.0).collect();
    let dir = tempfile::tempdir().unwrap();
    let text: String = xs.iter().map(|x| format!("{x:?}\n")).collect();
    let txt = common::write(dir.path(), "x.txt", text.as_bytes());
    let npy = dir.path().join("x.npy");
    anodiff_core::npy::write_f64(&npy, &[40, 50], &xs).unwrap();
    let ptxt: String = ps.iter().map(|p| format!("{p:?}\n")).collect();
    let law_args = [
        "--alpha", "1.5", "--beta", "0.5", "--scale", "2", "--loc", "-1",
    ];
    let from = |cmd: &str, file: &str, stdin: Option<&[u8]>| {
        let mut args = vec!["stable", cmd];
        args.extend(law_args);
        args.extend(["--file", file]);
        values(&json(&common::anodiff_stdin(&args, stdin)), cmd)
    };
    type PerPoint = fn(&Stable, f64) -> f64;
    let per_point: [(&str, PerPoint); 4] = [
        ("pdf", Stable::pdf),
        ("logpdf", Stable::ln_pdf),
        ("cdf", Stable::cdf),
        ("sf", Stable::sf),
    ];
    for (cmd, f) in per_point {
        let want: Vec<f64> = xs.iter().map(|&x| f(&law, x)).collect();
        for got in [
            from(cmd, txt.to_str().unwrap(), None),
            from(cmd, npy.to_str().unwrap(), None),
            from(cmd, "-", Some(text.as_bytes())),
        ] {
            assert_eq!(got.len(), want.len(), "{cmd}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let tol = match cmd {
                    "pdf" => 1e-10 * w.abs(),
                    "logpdf" => 1e-10,
                    _ => 0.0,
                };
                assert!((g - w).abs() <= tol, "{cmd} at x = {}: {g} {w}", xs[i]);
            }
        }
    }
    let q = from("quantile", "-", Some(ptxt.as_bytes()));
    for (g, &p) in q.iter().zip(&ps) {
        assert_eq!(*g, law.quantile(p).unwrap(), "quantile at {p}");
    }
}

#[test]
fn bad_point_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = common::write(dir.path(), "bad.txt", b"1\n2\nabc\n");
    assert_fails(
        &run(&[
            "cdf",
            "--alpha",
            "1.5",
            "--beta",
            "0",
            "--file",
            bad.to_str().unwrap(),
        ]),
        Exit::Failure,
        &["line 3", "abc"],
    );
    assert_fails(
        &run(&[
            "cdf",
            "--alpha",
            "1.5",
            "--beta",
            "0",
            "--file",
            "/no/such/file",
        ]),
        Exit::Failure,
        &["/no/such/file"],
    );
    let probs = common::write(dir.path(), "p.txt", b"0.5\n1.5\n");
    assert_fails(
        &run(&[
            "quantile",
            "--alpha",
            "1.5",
            "--beta",
            "0",
            "--file",
            probs.to_str().unwrap(),
        ]),
        Exit::Failure,
        &["probability", "1.5"],
    );
    // Points as arguments and a file at once is a usage error; so is neither.
    assert_fails(
        &run(&["pdf", "--alpha", "1.5", "--beta", "0", "--file", "-", "1"]),
        Exit::ErrorOrUsage,
        &[],
    );
    assert_fails(
        &run(&["pdf", "--alpha", "1.5", "--beta", "0"]),
        Exit::ErrorOrUsage,
        &[],
    );
}

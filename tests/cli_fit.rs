//! End-to-end tests of `anodiff stable fit`.

mod common;
#[path = "../core/tests/fit_support/mod.rs"]
mod fit_support;

use anodiff_core::stable::{Param, Stable};
use serde_json::Value;

/// Runs the binary; returns (exit code, stdout, stderr).
fn anodiff(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let out = common::anodiff_stdin(args, stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_text(dir: &tempfile::TempDir, name: &str, x: &[f64]) -> String {
    let p = dir.path().join(name);
    let s: String = x.iter().map(|v| format!("{v:e}\n")).collect();
    std::fs::write(&p, s).unwrap();
    p.to_str().unwrap().to_string()
}

fn fit_json(args: &[&str]) -> Value {
    let (code, out, err) = anodiff(args, None);
    assert_eq!(code, 0, "stderr: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn mle_prints_the_contract_json_and_its_loglik_is_the_data_loglik() {
    let x = fit_support::sample(1000, 1, [1.5, 0.3, 2.0, 1.0]);
    let dir = tempfile::tempdir().unwrap();
    let f = write_text(&dir, "x.txt", &x);
    let v = fit_json(&["stable", "fit", &f]);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
    let mut want = vec![
        "alpha",
        "beta",
        "scale",
        "loc",
        "param",
        "method",
        "n",
        "loglik",
        "se",
        "ci95",
        "converged",
    ];
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(v["param"], "s0");
    assert_eq!(v["method"], "mle");
    assert_eq!(v["n"], 1000);
    assert_eq!(v["converged"], true);
    for k in ["alpha", "beta", "scale", "loc"] {
        assert!(v["se"][k].as_f64().unwrap() > 0.0);
        let ci = v["ci95"][k].as_array().unwrap();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(lo < v[k].as_f64().unwrap() && v[k].as_f64().unwrap() < hi);
    }
    // loglik against the quadrature density of anodiff_core::stable at the printed estimates
    // (text round-trip of the data: {:e} keeps 17 significant digits).
    let law = Stable::new(
        v["alpha"].as_f64().unwrap(),
        v["beta"].as_f64().unwrap(),
        v["scale"].as_f64().unwrap(),
        v["loc"].as_f64().unwrap(),
        Param::S0,
    )
    .unwrap();
    let ll: f64 = x.iter().map(|&xi| law.ln_pdf(xi)).sum();
    let printed = v["loglik"].as_f64().unwrap();
    assert!((ll - printed).abs() < 1e-7 * ll.abs(), "{ll} vs {printed}");
}

#[test]
fn symmetric_s1_and_quantile_methods() {
    let x = fit_support::sample(800, 2, [1.7, 0.0, 1.0, 0.5]);
    let dir = tempfile::tempdir().unwrap();
    let f = write_text(&dir, "x.txt", &x);
    let v = fit_json(&["stable", "fit", &f, "--symmetric", "--param", "s1"]);
    assert_eq!(v["beta"], 0.0);
    assert!(v["se"]["beta"].is_null() && v["ci95"]["beta"].is_null());
    assert_eq!(v["param"], "s1");
    let s0 = fit_json(&["stable", "fit", &f, "--symmetric"]);
    // beta = 0: S0 and S1 coincide
    assert_eq!(v["loc"], s0["loc"]);
    assert_eq!(v["loglik"], s0["loglik"]);
    let full0 = fit_json(&["stable", "fit", &f]);
    let full1 = fit_json(&["stable", "fit", &f, "--param", "s1"]);
    let (a, b, g) = (
        full0["alpha"].as_f64().unwrap(),
        full0["beta"].as_f64().unwrap(),
        full0["scale"].as_f64().unwrap(),
    );
    let d1 = full0["loc"].as_f64().unwrap() - b * g * (std::f64::consts::PI * a / 2.0).tan();
    assert!((full1["loc"].as_f64().unwrap() - d1).abs() < 1e-12 * (1.0 + d1.abs()));
    for m in ["mcculloch", "koutrouvelis", "binned"] {
        let v = fit_json(&["stable", "fit", &f, "--method", m]);
        assert_eq!(v["method"], m);
        assert!(
            (v["alpha"].as_f64().unwrap() - 1.7).abs() < 0.25,
            "{m}: {v}"
        );
    }
    let extra = fit_json(&[
        "stable",
        "fit",
        &f,
        "--symmetric",
        "--profile",
        "--sandwich",
    ]);
    assert!(extra["profile_ci95"]["alpha"].is_array());
    assert!(extra["sandwich_se"]["alpha"].as_f64().unwrap() > 0.0);
}

#[test]
fn stdin_and_binned_npy() {
    let x = fit_support::sample(3000, 3, [1.4, 0.0, 1.0, 0.0]);
    let text: String = x.iter().map(|v| format!("{v:e}\n")).collect();
    let (code, out, err) = anodiff(
        &["stable", "fit", "-", "--method", "mcculloch"],
        Some(text.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n"], 3000);
    // .npy float32, streamed by the binned path
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    let mut hdr = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        x.len()
    );
    while (10 + hdr.len() + 1) % 64 != 0 {
        hdr.push(' ');
    }
    hdr.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(hdr.len() as u16).to_le_bytes());
    b.extend_from_slice(hdr.as_bytes());
    for &v in &x {
        b.extend_from_slice(&(v as f32).to_le_bytes());
    }
    std::fs::write(&p, &b).unwrap();
    let v = fit_json(&[
        "stable",
        "fit",
        p.to_str().unwrap(),
        "--method",
        "binned",
        "--symmetric",
    ]);
    assert_eq!(v["method"], "binned");
    assert_eq!(v["n"], 3000);
    assert_eq!(v["zeros"], 0);
    assert!((v["alpha"].as_f64().unwrap() - 1.4).abs() < 0.15);
    // truncated .npy
    b.truncate(b.len() - 2);
    std::fs::write(&p, &b).unwrap();
    let (code, _, err) = anodiff(
        &["stable", "fit", p.to_str().unwrap(), "--method", "binned"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn bad_input_exits_nonzero_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 5] = [
        ("empty.txt", "", ""),
        ("short.txt", "1\n2\n3\n", "too few"),
        ("nan.txt", "1\n2\nnan\n4\n5\n6\n", "NaN"),
        ("equal.txt", "2\n2\n2\n2\n2\n2\n", "equal"),
        ("bad.txt", "1\n2\nabc\n4\n5\n6\n", "line 3"),
    ];
    for (name, content, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        for m in ["mle", "binned", "mcculloch"] {
            let (code, out, err) =
                anodiff(&["stable", "fit", p.to_str().unwrap(), "--method", m], None);
            assert_ne!(code, 0, "{name} {m}");
            assert!(out.is_empty());
            assert!(err.starts_with("error:"), "{name}: {err}");
            assert!(
                err.to_lowercase().contains(&needle.to_lowercase()),
                "{name} {m}: {err}"
            );
            assert!(!err.contains("panicked"));
        }
    }
    let (code, _, err) = anodiff(&["stable", "fit", "/nonexistent/x.txt"], None);
    assert_ne!(code, 0);
    assert!(err.contains("x.txt"));
}

#[test]
fn non_convergence_is_in_the_json() {
    let x = fit_support::sample(500, 4, [1.5, 0.0, 1.0, 0.0]);
    let dir = tempfile::tempdir().unwrap();
    let f = write_text(&dir, "x.txt", &x);
    let (code, out, err) = anodiff(&["stable", "fit", &f, "--max-iter", "1"], None);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["converged"], false);
    assert!(err.contains("did not converge"));
}

#[test]
fn help_has_examples() {
    let (code, out, _) = anodiff(&["stable", "fit", "--help"], None);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:") && out.contains("anodiff stable fit"));
}

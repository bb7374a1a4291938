//! End-to-end tests of `anodiff regime` and of the "regime" object of `anodiff analyze`.

#[path = "../core/tests/msd_common/mod.rs"]
mod msd_common;

use anodiff_core::regime::fbm_paths;
use anodiff_core::trajectory::npy::write_npy_f32;
use msd_common::run_command;
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// fBm in `d` coordinates whose Hurst exponent is `h1` before step `t0` and `h2` from it on,
/// written as a steps x d .npy.
fn switching_npy(dir: &Path, name: &str, n: usize, d: usize, t0: usize, h: (f64, f64)) -> PathBuf {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let tr = fbm_paths(n, d, |t| if t < t0 { h.0 } else { h.1 }, &mut rng).unwrap();
    let p = dir.join(name);
    write_npy_f32(&p, n, d, tr.weights()).unwrap();
    p
}

fn assert_error(code: i32, stderr: &str, needle: &str) {
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains(needle), "wanted `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn planted_change_is_found_and_matches_msd() {
    let dir = tempfile::tempdir().unwrap();
    let p = switching_npy(dir.path(), "w.npy", 1300, 16, 650, (0.7, 0.35));
    let ps = p.to_str().unwrap();
    let (code, out, err) = run_command("regime", &[ps, "--window", "200", "--stride", "100"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let wins = v["windows"].as_array().unwrap();
    assert_eq!(wins.len(), 12);
    // Each window's exponent is the one `anodiff msd` fits at the same lags.
    let (code, out, err) = run_command(
        "msd",
        &[ps, "--window", "200", "--stride", "100", "--lags", "log:30"],
    );
    assert_eq!(code, 0, "{err}");
    let m: Value = serde_json::from_str(&out).unwrap();
    for (a, b) in wins.iter().zip(m["windows"].as_array().unwrap()) {
        assert_eq!(a["t_w"], b["t_w"]);
        assert!((f(&a["alpha"]) - f(&b["fit"]["alpha"])).abs() < 1e-12);
        assert!(f(&a["alpha_se"]) > 0.0);
    }
    let c = &v["change"];
    assert!(!c.is_null(), "{out}");
    let lo = f(&c["t0_ci95"][0]);
    let hi = f(&c["t0_ci95"][1]);
    assert!(lo <= 650.0 && 650.0 <= hi, "{c}");
    assert!(lo <= f(&c["t0"]) && f(&c["t0"]) <= hi);
    // 2 H before and after, inside the intervals.
    for (key, want) in [("alpha_before", 1.4), ("alpha_after", 0.7)] {
        let ci = &c[format!("{key}_ci95")];
        assert!(f(&ci[0]) <= f(&c[key]) && f(&c[key]) <= f(&ci[1]));
        assert!((f(&c[key]) - want).abs() < 0.15, "{key}: {}", c[key]);
    }
    assert!(f(&c["p_value"]) < 0.01);
    assert_eq!(v["level"], 0.05);
    assert_eq!(v["test"]["straddling_windows"], 2);
}

#[test]
fn stationary_walk_has_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let p = switching_npy(dir.path(), "w.npy", 1300, 16, 0, (0.5, 0.5));
    let (code, out, err) = run_command(
        "regime",
        &[p.to_str().unwrap(), "--window", "200", "--level", "0.01"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["change"].is_null(), "{out}");
    assert!(f(&v["test"]["p_value"]) >= 0.01);
    assert_eq!(v["level"], 0.01);
}

#[test]
fn analyze_carries_the_regime_object() {
    let dir = tempfile::tempdir().unwrap();
    let p = switching_npy(dir.path(), "w.npy", 1300, 16, 650, (0.7, 0.35));
    let ps = p.to_str().unwrap();
    let args = [ps, "--window", "200", "--stride", "100", "--lags", "log:30"];
    let (code, out, err) = run_command("analyze", &args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let r = &v["regime"];
    let wins = r["windows"].as_array().unwrap();
    assert_eq!(wins.len(), 12);
    for (a, b) in wins.iter().zip(v["windows"].as_array().unwrap()) {
        assert_eq!(a["t_w"], b["t_w"]);
        assert_eq!(a["alpha"], b["msd"]["alpha"]);
    }
    let c = &r["change"];
    assert!(
        f(&c["t0_ci95"][0]) <= 650.0 && 650.0 <= f(&c["t0_ci95"][1]),
        "{r}"
    );
    // Too few windows: the exponents with no change and the reason.
    let (code, out, err) = run_command("analyze", &[ps, "--window", "400", "--lags", "log:30"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["regime"]["change"].is_null());
    assert!(v["regime"]["error"]
        .as_str()
        .unwrap()
        .contains("at least 5 windows"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = switching_npy(dir.path(), "w.npy", 300, 3, 0, (0.5, 0.5));
    let ps = p.to_str().unwrap();
    let run = |a: &[&str]| run_command("regime", a);
    let (c, _, e) = run(&[
        dir.path().join("missing.npy").to_str().unwrap(),
        "--window",
        "50",
    ]);
    assert_error(c, &e, "missing.npy");
    let (c, _, e) = run(&[ps, "--window", "301"]);
    assert_error(c, &e, "longer than the trajectory");
    let (c, _, e) = run(&[ps, "--window", "1"]);
    assert_error(c, &e, "--window must be at least 2");
    let (c, _, e) = run(&[ps, "--window", "50", "--stride", "0"]);
    assert_error(c, &e, "--stride must be at least 1");
    let (c, _, e) = run(&[ps, "--window", "50", "--max-lag", "0"]);
    assert_error(c, &e, "--max-lag");
    let (c, _, e) = run(&[ps, "--window", "50", "--level", "1.5"]);
    assert_error(c, &e, "--level");
    // 300 steps, T = 100, S = 50: 5 windows, and the test needs 2 + 2 + 2 = 6.
    let (c, _, e) = run(&[ps, "--window", "100"]);
    assert_error(c, &e, "needs at least 6");
    // A missing required option is clap's usage error (exit status 2).
    let (c, _, e) = run(&[ps]);
    assert_eq!(c, 2, "{e}");
    assert!(e.starts_with("error:") && e.contains("--window"), "{e}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut w = fbm_paths(300, 3, |_| 0.5, &mut rng)
        .unwrap()
        .weights()
        .to_vec();
    w[157 * 3 + 2] = f32::NAN;
    let bad = dir.path().join("nan.npy");
    write_npy_f32(&bad, 300, 3, &w).unwrap();
    let (c, _, e) = run(&[bad.to_str().unwrap(), "--window", "50"]);
    assert_error(c, &e, "step 157");
}

#[test]
fn help_has_an_example() {
    let (_, out, _) = run_command("regime", &["--help"]);
    assert!(out.contains("anodiff regime run.npy"));
}

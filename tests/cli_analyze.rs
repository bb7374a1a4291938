//! End-to-end tests of `anodiff analyze`.

#[path = "../core/tests/msd_common/mod.rs"]
mod msd_common;

use anodiff_core::trajectory::npy::{write_npy_1d_f64, write_npy_f32};
use msd_common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    run_command("analyze", args)
}

#[test]
fn writes_summary_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let tr = traj(&brownian(240, 8, 1e-2, &mut rng(9)), 0.0);
    let w = dir.path().join("w.npy");
    write_npy_f32(&w, 240, 8, tr.weights()).unwrap();
    // A loss linear in coordinate 0: MSL ~ dr^2 on average.
    let losses: Vec<f64> = (0..240)
        .map(|t| 2.0 * f64::from(tr.weights()[t * 8]))
        .collect();
    let l = dir.path().join("loss.npy");
    write_npy_1d_f64(&l, &losses).unwrap();
    let out = dir.path().join("res");
    let (c, stdout, e) = run(&[
        w.to_str().unwrap(),
        "--losses",
        l.to_str().unwrap(),
        "--window",
        "120",
        "--lags",
        "log:15",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{e}");
    let listing: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listing["files"].as_array().unwrap().len(), 7);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let wins = s["windows"].as_array().unwrap();
    assert_eq!(wins.len(), 2);
    for win in wins {
        assert!(win["msd"]["alpha"].is_number(), "{win}");
        let lambda = win["contour"]["lambda"].as_f64().unwrap();
        assert!(lambda > 0.5 && lambda < 2.5, "{lambda}");
        assert!(win["msl"]["log"]["exponent_2h"].is_number(), "{win}");
        assert!(win["loss"]["mean_abs_dloss"].as_f64().unwrap() > 0.0);
        assert!(win["gradients"].is_null());
    }
    let msd_csv = std::fs::read_to_string(out.join("msd.csv")).unwrap();
    assert!(msd_csv.starts_with("t_w,T,lag,msd\n"));
    let rows = msd_csv.lines().count() - 1;
    assert!(rows >= 20, "{rows}");
    let loss_csv = std::fs::read_to_string(out.join("loss.csv")).unwrap();
    assert_eq!(loss_csv.lines().count(), 1 + 240);
}

#[test]
fn stdout_only_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let tr = traj(&brownian(90, 3, 1e-2, &mut rng(10)), 0.0);
    let w = dir.path().join("w.npy");
    write_npy_f32(&w, 90, 3, tr.weights()).unwrap();
    let (c, stdout, e) = run(&[w.to_str().unwrap(), "--lags", "log:10"]);
    assert_eq!(c, 0, "{e}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(s["windows"].as_array().unwrap().len(), 1);
    assert!(s["windows"][0]["msl"].is_null());

    let l = dir.path().join("short.npy");
    write_npy_1d_f64(&l, &[1.0; 10]).unwrap();
    let (c, _, e) = run(&[w.to_str().unwrap(), "--losses", l.to_str().unwrap()]);
    assert_eq!(c, 1);
    assert!(
        e.starts_with("error:") && e.contains("10 losses") && !e.contains("panicked"),
        "{e}"
    );
    let mut losses = vec![1.0; 90];
    losses[33] = f64::NAN;
    write_npy_1d_f64(&l, &losses).unwrap();
    let (c, _, e) = run(&[w.to_str().unwrap(), "--losses", l.to_str().unwrap()]);
    assert_eq!(c, 1);
    assert!(e.contains("33") && !e.contains("panicked"), "{e}");
    let (c, _, e) = run(&[w.to_str().unwrap(), "--window", "91"]);
    assert_eq!(c, 1);
    assert!(e.contains("longer than the trajectory"), "{e}");
}

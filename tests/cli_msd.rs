//! End-to-end tests of `anodiff msd`: output contract, window options, store input, bad input.

#[path = "../core/tests/msd_common/mod.rs"]
mod msd_common;

use anodiff_core::trajectory::npy::write_npy_f32;
use anodiff_core::trajectory::{Step, StoreOptions, StoreWriter, TrajectorySink};
use msd_common::*;
use std::path::Path;

fn run(args: &[&str]) -> (i32, String, String) {
    run_command("msd", args)
}

fn walk_npy(dir: &Path, n: usize, d: usize) -> (std::path::PathBuf, Vec<f32>) {
    let tr = traj(&brownian(n, d, 1e-3, &mut rng(42)), 0.5);
    let w = tr.weights().to_vec();
    let p = dir.join("w.npy");
    write_npy_f32(&p, n, d, &w).unwrap();
    (p, w)
}

fn assert_error(code: i32, stderr: &str, needle: &str) {
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains(needle), "wanted `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn contract_fields_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let (p, w) = walk_npy(dir.path(), 400, 6);
    let (code, out, err) = run(&[
        p.to_str().unwrap(),
        "--window",
        "200",
        "--lags",
        "log:12",
        "--max-lag",
        "50",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let wins = v["windows"].as_array().unwrap();
    assert_eq!(wins.len(), 2);
    for (k, win) in wins.iter().enumerate() {
        assert_eq!(win["t_w"], 200 * k);
        assert_eq!(win["T"], 200);
        let lags: Vec<usize> = serde_json::from_value(win["lags"].clone()).unwrap();
        let msd: Vec<f64> = serde_json::from_value(win["msd"].clone()).unwrap();
        assert_eq!(lags.len(), msd.len());
        assert_eq!(lags[0], 1);
        assert_eq!(*lags.last().unwrap(), 50);
        // Independent reference: the direct double sum.
        for (&l, &m) in lags.iter().zip(&msd) {
            let r = brute_msd(&w, 6, 200 * k, 200, l);
            assert!((m - r).abs() <= 1e-9 * r, "lag {l}: {m} vs {r}");
        }
        let fit = &win["fit"];
        let alpha = fit["alpha"].as_f64().unwrap();
        assert!((alpha - 1.0).abs() < 0.2, "{fit}");
        assert!(fit["alpha_se"].as_f64().unwrap() > 0.0);
        let ci: Vec<f64> = serde_json::from_value(fit["alpha_ci95"].clone()).unwrap();
        assert!(ci[0] < alpha && alpha < ci[1], "{fit}");
        // The label is read from the interval (anodiff_core::exponent::classify_interval).
        let want = if ci[1] < 1.0 {
            "subdiffusive"
        } else if ci[0] > 1.0 && ci[1] < 2.0 {
            "superdiffusive"
        } else if ci[0] > 1.0 {
            "ballistic"
        } else if ci[1] < 2.0 {
            "normal"
        } else {
            "undetermined"
        };
        assert_eq!(fit["regime"], want, "{fit}");
        let tr = &fit["two_regime"];
        if !tr.is_null() {
            for key in ["alpha_short", "alpha_long", "tau0", "p_one_vs_two"] {
                assert!(tr[key].is_number(), "{tr}");
            }
            assert_eq!(tr["tau0_ci95"].as_array().unwrap().len(), 2);
        }
    }
}

#[test]
fn window_options() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = walk_npy(dir.path(), 300, 3);
    let p = p.to_str().unwrap();
    let starts = |out: &str| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["t_w"].as_u64().unwrap())
            .collect()
    };
    let (c, out, e) = run(&[p, "--window", "100", "--stride", "50", "--lags", "log:8"]);
    assert_eq!(c, 0, "{e}");
    assert_eq!(starts(&out), [0, 50, 100, 150, 200]);
    let (c, out, e) = run(&[p, "--window", "100", "--starts", "7,150", "--lags", "log:8"]);
    assert_eq!(c, 0, "{e}");
    assert_eq!(starts(&out), [7, 150]);
    // Default: one window over everything, 10 lags per decade, round(10^(k/10)) up to T - 1
    // (hand-computed), and the exponent fitted up to T/4.
    let (c, out, e) = run(&[p]);
    assert_eq!(c, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["windows"][0]["lags"],
        serde_json::json!([
            1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, 158, 200, 251
        ])
    );
    let (c, out, e) = run(&[p, "--lags", "all"]);
    assert_eq!(c, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["windows"][0]["lags"].as_array().unwrap().len(), 299);
    // --fit-range narrows the fit: a range of 3 lags still fits.
    let (c, _, e) = run(&[p, "--lags", "all", "--fit-range", "2,4"]);
    assert_eq!(c, 0, "{e}");
}

#[test]
fn store_directory_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("run");
    let tr = traj(&brownian(120, 4, 1e-2, &mut rng(5)), 1.0);
    let mut wtr = StoreWriter::create(&store, StoreOptions::new(4).with_chunk_steps(50)).unwrap();
    for t in 0..120 {
        wtr.append(&Step {
            weights: &tr.weights()[t * 4..(t + 1) * 4],
            loss: 1.0,
            gradient: None,
        })
        .unwrap();
    }
    wtr.finish().unwrap();
    let (c, out, e) = run(&[store.to_str().unwrap(), "--lags", "log:10"]);
    assert_eq!(c, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m0 = v["windows"][0]["msd"][0].as_f64().unwrap();
    let r = brute_msd(tr.weights(), 4, 0, 120, 1);
    assert!((m0 - r).abs() <= 1e-9 * r);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (p, mut w) = walk_npy(dir.path(), 100, 3);
    let ps = p.to_str().unwrap();
    let (c, _, e) = run(&[ps, "--window", "101"]);
    assert_error(c, &e, "longer than the trajectory");
    w[57 * 3 + 1] = f32::NAN;
    let bad = dir.path().join("nan.npy");
    write_npy_f32(&bad, 100, 3, &w).unwrap();
    let (c, _, e) = run(&[bad.to_str().unwrap()]);
    assert_error(c, &e, "step 57");
    w[57 * 3 + 1] = f32::INFINITY;
    write_npy_f32(&bad, 100, 3, &w).unwrap();
    let (c, _, e) = run(&[bad.to_str().unwrap()]);
    assert_error(c, &e, "step 57");
    let one_d = dir.path().join("one_d.npy");
    anodiff_core::trajectory::npy::write_npy_1d_f64(&one_d, &[1.0, 2.0, 3.0]).unwrap();
    let (c, _, e) = run(&[one_d.to_str().unwrap()]);
    assert_error(c, &e, "2-D");
    let (c, _, e) = run(&[dir.path().join("missing.npy").to_str().unwrap()]);
    assert_error(c, &e, "missing.npy");
    let (c, _, e) = run(&[ps, "--lags", "log:x"]);
    assert_error(c, &e, "--lags");
    let (c, _, e) = run(&[ps, "--starts", "1,2"]);
    assert_error(c, &e, "--window");
    let (c, _, e) = run(&[ps, "--max-lag", "0"]);
    assert_error(c, &e, "--max-lag");
    let (c, _, e) = run(&[ps, "--fit-range", "5,2"]);
    assert_error(c, &e, "--fit-range");
    let (c, _, e) = run(&[ps, "--window", "50", "--starts", "60"]);
    assert_error(c, &e, "runs past the end");
    // A trajectory that never moves has no exponent.
    let flat = dir.path().join("flat.npy");
    write_npy_f32(&flat, 20, 2, &[0.25f32; 40]).unwrap();
    let (c, _, e) = run(&[flat.to_str().unwrap()]);
    assert_error(c, &e, "positive MSD");
}

#[test]
fn help_has_an_example() {
    let (_, out, _) = run(&["--help"]);
    assert!(out.contains("anodiff msd run.npy"));
}

/// Three Brownian runs of the same model as `.npy` files, and their weights.
fn runs_npy(dir: &Path, n: usize, d: usize) -> (Vec<String>, Vec<Vec<f32>>) {
    (0..3u64)
        .map(|k| {
            let tr = traj(&brownian(n, d, 1e-2, &mut rng(300 + k)), 0.25 * k as f64);
            let w = tr.weights().to_vec();
            let p = dir.join(format!("run{k}.npy"));
            write_npy_f32(&p, n, d, &w).unwrap();
            (p.to_str().unwrap().to_string(), w)
        })
        .unzip()
}

/// `||w(t + tau) - w(t)||^2` by direct summation in f64.
fn sq_disp(w: &[f32], d: usize, t: usize, tau: usize) -> f64 {
    (0..d)
        .map(|c| (f64::from(w[(t + tau) * d + c]) - f64::from(w[t * d + c])).powi(2))
        .sum()
}

/// `--ensemble` against brute force: the ensemble average from the fixed origin, the mean of
/// the runs' direct time averages, and EB = Var / mean^2 over runs (population variance), all
/// to 1e-9 relative (the FFT MSD's promised accuracy, crate::prec::MSD_RTOL).
#[test]
fn ensemble_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (150, 5);
    let (paths, ws) = runs_npy(dir.path(), n, d);
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.extend([
        "--ensemble",
        "--window",
        "60",
        "--stride",
        "40",
        "--lags",
        "log:8",
    ]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["runs"], 3);
    let wins = v["windows"].as_array().unwrap();
    assert_eq!(wins.len(), 3, "{out}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-300);
    for (k, win) in wins.iter().enumerate() {
        let t_w = 40 * k;
        assert_eq!(win["t_w"], t_w);
        assert_eq!(win["T"], 60);
        let lags: Vec<usize> = serde_json::from_value(win["lags"].clone()).unwrap();
        let get = |key: &str| -> Vec<f64> { serde_json::from_value(win[key].clone()).unwrap() };
        let (ea, ta, eb) = (get("eamsd"), get("mean_tamsd"), get("eb"));
        assert_eq!(*lags.last().unwrap(), 59);
        for (i, &l) in lags.iter().enumerate() {
            let want_ea = ws.iter().map(|w| sq_disp(w, d, t_w, l)).sum::<f64>() / 3.0;
            assert!(
                close(ea[i], want_ea),
                "eamsd lag {l}: {} vs {want_ea}",
                ea[i]
            );
            let tam: Vec<f64> = ws.iter().map(|w| brute_msd(w, d, t_w, 60, l)).collect();
            let mu = tam.iter().sum::<f64>() / 3.0;
            assert!(close(ta[i], mu), "mean_tamsd lag {l}: {} vs {mu}", ta[i]);
            let var = tam.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / 3.0;
            // EB is a ratio of nearly equal numbers' spread: absolute tolerance on its scale.
            assert!((eb[i] - var / (mu * mu)).abs() <= 1e-8, "eb lag {l}");
        }
    }
}

/// `--two-time` against brute force: Delta(t_w, t_w + t) = sum over runs and weights of the
/// squared displacement, divided by R d, for each t_w in --starts and every t up to the end.
#[test]
fn two_time_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (120, 4);
    let (paths, ws) = runs_npy(dir.path(), n, d);
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.extend(["--two-time", "--starts", "0,30,100", "--lags", "all"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["runs"], 3);
    let tt = v["two_time"].as_array().unwrap();
    assert_eq!(tt.len(), 3);
    for (entry, t_w) in tt.iter().zip([0usize, 30, 100]) {
        assert_eq!(entry["t_w"], t_w);
        let ts: Vec<usize> = serde_json::from_value(entry["t"].clone()).unwrap();
        let delta: Vec<f64> = serde_json::from_value(entry["delta"].clone()).unwrap();
        assert_eq!(ts, (1..n - t_w).collect::<Vec<_>>());
        for (&t, &dv) in ts.iter().zip(&delta) {
            let want = ws.iter().map(|w| sq_disp(w, d, t_w, t)).sum::<f64>() / (3 * d) as f64;
            assert!(
                (dv - want).abs() <= 1e-12 * want,
                "t_w {t_w}, t {t}: {dv} vs {want}"
            );
        }
    }
    // --max-lag limits t; a single run works too.
    let (code, out, err) = run(&[&paths[0], "--two-time", "--max-lag", "5"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["two_time"][0]["t"], serde_json::json!([1, 2, 3, 4, 5]));
}

#[test]
fn runs_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, _) = runs_npy(dir.path(), 50, 3);
    let other = dir.path().join("other.npy");
    write_npy_f32(&other, 50, 4, &vec![0.0; 200]).unwrap();
    let (code, _, err) = run(&[&paths[0], other.to_str().unwrap(), "--ensemble"]);
    assert_error(code, &err, "same model");
    let (code, _, err) = run(&[&paths[0], &paths[1]]);
    assert_error(code, &err, "--ensemble");
    let (code, _, err) = run(&[&paths[0], "--two-time", "--starts", "49"]);
    assert_error(code, &err, "--starts 49");
    let (code, _, err) = run(&[&paths[0], "--ensemble", "--window", "80"]);
    assert_error(code, &err, "longer than the trajectory");
}

/// A planted crossover with the default settings: exact fBm with H = 0.3 plus a drift whose
/// term equals the fBm's at lag 30 (MSD per coordinate `tau^0.6 + tau^2 / 30^1.4`), d = 16,
/// T = 1000. Two regimes must be reported, subdiffusive below `tau0` and superdiffusive above,
/// with `tau0` inside the fitted lags (the calibration study finds this crossover in every walk).
#[test]
fn defaults_find_a_planted_crossover() {
    let dir = tempfile::tempdir().unwrap();
    let v = 30f64.powf(-0.7);
    let mut paths = fbm(1000, 16, 0.3, &mut rng(8));
    for p in paths.iter_mut() {
        for (t, x) in p.iter_mut().enumerate() {
            *x += v * t as f64;
        }
    }
    let tr = traj(&paths, 0.0);
    let p = dir.path().join("cross.npy");
    write_npy_f32(&p, 1000, 16, tr.weights()).unwrap();
    let (c, out, e) = run(&[p.to_str().unwrap()]);
    assert_eq!(c, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tr = &v["windows"][0]["fit"]["two_regime"];
    assert!(!tr.is_null(), "{out}");
    assert!(tr["p_one_vs_two"].as_f64().unwrap() < 0.05, "{tr}");
    assert!(tr["alpha_short"].as_f64().unwrap() < 1.0, "{tr}");
    assert!(tr["alpha_long"].as_f64().unwrap() > 1.0, "{tr}");
    let tau0 = tr["tau0"].as_f64().unwrap();
    assert!(tau0 > 1.0 && tau0 < 250.0, "{tr}");
}

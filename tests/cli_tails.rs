//! End-to-end tests of `anodiff tails hill`: output contract and every bad-input case.

mod common;

use common::{anodiff_stdin as anodiff, assert_fails, json, write, Exit};
use std::path::Path;

fn fails_with(out: &std::process::Output, needles: &[&str]) {
    assert_fails(out, Exit::Failure, needles);
}

/// Exact Pareto(alpha) quantiles x_i = (i/n)^(-1/alpha), i = 1..n, as text.
fn pareto_text(n: usize, alpha: f64) -> String {
    (1..=n)
        .map(|i| format!("{}\n", (i as f64 / n as f64).powf(-1.0 / alpha)))
        .collect()
}

#[test]
fn hill_fixed_k_matches_formula() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.txt", pareto_text(2000, 1.5).as_bytes());
    let v = json(&anodiff(
        &["tails", "hill", p.to_str().unwrap(), "--k", "200"],
        None,
    ));
    // Brute force: x_(i) = (i/n)^(-1/a) for the i-th largest, threshold x_(201).
    let n = 2000.0f64;
    let h: f64 = (1..=200)
        .map(|i| (i as f64 / n).powf(-1.0 / 1.5).ln())
        .sum::<f64>()
        / 200.0
        - (201.0 / n).powf(-1.0 / 1.5).ln();
    let alpha = v["alpha"].as_f64().unwrap();
    assert!((alpha - 1.0 / h).abs() < 1e-12, "{alpha} vs {}", 1.0 / h);
    assert_eq!(v["k"], 200);
    assert_eq!(v["k_auto"], false);
    assert_eq!(v["n"], 2000);
    assert_eq!(v["tail"], "upper");
    assert!((v["se"].as_f64().unwrap() - alpha / 200f64.sqrt()).abs() < 1e-12);
    let ci = v["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < alpha && alpha < ci[1].as_f64().unwrap());
    assert!(v.get("plot").is_none());
}

#[test]
fn hill_plot_data_and_stdin() {
    let text = pareto_text(500, 1.0);
    let v = json(&anodiff(
        &["tails", "hill", "-", "--plot-data"],
        Some(text.as_bytes()),
    ));
    let plot = v["plot"].as_array().unwrap();
    assert_eq!(plot.len(), 498); // k = 2..=499
    assert_eq!(plot[0]["k"], 2);
    assert!(plot[100]["ci95"].as_array().unwrap().len() == 2);
    assert!(v["k_auto"].as_bool().unwrap());
    // Abs tail of mirrored data equals the upper tail of the original.
    let neg: String = text.lines().map(|l| format!("-{l}\n")).collect();
    let a = json(&anodiff(
        &["tails", "hill", "-", "--tail", "abs", "--k", "50"],
        Some(neg.as_bytes()),
    ));
    let u = json(&anodiff(
        &["tails", "hill", "-", "--k", "50"],
        Some(text.as_bytes()),
    ));
    assert_eq!(a["alpha"], u["alpha"]);
    assert_eq!(a["tail"], "abs");
}

#[test]
fn hill_comparison_warning() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.txt", pareto_text(5000, 1.2).as_bytes());
    let v = json(&anodiff(
        &[
            "tails",
            "hill",
            p.to_str().unwrap(),
            "--k",
            "1000",
            "--stable-alpha",
            "1.9",
            "--stable-se",
            "0.01",
        ],
        None,
    ));
    let w: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(w.iter().any(|s| s.contains("disagree")), "{w:?}");
    assert!(w.iter().any(|s| s.contains("biased upwards")), "{w:?}");
    // The agreement test, recomputed from the printed estimates: z and its two-sided p.
    let c = &v["comparison"];
    let (ha, hs) = (
        c["hill_alpha"].as_f64().unwrap(),
        c["hill_se"].as_f64().unwrap(),
    );
    assert_eq!(
        (ha, hs),
        (v["alpha"].as_f64().unwrap(), v["se"].as_f64().unwrap())
    );
    let z = (ha - 1.9) / (hs * hs + 0.01 * 0.01).sqrt();
    assert!(
        (c["z"].as_f64().unwrap() - z).abs() < 1e-12 * z.abs(),
        "{c}"
    );
    assert!(z < -8.0 && c["p_value"].as_f64().unwrap() < 1e-15, "{c}");
    assert_eq!(
        (c["disagree"].as_bool(), c["level"].as_f64()),
        (Some(true), Some(0.05))
    );
}

#[test]
fn hill_comparison_agrees_within_error() {
    // Exact Pareto(1.2) quantiles, k = 1000: Hill ~ 1.2. A stable alpha 1 Hill-se away gives
    // z ~ -1, p = erfc(1/sqrt 2) = 0.3173 (scipy: 2 * norm.sf(1)): no disagreement at 0.05,
    // but one at --level 0.5.
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.txt", pareto_text(5000, 1.2).as_bytes());
    let run = |stable: &str, level: &str| {
        json(&anodiff(
            &[
                "tails",
                "hill",
                p.to_str().unwrap(),
                "--k",
                "1000",
                "--stable-alpha",
                stable,
                "--level",
                level,
            ],
            None,
        ))
    };
    let base = run("1.2", "0.05");
    let (ha, hs) = (
        base["alpha"].as_f64().unwrap(),
        base["se"].as_f64().unwrap(),
    );
    let stable = format!("{:.12}", ha + hs);
    let v = run(&stable, "0.05");
    let c = &v["comparison"];
    assert!((c["z"].as_f64().unwrap() + 1.0).abs() < 1e-9, "{c}");
    assert!(
        (c["p_value"].as_f64().unwrap() - 0.31731050786291415).abs() < 1e-9,
        "{c}"
    );
    assert_eq!(c["disagree"], false);
    assert_eq!(run(&stable, "0.5")["comparison"]["disagree"], true);
}

#[test]
fn bad_inputs() {
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str, bytes: &[u8]| {
        let p = write(d.path(), name, bytes);
        anodiff(&["tails", "hill", p.to_str().unwrap()], None)
    };
    fails_with(&run("empty.txt", b""), &["empty.txt", "empty"]);
    fails_with(
        &run("four.txt", b"1\n2\n3\n4\n"),
        &["four.txt", "only 4 values", "at least 5"],
    );
    fails_with(&run("nan.txt", b"1\n2\nnan\n4\n5\n"), &["line 3", "NaN"]);
    fails_with(
        &run("inf.txt", b"1\n2\n3\ninf\n5\n"),
        &["line 4", "infinite"],
    );
    fails_with(
        &run("const.txt", b"2\n2\n2\n2\n2\n2\n"),
        &["const.txt", "equal"],
    );
    fails_with(&run("bad.txt", b"1\n2\n# ok\n3,5\n"), &["line 4", "3,5"]);
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut h = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }".to_vec();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    npy.extend((h.len() as u16).to_le_bytes());
    npy.extend(&h);
    npy.extend((0..996).flat_map(|i| (i as f64).to_le_bytes()));
    fails_with(
        &run("trunc.npy", &npy),
        &["trunc.npy", "truncated", "1000", "996"],
    );
    fails_with(
        &run("text.npy", b"1\n2\n"),
        &["text.npy", "not a .npy file"],
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vuong/np_str.npy");
    fails_with(
        &anodiff(&["tails", "hill", fixture.to_str().unwrap()], None),
        &["non-numeric"],
    );
    fails_with(
        &anodiff(&["tails", "hill", "/nonexistent/x.txt"], None),
        &["/nonexistent/x.txt"],
    );
    fails_with(
        &anodiff(&["tails", "hill", "-"], Some(b"1\n2\n")),
        &["<stdin>", "only 2 values"],
    );
    // k out of range, unknown tail, too few values in the tail, bad --stable-alpha.
    let p = write(d.path(), "ok.txt", pareto_text(100, 1.5).as_bytes());
    let ps = p.to_str().unwrap();
    fails_with(
        &anodiff(&["tails", "hill", ps, "--k", "100"], None),
        &["k = 100", "2..=99"],
    );
    fails_with(
        &anodiff(&["tails", "hill", ps, "--k", "1"], None),
        &["k = 1"],
    );
    fails_with(
        &anodiff(&["tails", "hill", ps, "--tail", "left-ish"], None),
        &["left-ish"],
    );
    fails_with(
        &anodiff(&["tails", "hill", ps, "--tail", "lower"], None),
        &["lower tail has 0 positive"],
    );
    fails_with(
        &anodiff(&["tails", "hill", ps, "--stable-alpha", "2.5"], None),
        &["(0, 2]"],
    );
    for bad in ["0", "1", "NaN", "-3"] {
        let level = format!("--level={bad}");
        fails_with(
            &anodiff(
                &["tails", "hill", ps, "--stable-alpha", "1.5", &level],
                None,
            ),
            &["--level", "(0, 1)"],
        );
    }
}

#[test]
fn help_has_example() {
    let out = anodiff(&["tails", "hill", "--help"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("anodiff tails hill gradients.npy"));
}

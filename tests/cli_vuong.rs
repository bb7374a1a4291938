//! End-to-end tests of `anodiff vuong`: output contract, internal consistency with the fits it
//! reports, and every bad-input case of the issue.

mod common;

use common::{anodiff_stdin as anodiff, assert_fails, json, write, Exit};
use rand::{Rng, SeedableRng};
use std::path::Path;

fn fails_with(out: &std::process::Output, needles: &[&str]) {
    assert_fails(out, Exit::Failure, needles);
}

fn text(x: &[f64]) -> String {
    x.iter().map(|v| format!("{v:.17e}\n")).collect()
}

/// Cauchy = symmetric stable with alpha = 1, sampled by inversion (independent of our sampler).
fn cauchy(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (std::f64::consts::PI * (rng.random::<f64>() - 0.5)).tan())
        .collect()
}

fn normal(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rand_distr::Distribution::<f64>::sample(&rand_distr::StandardNormal, &mut rng))
        .collect()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks the relations the output must satisfy whatever the data.
fn check_consistency(v: &serde_json::Value) {
    let (llr, z, n) = (f(&v["llr"]), f(&v["statistic"]), f(&v["n"]));
    // llr is the difference of the two reported total log-likelihoods: both sides sum the same
    // pointwise terms (the fit's spline log-density; compensated vs plain summation order):
    // 1e-10 relative.
    let diff = f(&v["stable"]["loglik"]) - f(&v["alt"]["loglik"]);
    let scale = f(&v["stable"]["loglik"]).abs();
    assert!((llr - diff).abs() <= 1e-10 * scale, "{llr} vs {diff}");
    // z = llr / (sqrt(n) omega)
    assert!((z - llr / (n * f(&v["omega2"])).sqrt()).abs() <= 1e-12 * z.abs().max(1.0));
    let p2 = f(&v["p_two_sided"]);
    if p2 > 1e-300 {
        assert!((f(&v["log10_p_two_sided"]) - p2.log10()).abs() < 1e-10);
    }
    assert_eq!(v["n"], v["alt"]["n"]);
}

#[test]
fn cauchy_data_prefer_stable_over_normal_and_laplace() {
    let x = cauchy(1500, 1);
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "c.txt", text(&x).as_bytes());
    for alt in ["normal", "laplace", "student-t"] {
        let v = json(&anodiff(
            &["vuong", p.to_str().unwrap(), "--alt", alt, "--symmetric"],
            None,
        ));
        check_consistency(&v);
        assert_eq!(v["n"], 1500);
        assert_eq!(v["alt"]["model"], alt);
        let a = f(&v["stable"]["alpha"]);
        assert!((a - 1.0).abs() < 0.15, "alpha {a}");
        assert_eq!(v["level"], 0.05);
        if alt == "student-t" {
            // Cauchy is also t with df = 1: the two fits are nearly the same law.
            assert!((f(&v["alt"]["df"]) - 1.0).abs() < 0.2);
            assert!(v["boundary"].is_null());
            assert_eq!(v["decided_by"], "vuong");
            assert_eq!(v["decision_p_value"], v["p_two_sided"]);
        } else {
            assert_eq!(v["preferred"], "stable", "{alt}: {v}");
            assert!(f(&v["llr"]) > 0.0 && f(&v["statistic"]) > 3.0);
            let by = if alt == "normal" {
                "boundary-lr"
            } else {
                "vuong"
            };
            assert_eq!(v["decided_by"], by, "{v}");
            assert!(f(&v["log10_decision_p_value"]) < -3.0, "{v}");
        }
    }
    let v = json(&anodiff(&["vuong", p.to_str().unwrap()], None));
    assert!(f(&v["boundary"]["log10_p"]) < -100.0, "{v}");
    assert_eq!(v["log10_decision_p_value"], v["boundary"]["log10_p"]);
    // The Hill agreement test is reported with its statistic: z from the printed estimates.
    let h = &v["hill"];
    let se_s = f(&v["stable"]["se"]["alpha"]);
    let z =
        (f(&h["alpha"]) - f(&v["stable"]["alpha"])) / (f(&h["se"]).powi(2) + se_s * se_s).sqrt();
    assert!((f(&h["z"]) - z).abs() < 1e-9 * z.abs().max(1.0), "{h}");
    assert_eq!(h["disagree"], f(&h["p_value"]) < 0.05);
    // Hill on a Cauchy sample agrees with alpha = 1 within its error: no disagreement warning.
    let w = v["warnings"].as_array().unwrap();
    assert!(
        !w.iter().any(|s| s.as_str().unwrap().contains("disagree")),
        "{w:?}"
    );
}

#[test]
fn normal_data_nested_case_and_stdin() {
    // Stable nests the normal at alpha = 2: the fit must not be worse than the normal one, and
    // on normal data the boundary test must not reject strongly (seeded, deterministic).
    let x = normal(1000, 2);
    let v = json(&anodiff(
        &["vuong", "-", "--symmetric"],
        Some(text(&x).as_bytes()),
    ));
    check_consistency(&v);
    assert!(f(&v["llr"]) > -1e-6, "{v}");
    assert_eq!(v["preferred"], "neither", "{v}");
    assert_eq!(v["decided_by"], "boundary-lr");
    assert!(f(&v["boundary"]["p"]) > 0.05, "{v}");
    // --symmetric: the boundary test uses the fit that was requested.
    assert_eq!(v["boundary"]["llr_symmetric"], v["llr"]);
    assert!(f(&v["stable"]["alpha"]) > 1.8);
    let w: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(w.iter().any(|s| s.contains("nested")), "{w:?}");
}

#[test]
fn normal_data_are_not_called_stable() {
    // 3000 draws of N(0, 3^2), four-parameter stable fit: the fit sits at alpha = 2 (the normal
    // itself), Vuong's z can be large there because omega^2 ~ 0, but the decision is the
    // boundary test of the symmetric fit, whose p-value is 1/2 P(chi2_1 > 2 llr).
    let x: Vec<f64> = normal(3000, 21).iter().map(|v| 3.0 * v).collect();
    let v = json(&anodiff(&["vuong", "-"], Some(text(&x).as_bytes())));
    check_consistency(&v);
    assert_eq!(v["preferred"], "neither", "{v}");
    assert_eq!(v["decided_by"], "boundary-lr");
    let l = f(&v["boundary"]["llr_symmetric"]);
    // chi-bar-2 p-value, independently: 1/2 erfc(sqrt(llr)) (scipy: chi2(1).sf(2 l) / 2).
    let p = if l > 0.0 {
        0.5 * erfc_series(l.sqrt())
    } else {
        1.0
    };
    assert!((f(&v["decision_p_value"]) - p).abs() < 1e-12, "{v}");
    assert!(p >= 0.05);
    // --level moves the decision threshold only: at level 0.999 (p < level whenever
    // llr_symmetric > 0) a positive LR decides "stable".
    let v2 = json(&anodiff(
        &["vuong", "-", "--level", "0.999"],
        Some(text(&x).as_bytes()),
    ));
    assert_eq!(v2["level"], 0.999);
    let expect = if p < 0.999 { "stable" } else { "neither" };
    assert_eq!(v2["preferred"], expect, "{v2}");
}

/// erfc from the Maclaurin series of erf (independent of the libm erfc the command uses);
/// accurate to ~1e-15 for the arguments below 2 used here.
fn erfc_series(x: f64) -> f64 {
    let mut term = x;
    let mut sum = x;
    let mut k = 0.0;
    while term.abs() > 1e-18 * sum.abs() {
        k += 1.0;
        term *= -x * x / k;
        sum += term / (2.0 * k + 1.0);
    }
    1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
}

#[test]
fn bad_inputs() {
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str, bytes: &[u8]| {
        let p = write(d.path(), name, bytes);
        anodiff(&["vuong", p.to_str().unwrap()], None)
    };
    fails_with(&run("empty.txt", b""), &["empty.txt", "empty"]);
    fails_with(&run("comments.txt", b"# a\n\n# b\n"), &["no values"]);
    fails_with(
        &run("four.txt", b"1\n2\n3\n4\n"),
        &["four.txt", "only 4 values", "at least 5"],
    );
    fails_with(
        &run("nan.txt", b"1\n2\nNaN\n4\n5\n"),
        &["nan.txt", "line 3", "NaN"],
    );
    fails_with(
        &run("inf.txt", b"1\n2\n3\n-Infinity\n5\n"),
        &["line 4", "infinite"],
    );
    fails_with(
        &run("const.txt", b"7\n7\n7\n7\n7\n7\n"),
        &["const.txt", "equal to 7"],
    );
    fails_with(
        &run("bad.txt", b"1\n2\n\n0x1f\n"),
        &["bad.txt", "line 4", "0x1f"],
    );
    let npy_header = |shape: &str| {
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        let mut h =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(b' ');
        }
        h.push(b'\n');
        npy.extend((h.len() as u16).to_le_bytes());
        npy.extend(&h);
        npy
    };
    let mut t = npy_header("(100, 10)");
    t.extend((0..996).flat_map(|i| (i as f32).to_le_bytes()));
    fails_with(
        &run("trunc.npy", &t),
        &["trunc.npy", "truncated", "1000", "996"],
    );
    let mut nan = npy_header("(6,)");
    nan.extend(
        [1.0f32, 2.0, 3.0, 4.0, f32::NAN, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    fails_with(&run("nan.npy", &nan), &["nan.npy", "flat index 4"]);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vuong/np_str.npy");
    fails_with(
        &anodiff(&["vuong", fixture.to_str().unwrap()], None),
        &["np_str.npy", "non-numeric"],
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vuong/np_i64.npy");
    fails_with(
        &anodiff(&["vuong", fixture.to_str().unwrap()], None),
        &["<i8", "integers"],
    );
    fails_with(&anodiff(&["vuong", "-"], Some(b"")), &["<stdin>", "empty"]);
    fails_with(
        &anodiff(&["vuong", "-"], Some(b"1\n2\n3\n")),
        &["<stdin>", "only 3 values"],
    );
    fails_with(
        &anodiff(&["vuong", "/nonexistent/g.npy"], None),
        &["/nonexistent/g.npy"],
    );
    // Options out of range.
    let p = write(d.path(), "ok.txt", b"1\n2\n3\n4\n5\n6\n");
    let ps = p.to_str().unwrap();
    fails_with(
        &anodiff(&["vuong", ps, "--alt", "cauchy"], None),
        &["cauchy", "normal, student-t or laplace"],
    );
    for bad in ["1.5", "0", "-0.1", "NaN", "1"] {
        let level = format!("--level={bad}");
        fails_with(
            &anodiff(&["vuong", ps, &level], None),
            &["--level", "(0, 1)"],
        );
    }
}

#[test]
fn help_has_example() {
    let out = anodiff(&["vuong", "--help"], None);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("anodiff vuong gradients.npy") && s.contains("nested"));
    for field in [
        "decided_by",
        "decision_p_value",
        "boundary-lr",
        "--level",
        "neither",
    ] {
        assert!(s.contains(field), "help lacks {field}");
    }
}

fn npy_f32(x: &[f32], shape: &str) -> Vec<u8> {
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut h =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    npy.extend((h.len() as u16).to_le_bytes());
    npy.extend(&h);
    npy.extend(x.iter().flat_map(|v| v.to_le_bytes()));
    npy
}

#[test]
fn binned_agrees_with_exact() {
    // The same f32 values as .npy (streamed into a histogram) and as exact text.
    let x: Vec<f32> = cauchy(3000, 4).iter().map(|&v| v as f32).collect();
    let d = tempfile::tempdir().unwrap();
    let npy = write(d.path(), "c.npy", &npy_f32(&x, "(30, 100)"));
    let xs: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let txt = write(d.path(), "c.txt", text(&xs).as_bytes());
    for alt in ["normal", "laplace"] {
        let e = json(&anodiff(
            &["vuong", txt.to_str().unwrap(), "--alt", alt, "--symmetric"],
            None,
        ));
        let b = json(&anodiff(
            &[
                "vuong",
                npy.to_str().unwrap(),
                "--alt",
                alt,
                "--symmetric",
                "--binned",
            ],
            None,
        ));
        assert_eq!(b["n"], 3000);
        assert!(b["binned"]["bins"].as_u64().unwrap() > 100);
        // Grouping error: bins of relative width 2^-10 move each log-density by O(width^2) and
        // the fits by far less than their standard errors: 1e-5 relative on LR and z (the
        // Laplace median moves within its bin, hence not tighter).
        for key in ["llr", "statistic"] {
            let (fe, fb) = (f(&e[key]), f(&b[key]));
            assert!(
                (fe - fb).abs() <= 1e-5 * fe.abs(),
                "{alt} {key}: exact {fe} binned {fb}"
            );
        }
        assert_eq!(e["preferred"], b["preferred"]);
        assert!((f(&e["stable"]["alpha"]) - f(&b["stable"]["alpha"])).abs() < 1e-4);
    }
}

#[test]
fn binned_bad_inputs() {
    let d = tempfile::tempdir().unwrap();
    let nan = write(
        d.path(),
        "nan.npy",
        &npy_f32(&[1.0, 2.0, f32::NAN, 4.0, 5.0, 6.0], "(6,)"),
    );
    fails_with(
        &anodiff(&["vuong", nan.to_str().unwrap(), "--binned"], None),
        &["nan.npy", "NaN"],
    );
    let t = npy_f32(&[1.0; 996], "(1000,)");
    let tr = write(d.path(), "t.npy", &t);
    fails_with(
        &anodiff(&["vuong", tr.to_str().unwrap(), "--binned"], None),
        &["t.npy", "1000", "996"],
    );
    let c = write(d.path(), "c.npy", &npy_f32(&[3.0; 8], "(8,)"));
    fails_with(
        &anodiff(&["vuong", c.to_str().unwrap(), "--binned"], None),
        &["c.npy", "equal to 3"],
    );
    let s = write(d.path(), "s.npy", &npy_f32(&[1.0, 2.0, 3.0], "(3,)"));
    fails_with(
        &anodiff(&["vuong", s.to_str().unwrap(), "--binned"], None),
        &["only 3 values"],
    );
    fails_with(
        &anodiff(&["vuong", "-", "--binned"], Some(b"1\n2\nx\n")),
        &["<stdin>", "line 3"],
    );
    fails_with(
        &anodiff(
            &[
                "vuong",
                c.to_str().unwrap(),
                "--binned",
                "--mantissa-bits",
                "30",
            ],
            None,
        ),
        &["mantissa_bits"],
    );
}

#[test]
fn exact_quadrature_path_agrees_with_spline() {
    // --exact evaluates the stable log-density by quadrature at every point (fit and test);
    // the default uses the fit's spline (~1e-8 absolute per point): LR agrees to ~n * 1e-8.
    let x = cauchy(300, 6);
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "c.txt", text(&x).as_bytes());
    let a = json(&anodiff(
        &[
            "vuong",
            p.to_str().unwrap(),
            "--symmetric",
            "--alt",
            "laplace",
        ],
        None,
    ));
    let e = json(&anodiff(
        &[
            "vuong",
            p.to_str().unwrap(),
            "--symmetric",
            "--alt",
            "laplace",
            "--exact",
        ],
        None,
    ));
    assert!(
        (f(&a["llr"]) - f(&e["llr"])).abs() < 300.0 * 1e-7,
        "{} vs {}",
        a["llr"],
        e["llr"]
    );
    assert!((f(&a["stable"]["alpha"]) - f(&e["stable"]["alpha"])).abs() < 1e-5);
}

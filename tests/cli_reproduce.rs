//! End-to-end test of `anodiff reproduce` at demo scale: the summary's schema, the claims table,
//! and that a rerun (as after a kill) reuses finished stages and gives the same numbers.

use std::process::{Command, Output};

fn reproduce(out: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .arg("reproduce")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("binary runs")
}

fn summary(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

#[test]
fn demo_writes_a_complete_summary_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let first = reproduce(dir.path(), &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let s = summary(dir.path());
    assert_eq!(s["schema_version"], 1);
    assert_eq!(s["scale"], "demo");
    for land in ["fractal", "convex", "shuffled"] {
        let t = &s["toy"][land];
        assert_eq!(t["walkers"], s["config"]["walkers"], "{land}");
        assert!(t["t0_median"].as_f64().is_some(), "{land}: {t}");
        let file = s["landscapes"][land]["file"].as_str().unwrap();
        assert!(std::path::Path::new(file).exists(), "{file}");
    }
    // Every claim carries a verdict from the documented set.
    let claims = s["claims"].as_array().unwrap();
    assert!(claims.len() >= 6);
    for c in claims {
        let v = c["verdict"].as_str().unwrap();
        assert!(
            ["reproduced", "not reproduced", "not tested"].contains(&v),
            "{c}"
        );
    }
    // The stdout table names every claim; progress and stage notes stay on stderr.
    let table = String::from_utf8_lossy(&first.stdout);
    assert!(table.contains("verdict") && table.contains("summary.json"));
    assert!(!table.contains("stage "));

    // A second run after an interruption: drop the summary and one stage, as a kill would.
    std::fs::remove_file(dir.path().join("summary.json")).unwrap();
    std::fs::remove_file(dir.path().join("stages/dimensions.json")).unwrap();
    let second = reproduce(dir.path(), &[]);
    assert!(second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("stage toy-fractal: finished earlier, skipped"),
        "{err}"
    );
    assert!(err.contains("stage dimensions: done"), "{err}");
    assert_eq!(
        summary(dir.path()),
        s,
        "a resumed run must give the same summary"
    );
}

#[test]
fn a_changed_seed_reruns_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    assert!(reproduce(dir.path(), &["--seed", "1"]).status.success());
    let again = reproduce(dir.path(), &["--seed", "2"]);
    assert!(again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("skipped"), "{err}");
}

#[test]
fn scales_that_need_the_trainers_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = reproduce(dir.path(), &["--scale", "paper"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trainers"), "{err}");
}

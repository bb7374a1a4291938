//! End-to-end test of `anodiff reproduce` at demo scale: the summary's schema, the claims table,
//! the figures (valid PNG and SVG of sensible size) and the report that embeds them, and that a
//! rerun (as after a kill) reuses finished stages, gives the same numbers and redraws every
//! figure.

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

/// The figures the demo draws (file stems under `figures/`).
const FIGURES: [&str; 4] = [
    "fig8a-toy-landscapes",
    "fig8b-toy-msd",
    "fig8c-toy-gradients",
    "fig5a-gradient-distribution",
];

/// Checks `STEM.png` by its signature and IHDR chunk (then decodes it) and `STEM.svg` as an SVG
/// document with text in it.
fn check_figure(dir: &std::path::Path, stem: &str) {
    let png = std::fs::read(dir.join(format!("figures/{stem}.png"))).expect("PNG written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{stem}: PNG signature"
    );
    // The first chunk is IHDR: length 13, then width and height (big-endian).
    assert_eq!(&png[8..16], b"\0\0\0\x0dIHDR", "{stem}: IHDR first");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(
        (400..=4000).contains(&w) && (300..=3000).contains(&h),
        "{stem}: {w} x {h}"
    );
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{stem}: {e}"));
    assert_eq!((img.width(), img.height()), (w, h));
    // Not a blank page: a figure has many non-white pixels.
    let inked = img
        .to_rgb8()
        .pixels()
        .filter(|p| p.0 != [255, 255, 255])
        .count();
    assert!(
        inked > (w * h / 50) as usize,
        "{stem}: {inked} inked pixels"
    );

    let svg = std::fs::read_to_string(dir.join(format!("figures/{stem}.svg"))).expect("SVG");
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{stem}"
    );
    assert!(
        svg.contains("xmlns=\"http://www.w3.org/2000/svg\""),
        "{stem}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{stem}: truncated SVG");
    assert!(svg.len() > 5_000, "{stem}: {} bytes", svg.len());
    // Axis labels with units are text, not outlines.
    assert!(svg.contains("<text"), "{stem}");
    assert_eq!(svg.matches("<svg").count(), 1, "{stem}");
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
    assert!(table.contains("report.html"));
    assert!(!table.contains("stage "));
    // The plotting data stay in the stage files, out of the summary.
    assert!(s["toy"]["fractal"].get("plot").is_none());

    for stem in FIGURES {
        check_figure(dir.path(), stem);
    }
    let report = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(report.starts_with("<!DOCTYPE html>") && report.trim_end().ends_with("</html>"));
    for stem in FIGURES {
        assert!(
            report.contains(&format!("href=\"figures/{stem}.svg\"")),
            "{stem}"
        );
        assert!(report.contains(&format!("id=\"{stem}\"")), "{stem}");
    }
    assert_eq!(
        report.matches("src=\"data:image/png;base64,").count(),
        FIGURES.len(),
        "every figure inlined"
    );
    // Viewable offline: nothing to fetch.
    assert!(!report.contains("http://") && !report.contains("https://"));
    // Every claim has its verdict in the report, the network ones as not tested at this scale.
    for c in claims {
        let claim = c["claim"]
            .as_str()
            .unwrap()
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(report.contains(&claim), "{claim}");
    }
    assert!(report.contains("not tested at this scale"));
    assert!(
        report.contains("1.359"),
        "the authors' ResNet-14 table is in the report"
    );

    // A second run after an interruption: drop the summary, one stage, a figure and the
    // report, as a kill would.
    std::fs::remove_file(dir.path().join("summary.json")).unwrap();
    std::fs::remove_file(dir.path().join("stages/dimensions.json")).unwrap();
    std::fs::remove_file(dir.path().join("figures/fig8b-toy-msd.svg")).unwrap();
    std::fs::remove_file(dir.path().join("report.html")).unwrap();
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
    for stem in FIGURES {
        check_figure(dir.path(), stem);
    }
    assert!(dir.path().join("report.html").exists());
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

//! End-to-end test of `anodiff reproduce` on a tiny configuration that runs every stage (toy
//! model, two recorded networks, analyses, Hessians, loss surface, sweeps): the summary's
//! schema, the claims table, the figures (valid PNG and SVG of sensible size) and the report that
//! embeds them, and that a run killed with SIGKILL in the middle of training and then rerun gives
//! the same summary as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The tiny configuration (every stage, about a minute on 2 cores).
fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reproduce/tiny.toml")
}

fn command(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_anodiff"));
    c.arg("reproduce").arg("--out").arg(out).args(extra);
    c
}

fn reproduce(out: &Path, extra: &[&str]) -> Output {
    command(out, extra).output().expect("binary runs")
}

fn reproduce_tiny(out: &Path) -> Output {
    let cfg = tiny();
    let o = reproduce(out, &["--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// The summary of run `dir` with its directory's path replaced by `as_if`'s (file paths are
/// part of the summary).
fn summary_as_if(dir: &Path, as_if: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    let text = text.replace(dir.to_str().unwrap(), as_if.to_str().unwrap());
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// The first place where two JSON values differ, as a path, or `None` when they are equal
/// (the full values are too long to read in an assertion message).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_difference(u, v, &p) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{p}: present on one side only")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: lengths {} and {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]")))
        }
        _ => (a != b).then(|| format!("{path}: {a} against {b}")),
    }
}

/// The figures the tiny run draws (file stems under `figures/`).
const FIGURES: [&str; 17] = [
    "fig8a-toy-landscapes",
    "fig8b-toy-msd",
    "fig8c-toy-gradients",
    "fig8d-toy-gradient-fit",
    "fig2-msd-windows",
    "fig5a-gradient-distribution",
    "fig5b-loss-changes",
    "fig5c-moving-variance",
    "fig7a-msl",
    "fig7c-contour",
    "fig6-hessian",
    "surface-loss-landscape",
    "fig3ab-batch-size",
    "fig3cd-depth",
    "fig4a-learning-rate",
    "fig4b-loss-curves",
    "fig4cf-msd-by-learning-rate",
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

/// Checks what an uninterrupted tiny run wrote: schema, numbers, claims, figures, report.
fn check_complete(dir: &Path, out: &Output) -> serde_json::Value {
    let s = summary(dir);
    assert_eq!(s["schema_version"], 3);
    assert_eq!(s["scale"], "demo");
    // The configuration is the preset with the TOML's keys laid over it.
    assert_eq!(s["config"]["network"]["models"][0], "resnet8");
    assert_eq!(
        s["config"]["network"]["lr"], 0.1,
        "a preset key the TOML leaves alone"
    );
    for land in ["fractal", "convex", "shuffled"] {
        let t = &s["toy"][land];
        assert_eq!(t["walkers"], s["config"]["toy"]["walkers"], "{land}");
        assert!(t["t0_median"].as_f64().is_some(), "{land}: {t}");
        let file = s["landscapes"][land]["file"].as_str().unwrap();
        assert!(Path::new(file).exists(), "{file}");
    }
    // Both networks, two seeds each: trained to the end and analysed in every window.
    assert_eq!(s["network"]["seeds"], serde_json::json!([0, 1]));
    for model in ["resnet8", "resnet8-noshort"] {
        let seeds = s["network"]["models"][model]["seeds"].as_array().unwrap();
        assert_eq!(seeds.len(), 2, "{model}");
        for m in seeds {
            assert_eq!(m["run"]["status"], "finished", "{model}");
            let steps = m["run"]["steps"].as_u64().unwrap();
            assert_eq!(steps, 3 * m["run"]["steps_per_epoch"].as_u64().unwrap());
            let windows = m["windows"].as_array().unwrap();
            // Windows of 40 steps every 20 steps.
            assert_eq!(windows.len() as u64, (steps - 40) / 20 + 1, "{model}");
            for w in windows {
                let a = w["alpha"].as_f64().unwrap();
                assert!(a.is_finite() && a > 0.0 && a < 3.0, "{model}: {w}");
                let se = w["regime_alpha_se"].as_f64().unwrap();
                assert!(se > 0.0, "{model}: {w}");
            }
            assert!(m.get("t0").is_some());
            assert!(["t0", "half"].contains(&m["split_rule"].as_str().unwrap()));
            assert!(m["regime"].is_object());
        }
        // The two seeds are different runs.
        assert_ne!(
            seeds[0]["run"]["last_checkpoint_sha256"],
            seeds[1]["run"]["last_checkpoint_sha256"]
        );
    }
    // The first network's Hessians (first seed): every checkpoint (epochs 0..=3), 2
    // eigenvalues each, in decreasing order, each pair converged or with its residual reported.
    let h = &s["network"]["models"]["resnet8"]["hessian"]["checkpoints"];
    assert_eq!(h.as_array().unwrap().len(), 4, "{h}");
    for c in h.as_array().unwrap() {
        let e: Vec<f64> = c["eigenvalues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(e.len(), 2);
        assert!(e[0] >= e[1], "{c}");
        assert_eq!(c["residuals"].as_array().unwrap().len(), 2, "{c}");
    }
    assert!(s["network"]["models"]["resnet8-noshort"]["hessian"].is_null());
    let g = &s["network"]["models"]["resnet8"]["seeds"][0]["gradients_before_t0"];
    assert!(
        g.is_null() || g["stable"]["alpha"].as_f64().is_some() || g.get("error").is_some(),
        "{g}"
    );
    let surface = &s["network"]["surface"];
    assert_eq!(surface["grid"], 17);
    assert!(Path::new(surface["file"].as_str().unwrap()).exists());
    // Sweeps: 2 batch sizes x 2 shortcut settings, 1 depth (shared with the batch sweep), 2
    // learning rates: 6 distinct runs.
    assert_eq!(s["network"]["sweeps"].as_array().unwrap().len(), 6);

    // Every claim is a stated test with a verdict from the documented set; the network
    // claims are tested, from both seeds where they pool seeds.
    assert!(s["reading"].as_str().unwrap().contains("Holm"));
    let claims = s["claims"].as_array().unwrap();
    assert!(claims.len() >= 18, "{}", claims.len());
    for c in claims {
        let v = c["verdict"].as_str().unwrap();
        assert!(
            ["reproduced", "contradicted", "inconclusive", "not tested"].contains(&v),
            "{c}"
        );
        assert!(c["id"].as_str().is_some_and(|i| !i.is_empty()), "{c}");
        let t = &c["test"];
        assert_eq!(t["level"], 0.05, "{c}");
        for key in ["kind", "statistic", "hypothesis"] {
            assert!(t[key].is_string(), "{key}: {c}");
        }
        assert!(c["replicates"].as_u64().unwrap() >= 1, "{c}");
        if v != "not tested" && c["id"].as_str().unwrap().starts_with("network.") {
            let p = t["p_value"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p), "{c}");
            let holm = c["p_holm"].as_f64().unwrap();
            assert!(holm >= p - 1e-15 && holm <= 1.0, "{c}");
        }
        if let Some([lo, hi]) = t["ci95"].as_array().map(Vec::as_slice) {
            assert!(lo.as_f64().unwrap() <= hi.as_f64().unwrap(), "{c}");
        }
    }
    let tested = claims
        .iter()
        .filter(|c| c["verdict"] != "not tested")
        .count();
    assert!(tested >= 12, "{tested} claims tested");
    let first = claims
        .iter()
        .find(|c| c["id"] == "network.resnet8.superdiffusive_first_window")
        .unwrap();
    assert_eq!(first["replicates"], 2, "{first}");
    assert_eq!(first["seeds"].as_array().unwrap().len(), 2, "{first}");
    assert!(first["median"].as_f64().is_some() && first["spread"].is_array());
    // The stdout table names every claim; progress and stage notes stay on stderr.
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("verdict") && table.contains("summary.json"));
    assert!(table.contains("report.html"));
    assert!(!table.contains("stage "));
    // The plotting data stay in the stage files, out of the summary.
    assert!(s["toy"]["fractal"].get("plot").is_none());
    assert!(s["network"]["models"]["resnet8"]["seeds"][0]["windows"][0]
        .get("curve")
        .is_none());

    for stem in FIGURES {
        check_figure(dir, stem);
    }
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
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
    for c in claims {
        let claim = c["claim"]
            .as_str()
            .unwrap()
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(report.contains(&claim), "{claim}");
    }
    assert!(
        report.contains("1.359"),
        "the authors' ResNet-14 table is in the report"
    );
    assert!(report.contains("Our sweeps"));
    s
}

#[test]
fn tiny_run_is_complete_and_a_killed_run_resumes_to_the_same_summary() {
    let a = tempfile::tempdir().unwrap();
    let first = reproduce_tiny(a.path());
    let s = check_complete(a.path(), &first);

    // Kill a second run with SIGKILL in the middle of the first network's training (after its
    // first epoch's checkpoint), then rerun the same command.
    let b = tempfile::tempdir().unwrap();
    let cfg = tiny();
    let mut child = command(b.path(), &["--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = b
        .path()
        .join("runs/resnet8-seed0/checkpoints/epoch-1.safetensors");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            start.elapsed().as_secs() < 600,
            "no checkpoint after 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!b.path().join("stages/train-resnet8-seed0.json").exists());
    assert!(!b.path().join("summary.json").exists());

    let cfg_s = cfg.to_str().unwrap();
    let second = reproduce(b.path(), &["--config", cfg_s]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("stage toy-fractal: finished earlier, skipped"),
        "{err}"
    );
    assert!(err.contains("resnet8-seed0: resuming at step"), "{err}");
    assert_eq!(
        first_difference(&summary_as_if(b.path(), a.path()), &s, ""),
        None,
        "a killed and resumed run must give the same summary as an uninterrupted one"
    );

    // A third run after losing the summary, one stage, a figure and the report: only the lost
    // stage reruns, and every figure is drawn again.
    std::fs::remove_file(b.path().join("summary.json")).unwrap();
    std::fs::remove_file(b.path().join("stages/dimensions.json")).unwrap();
    std::fs::remove_file(b.path().join("figures/fig6-hessian.svg")).unwrap();
    std::fs::remove_file(b.path().join("report.html")).unwrap();
    let third = reproduce(b.path(), &["--config", cfg_s]);
    assert!(third.status.success());
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(err.contains("stage dimensions: done"), "{err}");
    for stage in [
        "train-resnet8-seed0",
        "analysis-resnet8-seed0",
        "train-resnet8-seed1",
        "analysis-resnet8-seed1",
        "hessian-resnet8-seed0",
        "surface-resnet8-seed0",
    ] {
        assert!(
            err.contains(&format!("stage {stage}: finished earlier, skipped")),
            "{stage}: {err}"
        );
    }
    assert!(
        !err.contains("train resnet8"),
        "no training on a finished run: {err}"
    );
    assert_eq!(
        first_difference(&summary_as_if(b.path(), a.path()), &s, ""),
        None
    );
    for stem in FIGURES {
        check_figure(b.path(), stem);
    }
}

/// Writes a TOML file into `dir` and returns its path as a string.
fn toml_file(dir: &Path, body: &str) -> String {
    let p = dir.join("settings.toml");
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

/// The toy stages only, small: seconds.
const TOY_ONLY: &str = "[toy]\nlandscape_size = 65\nwalkers = 3\nsteps = 200\n\
                        [network]\nenabled = false\n";

#[test]
fn a_changed_seed_reruns_every_stage_and_a_disabled_network_is_not_tested() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = toml_file(dir.path(), TOY_ONLY);
    let out = dir.path().join("out");
    let first = reproduce(&out, &["--config", &cfg, "--seed", "1"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let s = summary(&out);
    assert!(s["network"].is_null());
    let network_claims: Vec<&serde_json::Value> = s["claims"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["note"]
                .as_str()
                .is_some_and(|n| n.contains("network.enabled"))
        })
        .collect();
    assert!(network_claims.len() >= 5);
    assert!(network_claims.iter().all(|c| c["verdict"] == "not tested"));
    let again = reproduce(&out, &["--config", &cfg, "--seed", "2"]);
    assert!(again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("skipped"), "{err}");
}

#[test]
fn bad_settings_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let check = |args: &[&str], needle: &str| {
        let o = reproduce(&out, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    let unknown = toml_file(dir.path(), "[network]\nepoch = 3\n");
    check(&["--config", &unknown], "network.epoch");
    std::fs::write(dir.path().join("bad.toml"), "[network\nepochs = 3").unwrap();
    let bad = dir.path().join("bad.toml");
    check(&["--config", bad.to_str().unwrap()], "not valid TOML");
    check(&["--config", "/nonexistent/x.toml"], "/nonexistent/x.toml");
    let neg = toml_file(dir.path(), "[network]\nlr = -0.1\n");
    check(&["--config", &neg], "network.lr");
    let model = toml_file(dir.path(), "[network]\nmodels = [\"resnet7\"]\n");
    check(&["--config", &model], "resnet7");
    // The larger scales need CIFAR-10, and `paper` asks before starting.
    check(&["--scale", "small"], "--cifar10");
    check(&["--scale", "paper", "--cifar10", "/data/cifar"], "--yes");
    let o = reproduce(&out, &["--scale", "paper", "--cifar10", "/data/cifar"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("estimated cost") && err.contains("GB"),
        "{err}"
    );
    assert!(!out.join("summary.json").exists());
}

#[test]
fn a_diverging_network_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = toml_file(
        dir.path(),
        "[toy]\nlandscape_size = 65\nwalkers = 3\nsteps = 200\n\
         [network]\nmodels = [\"mlp:16\"]\nlr = 1e30\nepochs = 1\nrecord_weights = \"full\"\n\
         record_grad = \"none\"\n[sweeps]\nenabled = false\n",
    );
    let out = dir.path().join("out");
    let o = reproduce(&out, &["--config", &cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    let m = &s["network"]["models"]["mlp:16"]["seeds"][0];
    assert_eq!(m["run"]["status"], "diverged", "{m}");
    assert!(m["run"]["diverged_step"].as_u64().is_some(), "{m}");
    // No Hessian or surface of a diverged run; its claims are not tested.
    assert!(s["network"]["models"]["mlp:16"]["hessian"].is_null());
    assert!(s["network"]["surface"].is_null());
    let first = s["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "network.mlp:16.superdiffusive_first_window")
        .unwrap();
    assert_eq!(first["verdict"], "not tested", "{first}");
}

/// Small enough to train twice in seconds, with every stage that reads a run (analyses,
/// Hessians, surface, sweeps).
const ELSEWHERE: &str = "[toy]\nlandscape_size = 65\nwalkers = 3\nsteps = 200\n\
    [network]\nmodels = [\"mlp:16\"]\nepochs = 2\nseeds = 2\nbatch_size = 32\n\
    record_weights = \"full\"\nrecord_grad = \"sample:256\"\n\
    [analysis]\nwindow = 40\nstride = 20\nlags = 12\nn_boot = 10\nnull_sims = 9\nbins = 10\n\
    moving_window = 10\ngrad_samples = 500\n\
    [hessian]\nk = 2\nevery_epochs = 1\nbatch_size = 16\n\
    [surface]\ngrid = 9\nexamples = 32\n\
    [sweeps]\nsteps = 40\ndepth = 8\nbatch_sizes = [16]\ndepths = [8]\nlearning_rates = [0.01]\n\
    record_weights = \"subset:256\"\nwindow = 20\n";

fn edit_run_json(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("run.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn runs_trained_elsewhere_give_the_summary_of_runs_trained_here() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = toml_file(dir.path(), ELSEWHERE);
    let here = dir.path().join("here");
    let o = reproduce(&here, &["--config", &cfg]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&here);

    // What a cluster does: each listed run trained by its own `anodiff train` process, in
    // the runs directory.
    let listed = reproduce(&here, &["--config", &cfg, "--list-runs"]);
    assert!(listed.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("one JSON");
    let runs = listed["runs"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2 + 5, "{names:?}");
    assert!(names.contains(&"mlp:16-seed1"), "{names:?}");
    let elsewhere = dir.path().join("cluster");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for r in runs {
        let args: Vec<&str> = r["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(r["config"]["model"], args[2]);
        let t = Command::new(env!("CARGO_BIN_EXE_anodiff"))
            .args(&args)
            .current_dir(&elsewhere)
            .output()
            .unwrap();
        assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    }

    let there = dir.path().join("there");
    let el = elsewhere.to_str().unwrap();
    let o = reproduce(&there, &["--config", &cfg, "--runs", el]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("trained elsewhere"), "{err}");
    assert!(!err.contains("train mlp"), "nothing is trained: {err}");
    assert!(!there.join("runs").exists());
    // Paths aside, the same summary: every number, interval, p-value and verdict.
    let text = std::fs::read_to_string(there.join("summary.json"))
        .unwrap()
        .replace(el, here.join("runs").to_str().unwrap())
        .replace(there.to_str().unwrap(), here.to_str().unwrap());
    let t: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(first_difference(&t, &s, ""), None);
    assert!(s["claims"].as_array().unwrap().len() > 10);

    // Every unusable run named at once, before any stage runs.
    edit_run_json(&elsewhere.join("mlp:16-seed0"), |v| {
        v["config"]["lr"] = serde_json::json!(0.05);
    });
    edit_run_json(&elsewhere.join("mlp:16-seed1"), |v| {
        v["status"] = serde_json::json!("running");
    });
    let sweep = names.iter().find(|n| n.starts_with("sweep-")).unwrap();
    std::fs::rename(elsewhere.join(sweep), dir.path().join("moved")).unwrap();
    let bad = dir.path().join("bad");
    let o = reproduce(&bad, &["--config", &cfg, "--runs", el]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "3 of the runs",
        "mlp:16-seed0: trained with other settings (lr: 0.1 here, 0.05 there",
        "mlp:16-seed1: running at step",
        "anodiff train --resume",
        &format!("{sweep}: missing"),
        "--list-runs",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(!err.contains("stage "), "{err}");
    assert!(!bad.join("summary.json").exists());
    let o = reproduce(&bad, &["--config", &cfg, "--runs", "/nonexistent/runs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such directory"));

    // A child analysis pointed at data of another kind than the run's refuses it.
    let o = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args([
            "surface",
            "--checkpoint",
            "1",
            "--grid",
            "3",
            "--dataset",
            "mnist:/x",
        ])
        .arg(here.join("runs/mlp:16-seed0"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("trained on another dataset"), "{err}");
}

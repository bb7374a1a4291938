//! End-to-end tests of `anodiff toy run`.

mod common;

use common::{anodiff, assert_fails, json, Exit};
use ndarray::{Array2, Array3};
use std::path::Path;

fn fails_with(args: &[&str], needle: &str) {
    assert_fails(&anodiff(args), Exit::ErrorOrUsage, &[needle]);
}

/// The authors' convex landscape: a cone of slope 0.5 on [-1, 1]^2, written independently of
/// the generator.
fn write_cone(p: &Path, n: usize) {
    let h = 2.0 / (n - 1) as f64;
    let z = Array2::from_shape_fn((n, n), |(i, j)| {
        0.5 * (-1.0 + i as f64 * h).hypot(-1.0 + j as f64 * h)
    });
    ndarray_npy::write_npy(p, &z).unwrap();
}

#[test]
fn cone_run_writes_trajectories_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let land = dir.path().join("cone.npy");
    write_cone(&land, 257);
    let out = dir.path().join("runs");
    let v = json(&anodiff(&[
        "toy",
        "run",
        "--landscape",
        land.to_str().unwrap(),
        "--steps",
        "300",
        "--seeds",
        "4",
        "--seed",
        "10",
        "--start=-1,-1",
        "--out",
        out.to_str().unwrap(),
    ]));
    let pos: Array3<f64> = ndarray_npy::read_npy(out.join("trajectories.npy")).unwrap();
    let grad: Array3<f64> = ndarray_npy::read_npy(out.join("gradients.npy")).unwrap();
    let loss: Array2<f64> = ndarray_npy::read_npy(out.join("losses.npy")).unwrap();
    assert_eq!(pos.dim(), (4, 301, 2));
    assert_eq!(grad.dim(), (4, 301, 2));
    assert_eq!(loss.dim(), (4, 301));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(file, v);
    let walkers = v["walkers"].as_array().unwrap();
    assert_eq!(walkers.len(), 4);
    for (k, w) in walkers.iter().enumerate() {
        assert_eq!(w["seed"], 10 + k as u64);
        // Start (-1, -1), steps of eta * 0.5 = 0.01 towards the apex sqrt 2 away: ~141 steps;
        // the t0 rule may add a late excursion from the apex (observed up to 161).
        let t0 = w["t0"].as_u64().unwrap();
        assert!((120..=180).contains(&t0), "t0 {t0}");
        assert!(w["alpha_before_t0"].as_f64().unwrap() > 1.5);
        assert!(w["alpha_after_t0"].as_f64().unwrap() < 1.0);
        assert_eq!(pos[[k, 0, 0]], -1.0);
        // On the cone |grad| = 0.5 away from the apex.
        let g = (grad[[k, 10, 0]]).hypot(grad[[k, 10, 1]]);
        assert!((g - 0.5).abs() < 0.01, "|grad| {g}");
    }
    assert_eq!(v["gradients"]["n"], 4 * 300 * 2);
    // The cone's gradient components are bounded (|g| = 0.5): no heavy tail to find. The fit
    // may land anywhere in (0, 2] or fail; either way the summary says which.
    let gsum = &v["gradients"];
    assert!(gsum["stable_fit"].is_object() || gsum["note"].as_str().unwrap().contains("failed"));
    assert!((v["noise_sd_per_step"].as_f64().unwrap() - 0.01).abs() < 1e-15);
}

#[test]
fn runs_are_reproducible_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let land = dir.path().join("ds.npy");
    let o = anodiff(&[
        "landscape",
        "generate",
        "--method",
        "diamond-square",
        "--size",
        "129",
        "--seed",
        "3",
        "-o",
        land.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let l = land.to_str().unwrap();
    let a = json(&anodiff(&[
        "toy",
        "run",
        "--landscape",
        l,
        "--seeds",
        "3",
        "--seed",
        "5",
    ]));
    let b = json(&anodiff(&[
        "toy",
        "run",
        "--landscape",
        l,
        "--seeds",
        "1",
        "--seed",
        "6",
    ]));
    // Walker k uses seed SEED + k, independently of how many run alongside.
    assert_eq!(a["walkers"][1], b["walkers"][0]);
}

#[test]
fn authors_protocol_inverts_the_landscape_and_redraws_at_the_border() {
    let dir = tempfile::tempdir().unwrap();
    let land = dir.path().join("cone.npy");
    write_cone(&land, 129);
    let l = land.to_str().unwrap();
    let run = |protocol: &str| {
        json(&anodiff(&[
            "toy",
            "run",
            "--landscape",
            l,
            "--protocol",
            protocol,
            "--steps",
            "100",
            "--seeds",
            "3",
            "--start=0.1,0.1",
        ]))
    };
    let ours = run("anodiff");
    let theirs = run("authors");
    assert_eq!(theirs["protocol"], "authors");
    assert_eq!(theirs["landscape_inverted"], true);
    assert_eq!(theirs["boundary"], "redraw");
    assert_eq!(ours["protocol"], "anodiff");
    assert_eq!(ours["boundary"], "reflect");
    let r = |w: &serde_json::Value| {
        let p = &w["final_position"];
        p[0].as_f64().unwrap().hypot(p[1].as_f64().unwrap())
    };
    // L = 10 - z on a cone around the centre: the authors' walker climbs z, i.e. moves away
    // from the centre at 0.01 per step (start 0.14 from it, 100 steps: about 1.1), while ours
    // descends to the apex.
    let kept = theirs["walkers"].as_array().unwrap();
    let dropped = theirs["dropped"].as_array().unwrap();
    assert_eq!(kept.len() + dropped.len(), 3);
    assert!(!kept.is_empty());
    for w in kept {
        assert!(r(w) > 0.9, "{w}");
        // 0.01 steps into a wall with noise sd 0.01: redraws find a step inside.
        assert!(w["boundary_events"].as_u64().is_some());
    }
    for w in ours["walkers"].as_array().unwrap() {
        assert!(r(w) < 0.05, "{w}");
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cone.npy");
    write_cone(&good, 33);
    let g = good.to_str().unwrap();

    let rect = dir.path().join("rect.npy");
    ndarray_npy::write_npy(&rect, &Array2::<f64>::zeros((10, 12))).unwrap();
    fails_with(
        &["toy", "run", "--landscape", rect.to_str().unwrap()],
        "square",
    );

    let mut z = Array2::<f64>::zeros((9, 9));
    z[[4, 5]] = f64::NAN;
    let nan = dir.path().join("nan.npy");
    ndarray_npy::write_npy(&nan, &z).unwrap();
    fails_with(
        &["toy", "run", "--landscape", nan.to_str().unwrap()],
        "non-finite",
    );

    let cube = dir.path().join("cube.npy");
    ndarray_npy::write_npy(&cube, &Array3::<f64>::zeros((3, 3, 3))).unwrap();
    fails_with(
        &["toy", "run", "--landscape", cube.to_str().unwrap()],
        "2-D",
    );

    fails_with(&["toy", "run", "--landscape", g, "--eta", "0"], "eta");
    fails_with(&["toy", "run", "--landscape", g, "--eta=-0.1"], "eta");
    fails_with(&["toy", "run", "--landscape", g, "--sigma=-1"], "sigma");
    fails_with(&["toy", "run", "--landscape", g, "--steps", "0"], "steps");
    fails_with(&["toy", "run", "--landscape", g, "--seeds", "0"], "seeds");
    fails_with(&["toy", "run", "--landscape", g, "--start=2,0"], "start");
    fails_with(&["toy", "run", "--landscape", g, "--start", "0.1"], "x,y");
    fails_with(
        &["toy", "run", "--landscape", g, "--protocol", "matlab"],
        "protocol",
    );
    fails_with(
        &["toy", "run", "--landscape", "/nonexistent/l.npy"],
        "l.npy",
    );
    // A walker leaving the grid under the `error` rule: a huge learning rate on the cone throws
    // it far outside on the first step.
    fails_with(
        &[
            "toy",
            "run",
            "--landscape",
            g,
            "--eta",
            "10",
            "--boundary",
            "error",
        ],
        "left the grid",
    );
    // The same run with reflection stays inside.
    let v = json(&anodiff(&[
        "toy",
        "run",
        "--landscape",
        g,
        "--eta",
        "10",
        "--steps",
        "20",
    ]));
    assert!(v["walkers"][0]["boundary_events"].as_u64().unwrap() > 0);
}

#[test]
fn help_has_examples() {
    for args in [vec!["toy", "--help"], vec!["toy", "run", "--help"]] {
        let out = anodiff(&args);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example"));
    }
}

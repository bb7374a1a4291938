//! End-to-end tests of `anodiff hessian` and `anodiff surface` on a tiny network trained with
//! `anodiff train` on the bundled digits; the references are computed in this process through
//! the library (power iteration on an independently built operator, the eval loss at the
//! checkpoint).

mod common;

use anodiff_core::lanczos::PowerIteration;
use anodiff_trainers::candle_core::{DType, Device};
use anodiff_trainers::hvp::{network_hessian, FixedBatches, DOUBLE_BACKWARD_ENV};
use anodiff_trainers::run::open_run;
use anodiff_trainers::surface::eval_loss;
use common::{anodiff_sub, assert_fails, json, Exit};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One trained run shared by the tests: mlp:16 (d = 1210), 1 epoch of 22 steps on digits.
fn trained_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, run) = RUN.get_or_init(|| {
        // The in-process Hessian reference needs exact double backprop. Every test calls this
        // before any candle work and OnceLock holds the others here, so no thread has cached
        // candle's flag yet; `anodiff train` runs without it (it only slows training).
        std::env::set_var(DOUBLE_BACKWARD_ENV, "1");
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let out = Command::new(env!("CARGO_BIN_EXE_anodiff"))
            .args([
                "train",
                "--model",
                "mlp:16",
                "--dataset",
                "digits",
                "--batch-size",
                "64",
                "--lr",
                "0.1",
                "--epochs",
                "1",
                "--out",
                run.to_str().unwrap(),
            ])
            .env_remove(DOUBLE_BACKWARD_ENV)
            .output()
            .unwrap();
        json(&out);
        (dir, run)
    });
    run
}

fn run_str() -> &'static str {
    trained_run().to_str().unwrap()
}

#[test]
fn hessian_top_eigenvalues_match_power_iteration() {
    let out = anodiff_sub(
        "hessian",
        &[
            run_str(),
            "--checkpoint",
            "1",
            "--k",
            "3",
            "--batches",
            "2",
            "--batch-size",
            "50",
        ],
    );
    let v = json(&out);
    assert_eq!(v["dim"], 1210);
    // --every 1 covers checkpoints 0 and 1 with the same fixed batches.
    let every = json(&anodiff_sub(
        "hessian",
        &[
            run_str(),
            "--every",
            "1",
            "--k",
            "1",
            "--batches",
            "2",
            "--batch-size",
            "50",
        ],
    ));
    let cs = every["checkpoints"].as_array().unwrap();
    assert_eq!(
        (cs[0]["checkpoint"].clone(), cs[1]["checkpoint"].clone()),
        (0.into(), 1.into())
    );
    assert!(
        (cs[1]["eigenvalues"][0].as_f64().unwrap()
            - v["checkpoints"][0]["eigenvalues"][0].as_f64().unwrap())
        .abs()
            < 1e-8
    );
    assert_eq!(v["examples"], 100);
    assert_eq!(v["mode"], "eval");
    let c = &v["checkpoints"][0];
    assert_eq!(c["checkpoint"], 1);
    let eig: Vec<f64> = serde_json::from_value(c["eigenvalues"].clone()).unwrap();
    let res: Vec<f64> = serde_json::from_value(c["residuals"].clone()).unwrap();
    assert_eq!(eig.len(), 3);
    assert!(eig.windows(2).all(|w| w[0] >= w[1]), "{eig:?}");
    for (t, r) in eig.iter().zip(&res) {
        assert!(*r <= 1e-6 * t.abs(), "residual {r} for {t}");
    }
    assert!(c["converged"].as_array().unwrap().iter().all(|b| b == true));

    // Independent reference in this process: the same checkpoint in f64, the same two batches
    // (the first two of the seed-0 permutation of 50-example batches), the power method.
    let run = open_run(trained_run()).unwrap();
    let net = run.network(DType::F64, &Device::Cpu).unwrap();
    net.load_checkpoint(&run.checkpoint(1).unwrap()).unwrap();
    let train = run.load_data().unwrap().train;
    let loader = anodiff_trainers::data::BatchLoader::new(train.len(), 50, 0).unwrap();
    let idx: Vec<usize> = (0..2).flat_map(|s| loader.indices(s)).collect();
    let data = FixedBatches::from_dataset(&train, &idx, 50, DType::F64, &Device::Cpu).unwrap();
    let op = network_hessian(&net, &data, run.config().loss).unwrap();
    let loss = op.loss().unwrap();
    assert!((c["loss"].as_f64().unwrap() - loss).abs() < 1e-12 * loss);
    let pw = PowerIteration::new(1)
        .unwrap()
        .with_tol(1e-10)
        .unwrap()
        .run(&op)
        .unwrap();
    // Power iteration converges in the eigenvalue quadratically in the vector's error; 1e-6
    // relative is well inside both solvers' tolerances (residual 1e-6 |theta| bounds the
    // eigenvalue error by ~1e-12 |theta| / gap).
    assert!(
        (pw.eigenvalues[0] - eig[0]).abs() < 1e-6 * eig[0],
        "power {} vs lanczos {}",
        pw.eigenvalues[0],
        eig[0]
    );
}

#[test]
fn surface_grid_centre_is_the_checkpoint_loss_and_reruns_resume() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.npy");
    let args = [
        run_str(),
        "--checkpoint",
        "1",
        "--grid",
        "5",
        "--examples",
        "300",
        "--x-range",
        "-0.5,0.5",
        "--seed",
        "3",
        "--out",
        file.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    let v = json(&anodiff_sub("surface", &args));
    assert_eq!(v["grid"], 5);
    assert_eq!(v["device"], "cpu");
    assert_eq!(v["evaluations"], 25);
    assert_eq!(v["resumed_rows"], 0);
    let grid = anodiff_core::io::NpyValues::open(&file).unwrap();
    assert_eq!(grid.shape(), [5, 5]);
    let losses = grid.to_vec().unwrap();
    let centre = losses[2 * 5 + 2];
    // x = y = 0 sets exactly the checkpoint's f32 weights: the same forward pass, same value.
    assert_eq!(centre, v["checkpoint_loss"].as_f64().unwrap());
    // The eval loss at the checkpoint computed here, on the same seeded 300 examples.
    let run = open_run(trained_run()).unwrap();
    let net = run.network(DType::F32, &Device::Cpu).unwrap();
    net.load_checkpoint(&run.checkpoint(1).unwrap()).unwrap();
    let train = run.load_data().unwrap().train;
    let idx = anodiff_trainers::data::BatchLoader::new(train.len(), 300, 0)
        .unwrap()
        .indices(0);
    let data = FixedBatches::from_dataset(&train, &idx, 512, DType::F32, &Device::Cpu).unwrap();
    let reference = eval_loss(&net, &data, run.config().loss).unwrap();
    // f32 forward passes: identical operations, 1e-6 relative allows for summation order only.
    assert!(
        (centre - reference).abs() < 1e-6 * reference,
        "{centre} vs {reference}"
    );
    // Random directions of the full filter norm move the loss: the surface is not flat.
    let spread = losses.iter().cloned().fold(f64::MIN, f64::max)
        - losses.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 1e-3, "{losses:?}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 3);
    assert_eq!(meta["x"][0], -0.5);
    assert_eq!(meta["y"][4], 1.0);

    // A rerun finds the finished surface and evaluates nothing.
    let again = json(&anodiff_sub("surface", &args));
    assert_eq!(again["evaluations"], 0);
    assert_eq!(again["resumed_rows"], 5);
    // Another seed on the same file is refused.
    let mut other = args;
    other[10] = "4";
    assert_fails(
        &anodiff_sub("surface", &other),
        Exit::Failure,
        &["different settings"],
    );
}

/// A default-shaped surface (odd grid, [-1, 1]^2) is readable by `anodiff surface-dim`, whose
/// variogram estimator needs at least 16 points a side.
#[test]
fn surface_feeds_surface_dim() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s17.npy");
    let f = file.to_str().unwrap();
    let v = json(&anodiff_sub(
        "surface",
        &[
            run_str(),
            "--checkpoint",
            "1",
            "--grid",
            "17",
            "--examples",
            "100",
            "--out",
            f,
        ],
    ));
    assert_eq!(v["evaluations"], 17 * 17);
    assert_eq!(v["centre_loss"], v["checkpoint_loss"]);
    let d = json(&anodiff_sub("surface-dim", &[f]));
    let dim = d["dimension"].as_f64().unwrap();
    assert!((2.0..=3.0).contains(&dim), "{d}");
}

#[test]
fn bad_input_is_named() {
    trained_run();
    let missing = anodiff_sub("hessian", &["/no/such/run", "--checkpoint", "1"]);
    assert_fails(&missing, Exit::Failure, &["/no/such/run", "does not exist"]);
    let missing = anodiff_sub("surface", &["/no/such/run", "--checkpoint", "1"]);
    assert_fails(&missing, Exit::Failure, &["/no/such/run"]);
    let no_ckpt = anodiff_sub("hessian", &[run_str(), "--checkpoint", "7", "--k", "2"]);
    assert_fails(&no_ckpt, Exit::Failure, &["epoch 7", "available"]);
    let no_ckpt = anodiff_sub("surface", &[run_str(), "--checkpoint", "7", "--grid", "3"]);
    assert_fails(&no_ckpt, Exit::Failure, &["epoch 7"]);
    let big_k = anodiff_sub("hessian", &[run_str(), "--checkpoint", "0", "--k", "5000"]);
    assert_fails(&big_k, Exit::Failure, &["--k 5000", "1210"]);
    let every0 = anodiff_sub("hessian", &[run_str(), "--every", "0"]);
    assert_fails(&every0, Exit::Failure, &["--every"]);
    let k0 = anodiff_sub("hessian", &[run_str(), "--checkpoint", "0", "--k", "0"]);
    assert_fails(&k0, Exit::Failure, &["--k"]);
    let grid = anodiff_sub("surface", &[run_str(), "--checkpoint", "0", "--grid", "1"]);
    assert_fails(&grid, Exit::Failure, &["--grid", "at least 2"]);
    let range = anodiff_sub(
        "surface",
        &[run_str(), "--checkpoint", "0", "--x-range", "1,-1"],
    );
    assert_fails(&range, Exit::ErrorOrUsage, &["LO < HI"]);
    let help = anodiff_sub("hessian", &["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Example"));
    let help = anodiff_sub("surface", &["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Example"));
}

/// `kill -9` in the middle of a surface, then the same command again: it continues from the
/// committed rows and the file equals an uninterrupted run's, byte for byte.
#[test]
fn killed_surface_resumes_to_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "surface",
            run_str(),
            "--checkpoint",
            "1",
            "--grid",
            "41",
            "--examples",
            "1437",
            "--dtype",
            "f64",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = dir.path().join("whole.npy");
    json(&anodiff_sub(
        "surface",
        &args(&whole)[1..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ));

    let cut = dir.path().join("cut.npy");
    let progress = dir.path().join("cut.npy.progress.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args(&cut))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !progress.exists() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(progress.exists(), "no row committed within 60 s");
    if cut.exists() {
        // The whole grid finished before the kill landed: nothing to resume on this machine.
        eprintln!("the surface finished before the kill; resume not exercised");
        return;
    }
    let v = json(&anodiff_sub(
        "surface",
        &args(&cut)[1..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ));
    let resumed = v["resumed_rows"].as_u64().unwrap();
    eprintln!("killed after {resumed} committed rows");
    assert!((1..41).contains(&resumed), "{v}");
    assert_eq!(v["evaluations"].as_u64().unwrap(), (41 - resumed) * 41);
    assert_eq!(std::fs::read(&whole).unwrap(), std::fs::read(&cut).unwrap());
    assert!(!progress.exists());
}

/// `anodiff hessian ARGS...` with the given `--out`, as owned strings.
fn hessian_args(run: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "hessian",
        run.to_str().unwrap(),
        "--every",
        "1",
        "--batch-size",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn anodiff_owned(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args)
        .output()
        .unwrap()
}

/// Copies the directory tree `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn checkpoint_epochs(v: &serde_json::Value) -> Vec<u64> {
    v["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checkpoint"].as_u64().unwrap())
        .collect()
}

fn eigenvalues(v: &serde_json::Value, i: usize) -> Vec<f64> {
    serde_json::from_value(v["checkpoints"][i]["eigenvalues"].clone()).unwrap()
}

/// A deterministic interruption: checkpoint 1 of a copied run is corrupt, so the command fails
/// after checkpoint 0. `--out` must already hold checkpoint 0; after the file is repaired the
/// rerun computes only checkpoint 1, and both results equal an uninterrupted run's bit for bit
/// (CPU products are deterministic, so the same inputs give the same Lanczos run). Then: a
/// rerun computes nothing, other settings are refused, and a checkpoint whose file changed is
/// recomputed rather than trusted.
#[test]
fn hessian_out_is_written_per_checkpoint_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    copy_tree(trained_run(), &run);
    let info = open_run(&run).unwrap();
    let (c0, c1) = (info.checkpoint(0).unwrap(), info.checkpoint(1).unwrap());
    let good1 = std::fs::read(&c1).unwrap();
    std::fs::write(&c1, &good1[..good1.len() / 2]).unwrap();

    let whole_out = dir.path().join("whole.json");
    let whole = json(&anodiff_owned(&hessian_args(
        trained_run(),
        &whole_out,
        &["--k", "3", "--device", "cpu"],
    )));
    assert_eq!(checkpoint_epochs(&whole), [0, 1]);
    assert_eq!(whole["resumed"], serde_json::json!([]));
    assert_eq!(whole["checkpoints"][0]["device"], "cpu");

    let out = dir.path().join("h.json");
    let args = hessian_args(&run, &out, &["--k", "3"]);
    let failed = anodiff_owned(&args);
    assert_fails(&failed, Exit::Failure, &["not a"]);
    let partial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(checkpoint_epochs(&partial), [0]);
    assert_eq!(partial["pending"], serde_json::json!([1]));
    assert_eq!(eigenvalues(&partial, 0), eigenvalues(&whole, 0));

    std::fs::write(&c1, &good1).unwrap();
    let resumed = json(&anodiff_owned(&args));
    assert_eq!(resumed["resumed"], serde_json::json!([0]));
    assert_eq!(checkpoint_epochs(&resumed), [0, 1]);
    for i in 0..2 {
        assert_eq!(
            eigenvalues(&resumed, i),
            eigenvalues(&whole, i),
            "checkpoint {i}"
        );
    }
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["pending"], serde_json::json!([]));
    assert_eq!(file["checkpoints"], resumed["checkpoints"]);

    // Everything is there: nothing is recomputed (the stored timings come back unchanged).
    let again = json(&anodiff_owned(&args));
    assert_eq!(again["resumed"], serde_json::json!([0, 1]));
    assert_eq!(again["checkpoints"], resumed["checkpoints"]);

    // Other settings on the same file are refused, naming what differs.
    let other = anodiff_owned(&hessian_args(&run, &out, &["--k", "4"]));
    assert_fails(&other, Exit::Failure, &["different settings", "k 4"]);
    let other = anodiff_owned(&hessian_args(&run, &out, &["--k", "3", "--data-seed", "1"]));
    assert_fails(
        &other,
        Exit::Failure,
        &["different settings", "data_seed 1"],
    );

    // Checkpoint 0's file now holds checkpoint 1's weights: its stored result is stale, so it is
    // recomputed and becomes checkpoint 1's.
    std::fs::copy(&c1, &c0).unwrap();
    let changed = json(&anodiff_owned(&args));
    assert_eq!(changed["resumed"], serde_json::json!([1]));
    assert_eq!(eigenvalues(&changed, 0), eigenvalues(&whole, 1));

    // A file that is not a result is not overwritten.
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, "[1, 2]").unwrap();
    let refused = anodiff_owned(&hessian_args(&run, &foreign, &["--k", "3"]));
    assert_fails(
        &refused,
        Exit::Failure,
        &["not a resumable `anodiff hessian` result"],
    );
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "[1, 2]");
}

/// `kill -9` during the second checkpoint: `--out` holds the first, complete and parseable, and
/// the same command again computes only the rest, giving what an uninterrupted run gives.
#[test]
fn killed_hessian_keeps_finished_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    // 20 batches of 64 make each product ~20 backward passes, so a checkpoint takes long
    // enough for the kill to land in the second one.
    let extra = ["--k", "10", "--batches", "20", "--batch-size", "64"];
    let out = dir.path().join("killed.json");
    let mut args = hessian_args(trained_run(), &out, &[]);
    args.truncate(4); // hessian RUN --every 1
    args.extend(
        extra
            .iter()
            .chain(&["--out", out.to_str().unwrap()])
            .map(|s| s.to_string()),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !out.exists() && start.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(out.exists(), "no checkpoint finished within 120 s");
    // Written by rename: whatever the kill interrupted, the file parses.
    let partial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    if partial["pending"] == serde_json::json!([]) {
        eprintln!("the command finished before the kill; resume not exercised");
        return;
    }
    assert_eq!(checkpoint_epochs(&partial), [0]);
    let resumed = json(&anodiff_owned(&args));
    assert_eq!(resumed["resumed"], serde_json::json!([0]));

    let mut whole_args = args.clone();
    let whole_out = dir.path().join("whole.json");
    let n = whole_args.len();
    whole_args[n - 1] = whole_out.to_str().unwrap().to_string();
    let whole = json(&anodiff_owned(&whole_args));
    assert_eq!(checkpoint_epochs(&resumed), [0, 1]);
    for i in 0..2 {
        assert_eq!(
            eigenvalues(&resumed, i),
            eigenvalues(&whole, i),
            "checkpoint {i}"
        );
    }
}

/// `--device cuda` in a build without the `cuda` feature says how to build one, for both
/// commands, and leaves no output behind; an unknown device is a usage error.
#[test]
#[cfg(not(feature = "cuda"))]
fn cuda_device_without_the_feature_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.json");
    let h = anodiff_sub(
        "hessian",
        &[
            run_str(),
            "--checkpoint",
            "1",
            "--device",
            "cuda",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_fails(&h, Exit::Failure, &["--features cuda", "build-cuda.sh"]);
    let npy = dir.path().join("s.npy");
    let s = anodiff_sub(
        "surface",
        &[
            run_str(),
            "--checkpoint",
            "1",
            "--device",
            "cuda:1",
            "--out",
            npy.to_str().unwrap(),
        ],
    );
    assert_fails(&s, Exit::Failure, &["--features cuda", "build-cuda.sh"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let bad = anodiff_sub(
        "hessian",
        &[run_str(), "--checkpoint", "1", "--device", "tpu"],
    );
    assert_fails(&bad, Exit::ErrorOrUsage, &["unknown device 'tpu'"]);
}

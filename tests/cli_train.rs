//! End-to-end tests of `anodiff train`: the run directory, determinism across thread counts,
//! resume after a real `kill -9`, and the bad-input contract.

mod common;

use anodiff_core::trajectory::{StoreReader, TrajectorySource};
use anodiff_trainers::run::{open_run, RunRecord, RunStatus};
use common::{anodiff_sub, assert_fails, json, Exit};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn train(args: &[&str]) -> std::process::Output {
    anodiff_sub("train", args)
}

/// All recorded rows and losses of a store.
fn rows(dir: &Path) -> (Vec<f32>, Vec<f64>) {
    let s = StoreReader::open(dir).unwrap();
    let mut w = vec![0.0f32; s.n_steps() * s.dim()];
    s.read_weights(0..s.n_steps(), 0..s.dim(), &mut w).unwrap();
    (w, s.losses(0..s.n_steps()).unwrap().unwrap())
}

/// Runs `anodiff ARGS` and kills it with SIGKILL (which also releases its run lock) once the
/// store in `dir` holds `steps` steps, polling every `poll`.
fn kill_after_steps(args: &[String], dir: &Path, steps: usize, poll: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let n = StoreReader::open(dir).map(|s| s.n_steps()).unwrap_or(0);
        if n >= steps {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        assert!(t0.elapsed() < Duration::from_secs(120), "run too slow");
        std::thread::sleep(poll);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn trains_digits_and_writes_a_complete_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = train(&[
        "--model",
        "mlp:32",
        "--dataset",
        "digits",
        "--batch-size",
        "64",
        "--lr",
        "0.1",
        "--epochs",
        "2",
        "--record-grad",
        "sample:100",
        "--sync",
        "--out",
        run.to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(v["status"], "finished");
    assert_eq!(v["steps"], 44);
    assert_eq!(v["gradient_dim"], 100);
    // Chance is 10 %; this configuration reaches about 80 %.
    assert!(v["test_accuracy"].as_f64().unwrap() > 0.6, "{v}");
    // stderr has one line per epoch (no progress bar: not a terminal).
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("test accuracy").count(), 2, "{err}");
    let info = open_run(&run).unwrap();
    assert_eq!(info.record.status, RunStatus::Finished);
    assert_eq!(info.record.epochs.len(), 2);
    assert_eq!(
        info.checkpoints().iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let s = StoreReader::open(&run).unwrap();
    assert_eq!(
        (s.n_steps(), s.dim(), s.gradient_dim()),
        (44, 64 * 32 + 32 + 330, 100)
    );
    assert!(s.manifest().finished);
}

#[test]
fn same_seed_same_bits_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for threads in ["1", "2"] {
        let run = dir.path().join(format!("t{threads}"));
        let out = Command::new(env!("CARGO_BIN_EXE_anodiff"))
            .args([
                "train",
                "--model",
                "resnet8",
                "--dataset",
                "digits",
                "--batch-size",
                "32",
                "--lr",
                "0.05",
                "--steps",
                "12",
                "--record-grad",
                "full",
                "--seed",
                "5",
                "--out",
                run.to_str().unwrap(),
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        json(&out);
        let s = StoreReader::open(&run).unwrap();
        let mut g = vec![0.0f32; 12 * s.gradient_dim()];
        s.read_gradients(0..12, 0..s.gradient_dim(), &mut g)
            .unwrap();
        let (w, l) = rows(&run);
        results.push((
            w.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            l.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        ));
    }
    assert!(
        results[0] == results[1],
        "RAYON_NUM_THREADS=1 and 2 disagree"
    );
    // The runs are not trivially equal: the weights move between the first and last row.
    let d = results[0].0.len() / 12;
    assert_ne!(results[0].0[..d], results[0].0[11 * d..]);
}

#[test]
fn resume_after_kill_9_continues_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let killed = dir.path().join("killed");
    // cnn on digits, batch 16: 89 steps per epoch, so the kill lands mid-epoch 2 and the
    // resumed part crosses epoch ends (checkpoints and metrics are redone).
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--model",
            "cnn",
            "--dataset",
            "digits",
            "--batch-size",
            "16",
            "--lr",
            "0.05",
            "--steps",
            "400",
            "--checkpoint-every",
            "20",
            "--seed",
            "3",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    kill_after_steps(&args(&killed), &killed, 110, Duration::from_millis(5));
    let before = RunRecord::read(&killed).unwrap();
    assert_eq!(before.status, RunStatus::Running);
    assert!(before.steps_done < 400);

    json(&anodiff_sub(
        "train",
        &["--resume", killed.to_str().unwrap()],
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args(&whole))
        .output()
        .unwrap();
    json(&out);

    let (wa, la) = rows(&whole);
    let (wb, lb) = rows(&killed);
    assert_eq!(la.len(), 400);
    assert_eq!(lb.len(), 400, "no step missing or duplicated");
    assert!(wa.iter().zip(&wb).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(la.iter().zip(&lb).all(|(a, b)| a.to_bits() == b.to_bits()));
    let (ra, rb) = (
        RunRecord::read(&whole).unwrap(),
        RunRecord::read(&killed).unwrap(),
    );
    assert_eq!(rb.status, RunStatus::Finished);
    assert_eq!(ra.epochs, rb.epochs);
    // Epoch checkpoints (weights and BN statistics) agree too.
    let (ia, ib) = (open_run(&whole).unwrap(), open_run(&killed).unwrap());
    for e in 0..=4 {
        let na = ia
            .network(
                anodiff_trainers::candle_core::DType::F32,
                &anodiff_trainers::candle_core::Device::Cpu,
            )
            .unwrap();
        let nb = ib
            .network(
                anodiff_trainers::candle_core::DType::F32,
                &anodiff_trainers::candle_core::Device::Cpu,
            )
            .unwrap();
        na.load_checkpoint(&ia.checkpoint(e).unwrap()).unwrap();
        nb.load_checkpoint(&ib.checkpoint(e).unwrap()).unwrap();
        assert_eq!(na.flat_weights().unwrap(), nb.flat_weights().unwrap());
        for ((_, a), (_, b)) in na.buffers().iter().zip(nb.buffers()) {
            assert_eq!(
                a.as_tensor().to_vec1::<f32>().unwrap(),
                b.as_tensor().to_vec1::<f32>().unwrap()
            );
        }
    }
}

#[test]
fn divergence_exits_non_zero_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = train(&[
        "--model",
        "mlp:16",
        "--dataset",
        "digits",
        "--batch-size",
        "32",
        "--lr",
        "1e30",
        "--steps",
        "40",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_fails(&out, Exit::Failure, &["diverged at step"]);
    let r = RunRecord::read(&run).unwrap();
    assert_eq!(r.status, RunStatus::Diverged);
    assert_eq!(
        StoreReader::open(&run).unwrap().n_steps(),
        r.diverged.unwrap().step
    );
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    let base = ["--dataset", "digits", "--out", r];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--model", "mlp", "--lr", "0"], vec!["lr", "positive"]),
        (
            vec!["--model", "mlp", "--lr", "-0.1"],
            vec!["lr", "positive"],
        ),
        (
            vec!["--model", "mlp", "--batch-size", "2000"],
            vec!["batch size 2000", "1437"],
        ),
        (vec!["--model", "vgg16"], vec!["unknown model", "resnet14"]),
        (vec!["--model", "resnet21"], vec!["6n + 2"]),
        (
            vec!["--model", "mlp", "--device", "cuda"],
            vec!["--features cuda", "build-cuda.sh"],
        ),
        (
            vec!["--model", "mlp", "--record", "every:0"],
            vec!["every:K"],
        ),
        (
            vec!["--model", "mlp", "--record-grad", "sample:x"],
            vec!["sample:M"],
        ),
        (
            vec!["--model", "mlp", "--steps", "1000000000000000"],
            vec!["would not fit", "free"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = extra.clone();
        args.extend(base);
        assert_fails(&train(&args), Exit::ErrorOrUsage, &needles);
        assert!(!run.exists(), "{extra:?} left {r} behind");
    }
    let missing = dir.path().join("no-such-dir");
    let spec = format!("mnist:{}", missing.display());
    let out = train(&["--model", "mlp", "--dataset", &spec, "--out", r]);
    assert_fails(&out, Exit::Failure, &["no-such-dir"]);
    assert!(!run.exists());
    // An existing run is not overwritten.
    json(&train(&[
        "--model",
        "mlp:8",
        "--dataset",
        "digits",
        "--steps",
        "2",
        "--out",
        r,
    ]));
    let out = train(&[
        "--model",
        "mlp:8",
        "--dataset",
        "digits",
        "--steps",
        "2",
        "--out",
        r,
    ]);
    assert_fails(&out, Exit::Failure, &["already holds a run", "--resume"]);
    assert_fails(&train(&["--resume", r]), Exit::Failure, &["finished"]);
    assert_fails(
        &train(&["--resume", dir.path().join("nothing").to_str().unwrap()]),
        Exit::Failure,
        &["run.json"],
    );
}

#[test]
fn help_has_an_example() {
    let out = train(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("anodiff train --model"), "{text}");
    assert!(text.contains("--resume"));
}

/// The tiny configuration of the `--if-exists` tests: 200 steps of an 8-unit MLP (~1 s).
fn tiny(out: &Path, lr: &str) -> Vec<String> {
    [
        "--model",
        "mlp:8",
        "--dataset",
        "digits",
        "--steps",
        "200",
        "--batch-size",
        "32",
        "--lr",
        lr,
        "--if-exists",
        "resume",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.to_str().unwrap().to_string()])
    .collect()
}

fn train_owned(args: &[String]) -> std::process::Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    train(&a)
}

/// Every file of a run directory but the lock file, with its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != ".lock" {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_directory_held_by_another_process_exits_75_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    json(&train_owned(&tiny(&run, "0.1")));
    let before = snapshot(&run);
    // Hold the lock as a training process would: flock on RUNDIR/.lock, holder written in it.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(run.join(".lock"))
        .unwrap();
    f.try_lock().unwrap();
    f.set_len(0).unwrap();
    std::io::Write::write_all(
        &mut f,
        format!(
            "{{\"pid\": {}, \"host\": \"node17\"}}\n",
            std::process::id()
        )
        .as_bytes(),
    )
    .unwrap();
    let holder = format!("pid {} on node17", std::process::id());
    let r = run.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::copy(run.join(".lock"), empty.join(".lock")).unwrap();
    let held_empty = std::fs::File::open(empty.join(".lock")).unwrap();
    held_empty.try_lock().unwrap();
    for out in [
        train(&["--resume", r]),
        train_owned(&tiny(&run, "0.1")),
        train_owned(&tiny(&empty, "0.1")),
    ] {
        assert_eq!(out.status.code(), Some(75), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: run directory")
                && err.contains("is in use by another training process")
                && err.contains(&holder)
                && err.contains("wait for it to end or end it"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        snapshot(&run),
        before,
        "a refused process wrote into the run"
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 1);
    drop((f, held_empty));
    // Released: the next process goes ahead.
    assert_eq!(json(&train_owned(&tiny(&empty, "0.1")))["action"], "new");
    let help = String::from_utf8_lossy(&train(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("75") && help.contains("EX_TEMPFAIL"),
        "{help}"
    );
}

#[test]
fn if_exists_resume_reports_a_finished_run_and_refuses_another_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let first = json(&train_owned(&tiny(&run, "0.1")));
    assert_eq!(
        (&first["action"], &first["steps"]),
        (&"new".into(), &200.into())
    );
    let before = snapshot(&run);
    // Names and counts only: a run.json, the store, the checkpoints.
    assert!(
        before.len() >= 5,
        "{:?}",
        before.iter().map(|b| &b.0).collect::<Vec<_>>()
    );
    let out = train_owned(&tiny(&run, "0.1"));
    let again = json(&out);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("epoch"),
        "nothing is trained"
    );
    assert_eq!(snapshot(&run), before);
    let (mut a, mut b) = (first.clone(), again.clone());
    assert_eq!(b["action"], "existing");
    a.as_object_mut().unwrap().remove("action");
    b.as_object_mut().unwrap().remove("action");
    assert_eq!(a, b, "the same result fields and values");
    // Another learning rate: an error naming the setting and both values, nothing touched.
    let out = train_owned(&tiny(&run, "0.05"));
    assert_fails(
        &out,
        Exit::ErrorOrUsage,
        &[
            "holds a run of another configuration",
            "lr: 0.05 here, 0.1 there",
        ],
    );
    assert_eq!(snapshot(&run), before);
    // Without --if-exists the directory is refused as before.
    let mut plain = tiny(&run, "0.1");
    plain.drain(10..12);
    assert!(!plain.contains(&"--if-exists".to_string()));
    assert_fails(
        &train_owned(&plain),
        Exit::Failure,
        &["already holds a run"],
    );
}

#[test]
fn if_exists_resume_continues_a_killed_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    // 1000 steps of a 2410-weight MLP with a checkpoint every 50: the kill after 200 recorded
    // rows lands mid-run, usually with the store ahead of the last checkpoint.
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--model",
            "mlp:32",
            "--dataset",
            "digits",
            "--batch-size",
            "32",
            "--steps",
            "1000",
            "--checkpoint-every",
            "50",
            "--seed",
            "3",
            "--if-exists",
            "resume",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    kill_after_steps(&args(&killed), &killed, 200, Duration::from_millis(2));
    let before = RunRecord::read(&killed).unwrap();
    assert_eq!(before.status, RunStatus::Running);
    assert!(before.steps_done < 1000);
    let out = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args(&killed))
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(
        (&v["action"], &v["status"]),
        (&"resumed".into(), &"finished".into())
    );
    json(
        &Command::new(env!("CARGO_BIN_EXE_anodiff"))
            .args(args(&whole))
            .output()
            .unwrap(),
    );
    let (wa, la) = rows(&whole);
    let (wb, lb) = rows(&killed);
    assert_eq!((la.len(), lb.len()), (1000, 1000));
    assert!(wa.iter().zip(&wb).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(la.iter().zip(&lb).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(
        RunRecord::read(&whole).unwrap().epochs,
        RunRecord::read(&killed).unwrap().epochs
    );
}

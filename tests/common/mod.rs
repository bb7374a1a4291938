//! Helpers shared by the CLI end-to-end tests (`tests/cli_*.rs`, each `mod common;`): run the
//! binary, read the one JSON object it prints, assert a clean failure, write input files.
//! Each test file uses only some of them.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `anodiff args...` with no stdin.
pub fn anodiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// Runs `anodiff args...` feeding `stdin` (an empty, closed stdin for `None`).
pub fn anodiff_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin.unwrap_or(b"")).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Runs `anodiff sub args...`.
pub fn anodiff_sub(sub: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anodiff"))
        .arg(sub)
        .args(args)
        .output()
        .expect("binary runs")
}

/// Asserts the run succeeded and returns the one JSON object it printed on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Which exit statuses count as a clean failure.
#[derive(Clone, Copy, Debug)]
pub enum Exit {
    /// Any unsuccessful exit.
    Failure,
    /// 1 (our error, printed by main) or 2 (clap's usage error: a value it cannot parse).
    ErrorOrUsage,
}

/// Asserts a clean failure: the expected exit status, nothing on stdout, an `error:` message on
/// stderr containing every needle, and no panic.
pub fn assert_fails(out: &Output, exit: Exit, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match exit {
        Exit::Failure => assert!(
            !out.status.success(),
            "expected failure, got {stdout} (stderr {err:?})"
        ),
        Exit::ErrorOrUsage => assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "should fail cleanly, got {:?} (stderr {err:?})",
            out.status.code()
        ),
    }
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(
        stdout.is_empty(),
        "nothing on stdout on error, got {stdout}"
    );
    assert!(err.starts_with("error:"), "stderr {err:?}");
    for n in needles {
        assert!(err.contains(n), "stderr {err:?} lacks {n:?}");
    }
}

/// Writes `bytes` to `dir/name`; returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Writes `a` as `dir/name` in .npy format; returns the path as a string.
pub fn npy<T: ndarray_npy::WritableElement, D: ndarray::Dimension>(
    dir: &Path,
    name: &str,
    a: &ndarray::Array<T, D>,
) -> String {
    let p = dir.join(name);
    ndarray_npy::write_npy(&p, a).unwrap();
    p.to_str().unwrap().to_owned()
}

//! A golden-fixture regression test you can copy: recompute a published or independently
//! computed number and fail loudly when it drifts beyond a stated tolerance.
//!
//! The reference here is `fixtures/examples/golden_msd.json`: the MSD of the numpy-written walk
//! `walk.npy`, computed by brute force in float64 by `make_examples.py` (the source is recorded
//! in the file). Our FFT path must agree to 1e-9 relative: both sum the same f32 values in f64,
//! and the FFT's rounding is around 1e-14 here, so anything above 1e-9 is a real regression.
//!
//! Run with `cargo run --release --example golden_regression`; it exits non-zero on a mismatch.

use anodiff_core::msd::{msd, Window};
use anodiff_core::trajectory::{NpyTrajectory, TrajectorySource};
use serde::Deserialize;
use std::process::ExitCode;

/// The tolerance and why it is this size: see the module comment.
const REL_TOL: f64 = 1e-9;

#[derive(Deserialize)]
struct Golden {
    source: String,
    file: String,
    lags: Vec<usize>,
    msd: Vec<f64>,
}

pub fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/examples");
    let golden: Golden = match std::fs::read_to_string(format!("{dir}/golden_msd.json"))
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cannot read the golden file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = NpyTrajectory::open(format!("{dir}/{}", golden.file)).and_then(|walk| {
        msd(
            &walk,
            Window {
                start: 0,
                len: walk.n_steps(),
            },
            &golden.lags,
        )
    });
    let ours = match result {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for ((tau, want), got) in golden.lags.iter().zip(&golden.msd).zip(&ours.msd) {
        let rel = (got - want).abs() / want.abs();
        let verdict = if rel <= REL_TOL { "ok" } else { "MISMATCH" };
        failed |= rel > REL_TOL;
        println!("tau = {tau:4}: ours {got:.12e}, golden {want:.12e}, rel {rel:.1e} {verdict}");
    }
    println!("reference: {}", golden.source);
    if failed {
        eprintln!("golden regression failed (tolerance {REL_TOL:e})");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

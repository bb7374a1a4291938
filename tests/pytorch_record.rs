//! Stores written by the Python recorder `examples/pytorch_record.py` (numpy only) are read by
//! the Rust reader and by `anodiff msd`: fixtures/trajectory/store_pytorch_record/{finished,
//! unfinished}, made by fixtures/trajectory/make_pytorch_record_fixture.py (numpy 2.4.6).
//! The generator writes closed-form values, so every check is against that formula, not against
//! earlier output: w[t, c] = t*1000 + c (dim 3), loss 1/(t+1), gradient -(t*10 + j) (2 coords),
//! 10 steps in chunks of 4, subset_seed 7.

use anodiff_core::trajectory::store::StoreReader;
use anodiff_core::trajectory::TrajectorySource;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/trajectory/store_pytorch_record")
        .join(name)
}

#[test]
fn rust_reader_reads_python_stores_exactly() {
    for (name, finished) in [("finished", true), ("unfinished", false)] {
        let s = StoreReader::open(fixture(name)).unwrap();
        assert_eq!(
            (s.n_steps(), s.dim(), s.gradient_dim()),
            (10, 3, 2),
            "{name}"
        );
        assert_eq!(s.manifest().finished, finished, "{name}");
        assert_eq!(s.manifest().subset_seed, Some(7), "{name}");
        assert_eq!(s.manifest().chunks.len(), 3, "{name}");
        let mut w = vec![0f32; 30];
        s.read_weights(0..10, 0..3, &mut w).unwrap();
        for t in 0..10 {
            for c in 0..3 {
                // Integers below 2^24: exact in f32.
                assert_eq!(w[t * 3 + c], (t * 1000 + c) as f32, "{name} w[{t},{c}]");
            }
        }
        let losses = s.losses(0..10).unwrap().unwrap();
        for (t, l) in losses.iter().enumerate() {
            // Python's 1.0 / (t + 1) and Rust's are the same correctly rounded f64.
            assert_eq!(*l, 1.0 / (t as f64 + 1.0), "{name} loss[{t}]");
        }
        let mut g = vec![0f32; 20];
        s.read_gradients(0..10, 0..2, &mut g).unwrap();
        for t in 0..10 {
            for j in 0..2 {
                assert_eq!(g[t * 2 + j], -((t * 10 + j) as f32), "{name} g[{t},{j}]");
            }
        }
    }
}

#[test]
fn msd_cli_reads_python_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_anodiff"))
        // 10 steps: the default fit (lags up to T/4) would leave 2 lags.
        .args([
            "msd",
            fixture("finished").to_str().unwrap(),
            "--boot",
            "20",
            "--fit-range",
            "1,9",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let win = &v["windows"][0];
    let lags = win["lags"].as_array().unwrap();
    let msd = win["msd"].as_array().unwrap();
    assert!(!lags.is_empty());
    for (lag, m) in lags.iter().zip(msd) {
        // Each of the 3 coordinates moves 1000 per step: MSD(tau) = 3 (1000 tau)^2 exactly;
        // 1e-9 relative allows the FFT's f64 rounding.
        let tau = lag.as_f64().unwrap();
        let want = 3.0 * (1000.0 * tau).powi(2);
        let got = m.as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "lag {tau}: {got} vs {want}"
        );
    }
    // Ballistic motion: exponent 2.
    let alpha = win["fit"]["alpha"].as_f64().unwrap();
    assert!((alpha - 2.0).abs() < 1e-6, "alpha {alpha}");
}

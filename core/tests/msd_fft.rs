//! The FFT MSD against the direct O(d T^2) double sum (an independent reference), on weight-like
//! data where the uncentred FFT form fails. Tolerance: `prec::MSD_RTOL` = 1e-9 relative at every
//! lag (the centred f64 algorithm's rounding is ~1e-13 here; 1e-9 is the promise).

mod msd_common;

use anodiff_core::msd::{
    displacement_from, ensemble_msd, msd, msd_for_bootstrap, msd_with_blocks, two_time, Lags,
    Window, Windows, MAX_COORD_GROUPS,
};
use anodiff_core::prec::MSD_RTOL;
use anodiff_core::trajectory::{npy::write_npy_f32, NpyTrajectory, TrajectorySource};
use msd_common::*;

fn assert_matches_brute(tr: &impl TrajectorySource, w: &[f32], win: Window, lags: &[usize]) {
    let d = tr.dim();
    let m = msd(tr, win, lags).unwrap();
    let mb = msd_with_blocks(tr, win, lags, 9).unwrap();
    assert_eq!(m.lags, lags);
    for (i, &tau) in lags.iter().enumerate() {
        let r = brute_msd(w, d, win.start, win.len, tau);
        let e = (m.msd[i] - r).abs() / r;
        assert!(
            e <= MSD_RTOL,
            "lag {tau}: fft {} brute {r} rel {e:e}",
            m.msd[i]
        );
        let e = (mb.msd[i] - r).abs() / r;
        assert!(e <= MSD_RTOL, "blocks, lag {tau}: rel {e:e}");
        assert_eq!(m.pairs[i], win.len - tau);
    }
}

#[test]
fn weight_like_random_walk_all_lags() {
    // Offset 30, steps ~1e-3, stored as f32: the regime where uncentred S1 - 2 S2 loses
    // everything in f32 and ~1e-7 in f64. 1500 coordinates span several parallel blocks.
    let mut r = rng(11);
    let paths = brownian(420, 1500, 1e-3, &mut r);
    let tr = traj(&paths, 30.0);
    let win = Window {
        start: 20,
        len: 400,
    };
    let lags: Vec<usize> = (1..400).collect();
    assert_matches_brute(&tr, tr.weights(), win, &lags);
}

#[test]
fn ballistic_long_window() {
    // A drifting walk over 3000 steps: the centred series has |x|^2 ~ T^2 v^2, the hardest case
    // for FFT rounding relative to MSD(1) = v^2.
    let mut r = rng(12);
    let mut paths = brownian(3000, 3, 1e-4, &mut r);
    for (c, p) in paths.iter_mut().enumerate() {
        for (t, v) in p.iter_mut().enumerate() {
            *v += 1e-3 * (c as f64 + 1.0) * t as f64;
        }
    }
    let tr = traj(&paths, -12.0);
    let win = Window {
        start: 0,
        len: 3000,
    };
    let lags = Lags::Log(40).resolve(3000, None).unwrap();
    assert_matches_brute(&tr, tr.weights(), win, &lags);
}

#[test]
fn windows_lags_and_npy_source_agree() {
    let mut r = rng(13);
    let paths = brownian(300, 7, 1e-2, &mut r);
    let tr = traj(&paths, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.npy");
    write_npy_f32(&file, 300, 7, tr.weights()).unwrap();
    let npy = NpyTrajectory::open(&file).unwrap();
    let wins = Windows::Strided {
        len: 120,
        stride: 50,
    }
    .resolve(300)
    .unwrap();
    assert_eq!(
        wins.iter().map(|w| w.start).collect::<Vec<_>>(),
        [0, 50, 100, 150]
    );
    for win in wins {
        let lags = Lags::Log(15).resolve(win.len, Some(60)).unwrap();
        assert_eq!(*lags.last().unwrap(), 60);
        assert_matches_brute(&npy, tr.weights(), win, &lags);
        // The memory-mapped file gives bit-identical results to the in-memory copy.
        assert_eq!(
            msd(&npy, win, &lags).unwrap().msd,
            msd(&tr, win, &lags).unwrap().msd
        );
    }
    let wins = Windows::Starts {
        len: 100,
        starts: vec![7, 200],
    }
    .resolve(300)
    .unwrap();
    for win in wins {
        assert_matches_brute(&npy, tr.weights(), win, &[1, 2, 50, 99]);
    }
}

#[test]
fn ensemble_and_two_time_against_direct_sums() {
    let mut r = rng(14);
    let runs: Vec<_> = (0..3)
        .map(|_| traj(&brownian(80, 4, 0.1, &mut r), 5.0))
        .collect();
    let refs: Vec<&_> = runs.iter().collect();
    let win = Window { start: 10, len: 60 };
    let lags = [1, 5, 59];
    let e = ensemble_msd(&refs, win, &lags).unwrap();
    for (i, &tau) in lags.iter().enumerate() {
        let direct = |w: &[f32]| -> f64 {
            (0..4)
                .map(|c| (f64::from(w[(10 + tau) * 4 + c]) - f64::from(w[10 * 4 + c])).powi(2))
                .sum()
        };
        let ea: f64 = runs.iter().map(|t| direct(t.weights())).sum::<f64>() / 3.0;
        assert!((e.eamsd[i] - ea).abs() <= 1e-12 * ea);
        let ta: Vec<f64> = runs
            .iter()
            .map(|t| brute_msd(t.weights(), 4, 10, 60, tau))
            .collect();
        let mu = ta.iter().sum::<f64>() / 3.0;
        assert!((e.mean_tamsd[i] - mu).abs() <= MSD_RTOL * mu);
        let eb = ta.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / 3.0 / (mu * mu);
        assert!((e.eb[i] - eb).abs() <= 1e-6 * eb.max(1e-12));
        // Two-time MSD: per weight, averaged over runs.
        let d2 = two_time(&refs, 10, &[tau]).unwrap();
        assert!((d2[0] - ea / 4.0).abs() <= 1e-12 * ea);
    }
    assert!(displacement_from(&runs[0], 10, &[70]).is_err());
}

#[test]
fn bad_windows_and_lags_are_errors() {
    let tr = traj(&brownian(50, 2, 1.0, &mut rng(1)), 0.0);
    let long = msd(&tr, Window { start: 0, len: 51 }, &[1]).unwrap_err();
    assert!(long.to_string().contains("runs past the end"), "{long}");
    let e = Windows::Consecutive { len: Some(60) }
        .resolve(50)
        .unwrap_err();
    assert!(e.to_string().contains("longer than the trajectory"), "{e}");
    assert!(msd(&tr, Window { start: 0, len: 10 }, &[10]).is_err());
    assert!(msd(&tr, Window { start: 0, len: 10 }, &[]).is_err());
    assert!(msd(&tr, Window { start: 0, len: 1 }, &[1]).is_err());
    assert!(msd_with_blocks(&tr, Window { start: 0, len: 10 }, &[1], 0).is_err());
    assert!(Lags::All.resolve(10, Some(0)).is_err());
}

#[test]
fn non_finite_weight_in_npy_names_the_step() {
    let mut w = vec![0.5f32; 30 * 3];
    w[17 * 3 + 2] = f32::INFINITY;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.npy");
    write_npy_f32(&file, 30, 3, &w).unwrap();
    let npy = NpyTrajectory::open(&file).unwrap();
    let e = msd(&npy, Window { start: 0, len: 30 }, &[1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 17"), "{e}");
}

/// `msd_for_bootstrap` keeps only what the fit resamples: with d >= 8 coordinate groups (no
/// origin blocks), each the direct double sum over its contiguous coordinates, summing to the
/// MSD; with d < 8 the origin blocks. Reference: the direct O(d T^2) sums.
#[test]
fn bootstrap_pieces_match_direct_sums() {
    let lags = Lags::default().resolve(300, None).unwrap();
    let win = Window { start: 0, len: 300 };
    for d in [5usize, 40] {
        let tr = traj(&brownian(300, d, 1e-2, &mut rng(d as u64)), 1.0);
        let w = tr.weights();
        let m = msd_for_bootstrap(&tr, win, &lags, 7).unwrap();
        if d < 8 {
            assert!(m.coord_groups.is_none());
            assert_eq!(m.blocks.as_ref().unwrap().n_blocks(), 7);
        } else {
            assert!(m.blocks.is_none());
            let groups = m.coord_groups.as_ref().unwrap();
            assert_eq!(groups.len(), d.min(MAX_COORD_GROUPS));
            let ng = groups.len();
            for (g, gm) in groups.iter().enumerate() {
                // Group g holds coordinates g d / ng .. (g + 1) d / ng.
                let (lo, hi) = (g * d / ng, (g + 1) * d / ng);
                let sub: Vec<f32> = (0..300)
                    .flat_map(|t| w[t * d + lo..t * d + hi].to_vec())
                    .collect();
                for (i, &tau) in lags.iter().enumerate() {
                    let r = brute_msd(&sub, hi - lo, 0, 300, tau);
                    assert!((gm[i] - r).abs() <= MSD_RTOL * r, "group {g} lag {tau}");
                }
            }
        }
        for (i, &tau) in lags.iter().enumerate() {
            let r = brute_msd(w, d, 0, 300, tau);
            assert!((m.msd[i] - r).abs() <= MSD_RTOL * r, "d {d} lag {tau}");
        }
    }
    assert!(msd_for_bootstrap(
        &traj(&brownian(50, 9, 1.0, &mut rng(1)), 0.0),
        Window { start: 0, len: 50 },
        &[1],
        0
    )
    .is_err());
}

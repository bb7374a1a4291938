//! The MSD as a map-reduce over coordinate blocks (`msd::partial`): blocks that cut across the
//! coordinate groups and origin blocks, merged in any order, give the single-pass MSD, its
//! coordinate groups, origin blocks and effective dimension to 1e-12 relative; inconsistent
//! pieces are rejected.

use anodiff_core::msd::partial::{msd_partial, MsdLayout};
use anodiff_core::msd::{msd_for_bootstrap, msd_with_blocks, Msd, Window};
use anodiff_core::trajectory::InMemoryTrajectory;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

fn walk(n: usize, d: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut w = vec![0.0f32; n * d];
    for t in 1..n {
        for c in 0..d {
            // Coordinates of different scales and a drift, offset from zero.
            let s = 1.0 + c as f32 / 4.0;
            w[t * d + c] = w[(t - 1) * d + c] + s * rng.random_range(-1.0f32..1.0) + 0.01;
        }
    }
    for (i, v) in w.iter_mut().enumerate() {
        *v += 3.0 + (i % d) as f32;
    }
    w
}

fn cols(w: &[f32], d: usize, steps: Range<usize>, c: Range<usize>) -> Vec<f32> {
    steps
        .flat_map(|t| w[t * d + c.start..t * d + c.end].to_vec())
        .collect()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-300), "{a} vs {b}");
}

fn same(got: &Msd, want: &Msd) {
    assert_eq!(got.lags, want.lags);
    assert_eq!(got.pairs, want.pairs);
    got.msd
        .iter()
        .zip(&want.msd)
        .for_each(|(a, b)| close(*a, *b));
    close(got.d_eff, want.d_eff);
    match (&got.coord_groups, &want.coord_groups) {
        (Some(a), Some(b)) => {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                x.iter().zip(y).for_each(|(p, q)| close(*p, *q));
            }
        }
        (None, None) => {}
        _ => panic!("coordinate groups kept on one side only"),
    }
    match (&got.blocks, &want.blocks) {
        (Some(a), Some(b)) => {
            assert_eq!(a.counts, b.counts);
            for (x, y) in a.sums.iter().zip(&b.sums) {
                x.iter().zip(y).for_each(|(p, q)| close(*p, *q));
            }
        }
        (None, None) => {}
        _ => panic!("origin blocks kept on one side only"),
    }
}

fn reduced(
    w: &[f32],
    d: usize,
    win: Window,
    lags: &[usize],
    layout: MsdLayout,
    cuts: &[usize],
) -> Msd {
    let mut parts: Vec<_> = cuts
        .windows(2)
        .map(|c| {
            let v = cols(w, d, win.steps(), c[0]..c[1]);
            msd_partial(&v, win, c[0]..c[1], d, lags, layout).unwrap()
        })
        .collect();
    // Merged in reverse order: addition order does not matter beyond rounding.
    let mut total = parts.pop().unwrap();
    while let Some(p) = parts.pop() {
        total.merge(&p).unwrap();
    }
    total.into_msd().unwrap()
}

#[test]
fn blocks_reduce_to_the_single_pass_msd() {
    let (n, d) = (300, 45);
    let w = walk(n, d);
    let src = InMemoryTrajectory::from_weights(d, w.clone(), None).unwrap();
    let win = Window {
        start: 40,
        len: 200,
    };
    let lags = [1, 2, 5, 17, 60, 199];
    // Block boundaries that do not line up with the 32 coordinate groups.
    let cuts = [0, 7, 8, 30, 44, 45];
    let want = msd_for_bootstrap(&src, win, &lags, 20).unwrap();
    same(
        &reduced(&w, d, win, &lags, MsdLayout::for_bootstrap(d, 20), &cuts),
        &want,
    );
    let want = msd_with_blocks(&src, win, &lags, 20).unwrap();
    same(
        &reduced(&w, d, win, &lags, MsdLayout::with_blocks(d, 20), &cuts),
        &want,
    );
    // Few coordinates: origin blocks, no coordinate groups.
    let d = 5;
    let w = walk(n, d);
    let src = InMemoryTrajectory::from_weights(d, w.clone(), None).unwrap();
    let want = msd_for_bootstrap(&src, win, &lags, 7).unwrap();
    same(
        &reduced(
            &w,
            d,
            win,
            &lags,
            MsdLayout::for_bootstrap(d, 7),
            &[0, 2, 5],
        ),
        &want,
    );
}

#[test]
fn inconsistent_pieces_are_rejected() {
    let (n, d) = (50, 10);
    let w = walk(n, d);
    let win = Window { start: 0, len: n };
    let l = MsdLayout::plain();
    let a = msd_partial(&cols(&w, d, 0..n, 0..4), win, 0..4, d, &[1, 3], l).unwrap();
    // A block missing: the pieces do not cover the trajectory.
    let e = a.clone().into_msd().unwrap_err().to_string();
    assert!(
        e.contains("cover 4 coordinates, the trajectory has 10"),
        "{e}"
    );
    // Different lags cannot be added.
    let b = msd_partial(&cols(&w, d, 0..n, 4..10), win, 4..10, d, &[1, 4], l).unwrap();
    assert!(a.clone().merge(&b).is_err());
    // Wrong lengths, ranges, lags and layouts are parameter errors.
    let v = cols(&w, d, 0..n, 0..4);
    assert!(msd_partial(&v[1..], win, 0..4, d, &[1], l).is_err());
    assert!(msd_partial(&v, win, 8..12, d, &[1], l).is_err());
    assert!(msd_partial(&v, win, 0..4, d, &[0], l).is_err());
    assert!(msd_partial(&v, win, 0..4, d, &[n], l).is_err());
    let bad = MsdLayout { n_groups: 11, ..l };
    assert!(msd_partial(&v, win, 0..4, d, &[1], bad).is_err());
    let mut nan = v.clone();
    nan[4 * 7 + 2] = f32::NAN;
    let e = msd_partial(&nan, win, 0..4, d, &[1], l)
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 7, coordinate 2"), "{e}");
}

//! Calibration of the MSL and contour-length (D_f) errors by simulation (issue 3): over many
//! seeded walks with known, stationary increments, the true spread of the fitted exponent is
//! compared with the mean standard error the fit reports. The reference is the simulation
//! itself (the sample standard deviation over independent walks), not the code's output.
//!
//! Walks: Brownian motion in d = 3 (independent Gaussian steps), T = 200 steps per window,
//! loss L_t = w_t[0] + w_t[1] (a linear loss, so MSL = E (Delta L)^2 grows as dr^2). Fits over
//! all bins (20 log bins for both). The increment-block bootstrap is exact in law for
//! independent increments, so the ratio true sd / mean SE should be near 1; the band
//! [0.7, 1.4] allows for the sd's sampling error over 60 walks (its relative sd is about
//! 1 / sqrt(2 * 59) = 9 %, so the band is about 3.5 sd wide either side) and for the bootstrap's
//! known small downward bias. The least-squares error over bins (bins treated as independent)
//! is also printed; it is several times too small.

mod msd_common;

use anodiff_core::msd::Window;
use anodiff_core::pathstats::{contour_with, msl_with, Binning, PairDistances, PathBootstrap};
use msd_common::*;

struct Summary {
    sd: f64,
    mean_se: f64,
    mean_se_wls: f64,
}

fn summarise(v: &[(f64, f64, f64)]) -> Summary {
    let n = v.len() as f64;
    let mu = v.iter().map(|x| x.0).sum::<f64>() / n;
    Summary {
        sd: (v.iter().map(|x| (x.0 - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
        mean_se: v.iter().map(|x| x.1).sum::<f64>() / n,
        mean_se_wls: v.iter().map(|x| x.2).sum::<f64>() / n,
    }
}

/// (exponent, bootstrap SE, least-squares SE) of MSL and of lambda for `walks` walks.
fn simulate(walks: u64, t_len: usize, n_boot: usize) -> (Summary, Summary) {
    simulate_with(walks, t_len, n_boot, |seed| {
        brownian(t_len, 3, 1.0, &mut rng(40_000 + seed))
    })
}

fn simulate_with(
    walks: u64,
    t_len: usize,
    n_boot: usize,
    gen: impl Fn(u64) -> Vec<Vec<f64>>,
) -> (Summary, Summary) {
    let mut msl_fits = Vec::new();
    let mut lam_fits = Vec::new();
    for seed in 0..walks {
        let paths = gen(seed);
        let losses: Vec<f64> = (0..t_len).map(|t| paths[0][t] + paths[1][t]).collect();
        let tr = traj(&paths, 0.0);
        let pd = PairDistances::compute(
            &tr,
            Window {
                start: 0,
                len: t_len,
            },
        )
        .unwrap();
        let boot = PathBootstrap {
            n_boot,
            seed,
            ..PathBootstrap::default()
        };
        let m = msl_with(&pd, &losses, Binning::Log(20), None, &boot).unwrap();
        let f = m.fit.unwrap();
        assert_eq!(f.se_method, "increment-bootstrap");
        msl_fits.push((f.exponent, f.se, f.se_wls));
        let c = contour_with(&pd, 20, None, &boot).unwrap();
        lam_fits.push((c.lambda.exponent, c.lambda.se, c.lambda.se_wls));
        // D_f's interval is lambda's mapped through 2 / lambda.
        let [lo, hi] = c.lambda.ci95;
        assert!((c.fractal_dim_ci95[0] - 2.0 / hi).abs() < 1e-12);
        assert!(lo <= 0.0 || (c.fractal_dim_ci95[1] - 2.0 / lo).abs() < 1e-12);
    }
    (summarise(&msl_fits), summarise(&lam_fits))
}

#[test]
fn msl_and_fractal_dimension_errors_are_calibrated() {
    let (msl, lam) = simulate(60, 200, 100);
    for (name, s) in [("MSL exponent", &msl), ("lambda (D_f = 2 / lambda)", &lam)] {
        let ratio = s.sd / s.mean_se;
        eprintln!(
            "{name}: true sd {:.4}, mean bootstrap SE {:.4} (ratio {ratio:.2}), mean WLS-over-bins SE {:.4} (ratio {:.1})",
            s.sd,
            s.mean_se,
            s.mean_se_wls,
            s.sd / s.mean_se_wls
        );
        assert!((0.7..=1.4).contains(&ratio), "{name}: sd / SE = {ratio:.2}");
    }
}

/// The same measurement on long-memory motion (exact fBm, H = 0.3 and 0.7, d = 3, T = 200, 60
/// walks), where the moving-block bootstrap is only approximate: its blocks keep correlations
/// up to their length and lose the rest. Prints the ratios; asserts only a loose band
/// [0.5, 2.0] (the documented figures come from this run).
#[test]
#[ignore = "slow (a minute); documents the bootstrap's calibration off its exact case"]
fn calibration_on_fractional_brownian_motion() {
    for h in [0.3, 0.7] {
        let (msl, lam) =
            simulate_with(60, 200, 100, |seed| fbm(200, 3, h, &mut rng(60_000 + seed)));
        for (name, s) in [("MSL exponent", &msl), ("lambda", &lam)] {
            let ratio = s.sd / s.mean_se;
            eprintln!(
                "fBm H = {h}, {name}: true sd {:.4}, mean bootstrap SE {:.4} (ratio {ratio:.2}), WLS ratio {:.1}",
                s.sd,
                s.mean_se,
                s.sd / s.mean_se_wls
            );
            assert!((0.5..=2.0).contains(&ratio), "H = {h}, {name}: {ratio:.2}");
        }
    }
}

//! Plugging in your own trajectories: a simulated process implementing `TrajectorySource`, and a
//! `.npy` file written by numpy, each analysed end to end (MSD, exponent with its uncertainty,
//! crossover test).
//!
//! Run with `cargo run --release --example custom_source [-- path/to/trajectory.npy]`; without a
//! path it reads `fixtures/examples/walk.npy` (a Brownian walk written by numpy).

use anodiff_core::exponent::{fit_msd, MsdFitOptions};
use anodiff_core::msd::{msd_with_blocks, Lags, Window};
use anodiff_core::trajectory::{NpyTrajectory, TrajectorySource};
use std::ops::Range;

/// Ballistic motion `w_t[c] = v_c t`, generated on demand: nothing is stored.
struct Ballistic {
    velocities: Vec<f32>,
    steps: usize,
}

impl TrajectorySource for Ballistic {
    fn n_steps(&self) -> usize {
        self.steps
    }
    fn dim(&self) -> usize {
        self.velocities.len()
    }
    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> anodiff_core::Result<()> {
        anodiff_core::trajectory::check_block(&steps, &coords, self.steps, self.dim(), out.len())?;
        let width = coords.len();
        for (i, t) in steps.enumerate() {
            for (j, c) in coords.clone().enumerate() {
                out[i * width + j] = self.velocities[c] * t as f32;
            }
        }
        Ok(())
    }
    fn losses(&self, _steps: Range<usize>) -> anodiff_core::Result<Option<Vec<f64>>> {
        Ok(None)
    }
}

fn analyse(name: &str, src: &dyn TrajectorySource) -> anodiff_core::Result<f64> {
    let window = Window {
        start: 0,
        len: src.n_steps(),
    };
    let lags = Lags::Log(20).resolve(window.len, Some(window.len / 4))?;
    let m = msd_with_blocks(src, window, &lags, 8)?;
    let fit = fit_msd(
        &m,
        &MsdFitOptions {
            n_boot: 50,
            null_sims: 49,
            ..Default::default()
        },
    )?;
    let p = &fit.power_law;
    println!(
        "{name}: d = {}, T = {}, MSD ~ tau^{:.3} +- {:.3} ({:?}), p(one vs two segments) = {:?}",
        src.dim(),
        src.n_steps(),
        p.alpha,
        p.alpha_se,
        fit.regime,
        fit.p_one_vs_two
    );
    Ok(p.alpha)
}

pub fn main() -> anodiff_core::Result<()> {
    let ballistic = Ballistic {
        velocities: (0..8).map(|c| 0.1 + c as f32).collect(),
        steps: 300,
    };
    let a = analyse("simulated ballistic", &ballistic)?;
    assert!((a - 2.0).abs() < 1e-6, "ballistic motion has MSD ~ tau^2");

    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/examples/walk.npy").to_string()
    });
    let walk = NpyTrajectory::open(&path)?;
    let a = analyse(&path, &walk)?;
    println!("(a Brownian walk has alpha = 1; got {a:.3})");
    Ok(())
}

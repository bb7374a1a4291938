//! A toy run read through `TrajectorySource` by the crate's general MSD code must give the same
//! MSD as the toy module's brute-force 2-D sum (an independent implementation: FFT over
//! f32-stored weights versus a direct f64 double loop).

use anodiff_core::landscape::{diamond_square, DiamondSquareConfig, Landscape};
use anodiff_core::msd::{msd, Window};
use anodiff_core::toy::{simulate_many, tamsd, ToyConfig};
use anodiff_core::trajectory::TrajectorySource;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn toy_run_msd_agrees_with_the_general_msd() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let z = diamond_square(
        &DiamondSquareConfig {
            size: 129,
            ..Default::default()
        },
        &mut rng,
    )
    .unwrap();
    let land = Landscape::new(z).unwrap();
    let runs = simulate_many(&land, &ToyConfig::default(), &[1, 2]).unwrap();
    for r in &runs {
        assert_eq!(r.dim(), 2);
        let lags = [1usize, 3, 10, 30, 100, 250];
        let general = msd(
            r,
            Window {
                start: 0,
                len: r.n_steps(),
            },
            &lags,
        )
        .unwrap();
        let direct = tamsd(&r.positions, &lags);
        for (g, d) in general.msd.iter().zip(&direct) {
            // Weights pass through the trait as f32 (relative rounding 6e-8 of positions of
            // order 1, displacements >= ~1e-2): allow 1e-4 relative.
            assert!((g / d - 1.0).abs() < 1e-4, "general {g} vs direct {d}");
        }
        // Segment after t0, via a window.
        let len = r.n_steps() - r.t0;
        if len > 40 {
            let g = msd(r, Window { start: r.t0, len }, &[1, 5, 10]).unwrap();
            let d = tamsd(&r.positions[r.t0..], &[1, 5, 10]);
            for (a, b) in g.msd.iter().zip(&d) {
                assert!((a / b - 1.0).abs() < 1e-4);
            }
        }
    }
}

//! A statistician's first session: draw from an alpha-stable law, fit it by maximum likelihood
//! with standard errors, and ask Vuong's test whether the stable law beats a normal fit.
//!
//! Run with `cargo run --release --example fit_stable`.

use anodiff_core::fit::alternatives::{fit as fit_alternative, AltModel};
use anodiff_core::fit::{Estimator, Mle, Param};
use anodiff_core::stable::Stable;
use anodiff_core::vuong::vuong;
use rand::{Rng, SeedableRng};

pub fn main() -> anodiff_core::Result<()> {
    let law = Stable::new(1.6, 0.3, 2.0, 0.0, Param::S0)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let x: Vec<f64> = (0..5000).map(|_| rng.sample(law)).collect();

    let stable = Mle::new().fit(&x)?;
    let normal = fit_alternative(AltModel::Normal, &x)?;
    let test = vuong(&stable.ln_pdfs(&x), &normal.ln_pdfs(&x))?;

    println!(
        "alpha = {:.3} +- {:.3}",
        stable.alpha,
        stable.se.alpha.unwrap_or(f64::NAN)
    );
    println!(
        "beta  = {:.3} +- {:.3}",
        stable.beta,
        stable.se.beta.unwrap_or(f64::NAN)
    );
    println!(
        "Vuong z = {:.1}, two-sided p = {:.3e}",
        test.statistic, test.p_two_sided
    );
    assert!(stable.converged && (stable.alpha - 1.6).abs() < 0.1 && test.statistic > 0.0);
    Ok(())
}

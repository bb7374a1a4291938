//! `anodiff landscape`: generate landscapes and run Sorkin's fractal test on them.

use anodiff_core::landscape::{
    cone, diamond_square, fbm_surface, paraboloid, shuffle_smooth, sorkin, spectral_surface,
    DiamondSquareConfig, FbmSurfaceConfig, ShuffleSmoothConfig, SorkinConfig, SpectralConfig,
};
use anyhow::{bail, Context};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Arguments of `anodiff landscape`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    anodiff landscape generate --method diamond-square --size 1025 --seed 1 -o ds.npy\n  \
    anodiff landscape generate --method fbm --size 513 --hurst 0.7 --seed 2 -o fbm.npy\n  \
    anodiff landscape sorkin fbm.npy")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Generate a landscape and write it as a 2-D f64 .npy array (axis 0 = x, axis 1 = y,
    /// both spanning [-1, 1]); prints a JSON summary.
    #[command(after_help = "Methods:\n  \
        diamond-square  Douillet's midpoint displacement (size 2^k+1; --roughness, --hurst sets the\n                  \
        per-level decay 2^-H instead of Douillet's 1/2)\n  \
        fbm             exact fractional Brownian surface, Stein's circulant embedding (--hurst)\n  \
        spectral        spectral synthesis, fast, biased at small scales (--hurst)\n  \
        paraboloid      curvature * (x^2 + y^2) (--curvature)\n  \
        cone            slope * sqrt(x^2 + y^2), the authors' convex landscape (--slope)\n  \
        shuffled        diamond-square, pixels shuffled, Gaussian blur (--blur-sigma, size 2^k+1)\n\n\
        Examples:\n  \
        anodiff landscape generate --method diamond-square --size 1025 --seed 1 -o ds.npy\n  \
        anodiff landscape generate --method fbm --size 257 --hurst 0.3 -o rough.npy\n  \
        anodiff landscape generate --method shuffled --size 513 --blur-sigma 8 -o shuffled.npy")]
    Generate(GenerateArgs),
    /// Sorkin's test: mean squared height difference against distance over random pairs, and
    /// the fitted log-log slope 2H.
    #[command(after_help = "Example:\n  anodiff landscape sorkin fbm.npy --pairs 200000 --seed 1")]
    Sorkin(SorkinArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    DiamondSquare,
    Fbm,
    Spectral,
    Paraboloid,
    Cone,
    Shuffled,
}

#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// Generator.
    #[arg(long, value_enum)]
    method: Method,
    /// Grid side (2^k + 1 for diamond-square and shuffled).
    #[arg(long)]
    size: usize,
    /// Hurst exponent in (0, 1): fbm and spectral (default 0.5); for diamond-square, sets the
    /// per-level amplitude decay to 2^-H.
    #[arg(long)]
    hurst: Option<f64>,
    /// Seed of the ChaCha8 random stream.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Starting roughness r0 of diamond-square / shuffled (Douillet's "rugosite").
    #[arg(long, default_value_t = 3.0)]
    roughness: f64,
    /// Gaussian blur standard deviation in nodes (shuffled).
    #[arg(long, default_value_t = 8.0)]
    blur_sigma: f64,
    /// Curvature of the paraboloid.
    #[arg(long, default_value_t = 0.5)]
    curvature: f64,
    /// Slope of the cone (0.5 gives the authors' |grad L| = 0.5).
    #[arg(long, default_value_t = 0.5)]
    slope: f64,
    /// Output .npy file.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct SorkinArgs {
    /// A 2-D .npy landscape (f64 or f32).
    file: PathBuf,
    /// Number of random pairs.
    #[arg(long, default_value_t = 200_000)]
    pairs: usize,
    /// Largest pair distance in nodes (default: a quarter of the side).
    #[arg(long)]
    max_lag: Option<f64>,
    /// Seed of the ChaCha8 random stream.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Generate(a) => generate(a),
        Command::Sorkin(a) => run_sorkin(a),
    }
}

/// Reads a 2-D .npy array of f64 or f32 values as f64.
pub fn read_landscape(path: &Path) -> anyhow::Result<Array2<f64>> {
    Ok(anodiff_core::npy::read_array2(path)?)
}

fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let uses_hurst = matches!(
        a.method,
        Method::Fbm | Method::Spectral | Method::DiamondSquare
    );
    if a.hurst.is_some() && !uses_hurst {
        bail!("--hurst applies to the fbm, spectral and diamond-square methods only");
    }
    let hurst = a.hurst.unwrap_or(0.5);
    let ds = |hurst: Option<f64>| DiamondSquareConfig {
        size: a.size,
        roughness: a.roughness,
        decay: hurst.map_or(0.5, |h| 2f64.powf(-h)),
    };
    if let Some(h) = a.hurst {
        if !(h > 0.0 && h < 1.0) {
            bail!("--hurst must lie in the open interval (0, 1), got {h}");
        }
    }
    let bar = spinner(&format!("generating {:?} landscape", a.method));
    let z = match a.method {
        Method::DiamondSquare => diamond_square(&ds(a.hurst), &mut rng)?,
        Method::Fbm => fbm_surface(
            &FbmSurfaceConfig {
                size: a.size,
                hurst,
                scale: 1.0,
            },
            &mut rng,
        )?,
        Method::Spectral => spectral_surface(
            &SpectralConfig {
                size: a.size,
                hurst,
            },
            &mut rng,
        )?,
        Method::Paraboloid => paraboloid(a.size, a.curvature)?,
        Method::Cone => cone(a.size, a.slope)?,
        Method::Shuffled => {
            let base = diamond_square(&ds(None), &mut rng)?;
            shuffle_smooth(
                &base,
                &ShuffleSmoothConfig {
                    sigma: a.blur_sigma,
                },
                &mut rng,
            )?
        }
    };
    bar.finish_and_clear();
    let values: Vec<f64> = z.iter().copied().collect();
    anodiff_core::npy::write_f64(&a.output, &[z.nrows(), z.ncols()], &values)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    let n = z.len() as f64;
    let mean = z.sum() / n;
    let sd = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let method = match a.method {
        Method::DiamondSquare => "diamond-square",
        Method::Fbm => "fbm",
        Method::Spectral => "spectral",
        Method::Paraboloid => "paraboloid",
        Method::Cone => "cone",
        Method::Shuffled => "shuffled",
    };
    crate::cmd::print_json(&serde_json::json!({
        "method": method,
        "size": a.size,
        "seed": a.seed,
        "hurst": match a.method {
            Method::Fbm | Method::Spectral => Some(hurst),
            _ => a.hurst,
        },
        "min": z.iter().cloned().fold(f64::INFINITY, f64::min),
        "max": z.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        "mean": mean,
        "std": sd,
        "output": a.output,
    }))
}

fn run_sorkin(a: SorkinArgs) -> anyhow::Result<()> {
    let z = read_landscape(&a.file)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let cfg = SorkinConfig {
        n_pairs: a.pairs,
        max_lag: a.max_lag,
        ..Default::default()
    };
    let s = sorkin(&z, &cfg, &mut rng)?;
    crate::cmd::print_json(&serde_json::json!({
        "two_h": s.two_h,
        "hurst": s.two_h / 2.0,
        "two_h_se": s.fit.slope_se,
        "r_squared": s.fit.r_squared,
        "distance": s.distance,
        "mean_sq_diff": s.mean_sq_diff,
        "count": s.count,
    }))
}

/// A stderr spinner, hidden when stderr is not a terminal.
pub fn spinner(msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(msg.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

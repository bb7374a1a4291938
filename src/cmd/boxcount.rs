//! `anodiff boxcount`: box-counting dimension of a binary image or a point cloud.

use anodiff_core::fractal::{
    box_count_image, box_count_points, read_array2_f64, read_bitmap_npy, Bitmap, BoxCount,
    BoxCountConfig, FitRange, OffsetAggregate,
};
use anyhow::Context;
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  anodiff boxcount carpet.png
  anodiff boxcount contour.npy --min-scale 4 --max-scale 128
  anodiff boxcount cloud.npy --points --details

Prints {\"dimension\":..,\"se\":..,\"ci95\":[lo,hi],\"scales\":[..],\"counts\":[..],\"fit_range\":[lo,hi]}.
Images: PNG or PGM/PBM/PPM (any pixel with non-zero gray level is in the set; --invert for a dark
figure on a light background), or a 2-D .npy of any integer, float or bool dtype (non-zero = in
the set). With --points the .npy holds one point per row and one coordinate per column.
Counts are the minimum over 4 x 4 shifted grids per box size (--offsets, --aggregate). Without
--min-scale/--max-scale the fit uses the widest run of sizes whose local slopes agree within
--tolerance; with either, it uses every counted size in [min, max] (unless --auto-range).
The interval is the classical least-squares one; box counts at nested sizes are correlated, so
read it together with the local slopes (--details).";

/// How the shifted grids at one box size are combined.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Aggregate {
    /// Smallest count over the shifts (closest to a minimal cover).
    Min,
    /// Mean count over the shifts.
    Mean,
}

/// Arguments of `anodiff boxcount`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Binary image (.png, .pgm, .pbm, .ppm) or 2-D .npy array; with --points, a .npy of points.
    pub file: PathBuf,
    /// Smallest box size (pixels; coordinate units with --points). Fixes the fit range.
    #[arg(long)]
    pub min_scale: Option<f64>,
    /// Largest box size (default: a quarter of the set's extent). Fixes the fit range.
    #[arg(long)]
    pub max_scale: Option<f64>,
    /// The .npy file is a point cloud (rows = points, columns = coordinates).
    #[arg(long)]
    pub points: bool,
    /// Ratio between consecutive box sizes, in (1, 16].
    #[arg(long, default_value_t = 2.0)]
    pub ratio: f64,
    /// Grid shifts per axis, in [1, 16].
    #[arg(long, default_value_t = 4)]
    pub offsets: usize,
    /// How counts of shifted grids are combined.
    #[arg(long, value_enum, default_value_t = Aggregate::Min)]
    pub aggregate: Aggregate,
    /// Choose the flat range automatically even inside a given --min-scale/--max-scale.
    #[arg(long)]
    pub auto_range: bool,
    /// Largest spread of local slopes in an automatic fit range.
    #[arg(long, default_value_t = 0.1)]
    pub tolerance: f64,
    /// Images: zero pixels are the set (a dark figure on a light background).
    #[arg(long)]
    pub invert: bool,
    /// Also print the local slopes, their spread in the fit range, R² and the settings.
    #[arg(long)]
    pub details: bool,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    dimension: f64,
    se: f64,
    ci95: [f64; 2],
    scales: &'a [f64],
    counts: &'a [f64],
    fit_range: [f64; 2],
    #[serde(flatten)]
    details: Option<Details<'a>>,
}

#[derive(serde::Serialize)]
struct Details<'a> {
    local_slopes: &'a [f64],
    slope_spread: f64,
    auto_fallback: bool,
    r_squared: f64,
    aggregate: OffsetAggregate,
    object: &'static str,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = BoxCountConfig::default()
        .with_ratio(args.ratio)?
        .with_offsets(args.offsets)?
        .with_aggregate(match args.aggregate {
            Aggregate::Min => OffsetAggregate::Min,
            Aggregate::Mean => OffsetAggregate::Mean,
        });
    if let Some(s) = args.min_scale {
        cfg = cfg.with_min_scale(s)?;
    }
    if let Some(s) = args.max_scale {
        cfg = cfg.with_max_scale(s)?;
    }
    let user_range = args.min_scale.is_some() || args.max_scale.is_some();
    cfg = cfg.with_fit_range(if user_range && !args.auto_range {
        FitRange::All
    } else {
        FitRange::Auto {
            tolerance: args.tolerance,
            min_points: 4,
        }
    })?;
    let path = &args.file;
    let (bc, object): (BoxCount, &str) = if args.points {
        if args.invert {
            anyhow::bail!("--invert applies to images, not to point clouds (--points)");
        }
        let pts = read_array2_f64(path)?;
        let bc = box_count_points(pts.view(), &cfg)
            .with_context(|| format!("{}: box counting the point cloud", path.display()))?;
        (bc, "point cloud")
    } else {
        let img = read_image(path, args.invert)?;
        let bc = box_count_image(&img, &cfg)
            .with_context(|| format!("{}: box counting the image", path.display()))?;
        (bc, "binary image")
    };
    crate::cmd::print_json(&Output {
        dimension: bc.dimension,
        se: bc.se,
        ci95: bc.ci95,
        scales: &bc.scales,
        counts: &bc.counts,
        fit_range: bc.fit_range,
        details: args.details.then_some(Details {
            local_slopes: &bc.local_slopes,
            slope_spread: bc.slope_spread,
            auto_fallback: bc.auto_fallback,
            r_squared: bc.fit.r_squared,
            aggregate: bc.aggregate,
            object,
        }),
    })
}

/// Reads a PNG/PNM image or a 2-D .npy array as a bitmap (non-zero = in the set).
fn read_image(path: &Path, invert: bool) -> anyhow::Result<Bitmap> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let img = if is_npy {
        read_bitmap_npy(path)?
    } else {
        // Images decode in the CLI, not in anodiff-core, so that the statistics crate carries
        // no image codecs; core takes a `Bitmap` from any source.
        let reader = image::ImageReader::open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?
            .with_guessed_format()
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if reader.format().is_none() {
            anyhow::bail!(
                "{}: not a PNG, PGM/PBM/PPM or .npy file (unrecognised contents)",
                path.display()
            );
        }
        let gray = reader
            .decode()
            .with_context(|| format!("{}: cannot decode the image", path.display()))?
            .into_luma16();
        let (w, h) = (gray.width() as usize, gray.height() as usize);
        Bitmap::from_fn(w, h, |x, y| gray.get_pixel(x as u32, y as u32).0[0] != 0)
            .with_context(|| format!("{}: empty image", path.display()))?
    };
    if invert {
        let (w, h) = (img.width(), img.height());
        return Ok(Bitmap::from_fn(w, h, |x, y| !img.get(x, y))?);
    }
    Ok(img)
}

//! `anodiff convert`: a trajectory (store directory, `.npy` or Zarr) to a Zarr v3 group.

use anodiff_core::trajectory::store::StoreReader;
use anodiff_core::trajectory::zarr::{
    default_chunks, write_zarr, Compression, ZarrOptions, ZarrTrajectory,
};
use anodiff_core::trajectory::{self, TrajectorySource};
use anyhow::{bail, Context};
use serde_json::json;
use std::path::PathBuf;

const EXAMPLE: &str = "\
Examples:
  anodiff convert run/ --to zarr run.zarr
  anodiff convert run.npy --to zarr run.zarr --chunks 1000,16384
  anodiff convert run/ --to zarr run.zarr --compress zstd:3

Writes a Zarr v3 group: `weights` (float32, [step, param]), `losses` (float64, [step]) and
`gradients` (float32, [step, gradient_param]) when recorded, and the run's configuration and
subset seed as the group's attributes (`anodiff.config`, `anodiff.subset_seed`). Chunks default
to 1000 steps (whole windows of the MSD and exponent analyses) x 16384 coordinates (62.5 MiB),
each capped at the array's extent. Chunks are uncompressed by default, as trained float32
weights barely compress (zstd saves about 7 %, BENCHMARKS.md); --compress zstd[:LEVEL] or
gzip[:LEVEL] compresses them, and zarr-python, Dask, xarray and anodiff decode both. The group
is written into OUT.partial and renamed at the end, so an interrupted conversion leaves no OUT. zarr-python 3, dask.array.from_zarr and
xarray.open_zarr read the result; every anodiff analysis takes OUT as it takes the store.

Prints {\"out\":..,\"format\":\"zarr\",\"n_steps\":..,\"dim\":..,\"gradient_dim\":..,
\"chunks\":[steps,coords],\"compression\":..,\"bytes\":..,\"stored_bytes\":..}: bytes of
values, and bytes of the chunk files written.";

/// Arguments of `anodiff convert`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLE)]
pub struct Args {
    /// Trajectory: a store directory, a 2-D .npy (steps x d) or a Zarr v3 group.
    pub traj: PathBuf,
    /// Output format (only `zarr`).
    #[arg(long, value_parser = ["zarr"])]
    pub to: String,
    /// Output path (a directory; must not exist).
    pub out: PathBuf,
    /// Chunk shape STEPS,COORDS (default 1000,16384, capped at the array's extent).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub chunks: Option<Vec<usize>>,
    /// Chunk compression: none, zstd or zstd:LEVEL (1..=22, or negative fast levels; default
    /// 3), gzip or gzip:LEVEL (0..=9; default 6).
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    pub compress: Compression,
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
        .map_err(|e: anodiff_core::error::Error| e.to_string())
}

/// Runs `anodiff convert`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let src = trajectory::open(&args.traj)?;
    let (n, d) = (src.n_steps(), src.dim());
    let (cs, cc) = match args.chunks.as_deref() {
        None => default_chunks(n, d),
        Some(&[s, c]) if s > 0 && c > 0 => (s, c),
        Some(v) => bail!("--chunks takes two positive sizes STEPS,COORDS, got {v:?}"),
    };
    // The run's configuration and seeds travel as attributes.
    let mut options = ZarrOptions::default()
        .with_chunks(cs, cc)
        .with_compression(args.compress);
    if args.traj.is_dir() {
        if let Ok(store) = StoreReader::open(&args.traj) {
            let m = store.manifest();
            options = options
                .with_config(m.metadata.clone())
                .with_subset_seed(m.subset_seed);
        } else if let Ok(z) = ZarrTrajectory::open(&args.traj) {
            if let Some(a) = z.attributes().get("anodiff") {
                options = options
                    .with_config(a["config"].clone())
                    .with_subset_seed(a["subset_seed"].as_u64());
            }
        }
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    write_zarr(&src, &args.out, &options, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| {
        format!(
            "converting {} to {}",
            args.traj.display(),
            args.out.display()
        )
    })?;
    bar.finish_and_clear();
    let gd = src.gradient_dim();
    let bytes = 4 * n * (d + gd)
        + if src.losses(0..0)?.is_some() {
            8 * n
        } else {
            0
        };
    super::print_json(&json!({
        "out": args.out,
        "format": "zarr",
        "n_steps": n,
        "dim": d,
        "gradient_dim": gd,
        "chunks": [cs.min(n), cc.min(d)],
        "compression": args.compress.to_string(),
        "bytes": bytes,
        "stored_bytes": chunk_bytes(&args.out)?,
    }))
}

/// Total size of the chunk files under `dir` (every file but the `zarr.json` metadata).
fn chunk_bytes(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += chunk_bytes(&entry.path())?;
        } else if entry.file_name() != "zarr.json" {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

//! Filter-normalized 2-D loss surfaces (Li, Xu, Taylor, Studer & Goldstein 2018).
//!
//! Around trained weights `theta`, the loss is evaluated on the plane
//! `theta + x d1 + y d2` for two seeded Gaussian directions `d1`, `d2`, each **filter-normalized**:
//! every filter of every weight tensor of two or more dimensions (a slice along dimension 0: one
//! output channel of a convolution `(out, in, kh, kw)`, one output unit of a linear layer
//! `(out, in)`) is rescaled to the Euclidean norm of the corresponding filter of `theta`
//! ([`filter_normalize`]). This removes the scale invariance of ReLU/BN networks, so that surfaces
//! of different networks can be compared.
//!
//! **1-D parameters** (biases, batch-norm weights and biases) follow [`OneDimPolicy`]; the default
//! [`OneDimPolicy::Zero`] is Li et al.'s `--xignore biasbn` option: their direction entries are
//! zero, so biases and BN affine parameters stay at the checkpoint's values across the surface.
//! BN running statistics are not parameters and never move.
//!
//! [`filter_normalized_surface`] writes the grid as a 2-D f64 `.npy` array (rows = `y`, the second
//! direction; columns = `x`, the first), the layout `anodiff surface-dim` reads, plus a JSON file
//! with the seed, policy and coordinates. It is **resumable**: each completed row is committed to
//! `<out>.partial.npy` and `<out>.progress.json` (write to a temporary file, then rename), so a
//! killed run loses at most the row in flight and a rerun with the same settings continues.

use crate::hvp::FixedBatches;
use crate::model::{loss, LossKind, Network};
use crate::{Error, Result};
use candle_core::{DType, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the random directions do on 1-D parameters (biases, batch-norm weights and biases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OneDimPolicy {
    /// Zero direction entries: 1-D parameters stay fixed (Li et al.'s `ignore = "biasbn"`, used
    /// for their published figures).
    #[default]
    Zero,
    /// Direction entries equal to the parameters themselves (Li et al.'s default when biases are
    /// not ignored).
    Weights,
}

/// Settings of a surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceOptions {
    /// Points per axis (at least 2); the default 51 is Li et al.'s resolution.
    pub grid: usize,
    /// Range of the coordinate `x` along the first direction (default `[-1, 1]`).
    pub x_range: (f64, f64),
    /// Range of the coordinate `y` along the second direction (default `[-1, 1]`).
    pub y_range: (f64, f64),
    /// Seed of the two Gaussian directions (`ChaCha8Rng::seed_from_u64`).
    pub seed: u64,
    /// Policy for 1-D parameters.
    pub one_dim: OneDimPolicy,
}

impl Default for SurfaceOptions {
    fn default() -> Self {
        SurfaceOptions {
            grid: 51,
            x_range: (-1.0, 1.0),
            y_range: (-1.0, 1.0),
            seed: 0,
            one_dim: OneDimPolicy::Zero,
        }
    }
}

impl SurfaceOptions {
    /// Checks the grid size and ranges.
    ///
    /// # Errors
    ///
    /// `grid < 2`, or a range with a non-finite end or `lo >= hi`.
    pub fn validate(&self) -> Result<()> {
        if self.grid < 2 {
            return Err(Error::param(
                "grid",
                format!("need at least 2 points per axis, got {}", self.grid),
            ));
        }
        for (name, (lo, hi)) in [("x_range", self.x_range), ("y_range", self.y_range)] {
            if !lo.is_finite() || !hi.is_finite() || lo >= hi {
                return Err(Error::param(
                    name,
                    format!("need finite lo < hi, got [{lo}, {hi}]"),
                ));
            }
        }
        Ok(())
    }

    /// The `grid` equally spaced coordinates from `lo` to `hi` (both included).
    pub fn coordinates(&self, (lo, hi): (f64, f64)) -> Vec<f64> {
        let n = self.grid.max(2);
        (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect()
    }
}

/// Rescales `direction` filter by filter to the norms of `weights`, both flat vectors laid out as
/// the tensors of `shapes` in order.
///
/// For a tensor of rank >= 2 each slice along dimension 0 `d_f` becomes
/// `d_f * |w_f| / (|d_f| + 1e-10)` (the `1e-10` is Li et al.'s guard against a zero direction
/// filter); a rank-0/1 tensor follows `policy`.
///
/// # Errors
///
/// Lengths that do not match the shapes.
///
/// # Examples
///
/// ```
/// use anodiff_trainers::surface::{filter_normalize, OneDimPolicy};
///
/// // A 2 x 2 weight (two filters) and a bias of length 2.
/// let w = [3.0, 4.0, 0.0, 1.0, 7.0, 7.0];
/// let mut d = [1.0, 0.0, 2.0, 2.0, 5.0, 5.0];
/// filter_normalize(&mut d, &w, &[vec![2, 2], vec![2]], OneDimPolicy::Zero).unwrap();
/// assert!((d[0] - 5.0).abs() < 1e-9 && d[1] == 0.0); // |(3, 4)| = 5
/// assert!((d[2] * d[2] + d[3] * d[3] - 1.0).abs() < 1e-9); // |(0, 1)| = 1
/// assert_eq!(&d[4..], &[0.0, 0.0]); // bias ignored
/// ```
pub fn filter_normalize(
    direction: &mut [f64],
    weights: &[f64],
    shapes: &[Vec<usize>],
    policy: OneDimPolicy,
) -> Result<()> {
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    if direction.len() != total || weights.len() != total {
        return Err(Error::param(
            "direction",
            format!(
                "the shapes hold {total} values, got a direction of {} and weights of {}",
                direction.len(),
                weights.len()
            ),
        ));
    }
    let mut off = 0;
    for shape in shapes {
        let n: usize = shape.iter().product();
        let d = &mut direction[off..off + n];
        let w = &weights[off..off + n];
        if shape.len() <= 1 {
            match policy {
                OneDimPolicy::Zero => d.fill(0.0),
                OneDimPolicy::Weights => d.copy_from_slice(w),
            }
        } else if n > 0 {
            let per_filter = n / shape[0];
            for (df, wf) in d
                .chunks_exact_mut(per_filter)
                .zip(w.chunks_exact(per_filter))
            {
                let wn = norm(wf);
                let dn = norm(df);
                let scale = wn / (dn + 1e-10);
                df.iter_mut().for_each(|x| *x *= scale);
            }
        }
        off += n;
    }
    Ok(())
}

/// Two filter-normalized Gaussian directions for `weights` (flat, laid out as `shapes`): all of
/// `d1` is drawn first, then `d2`, from one `ChaCha8Rng::seed_from_u64(seed)` stream.
///
/// # Errors
///
/// Lengths that do not match the shapes.
pub fn random_directions(
    weights: &[f64],
    shapes: &[Vec<usize>],
    seed: u64,
    policy: OneDimPolicy,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = || -> Vec<f64> {
        (0..weights.len())
            .map(|_| StandardNormal.sample(&mut rng))
            .collect()
    };
    let mut d1 = draw();
    let mut d2 = draw();
    filter_normalize(&mut d1, weights, shapes, policy)?;
    filter_normalize(&mut d2, weights, shapes, policy)?;
    Ok((d1, d2))
}

/// The flat f64 values of `params`, in order.
///
/// # Errors
///
/// A candle error reading a tensor.
pub fn flat_values(params: &[Var]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for p in params {
        out.extend(p.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?);
    }
    Ok(out)
}

/// Writes the flat f64 vector `w` into `params` (each converted to its own dtype).
///
/// # Errors
///
/// A length other than the parameters' total, or a candle error.
pub fn set_flat_values(params: &[Var], w: &[f64]) -> Result<()> {
    let total: usize = params.iter().map(|p| p.elem_count()).sum();
    if w.len() != total {
        return Err(Error::param(
            "weights",
            format!("the parameters hold {total} values, got {}", w.len()),
        ));
    }
    let mut off = 0;
    for p in params {
        let n = p.elem_count();
        let t = Tensor::from_slice(&w[off..off + n], p.shape(), p.device())?.to_dtype(p.dtype())?;
        p.set(&t)?;
        off += n;
    }
    Ok(())
}

/// The mean loss of `net` over every example of `data` in **eval mode** (batch norm with its
/// running statistics), accumulated in f64 with batch weights `n_b / N`.
///
/// # Errors
///
/// A candle error.
pub fn eval_loss(net: &Network, data: &FixedBatches, kind: LossKind) -> Result<f64> {
    let mut total = 0.0;
    for (b, w) in data.weights().iter().enumerate() {
        let (x, y) = data.get(b);
        let l = loss(&net.forward(x, false)?, y, kind, net.num_classes())?;
        total += w * l.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    }
    Ok(total)
}

/// A completed surface.
#[derive(Debug, Clone, Serialize)]
pub struct Surface {
    /// The loss grid, row-major: `losses[j * grid + i]` is the loss at `(x[i], y[j])`.
    pub losses: Vec<f64>,
    /// Points per axis.
    pub grid: usize,
    /// Coordinates along the first direction (columns).
    pub x: Vec<f64>,
    /// Coordinates along the second direction (rows).
    pub y: Vec<f64>,
    /// The `.npy` file.
    pub path: PathBuf,
    /// The JSON file describing it.
    pub meta_path: PathBuf,
    /// Rows found complete from an earlier, interrupted run (0 for a fresh run; `grid` when the
    /// finished surface already existed).
    pub resumed_rows: usize,
}

/// What must match for a partial or finished surface to be reused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fingerprint {
    options: SurfaceOptions,
    dim: usize,
    /// FNV-1a of the checkpoint weights' f64 bits: a different checkpoint is a different surface.
    weights_hash: String,
    /// Whatever the caller adds (checkpoint path, data subset, loss).
    context: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct Progress {
    fingerprint: Fingerprint,
    rows_done: usize,
}

/// The paths a surface at `out` uses: `(out, metadata JSON, partial .npy, progress JSON)`.
pub fn surface_paths(out: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let with_suffix = |suffix: &str| {
        let mut s = out.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    (
        out.to_path_buf(),
        out.with_extension("json"),
        with_suffix(".partial.npy"),
        with_suffix(".progress.json"),
    )
}

/// Evaluates the filter-normalized surface of `loss` around the current values of `params` and
/// writes it to `out` (a 2-D f64 `.npy`, rows = y) and `out` with extension `.json`.
///
/// `loss` is called with `params` set to each grid point `theta + x d1 + y d2` (computed in f64,
/// then converted to the parameters' dtype); it must be deterministic (eval mode, a fixed data
/// subset). `on_row(rows_done, grid)` is called after each committed row (for a progress bar).
/// `context` is stored in the JSON and must match for a partial run to be resumed (put the
/// checkpoint, data subset and loss there). The parameters are restored to `theta` before
/// returning, also on error.
///
/// Resuming: when `<out>.progress.json` exists with the same options, weights and context, the
/// rows it lists are kept and the rest computed; when the finished `out` and its JSON exist with
/// the same fingerprint, they are read back without any evaluation. A different fingerprint is an
/// error (delete the files or choose another `out`), so nothing is silently mixed.
///
/// Non-finite losses are stored as they are (a diverging corner of a large grid is information).
///
/// # Errors
///
/// Invalid options, an empty parameter list, an I/O error, a mismatching earlier run, or an error
/// from `loss`.
pub fn filter_normalized_surface<L, P>(
    params: &[Var],
    mut loss: L,
    options: &SurfaceOptions,
    context: serde_json::Value,
    out: &Path,
    mut on_row: P,
) -> Result<Surface>
where
    L: FnMut() -> Result<f64>,
    P: FnMut(usize, usize),
{
    options.validate()?;
    if params.is_empty() {
        return Err(Error::param("params", "need at least one parameter tensor"));
    }
    let theta = flat_values(params)?;
    let shapes: Vec<Vec<usize>> = params.iter().map(|p| p.dims().to_vec()).collect();
    let fingerprint = Fingerprint {
        options: options.clone(),
        dim: theta.len(),
        weights_hash: fnv_hash(&theta),
        context,
    };
    let (npy_path, meta_path, partial_path, progress_path) = surface_paths(out);
    let n = options.grid;
    let x = options.coordinates(options.x_range);
    let y = options.coordinates(options.y_range);

    if let Some(done) = read_finished(&npy_path, &meta_path, &fingerprint, n)? {
        on_row(n, n);
        return Ok(Surface {
            losses: done,
            grid: n,
            x,
            y,
            path: npy_path,
            meta_path,
            resumed_rows: n,
        });
    }

    let (mut losses, start) = read_progress(&partial_path, &progress_path, &fingerprint, n)?;
    let (d1, d2) = random_directions(&theta, &shapes, options.seed, options.one_dim)?;

    let mut point = vec![0.0; theta.len()];
    let result = (|| -> Result<()> {
        for j in start..n {
            for i in 0..n {
                for (((p, t), a), b) in point.iter_mut().zip(&theta).zip(&d1).zip(&d2) {
                    *p = t + x[i] * a + y[j] * b;
                }
                set_flat_values(params, &point)?;
                losses[j * n + i] = loss()?;
            }
            write_npy_atomic(&partial_path, n, &losses)?;
            write_json_atomic(
                &progress_path,
                &Progress {
                    fingerprint: fingerprint.clone(),
                    rows_done: j + 1,
                },
            )?;
            on_row(j + 1, n);
        }
        Ok(())
    })();
    set_flat_values(params, &theta)?;
    result?;

    write_npy_atomic(&npy_path, n, &losses)?;
    let finite: Vec<f64> = losses.iter().copied().filter(|v| v.is_finite()).collect();
    let centre = (n % 2 == 1).then(|| losses[(n / 2) * n + n / 2]);
    let meta = serde_json::json!({
        "file": npy_path.file_name().map(|s| s.to_string_lossy().into_owned()),
        "layout": "2-D f64 array, rows = y (second direction), columns = x (first direction)",
        "method": "filter-normalized random directions (Li et al. 2018)",
        "grid": n,
        "seed": options.seed,
        "one_dim_policy": options.one_dim,
        "x": x,
        "y": y,
        "dim": theta.len(),
        "centre_loss": centre,
        "loss_min": finite.iter().copied().reduce(f64::min),
        "loss_max": finite.iter().copied().reduce(f64::max),
        "non_finite": losses.len() - finite.len(),
        "fingerprint": fingerprint,
    });
    write_json_atomic(&meta_path, &meta)?;
    remove_if_exists(&partial_path)?;
    remove_if_exists(&progress_path)?;
    Ok(Surface {
        losses,
        grid: n,
        x,
        y,
        path: npy_path,
        meta_path,
        resumed_rows: start,
    })
}

fn read_finished(
    npy: &Path,
    meta: &Path,
    fingerprint: &Fingerprint,
    n: usize,
) -> Result<Option<Vec<f64>>> {
    if !npy.exists() || !meta.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(meta).map_err(|e| Error::io(meta, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::format(meta, e.to_string()))?;
    let stored: Option<Fingerprint> = value
        .get("fingerprint")
        .and_then(|f| serde_json::from_value(f.clone()).ok());
    if stored.as_ref() != Some(fingerprint) {
        return Err(Error::format(
            npy,
            "a finished surface with different settings (options, checkpoint or data) is \
             already there; delete it or choose another output path",
        ));
    }
    Ok(Some(read_grid(npy, n)?))
}

fn read_progress(
    partial: &Path,
    progress: &Path,
    fingerprint: &Fingerprint,
    n: usize,
) -> Result<(Vec<f64>, usize)> {
    let fresh = (vec![f64::NAN; n * n], 0);
    if !progress.exists() {
        return Ok(fresh);
    }
    let text = std::fs::read_to_string(progress).map_err(|e| Error::io(progress, e))?;
    let stored: Progress =
        serde_json::from_str(&text).map_err(|e| Error::format(progress, e.to_string()))?;
    if stored.fingerprint != *fingerprint {
        return Err(Error::format(
            progress,
            "an interrupted surface with different settings (options, checkpoint or data) is \
             there; rerun with the same settings to resume, or delete it",
        ));
    }
    if stored.rows_done > n {
        return Err(Error::format(
            progress,
            format!("claims {} rows of a {n}-row grid", stored.rows_done),
        ));
    }
    let losses = read_grid(partial, n)?;
    Ok((losses, stored.rows_done))
}

fn read_grid(path: &Path, n: usize) -> Result<Vec<f64>> {
    let values = anodiff_core::io::NpyValues::open(path)?;
    if values.shape() != [n, n] {
        return Err(Error::format(
            path,
            format!(
                "expected a {n} x {n} grid, found shape {:?}",
                values.shape()
            ),
        ));
    }
    // Not `to_vec`, which rejects NaN: unfinished rows and diverged points are NaN/inf here.
    let mut out = vec![0.0; n * n];
    values.read_range(0, &mut out)?;
    Ok(out)
}

fn write_npy_atomic(path: &Path, n: usize, losses: &[f64]) -> Result<()> {
    let tmp = tmp_path(path);
    anodiff_core::trajectory::npy::write_npy_f64(&tmp, n, n, losses)?;
    sync_and_rename(&tmp, path)
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = tmp_path(path);
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::format(path, e.to_string()))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    sync_and_rename(&tmp, path)
}

fn sync_and_rename(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(tmp, e))?;
    std::fs::rename(tmp, path).map_err(|e| Error::io(path, e))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn fnv_hash(values: &[f64]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A linear model `t_hat = W x + b` with MSE on a fixed batch: the loss on the plane is
    /// computed here by hand, independently of candle.
    struct Linear {
        w: Var,
        b: Var,
        xs: Vec<[f64; 3]>,
        ts: Vec<[f64; 2]>,
    }

    impl Linear {
        fn new() -> Self {
            let dev = Device::Cpu;
            Linear {
                w: Var::new(&[[0.5f64, -1.0, 2.0], [1.5, 0.25, -0.5]], &dev).unwrap(),
                b: Var::new(&[0.1f64, -0.2], &dev).unwrap(),
                xs: vec![
                    [1.0, 2.0, -1.0],
                    [0.5, -0.5, 3.0],
                    [-2.0, 1.0, 0.0],
                    [0.0, 1.0, 1.0],
                ],
                ts: vec![[1.0, 0.0], [0.0, 1.0], [2.0, -1.0], [0.5, 0.5]],
            }
        }

        fn params(&self) -> Vec<Var> {
            vec![self.w.clone(), self.b.clone()]
        }

        fn candle_loss(&self) -> Result<f64> {
            let dev = Device::Cpu;
            let x = Tensor::from_vec(self.xs.concat(), (4, 3), &dev)?;
            let t = Tensor::from_vec(self.ts.concat(), (4, 2), &dev)?;
            let pred = x.matmul(&self.w.t()?)?.broadcast_add(&self.b)?;
            Ok((pred - t)?.sqr()?.mean_all()?.to_scalar::<f64>()?)
        }

        /// The loss at flat weights `p` (W row-major, then b), by hand.
        fn hand_loss(&self, p: &[f64]) -> f64 {
            let mut total = 0.0;
            for (x, t) in self.xs.iter().zip(&self.ts) {
                for o in 0..2 {
                    let pred: f64 = (0..3).map(|k| p[o * 3 + k] * x[k]).sum::<f64>() + p[6 + o];
                    total += (pred - t[o]).powi(2);
                }
            }
            total / 8.0
        }
    }

    #[test]
    fn filter_norms_match_the_weights_and_biases_are_zero() {
        let m = Linear::new();
        let theta = flat_values(&m.params()).unwrap();
        let shapes = vec![vec![2, 3], vec![2]];
        for policy in [OneDimPolicy::Zero, OneDimPolicy::Weights] {
            let (d1, d2) = random_directions(&theta, &shapes, 7, policy).unwrap();
            for d in [&d1, &d2] {
                for f in 0..2 {
                    let dn = norm(&d[f * 3..f * 3 + 3]);
                    let wn = norm(&theta[f * 3..f * 3 + 3]);
                    // The 1e-10 guard perturbs the scale by ~1e-10 / |d_f| relatively.
                    assert!((dn - wn).abs() < 1e-9 * wn, "filter {f}: {dn} vs {wn}");
                }
                match policy {
                    OneDimPolicy::Zero => assert_eq!(&d[6..], &[0.0, 0.0]),
                    OneDimPolicy::Weights => assert_eq!(&d[6..], &theta[6..]),
                }
            }
            assert_ne!(d1, d2);
        }
        // Seeded: same seed, same directions; another seed, others.
        let a = random_directions(&theta, &shapes, 7, OneDimPolicy::Zero).unwrap();
        let b = random_directions(&theta, &shapes, 7, OneDimPolicy::Zero).unwrap();
        let c = random_directions(&theta, &shapes, 8, OneDimPolicy::Zero).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        // A 4-D convolution weight: filters are slices along dim 0 of (out, in, kh, kw).
        let w: Vec<f64> = (0..2 * 3 * 2 * 2)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let (d, _) = random_directions(&w, &[vec![2, 3, 2, 2]], 1, OneDimPolicy::Zero).unwrap();
        for f in 0..2 {
            let (dn, wn) = (norm(&d[f * 12..f * 12 + 12]), norm(&w[f * 12..f * 12 + 12]));
            assert!((dn - wn).abs() < 1e-9 * wn);
        }
        assert!(filter_normalize(&mut [0.0; 3], &[0.0; 3], &shapes, OneDimPolicy::Zero).is_err());
    }

    /// The grid equals the hand-computed loss at theta + x d1 + y d2, with rows = y.
    /// Tolerance 1e-12 relative: both sides are the same f64 sums in different orders.
    #[test]
    fn grid_matches_the_analytic_loss_of_a_linear_model() {
        let m = Linear::new();
        let params = m.params();
        let theta = flat_values(&params).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.npy");
        let opts = SurfaceOptions {
            grid: 5,
            x_range: (-1.0, 1.0),
            y_range: (-0.5, 1.5),
            seed: 3,
            ..SurfaceOptions::default()
        };
        let mut rows = Vec::new();
        let s = filter_normalized_surface(
            &params,
            || m.candle_loss(),
            &opts,
            serde_json::json!({"test": 1}),
            &out,
            |done, _| rows.push(done),
        )
        .unwrap();
        assert_eq!(rows, vec![1, 2, 3, 4, 5]);
        let (d1, d2) =
            random_directions(&theta, &[vec![2, 3], vec![2]], 3, OneDimPolicy::Zero).unwrap();
        let file = anodiff_core::io::NpyValues::open(&out).unwrap();
        assert_eq!(file.shape(), [5, 5]);
        let grid = file.to_vec().unwrap();
        assert_eq!(grid, s.losses);
        for (j, y) in s.y.iter().enumerate() {
            for (i, x) in s.x.iter().enumerate() {
                let p: Vec<f64> = (0..8).map(|k| theta[k] + x * d1[k] + y * d2[k]).collect();
                let want = m.hand_loss(&p);
                let got = grid[j * 5 + i];
                assert!(
                    (got - want).abs() < 1e-12 * want,
                    "({i}, {j}): {got} vs {want}"
                );
            }
        }
        assert_eq!(s.y, vec![-0.5, 0.0, 0.5, 1.0, 1.5]);
        // The parameters are back at theta.
        assert_eq!(flat_values(&params).unwrap(), theta);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&s.meta_path).unwrap()).unwrap();
        assert_eq!(meta["seed"], 3);
        assert_eq!(meta["grid"], 5);
        assert_eq!(meta["one_dim_policy"], "zero");
        // A rerun finds the finished file and evaluates nothing.
        let again = filter_normalized_surface(
            &params,
            || -> Result<f64> { panic!("no evaluation expected") },
            &opts,
            serde_json::json!({"test": 1}),
            &out,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(again.resumed_rows, 5);
        assert_eq!(again.losses, s.losses);
        // Other settings on the same path are refused rather than mixed.
        let other = SurfaceOptions { seed: 4, ..opts };
        let err = filter_normalized_surface(
            &params,
            || m.candle_loss(),
            &other,
            serde_json::json!({"test": 1}),
            &out,
            |_, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("different settings"), "{err}");
    }

    #[test]
    fn an_interrupted_run_resumes_to_the_same_file() {
        let m = Linear::new();
        let params = m.params();
        let theta = flat_values(&params).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let opts = SurfaceOptions {
            grid: 6,
            seed: 11,
            ..SurfaceOptions::default()
        };
        let ctx = serde_json::json!({"checkpoint": 1});
        let whole = dir.path().join("whole.npy");
        filter_normalized_surface(
            &params,
            || m.candle_loss(),
            &opts,
            ctx.clone(),
            &whole,
            |_, _| {},
        )
        .unwrap();

        // Fail at the 16th evaluation: rows 0 and 1 (12 points) are committed, row 2 is lost.
        let cut = dir.path().join("cut.npy");
        let mut calls = 0;
        let err = filter_normalized_surface(
            &params,
            || {
                calls += 1;
                if calls == 16 {
                    Err(Error::param("test", "killed"))
                } else {
                    m.candle_loss()
                }
            },
            &opts,
            ctx.clone(),
            &cut,
            |_, _| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("killed"));
        assert_eq!(
            flat_values(&params).unwrap(),
            theta,
            "weights restored on error"
        );
        assert!(!cut.exists());
        let (_, _, partial, progress) = surface_paths(&cut);
        assert!(partial.exists() && progress.exists());

        let mut evaluations = 0;
        let resumed = filter_normalized_surface(
            &params,
            || {
                evaluations += 1;
                m.candle_loss()
            },
            &opts,
            ctx,
            &cut,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(resumed.resumed_rows, 2);
        assert_eq!(evaluations, 4 * 6);
        assert_eq!(std::fs::read(&whole).unwrap(), std::fs::read(&cut).unwrap());
        assert!(!partial.exists() && !progress.exists());
    }

    #[test]
    fn bad_options_are_refused() {
        let m = Linear::new();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.npy");
        for opts in [
            SurfaceOptions {
                grid: 1,
                ..SurfaceOptions::default()
            },
            SurfaceOptions {
                x_range: (1.0, -1.0),
                ..SurfaceOptions::default()
            },
            SurfaceOptions {
                y_range: (0.0, f64::NAN),
                ..SurfaceOptions::default()
            },
        ] {
            let err = filter_normalized_surface(
                &m.params(),
                || m.candle_loss(),
                &opts,
                serde_json::Value::Null,
                &out,
                |_, _| {},
            )
            .unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
        }
        assert!(!out.exists());
    }
}

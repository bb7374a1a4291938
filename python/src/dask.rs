//! Kernels of `anodiff.dask`: the map step (per-block partial sums of the MSD and of the Gram
//! matrix, computed with the GIL released) and the reduce step's finishing fits (the core's
//! exponent fit, regime-change test and pair statistics on reduced sums), so that a Dask graph
//! over coordinate blocks gives the single-process results.

use crate::diffusion::{check_range, parse_lags, resolve_windows};
use crate::errors::core;
use crate::to_json;
use anodiff_core::exponent::{fit_msd, MsdFitOptions};
use anodiff_core::msd::partial::{msd_partial, MsdLayout, MsdPartial};
use anodiff_core::msd::Window;
use anodiff_core::pathstats::{contour_with, msl_with, Binning, PairDistances, PathBootstrap};
use anodiff_core::regime::{
    exponent_options, regime_change, RegimeOptions, WindowExponent, WINDOW_BLOCKS,
};
use ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::{json, Value};

/// The windows and lags `anodiff msd` would use: a list of `(t_w, T, lags)`.
#[pyfunction]
#[pyo3(signature = (n_steps, window, stride, starts, lags, max_lag))]
fn msd_plan(
    n_steps: usize,
    window: Option<usize>,
    stride: Option<usize>,
    starts: Option<Vec<usize>>,
    lags: &str,
    max_lag: Option<usize>,
) -> PyResult<Vec<(usize, usize, Vec<usize>)>> {
    let lags = parse_lags(lags)?;
    if max_lag == Some(0) {
        return Err(PyValueError::new_err("max_lag must be at least 1"));
    }
    resolve_windows(n_steps, window, stride, starts)?
        .into_iter()
        .map(|w| Ok((w.start, w.len, core(lags.resolve(w.len, max_lag))?)))
        .collect()
}

/// Windows `(t_w, T)` and the lags they share.
type RegimePlan = (Vec<(usize, usize)>, Vec<usize>);

/// The windows and lags of `anodiff regime`: `(list of (t_w, T), lags)`.
#[pyfunction]
#[pyo3(signature = (n_steps, window, stride, max_lag, level))]
fn regime_plan(
    n_steps: usize,
    window: usize,
    stride: Option<usize>,
    max_lag: Option<usize>,
    level: f64,
) -> PyResult<RegimePlan> {
    let opts = RegimeOptions {
        level,
        ..RegimeOptions::default()
    };
    let plan = core(anodiff_core::regime::RegimePlan::new(
        n_steps, window, stride, max_lag, opts,
    ))?;
    Ok((
        plan.windows().iter().map(|w| (w.start, w.len)).collect(),
        plan.lags().to_vec(),
    ))
}

/// The layout `(n_groups, n_blocks, keep_blocks)` of an analysis (`"msd"`: `anodiff msd`'s
/// bootstrap pieces; `"exponent"`: a regime window's exponent) on `dim` coordinates.
#[pyfunction]
fn msd_layout(
    kind: &str,
    dim: usize,
    window: usize,
    blocks: usize,
) -> PyResult<(usize, usize, bool)> {
    let l = match kind {
        "msd" => MsdLayout::for_bootstrap(dim, blocks.clamp(1, window.max(1))),
        "exponent" => MsdLayout::with_blocks(dim, WINDOW_BLOCKS.clamp(1, window.max(1))),
        _ => {
            return Err(PyValueError::new_err(format!(
                "kind must be \"msd\" or \"exponent\", got {kind:?}"
            )))
        }
    };
    Ok((l.n_groups, l.n_blocks, l.keep_blocks))
}

fn layout((n_groups, n_blocks, keep_blocks): (usize, usize, bool)) -> MsdLayout {
    MsdLayout {
        n_groups,
        n_blocks,
        keep_blocks,
    }
}

/// Per-lag partial sums of squared displacements of one block of coordinates (`block`: the
/// window's steps x the block's coordinates, float32), f64 accumulation, GIL released. Returns
/// `(sums, s2, s4, n_coords)`, `sums` flat in the layout's (group, origin block, lag) order.
#[pyfunction]
#[pyo3(signature = (block, t_w, coord_start, dim, lags, layout_))]
#[allow(clippy::type_complexity)]
fn msd_block_sums<'py>(
    py: Python<'py>,
    block: PyReadonlyArray2<'py, f32>,
    t_w: usize,
    coord_start: usize,
    dim: usize,
    lags: Vec<usize>,
    layout_: (usize, usize, bool),
) -> PyResult<(Bound<'py, PyArray1<f64>>, f64, f64, usize)> {
    let a = block.as_array();
    let (n, nc) = a.dim();
    let owned;
    let values: &[f32] = match a.as_slice() {
        Some(s) => s,
        None => {
            owned = a.iter().copied().collect::<Vec<f32>>();
            &owned
        }
    };
    let win = Window { start: t_w, len: n };
    let p = core(py.detach(|| {
        msd_partial(
            values,
            win,
            coord_start..coord_start.saturating_add(nc),
            dim,
            &lags,
            layout(layout_),
        )
    }))?;
    Ok((p.sums.into_pyarray(py), p.s2, p.s4, p.coords_seen))
}

/// The fit options of `anodiff msd`.
fn msd_options(fit_range: Option<(f64, f64)>, boot: usize, seed: u64) -> PyResult<MsdFitOptions> {
    Ok(MsdFitOptions {
        fit_range: check_range(fit_range, "fit_range")?,
        n_boot: boot,
        seed,
        ..MsdFitOptions::default()
    })
}

/// The MSD of a window from the summed pieces of all its coordinate blocks, and its fit:
/// `kind = "msd"` gives the window's JSON object of `anodiff msd`, `"exponent"` the
/// `{t_w, alpha, alpha_se}` of a regime window.
#[pyfunction]
#[pyo3(signature = (kind, t_w, window, dim, lags, layout_, sums, s2, s4, n_coords, fit_range=None, boot=200, seed=0))]
#[allow(clippy::too_many_arguments)]
fn msd_reduced(
    py: Python<'_>,
    kind: &str,
    t_w: usize,
    window: usize,
    dim: usize,
    lags: Vec<usize>,
    layout_: (usize, usize, bool),
    sums: PyReadonlyArray1<'_, f64>,
    s2: f64,
    s4: f64,
    n_coords: usize,
    fit_range: Option<(f64, f64)>,
    boot: usize,
    seed: u64,
) -> PyResult<String> {
    let win = Window {
        start: t_w,
        len: window,
    };
    let l = layout(layout_);
    let want = l.n_groups * l.n_blocks * lags.len();
    let sums = sums.as_array().to_vec();
    if sums.len() != want {
        return Err(PyValueError::new_err(format!(
            "{} sums, the layout needs {want}",
            sums.len()
        )));
    }
    let p = MsdPartial {
        window: win,
        lags,
        dim,
        layout: l,
        sums,
        s2,
        s4,
        coords_seen: n_coords,
    };
    let ctx = |e: anodiff_core::Error| {
        PyValueError::new_err(format!("window t_w = {t_w}, T = {window}: {e}"))
    };
    let opts = match kind {
        "msd" => msd_options(fit_range, boot, seed)?,
        "exponent" => exponent_options(),
        _ => {
            return Err(PyValueError::new_err(format!(
                "kind must be \"msd\" or \"exponent\", got {kind:?}"
            )))
        }
    };
    let (m, fit) = py
        .detach(|| -> anodiff_core::Result<_> {
            let m = p.into_msd()?;
            let fit = fit_msd(&m, &opts)?;
            Ok((m, fit))
        })
        .map_err(ctx)?;
    let v = if kind == "msd" {
        json!({ "t_w": t_w, "T": window, "lags": m.lags, "msd": m.msd, "fit": fit.report() })
    } else {
        serde_json::to_value(WindowExponent {
            t_w,
            alpha: fit.power_law.alpha,
            alpha_se: fit.power_law.alpha_se,
        })
        .unwrap_or(Value::Null)
    };
    to_json(&v)
}

/// `anodiff regime`'s change test on window exponents (JSON list of `{t_w, alpha, alpha_se}`).
#[pyfunction]
#[pyo3(signature = (exponents_json, window, lags, level, seed))]
fn regime_reduced(
    py: Python<'_>,
    exponents_json: &str,
    window: usize,
    lags: Vec<usize>,
    level: f64,
    seed: u64,
) -> PyResult<String> {
    let ex: Vec<WindowExponent> = serde_json::from_str(exponents_json)
        .map_err(|e| PyValueError::new_err(format!("window exponents: {e}")))?;
    let opts = RegimeOptions {
        level,
        seed,
        ..RegimeOptions::default()
    };
    let r = core(py.detach(|| regime_change(&ex, window, &lags, &exponent_options(), &opts)))?;
    to_json(&r)
}

/// The Gram matrix of one block of coordinates after centring each coordinate over the window
/// (`block`: steps x coordinates, float32): the additive piece of the window's pair distances,
/// f64, GIL released.
#[pyfunction]
fn gram_block<'py>(
    py: Python<'py>,
    block: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = block.as_array();
    let (n, nc) = a.dim();
    if let Some(((t, c), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "weight at row {t}, column {c} of the block is {v} (weights must be finite)"
        )));
    }
    let g = py.detach(|| {
        let mut x = Array2::<f64>::zeros((n, nc));
        for c in 0..nc {
            // Centred as the core does: distances are shift invariant and the Gram form's
            // rounding is relative to |x|^2.
            let mean = (0..n).map(|t| f64::from(a[(t, c)])).sum::<f64>() / n.max(1) as f64;
            for t in 0..n {
                x[(t, c)] = f64::from(a[(t, c)]) - mean;
            }
        }
        let mut g = Array2::<f64>::zeros((n, n));
        ndarray::linalg::general_mat_mul(1.0, &x.view(), &x.t(), 0.0, &mut g);
        g
    });
    Ok(g.into_pyarray(py))
}

/// Contour length and MSL of a window from its summed Gram matrix (as `anodiff analyze`'s
/// `contour` and `msl` keys): JSON `{"contour": .., "msl": ..}`.
#[pyfunction]
#[pyo3(signature = (gram, t_w, losses=None, bins=30, msl_range=None, seed=0))]
fn pair_stats(
    py: Python<'_>,
    gram: PyReadonlyArray2<'_, f64>,
    t_w: usize,
    losses: Option<Vec<f64>>,
    bins: usize,
    msl_range: Option<(f64, f64)>,
    seed: u64,
) -> PyResult<String> {
    let g = gram.as_array();
    let (n, n2) = g.dim();
    if n != n2 || n < 2 {
        return Err(PyValueError::new_err(format!(
            "gram must be a square matrix of at least 2 x 2, got {n} x {n2}"
        )));
    }
    let msl_range = check_range(msl_range, "msl_range")?;
    let mut d2 = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                d2[i * n + j] = (g[(i, i)] + g[(j, j)] - 2.0 * g[(i, j)]).max(0.0);
            }
        }
    }
    let pd = PairDistances {
        window: Window { start: t_w, len: n },
        d2,
    };
    let boot = PathBootstrap {
        seed: seed ^ t_w as u64,
        ..PathBootstrap::default()
    };
    let v = py.detach(|| -> anodiff_core::Result<Value> {
        let contour_json = match contour_with(&pd, bins, None, &boot) {
            Ok(r) => json!({
                "lambda": r.lambda.exponent,
                "lambda_se": r.lambda.se,
                "lambda_ci95": r.lambda.ci95,
                "se_method": r.lambda.se_method,
                "fractal_dim": r.fractal_dim,
                "fractal_dim_ci95": r.fractal_dim_ci95,
                "crossover": r.crossover,
                "p_one_vs_two": r.p_one_vs_two,
            }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        let msl_json = match &losses {
            Some(l) => {
                let mut res = serde_json::Map::new();
                for (name, b) in [
                    ("log", Binning::Log(bins)),
                    ("linear", Binning::Linear(bins)),
                ] {
                    let r = msl_with(&pd, l, b, msl_range, &boot)?;
                    res.insert(
                        name.into(),
                        json!({
                            "exponent_2h": r.fit.as_ref().map(|f| f.exponent),
                            "exponent_se": r.fit.as_ref().map(|f| f.se),
                            "exponent_ci95": r.fit.as_ref().map(|f| f.ci95),
                            "se_method": r.fit.as_ref().map(|f| f.se_method.clone()),
                            "hurst": r.hurst,
                        }),
                    );
                }
                Value::Object(res)
            }
            None => Value::Null,
        };
        Ok(json!({ "contour": contour_json, "msl": msl_json }))
    });
    to_json(&core(v)?)
}

/// Registers the functions of this module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(msd_plan, m)?)?;
    m.add_function(wrap_pyfunction!(regime_plan, m)?)?;
    m.add_function(wrap_pyfunction!(msd_layout, m)?)?;
    m.add_function(wrap_pyfunction!(msd_block_sums, m)?)?;
    m.add_function(wrap_pyfunction!(msd_reduced, m)?)?;
    m.add_function(wrap_pyfunction!(regime_reduced, m)?)?;
    m.add_function(wrap_pyfunction!(gram_block, m)?)?;
    m.add_function(wrap_pyfunction!(pair_stats, m)?)?;
    Ok(())
}

//! Trajectories (numpy arrays, `.npy` files, stores), the MSD, and `anodiff_core::analysis` for
//! Python.

use crate::errors::core;
use crate::to_json;
use anodiff_core::analysis::{
    analyse_window, msd_window, Analysis, AnalyzeOptions, MsdSettings, TrajectoryInfo,
};
use anodiff_core::exponent::MsdFitOptions;
use anodiff_core::msd::{msd, Lags, Window, Windows};
use anodiff_core::regime::{RegimeOptions, RegimePlan};
use anodiff_core::trajectory::{
    check_block, InMemoryTrajectory, NpyTrajectory, Step, StoreOptions, StoreReader, StoreWriter,
    TrajectorySink, TrajectorySource,
};
use ndarray::{ArrayView1, ArrayView2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use serde_json::{json, Value};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Element types a weight array may have; the MSD kernel reads f32 (the trajectory format) and
/// accumulates in f64.
trait Weight: Copy + Sync {
    fn to_f32(self) -> f32;
}
impl Weight for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}
impl Weight for f64 {
    fn to_f32(self) -> f32 {
        self as f32
    }
}

/// A borrowed numpy array (steps x coordinates, any strides) as a trajectory, without a copy.
struct ArraySource<'a, T> {
    w: ArrayView2<'a, T>,
}

impl<T: Weight> TrajectorySource for ArraySource<'_, T> {
    fn n_steps(&self) -> usize {
        self.w.nrows()
    }
    fn dim(&self) -> usize {
        self.w.ncols()
    }
    fn read_weights(
        &self,
        steps: Range<usize>,
        coords: Range<usize>,
        out: &mut [f32],
    ) -> anodiff_core::Result<()> {
        check_block(&steps, &coords, self.n_steps(), self.dim(), out.len())?;
        let nc = coords.len();
        if nc == 0 {
            return Ok(());
        }
        let block = self.w.slice(ndarray::s![steps, coords]);
        for (row, dst) in block.rows().into_iter().zip(out.chunks_mut(nc)) {
            for (o, &v) in dst.iter_mut().zip(row.iter()) {
                *o = v.to_f32();
            }
        }
        Ok(())
    }
    fn losses(&self, _steps: Range<usize>) -> anodiff_core::Result<Option<Vec<f64>>> {
        Ok(None)
    }
}

fn lags_or_all(lags: Option<Vec<usize>>, n_steps: usize) -> PyResult<Vec<usize>> {
    match lags {
        Some(l) => Ok(l),
        None => core(Lags::All.resolve(n_steps, None)),
    }
}

fn msd_of<T: Weight>(
    py: Python<'_>,
    w: ArrayView2<'_, T>,
    lags: Option<Vec<usize>>,
) -> PyResult<(Vec<usize>, Vec<f64>)> {
    let src = ArraySource { w };
    let lags = lags_or_all(lags, src.n_steps())?;
    let win = Window {
        start: 0,
        len: src.n_steps(),
    };
    let m = core(py.detach(|| msd(&src, win, &lags)))?;
    Ok((m.lags, m.msd))
}

/// `(lags, msd)` as numpy arrays.
type LagsAndMsd<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>);

/// Time-averaged MSD (eq. 3) of a steps x coordinates float32 or float64 array over all steps.
#[pyfunction]
#[pyo3(signature = (w, lags=None))]
fn msd_array<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    lags: Option<Vec<usize>>,
) -> PyResult<LagsAndMsd<'py>> {
    let (l, m) = if let Ok(a) = w.extract::<PyReadonlyArray2<'py, f32>>() {
        msd_of(py, a.as_array(), lags)?
    } else if let Ok(a) = w.extract::<PyReadonlyArray2<'py, f64>>() {
        msd_of(py, a.as_array(), lags)?
    } else {
        return Err(PyTypeError::new_err(
            "w: expected a 2-D float32 or float64 array (steps x coordinates)",
        ));
    };
    let l: Vec<i64> = l.into_iter().map(|v| v as i64).collect();
    Ok((l.into_pyarray(py), m.into_pyarray(py)))
}

type Source = Arc<dyn TrajectorySource + Send + Sync>;

/// A trajectory: a `.npy` file, a store directory or an in-memory copy of an array.
#[pyclass(name = "Trajectory", module = "anodiff._core", frozen)]
pub struct PyTrajectory {
    src: Source,
    path: String,
    metadata: Option<Value>,
}

fn open_path(path: &str, losses: Option<&str>) -> anodiff_core::Result<(Source, Option<Value>)> {
    let p = Path::new(path);
    if anodiff_core::trajectory::zarr::is_zarr(p) && losses.is_none() {
        let z = anodiff_core::trajectory::ZarrTrajectory::open(p)?;
        let meta = z.attributes().get("anodiff").map(|a| a["config"].clone());
        Ok((Arc::new(z), meta))
    } else if p.is_dir() {
        if losses.is_some() {
            return Err(anodiff_core::Error::param(
                "losses",
                "is for .npy trajectories; a store directory carries its own losses",
            ));
        }
        let r = StoreReader::open(p)?;
        let meta = r.metadata().clone();
        Ok((Arc::new(r), Some(meta)))
    } else if p.exists() {
        let mut t = NpyTrajectory::open(p)?;
        if let Some(l) = losses {
            t = t.with_losses(l)?;
        }
        Ok((Arc::new(t), None))
    } else {
        Err(anodiff_core::Error::io(
            p,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ))
    }
}

impl PyTrajectory {
    fn range(&self, start: usize, stop: usize) -> PyResult<Range<usize>> {
        let n = self.src.n_steps();
        if start > stop || stop > n {
            return Err(PyValueError::new_err(format!(
                "steps {start}..{stop} are outside the trajectory's {n} steps"
            )));
        }
        Ok(start..stop)
    }

    /// Rows `start..stop` of `d` columns read by `read` (weights or gradients), as a float32
    /// array, with the GIL released while reading.
    fn read_rows<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
        d: usize,
        read: impl Fn(&dyn TrajectorySource, Range<usize>, &mut [f32]) -> anodiff_core::Result<()>
            + Sync,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let r = self.range(start, stop)?;
        let mut out = vec![0f32; r.len() * d];
        let src = self.src.as_ref();
        core(py.detach(|| read(src, r.clone(), &mut out)))?;
        let a = core(
            ndarray::Array2::from_shape_vec((r.len(), d), out)
                .map_err(|e| anodiff_core::Error::Shape(e.to_string())),
        )?;
        Ok(a.into_pyarray(py))
    }
}

#[pymethods]
impl PyTrajectory {
    /// Opens a 2-D `.npy` file (steps x d, f32 or f64) or a store directory.
    #[staticmethod]
    #[pyo3(signature = (path, losses=None))]
    fn open(py: Python<'_>, path: &str, losses: Option<&str>) -> PyResult<Self> {
        let (src, metadata) = core(py.detach(|| open_path(path, losses)))?;
        Ok(PyTrajectory {
            src,
            path: path.to_string(),
            metadata,
        })
    }

    /// Copies a float32 array (steps x d) and optional float64 losses into memory.
    #[staticmethod]
    #[pyo3(signature = (w, losses=None))]
    fn from_array(
        py: Python<'_>,
        w: PyReadonlyArray2<'_, f32>,
        losses: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<Self> {
        let a = w.as_array();
        let dim = a.ncols();
        let data: Vec<f32> = a.iter().copied().collect();
        let l = losses.map(|l| l.as_array().to_vec());
        let t = core(py.detach(|| InMemoryTrajectory::from_weights(dim, data, l)))?;
        Ok(PyTrajectory {
            src: Arc::new(t),
            path: "<array>".into(),
            metadata: None,
        })
    }

    #[getter]
    fn n_steps(&self) -> usize {
        self.src.n_steps()
    }
    #[getter]
    fn dim(&self) -> usize {
        self.src.dim()
    }
    #[getter]
    fn gradient_dim(&self) -> usize {
        self.src.gradient_dim()
    }
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }
    /// The store's metadata as JSON text (`None` for other sources).
    fn metadata_json(&self) -> Option<String> {
        self.metadata.as_ref().map(|m| m.to_string())
    }

    /// Weights of steps `start..stop` as a (stop - start) x d float32 array.
    fn weights<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let d = self.src.dim();
        self.read_rows(py, start, stop, d, |src, r, out| {
            src.read_weights(r, 0..d, out)
        })
    }

    /// Recorded gradients of steps `start..stop` (steps x gradient_dim, float32).
    fn gradients<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let d = self.src.gradient_dim();
        self.read_rows(py, start, stop, d, |src, r, out| {
            src.read_gradients(r, 0..d, out)
        })
    }

    /// Losses of steps `start..stop`, or `None` when the source has none.
    fn losses<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Option<Bound<'py, PyArray1<f64>>>> {
        let r = self.range(start, stop)?;
        let src = &self.src;
        let l = core(py.detach(|| src.losses(r)))?;
        Ok(l.map(|v| v.into_pyarray(py)))
    }

    /// Reads everything once and reports the first NaN or infinite value.
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        let src = &self.src;
        core(py.detach(|| src.validate()))
    }
}

pub(crate) fn parse_lags(s: &str) -> PyResult<Lags> {
    if s == "all" {
        return Ok(Lags::All);
    }
    if let Some(n) = s.strip_prefix("per-decade:") {
        let n: usize = n.parse().map_err(|_| {
            PyValueError::new_err(format!(
                "lags {s}: N in per-decade:N must be a whole number"
            ))
        })?;
        return Ok(Lags::PerDecade(n));
    }
    if let Some(n) = s.strip_prefix("log:") {
        let n: usize = n.parse().map_err(|_| {
            PyValueError::new_err(format!("lags {s}: N in log:N must be a whole number"))
        })?;
        return Ok(Lags::Log(n));
    }
    Err(PyValueError::new_err(format!(
        "lags must be `per-decade:N`, `log:N` or `all`, got `{s}`"
    )))
}

pub(crate) fn check_range(r: Option<(f64, f64)>, name: &str) -> PyResult<Option<(f64, f64)>> {
    match r {
        None => Ok(None),
        Some((lo, hi)) if lo > 0.0 && hi > lo && hi.is_finite() => Ok(Some((lo, hi))),
        Some(other) => Err(PyValueError::new_err(format!(
            "{name} must be (lo, hi) with 0 < lo < hi, got {other:?}"
        ))),
    }
}

pub(crate) fn resolve_windows(
    n_steps: usize,
    window: Option<usize>,
    stride: Option<usize>,
    starts: Option<Vec<usize>>,
) -> PyResult<Vec<Window>> {
    let spec = match (stride, starts) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give stride or starts, not both"));
        }
        (Some(stride), None) => Windows::Strided {
            len: window.unwrap_or(n_steps),
            stride,
        },
        (None, Some(starts)) => Windows::Starts {
            len: window.ok_or_else(|| PyValueError::new_err("starts needs window"))?,
            starts,
        },
        (None, None) => Windows::Consecutive { len: window },
    };
    core(spec.resolve(n_steps))
}

fn ctx(win: Window) -> impl Fn(anodiff_core::Error) -> PyErr {
    move |e| PyValueError::new_err(format!("window t_w = {}, T = {}: {e}", win.start, win.len))
}

/// The MSD settings of `msd_windows` and `analyze`, checked.
fn msd_settings(
    lags: &str,
    max_lag: Option<usize>,
    blocks: usize,
    fit_range: Option<(f64, f64)>,
    n_boot: usize,
    seed: u64,
) -> PyResult<MsdSettings> {
    let s = MsdSettings {
        lags: parse_lags(lags)?,
        max_lag,
        blocks,
        fit: MsdFitOptions {
            fit_range: check_range(fit_range, "fit_range")?,
            n_boot,
            seed,
            ..MsdFitOptions::default()
        },
    };
    core(s.check())?;
    Ok(s)
}

/// `anodiff msd` on a trajectory: per window, lags, MSD and the exponent fit.
#[pyfunction]
#[pyo3(signature = (traj, window, stride, starts, lags, max_lag, fit_range, blocks, boot, seed))]
#[allow(clippy::too_many_arguments)]
fn msd_windows(
    py: Python<'_>,
    traj: &PyTrajectory,
    window: Option<usize>,
    stride: Option<usize>,
    starts: Option<Vec<usize>>,
    lags: &str,
    max_lag: Option<usize>,
    fit_range: Option<(f64, f64)>,
    blocks: usize,
    boot: usize,
    seed: u64,
) -> PyResult<String> {
    let s = msd_settings(lags, max_lag, blocks, fit_range, boot, seed)?;
    let src = traj.src.clone();
    let wins = resolve_windows(src.n_steps(), window, stride, starts)?;
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        out.push(
            py.detach(|| msd_window(src.as_ref(), win, &s))
                .map_err(ctx(win))?,
        );
        py.check_signals()?;
    }
    to_json(&json!({ "windows": out }))
}

/// `anodiff analyze` on a trajectory: its JSON summary.
#[pyfunction]
#[pyo3(signature = (traj, window, stride, lags, max_lag, fit_range, msl_range, bins, moving_window, grad_samples, max_pair_window, blocks, seed))]
#[allow(clippy::too_many_arguments)]
fn analyze(
    py: Python<'_>,
    traj: &PyTrajectory,
    window: Option<usize>,
    stride: Option<usize>,
    lags: &str,
    max_lag: Option<usize>,
    fit_range: Option<(f64, f64)>,
    msl_range: Option<(f64, f64)>,
    bins: usize,
    moving_window: usize,
    grad_samples: usize,
    max_pair_window: usize,
    blocks: usize,
    seed: u64,
) -> PyResult<String> {
    let n_boot = MsdFitOptions::default().n_boot;
    let opts = AnalyzeOptions {
        msd: msd_settings(lags, max_lag, blocks, fit_range, n_boot, seed)?,
        msl_range: check_range(msl_range, "msl_range")?,
        bins,
        moving_window,
        grad_samples,
        max_pair_window,
        seed,
    };
    core(opts.check())?;
    let src = traj.src.clone();
    let wins = resolve_windows(src.n_steps(), window, stride, None)?;
    let mut out = Vec::with_capacity(wins.len());
    for win in wins {
        out.push(
            py.detach(|| analyse_window(src.as_ref(), win, &opts))
                .map_err(ctx(win))?,
        );
        py.check_signals()?;
    }
    let info = TrajectoryInfo::of(src.as_ref(), traj.path.clone());
    let summary = py.detach(|| Analysis::from_windows(info, out, &opts));
    to_json(&summary)
}

/// `anodiff regime` on a trajectory: the window exponents and the change of regime.
#[pyfunction]
#[pyo3(signature = (traj, window, stride, max_lag, level, seed))]
fn regime(
    py: Python<'_>,
    traj: &PyTrajectory,
    window: usize,
    stride: Option<usize>,
    max_lag: Option<usize>,
    level: f64,
    seed: u64,
) -> PyResult<String> {
    if window < 2 {
        return Err(PyValueError::new_err(format!(
            "window must be at least 2 steps, got {window}"
        )));
    }
    let stride = stride.unwrap_or((window / 2).max(1));
    if stride == 0 {
        return Err(PyValueError::new_err("stride must be at least 1"));
    }
    if max_lag == Some(0) {
        return Err(PyValueError::new_err("max_lag must be at least 1"));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(PyValueError::new_err(format!(
            "level must be in (0, 1), got {level}"
        )));
    }
    let src = traj.src.clone();
    let opts = RegimeOptions {
        level,
        seed,
        ..RegimeOptions::default()
    };
    let plan = core(RegimePlan::new(
        src.n_steps(),
        window,
        Some(stride),
        max_lag,
        opts,
    ))?;
    let mut ex = Vec::with_capacity(plan.windows().len());
    for &win in plan.windows() {
        ex.push(
            py.detach(|| plan.exponent(src.as_ref(), win))
                .map_err(ctx(win))?,
        );
        py.check_signals()?;
    }
    let r = core(py.detach(|| plan.finish(&ex)))?;
    to_json(&r)
}

/// The crash-safe store writer (core/src/trajectory/store.rs) for Python producers.
#[pyclass(name = "StoreWriter", module = "anodiff._core")]
pub struct PyStoreWriter {
    inner: Mutex<Option<StoreWriter>>,
    dim: usize,
    gradient_dim: usize,
}

impl PyStoreWriter {
    fn with<T>(&self, f: impl FnOnce(&mut StoreWriter) -> PyResult<T>) -> PyResult<T> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| PyValueError::new_err("the store writer was poisoned by a panic"))?;
        match g.as_mut() {
            Some(w) => f(w),
            None => Err(PyValueError::new_err("the store is finished")),
        }
    }
}

#[pymethods]
impl PyStoreWriter {
    /// Creates a new store in `dir`.
    #[staticmethod]
    #[pyo3(signature = (dir, dim, gradient_dim=0, chunk_steps=None, subset_seed=None, metadata_json=None, sync=true))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        dir: &str,
        dim: usize,
        gradient_dim: usize,
        chunk_steps: Option<usize>,
        subset_seed: Option<u64>,
        metadata_json: Option<&str>,
        sync: bool,
    ) -> PyResult<Self> {
        let mut o = StoreOptions::new(dim)
            .with_gradient_dim(gradient_dim)
            .with_sync(sync);
        if let Some(c) = chunk_steps {
            o = o.with_chunk_steps(c);
        }
        if let Some(s) = subset_seed {
            o = o.with_subset_seed(s);
        }
        if let Some(m) = metadata_json {
            let v: Value = serde_json::from_str(m)
                .map_err(|e| PyValueError::new_err(format!("metadata: {e}")))?;
            o = o.with_metadata(v);
        }
        let w = core(py.detach(|| StoreWriter::create(dir, o)))?;
        Ok(PyStoreWriter {
            inner: Mutex::new(Some(w)),
            dim,
            gradient_dim,
        })
    }

    /// Reopens a store after its last committed step (after a crash or a kill).
    #[staticmethod]
    #[pyo3(signature = (dir, sync=true))]
    fn resume(py: Python<'_>, dir: &str, sync: bool) -> PyResult<Self> {
        let w = core(py.detach(|| StoreWriter::resume(dir, sync)))?;
        let (dim, gd) = (w.manifest().dim, w.manifest().gradient_dim);
        Ok(PyStoreWriter {
            inner: Mutex::new(Some(w)),
            dim,
            gradient_dim: gd,
        })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.dim
    }
    #[getter]
    fn gradient_dim(&self) -> usize {
        self.gradient_dim
    }
    /// Committed steps.
    #[getter]
    fn n_steps(&self) -> PyResult<usize> {
        self.with(|w| Ok(w.len()))
    }
    /// The store's metadata as JSON text.
    fn metadata_json(&self) -> PyResult<String> {
        self.with(|w| Ok(w.manifest().metadata.to_string()))
    }

    /// Appends one step: float32 weights (dim,), the loss and, when the store records them, a
    /// float32 gradient sample (gradient_dim,).
    #[pyo3(signature = (weights, loss, gradient=None))]
    fn append(
        &self,
        py: Python<'_>,
        weights: PyReadonlyArray1<'_, f32>,
        loss: f64,
        gradient: Option<PyReadonlyArray1<'_, f32>>,
    ) -> PyResult<()> {
        let wv: ArrayView1<'_, f32> = weights.as_array();
        let wc;
        let ws: &[f32] = match wv.as_slice() {
            Some(s) => s,
            None => {
                wc = wv.to_vec();
                &wc
            }
        };
        let gv = gradient.as_ref().map(|g| g.as_array().to_vec());
        self.with(|w| {
            core(py.detach(|| {
                w.append(&Step {
                    weights: ws,
                    loss,
                    gradient: gv.as_deref(),
                })
            }))
        })
    }

    /// Shrinks the last chunk and marks the store finished; the writer is closed afterwards.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| PyValueError::new_err("the store writer was poisoned by a panic"))?;
        match g.take() {
            Some(w) => core(py.detach(|| w.finish())),
            None => Err(PyValueError::new_err("the store is finished")),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(msd_array, m)?)?;
    m.add_function(wrap_pyfunction!(msd_windows, m)?)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(regime, m)?)?;
    m.add_class::<PyTrajectory>()?;
    m.add_class::<PyStoreWriter>()?;
    Ok(())
}

//! Fractal dimensions (box counting, surfaces, level sets) and landscape generators.

use crate::errors::core;
use crate::to_json;
use anodiff_core::fractal::{
    box_count_image, box_count_points, level_set_dimension, surface_dimension, Bitmap,
    BoxCountConfig, SurfaceDimConfig, SurfaceMethod,
};
use anodiff_core::landscape::{
    cone, diamond_square, fbm_surface, paraboloid, spectral_surface, DiamondSquareConfig,
    FbmSurfaceConfig, SpectralConfig,
};
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn config(
    min_scale: Option<f64>,
    max_scale: Option<f64>,
    ratio: f64,
    offsets: usize,
) -> PyResult<BoxCountConfig> {
    let mut c = core(BoxCountConfig::default().with_ratio(ratio))?;
    c = core(c.with_offsets(offsets))?;
    if let Some(s) = min_scale {
        c = core(c.with_min_scale(s))?;
    }
    if let Some(s) = max_scale {
        c = core(c.with_max_scale(s))?;
    }
    Ok(c)
}

/// Box-counting dimension of a 2-D boolean image (True = in the set).
#[pyfunction]
#[pyo3(name = "box_count_image", signature = (mask, min_scale=None, max_scale=None, ratio=2.0, offsets=4))]
fn box_count_image_py(
    py: Python<'_>,
    mask: PyReadonlyArray2<'_, bool>,
    min_scale: Option<f64>,
    max_scale: Option<f64>,
    ratio: f64,
    offsets: usize,
) -> PyResult<String> {
    let cfg = config(min_scale, max_scale, ratio, offsets)?;
    let a = mask.as_array();
    let r = core(py.detach(|| {
        let b = Bitmap::from_array(a, |&v| v)?;
        box_count_image(&b, &cfg)
    }))?;
    to_json(&r)
}

/// Box-counting dimension of a point cloud (n points x dimensions).
#[pyfunction]
#[pyo3(name = "box_count_points", signature = (points, min_scale=None, max_scale=None, ratio=2.0, offsets=4))]
fn box_count_points_py(
    py: Python<'_>,
    points: PyReadonlyArray2<'_, f64>,
    min_scale: Option<f64>,
    max_scale: Option<f64>,
    ratio: f64,
    offsets: usize,
) -> PyResult<String> {
    let cfg = config(min_scale, max_scale, ratio, offsets)?;
    let a = points.as_array();
    let r = core(py.detach(|| box_count_points(a, &cfg)))?;
    to_json(&r)
}

/// Dimension of the graph of z = f(x, y) (variogram, madogram or dbc).
#[pyfunction]
#[pyo3(name = "surface_dimension", signature = (z, method="variogram", max_lag=None))]
fn surface_dimension_py(
    py: Python<'_>,
    z: PyReadonlyArray2<'_, f64>,
    method: &str,
    max_lag: Option<usize>,
) -> PyResult<String> {
    let m = match method {
        "variogram" => SurfaceMethod::Variogram,
        "madogram" => SurfaceMethod::Madogram,
        "dbc" => SurfaceMethod::Dbc,
        other => {
            return Err(PyValueError::new_err(format!(
                "method must be 'variogram', 'madogram' or 'dbc', got {other:?}"
            )))
        }
    };
    let mut cfg = SurfaceDimConfig::new(m);
    if let Some(l) = max_lag {
        cfg = core(cfg.with_max_lag(l))?;
    }
    let a = z.as_array();
    let r = core(py.detach(|| surface_dimension(a, &cfg)))?;
    to_json(&r)
}

/// Box-counting dimension of the level set {z = level} (default level: the median).
#[pyfunction]
#[pyo3(name = "level_set_dimension", signature = (z, level=None))]
fn level_set_dimension_py(
    py: Python<'_>,
    z: PyReadonlyArray2<'_, f64>,
    level: Option<f64>,
) -> PyResult<String> {
    let a = z.as_array();
    let r = core(py.detach(|| level_set_dimension(a, level, &BoxCountConfig::default())))?;
    let mut v = serde_json::to_value(&r.boxcount).unwrap_or_default();
    v["level"] = r.level.into();
    to_json(&v)
}

/// A landscape from one of the generators, seeded with ChaCha8 as the CLI's.
#[pyfunction]
#[pyo3(name = "landscape", signature = (kind, size, hurst=0.5, scale=1.0, roughness=3.0, decay=0.5, seed=0))]
#[allow(clippy::too_many_arguments)]
fn landscape_py<'py>(
    py: Python<'py>,
    kind: &str,
    size: usize,
    hurst: f64,
    scale: f64,
    roughness: f64,
    decay: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z = py.detach(|| match kind {
        "fbm" => fbm_surface(&FbmSurfaceConfig { size, hurst, scale }, &mut rng)
            .map_err(crate::errors::CoreError),
        "spectral" => {
            let cfg = SpectralConfig { size, hurst };
            spectral_surface(&cfg, &mut rng).map_err(crate::errors::CoreError)
        }
        "diamond-square" => diamond_square(
            &DiamondSquareConfig {
                size,
                roughness,
                decay,
            },
            &mut rng,
        )
        .map_err(crate::errors::CoreError),
        "paraboloid" => paraboloid(size, scale).map_err(crate::errors::CoreError),
        "cone" => cone(size, scale).map_err(crate::errors::CoreError),
        other => Err(crate::errors::CoreError(anodiff_core::Error::param(
            "kind",
            format!("expected fbm, spectral, diamond-square, paraboloid or cone, got `{other}`"),
        ))),
    })?;
    Ok(z.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(box_count_image_py, m)?)?;
    m.add_function(wrap_pyfunction!(box_count_points_py, m)?)?;
    m.add_function(wrap_pyfunction!(surface_dimension_py, m)?)?;
    m.add_function(wrap_pyfunction!(level_set_dimension_py, m)?)?;
    m.add_function(wrap_pyfunction!(landscape_py, m)?)?;
    Ok(())
}

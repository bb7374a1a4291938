//! Stable laws, their fits, the Vuong test and the Hill estimator.

use crate::errors::{core, fit_err};
use crate::{in_pieces, to_json};
use anodiff_core::compare::{compare_stable, compare_stable_binned, CompareOptions};
use anodiff_core::fit::alternatives::{self, AltModel};
use anodiff_core::fit::{
    BinnedMle, Estimator, Evaluation, Histogram, Koutrouvelis, McCulloch, Mle, StableFit,
};
use anodiff_core::stable::{Param, Stable};
use anodiff_core::tails::{hill, HillK, Tail};
use anodiff_core::vuong::check_level;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

fn slice<'a>(a: &'a PyReadonlyArray1<'_, f64>, name: &str) -> PyResult<&'a [f64]> {
    a.as_slice()
        .map_err(|_| PyTypeError::new_err(format!("{name}: expected a contiguous float64 array")))
}

fn parse_param(s: &str) -> PyResult<Param> {
    core(s.parse::<Param>())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pdf,
    LogPdf,
    Cdf,
    LogCdf,
    Sf,
    LogSf,
    Ppf,
    Isf,
}

impl Kind {
    fn parse(s: &str) -> PyResult<Kind> {
        Ok(match s {
            "pdf" => Kind::Pdf,
            "logpdf" => Kind::LogPdf,
            "cdf" => Kind::Cdf,
            "logcdf" => Kind::LogCdf,
            "sf" => Kind::Sf,
            "logsf" => Kind::LogSf,
            "ppf" => Kind::Ppf,
            "isf" => Kind::Isf,
            other => return Err(PyValueError::new_err(format!("unknown function `{other}`"))),
        })
    }
}

/// One point of a non-batched function. Non-finite arguments follow scipy: NaN in, NaN out;
/// x = -inf/+inf gives the limits; a probability outside [0, 1] gives NaN.
fn eval_point(s: &Stable, kind: Kind, x: f64) -> Result<f64, anodiff_core::Error> {
    if x.is_nan() {
        return Ok(f64::NAN);
    }
    let lo = x == f64::NEG_INFINITY;
    let hi = x == f64::INFINITY;
    Ok(match kind {
        Kind::Pdf | Kind::LogPdf => {
            let l = if lo || hi {
                f64::NEG_INFINITY
            } else {
                s.ln_pdf(x)
            };
            if kind == Kind::Pdf {
                l.exp()
            } else {
                l
            }
        }
        Kind::Cdf | Kind::LogCdf => {
            let l = if lo {
                f64::NEG_INFINITY
            } else if hi {
                0.0
            } else {
                s.ln_cdf(x)
            };
            if kind == Kind::Cdf {
                l.exp()
            } else {
                l
            }
        }
        Kind::Sf | Kind::LogSf => {
            let l = if lo {
                0.0
            } else if hi {
                f64::NEG_INFINITY
            } else {
                s.ln_sf(x)
            };
            if kind == Kind::Sf {
                l.exp()
            } else {
                l
            }
        }
        Kind::Ppf | Kind::Isf => {
            if !(0.0..=1.0).contains(&x) {
                f64::NAN
            } else {
                s.quantile(if kind == Kind::Ppf { x } else { 1.0 - x })?
            }
        }
    })
}

/// Evaluates one law at `xs` into `out` (same length): the batch interpolant for densities,
/// rayon over points otherwise.
fn eval_law(s: &Stable, kind: Kind, xs: &[f64], out: &mut [f64]) -> anodiff_core::Result<()> {
    match kind {
        Kind::Pdf | Kind::LogPdf => {
            let finite: Vec<f64> = xs.iter().copied().filter(|v| v.is_finite()).collect();
            let ls = s.ln_pdf_many(&finite);
            let mut it = ls.into_iter();
            for (o, &x) in out.iter_mut().zip(xs) {
                let l = if x.is_finite() {
                    it.next().unwrap_or(f64::NAN)
                } else if x.is_nan() {
                    f64::NAN
                } else {
                    f64::NEG_INFINITY
                };
                *o = if kind == Kind::Pdf { l.exp() } else { l };
            }
            Ok(())
        }
        _ => out
            .par_iter_mut()
            .zip(xs.par_iter())
            .with_min_len(16)
            .try_for_each(|(o, &x)| {
                *o = eval_point(s, kind, x)?;
                Ok(())
            }),
    }
}

/// Parameter arrays of length 1 (shared) or `n` (one per point).
struct Params<'a> {
    alpha: &'a [f64],
    beta: &'a [f64],
    loc: &'a [f64],
    scale: &'a [f64],
}

impl Params<'_> {
    fn check(&self, n: usize) -> PyResult<bool> {
        let lens = [
            self.alpha.len(),
            self.beta.len(),
            self.loc.len(),
            self.scale.len(),
        ];
        if lens.iter().all(|&l| l == 1) {
            return Ok(false);
        }
        if lens.iter().all(|&l| l == 1 || l == n) {
            return Ok(true);
        }
        Err(PyValueError::new_err(format!(
            "parameter arrays of lengths {lens:?} do not broadcast against {n} points"
        )))
    }
    fn at(&self, i: usize) -> [f64; 4] {
        let g = |a: &[f64]| if a.len() == 1 { a[0] } else { a[i] };
        [g(self.alpha), g(self.beta), g(self.loc), g(self.scale)]
    }
    fn law(&self, i: usize, param: Param) -> anodiff_core::Result<Stable> {
        let [a, b, l, s] = self.at(i);
        Stable::new(a, b, s, l, param)
    }
}

/// Groups of point indices sharing their parameters (one group when all are shared).
fn groups(p: &Params<'_>, n: usize, varying: bool) -> Vec<Vec<usize>> {
    if !varying {
        return vec![(0..n).collect()];
    }
    let key = |i: usize| p.at(i).map(f64::to_bits);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by_key(|&i| key(i));
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in idx {
        match out.last_mut() {
            Some(g) if key(g[0]) == key(i) => g.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// `kind` (pdf, logpdf, cdf, logcdf, sf, logsf, ppf, isf) of the stable law at `x`; parameter
/// arrays have length 1 or `len(x)` (the Python layer broadcasts).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stable_eval<'py>(
    py: Python<'py>,
    kind: &str,
    x: PyReadonlyArray1<'py, f64>,
    alpha: PyReadonlyArray1<'py, f64>,
    beta: PyReadonlyArray1<'py, f64>,
    loc: PyReadonlyArray1<'py, f64>,
    scale: PyReadonlyArray1<'py, f64>,
    param: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind = Kind::parse(kind)?;
    let param = parse_param(param)?;
    let xs = slice(&x, "x")?;
    let p = Params {
        alpha: slice(&alpha, "alpha")?,
        beta: slice(&beta, "beta")?,
        loc: slice(&loc, "loc")?,
        scale: slice(&scale, "scale")?,
    };
    let n = xs.len();
    let varying = p.check(n)?;
    let mut out = vec![f64::NAN; n];
    if n == 0 {
        return Ok(out.into_pyarray(py));
    }
    // Densities go through the batch interpolant: big pieces. Quadrature per point: small ones.
    let piece = match kind {
        Kind::Pdf | Kind::LogPdf => 1 << 22,
        _ => 1 << 13,
    };
    for g in groups(&p, n, varying) {
        let law = core(p.law(g[0], param))?;
        let contiguous = !varying;
        let mut gx: Vec<f64> = if contiguous {
            Vec::new()
        } else {
            g.iter().map(|&i| xs[i]).collect()
        };
        let mut gout = vec![0.0; g.len()];
        {
            let src: &[f64] = if contiguous { xs } else { &gx };
            let dst = &mut gout;
            in_pieces(py, g.len(), piece, |r| {
                core(eval_law(&law, kind, &src[r.clone()], &mut dst[r]))
            })?;
        }
        if contiguous {
            out = gout;
        } else {
            for (k, &i) in g.iter().enumerate() {
                out[i] = gout[k];
            }
            gx.clear();
        }
    }
    Ok(out.into_pyarray(py))
}

/// `size` stable variates (Chambers-Mallows-Stuck), seeded with ChaCha8 from `seed`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn stable_rvs<'py>(
    py: Python<'py>,
    alpha: PyReadonlyArray1<'py, f64>,
    beta: PyReadonlyArray1<'py, f64>,
    loc: PyReadonlyArray1<'py, f64>,
    scale: PyReadonlyArray1<'py, f64>,
    param: &str,
    size: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    use rand::distr::Distribution;
    let param = parse_param(param)?;
    let p = Params {
        alpha: slice(&alpha, "alpha")?,
        beta: slice(&beta, "beta")?,
        loc: slice(&loc, "loc")?,
        scale: slice(&scale, "scale")?,
    };
    let varying = p.check(size)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0.0; size];
    if !varying {
        let law = core(p.law(0, param))?;
        let dst = &mut out;
        in_pieces(py, size, 1 << 20, |r| {
            for o in &mut dst[r] {
                *o = law.sample(&mut rng);
            }
            Ok(())
        })?;
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            *o = core(p.law(i, param))?.sample(&mut rng);
        }
    }
    Ok(out.into_pyarray(py))
}

/// A fit as JSON: what `anodiff stable fit` prints, plus `cov` and `iterations`.
fn fit_json(fit: &StableFit) -> PyResult<String> {
    let mut v = serde_json::to_value(fit)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    v["cov"] = serde_json::to_value(fit.cov).unwrap_or(serde_json::Value::Null);
    v["iterations"] = fit.iterations.into();
    to_json(&v)
}

#[allow(clippy::too_many_arguments)]
fn mle_of(
    symmetric: bool,
    fix_loc: Option<f64>,
    param: Param,
    profile: bool,
    sandwich: bool,
    exact: bool,
    tol: f64,
    max_iter: usize,
) -> Result<Mle, anodiff_core::Error> {
    let mut mle = Mle::new()
        .with_tol(tol)?
        .with_max_iter(max_iter)?
        .with_param(param)
        .with_profile(profile)
        .with_sandwich(sandwich);
    if symmetric {
        mle = mle.symmetric();
    }
    if let Some(l) = fix_loc {
        mle = mle.with_loc(l)?;
    }
    if exact {
        mle = mle.with_evaluation(Evaluation::Exact);
    }
    Ok(mle)
}

/// Fits a stable law by `method` (mle, mcculloch, koutrouvelis, binned), as `anodiff stable fit`.
#[pyfunction]
#[pyo3(signature = (x, method, param, symmetric, fix_loc, profile, sandwich, exact, tol, max_iter, mantissa_bits))]
#[allow(clippy::too_many_arguments)]
fn fit_stable(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    method: &str,
    param: &str,
    symmetric: bool,
    fix_loc: Option<f64>,
    profile: bool,
    sandwich: bool,
    exact: bool,
    tol: f64,
    max_iter: usize,
    mantissa_bits: u32,
) -> PyResult<String> {
    let xs = slice(&x, "x")?;
    let param = parse_param(param)?;
    let quantile_only = matches!(method, "mcculloch" | "koutrouvelis");
    if quantile_only && (symmetric || fix_loc.is_some() || profile || sandwich) {
        return Err(PyValueError::new_err(
            "symmetric, fix_loc, profile and sandwich need method 'mle' or 'binned'",
        ));
    }
    let mle = mle_of(
        symmetric, fix_loc, param, profile, sandwich, exact, tol, max_iter,
    )
    .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let fit = py
        .detach(|| {
            anodiff_core::fit::check_data(xs)?;
            match method {
                "mle" => mle.fit(xs),
                "mcculloch" => McCulloch { param: Some(param) }.fit(xs),
                "koutrouvelis" => Koutrouvelis {
                    param,
                    ..Default::default()
                }
                .fit(xs),
                "binned" => BinnedMle { mle, mantissa_bits }.fit(xs),
                other => Err(anodiff_core::Error::param(
                    "method",
                    format!("expected mle, mcculloch, koutrouvelis or binned, got `{other}`"),
                )),
            }
        })
        .map_err(fit_err)?;
    fit_json(&fit)
}

fn alt_model(s: &str) -> PyResult<AltModel> {
    core(s.parse::<AltModel>())
}

/// The Vuong test of `anodiff vuong` (`anodiff_core::compare`), as its JSON object.
#[pyfunction]
#[pyo3(signature = (x, alt, symmetric, level, binned, mantissa_bits, exact))]
#[allow(clippy::too_many_arguments)]
fn vuong_test(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    alt: &str,
    symmetric: bool,
    level: f64,
    binned: bool,
    mantissa_bits: u32,
    exact: bool,
) -> PyResult<String> {
    let xs = slice(&x, "x")?;
    let opts = CompareOptions {
        alt: alt_model(alt)?,
        symmetric,
        level,
        exact,
    };
    core(check_level(level))?;
    let out = py
        .detach(|| {
            if binned {
                compare_stable_binned(&Histogram::from_f64(xs, mantissa_bits)?, &opts)
            } else {
                compare_stable(xs, &opts)
            }
        })
        .map_err(fit_err)?;
    to_json(&out)
}

/// Fits an alternative model (normal, student-t, laplace) by maximum likelihood.
#[pyfunction]
fn fit_alternative(py: Python<'_>, x: PyReadonlyArray1<'_, f64>, model: &str) -> PyResult<String> {
    let xs = slice(&x, "x")?;
    let m = alt_model(model)?;
    let fit = py.detach(|| alternatives::fit(m, xs)).map_err(fit_err)?;
    to_json(&fit)
}

/// Hill's estimator of the tail index (`k = None`: the automatic choice).
#[pyfunction]
#[pyo3(signature = (x, tail, k))]
fn hill_estimate(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    tail: &str,
    k: Option<usize>,
) -> PyResult<String> {
    let xs = slice(&x, "x")?;
    let tail: Tail = core(tail.parse())?;
    let k = k.map_or(HillK::Auto, HillK::Fixed);
    let est = core(py.detach(|| hill(xs, tail, k)))?;
    to_json(&est)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stable_eval, m)?)?;
    m.add_function(wrap_pyfunction!(stable_rvs, m)?)?;
    m.add_function(wrap_pyfunction!(fit_stable, m)?)?;
    m.add_function(wrap_pyfunction!(vuong_test, m)?)?;
    m.add_function(wrap_pyfunction!(fit_alternative, m)?)?;
    m.add_function(wrap_pyfunction!(hill_estimate, m)?)?;
    Ok(())
}

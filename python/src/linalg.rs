//! Ask/tell drivers for the matrix-free solvers of `anodiff_core::lanczos`.
//!
//! The solver runs on its own thread against an operator whose `apply` hands the query vector
//! to Python and waits for the product: Python keeps the loop (`next_query` / `supply`), so GPU
//! code, autograd contexts and distributed setups stay in the caller's hands. `eigsh` and the
//! other Python entry points are written on top of this protocol.

use crate::errors::core;
use anodiff_core::lanczos::{HutchPlusPlus, Hutchinson, Lanczos, LinearOperator, Slq, Which};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

/// What the solver thread sends: a query, or the end.
enum Msg {
    Query(Vec<f64>),
    Done(anodiff_core::Result<Outcome>),
}

/// A finished solve: its JSON and, for eigensolvers, the eigenvectors.
struct Outcome {
    json: String,
    vectors: Option<Vec<Vec<f64>>>,
}

/// The operator seen by the solver thread.
struct ChannelOp {
    n: usize,
    /// Query out, product back: one conversation at a time.
    link: Mutex<(Sender<Msg>, Receiver<Vec<f64>>)>,
}

impl LinearOperator for ChannelOp {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) -> anodiff_core::Result<()> {
        let gone = || anodiff_core::Error::InvalidData("the solver was abandoned".into());
        let link = self.link.lock().map_err(|_| gone())?;
        link.0.send(Msg::Query(v.to_vec())).map_err(|_| gone())?;
        let y = link.1.recv().map_err(|_| gone())?;
        if y.len() != out.len() {
            return Err(anodiff_core::Error::Shape(format!(
                "operator product of length {}, expected {}",
                y.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&y);
        Ok(())
    }
}

/// The Python side's half of the conversation.
struct State {
    from_solver: Mutex<Receiver<Msg>>,
    to_solver: Option<Sender<Vec<f64>>>,
    awaiting: bool,
    done: Option<Outcome>,
    failed: Option<String>,
}

/// An ask/tell solver: `next_query()` gives the next vector to multiply (or `None` when
/// finished), `supply(y)` hands back the product.
#[pyclass(name = "Driver", module = "anodiff._core")]
pub struct Driver {
    n: usize,
    state: Mutex<State>,
}

fn spawn<F>(n: usize, solve: F) -> Driver
where
    F: FnOnce(&ChannelOp) -> anodiff_core::Result<Outcome> + Send + 'static,
{
    let (q_tx, q_rx) = channel::<Msg>();
    let (y_tx, y_rx) = channel::<Vec<f64>>();
    let tx = q_tx.clone();
    std::thread::spawn(move || {
        let op = ChannelOp {
            n,
            link: Mutex::new((q_tx, y_rx)),
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| solve(&op)))
            .unwrap_or_else(|_| {
                Err(anodiff_core::Error::InvalidData(
                    "internal error in the solver".into(),
                ))
            });
        let _ = tx.send(Msg::Done(r));
    });
    Driver {
        n,
        state: Mutex::new(State {
            from_solver: Mutex::new(q_rx),
            to_solver: Some(y_tx),
            awaiting: false,
            done: None,
            failed: None,
        }),
    }
}

fn which_of(s: &str) -> PyResult<Which> {
    match s {
        "LA" | "largest" => Ok(Which::Largest),
        "SA" | "smallest" => Ok(Which::Smallest),
        "LM" | "largest_magnitude" => Ok(Which::LargestMagnitude),
        other => Err(PyValueError::new_err(format!(
            "which must be 'LA', 'SA' or 'LM', got {other:?}"
        ))),
    }
}

fn json_of<T: serde::Serialize>(v: &T) -> anodiff_core::Result<String> {
    serde_json::to_string(v).map_err(|e| anodiff_core::Error::InvalidData(e.to_string()))
}

#[pymethods]
impl Driver {
    /// Thick-restart Lanczos for `k` eigenpairs of an `n`-dimensional symmetric operator.
    #[staticmethod]
    #[pyo3(signature = (n, k, which="LA", tol=1e-8, max_matvecs=None, basis_size=None, seed=0, vectors=true, v0=None))]
    #[allow(clippy::too_many_arguments)]
    fn lanczos(
        n: usize,
        k: usize,
        which: &str,
        tol: f64,
        max_matvecs: Option<usize>,
        basis_size: Option<usize>,
        seed: u64,
        vectors: bool,
        v0: Option<Vec<f64>>,
    ) -> PyResult<Driver> {
        let mut l = core(Lanczos::new(k))?
            .with_which(which_of(which)?)
            .with_seed(seed)
            .with_vectors(vectors);
        if let Some(v) = v0 {
            if v.len() != n {
                return Err(PyValueError::new_err(format!(
                    "v0 has {} entries, the operator dimension is {n}",
                    v.len()
                )));
            }
            l = l.with_start(&v);
        }
        l = core(l.with_tol(tol))?;
        if let Some(m) = max_matvecs {
            l = core(l.with_max_matvecs(m))?;
        }
        if let Some(b) = basis_size {
            l = core(l.with_basis_size(b))?;
        }
        if n == 0 {
            return Err(PyValueError::new_err("the operator has dimension 0"));
        }
        if k > n {
            return Err(PyValueError::new_err(format!(
                "invalid parameter `k`: asked for {k} eigenvalues of an operator of dimension {n}"
            )));
        }
        Ok(spawn(n, move |op| {
            let mut r = l.run(op)?;
            let vectors = r.eigenvectors.take();
            Ok(Outcome {
                json: json_of(&r)?,
                vectors,
            })
        }))
    }

    /// Stochastic Lanczos quadrature of the spectral density.
    #[staticmethod]
    #[pyo3(signature = (n, probes=10, steps=80, sigma=None, grid_points=1000, seed=0))]
    fn slq(
        n: usize,
        probes: usize,
        steps: usize,
        sigma: Option<f64>,
        grid_points: usize,
        seed: u64,
    ) -> PyResult<Driver> {
        let mut s = core(Slq::new().with_probes(probes))?;
        s = core(s.with_steps(steps))?;
        if let Some(sg) = sigma {
            s = core(s.with_sigma(sg))?;
        }
        s = core(s.with_grid_points(grid_points))?.with_seed(seed);
        Ok(spawn(n, move |op| {
            let r = s.run(op)?;
            Ok(Outcome {
                json: json_of(&r)?,
                vectors: None,
            })
        }))
    }

    /// Hutchinson's trace estimator (`method="hutchinson"`, `probes` products) or Hutch++
    /// (`method="hutch++"`, a budget of `probes` products).
    #[staticmethod]
    #[pyo3(signature = (n, probes=30, method="hutch++", level=0.95, seed=0))]
    fn trace(n: usize, probes: usize, method: &str, level: f64, seed: u64) -> PyResult<Driver> {
        let d = match method {
            "hutchinson" => {
                let h = core(core(Hutchinson::new(probes))?.with_level(level))?.with_seed(seed);
                spawn(n, move |op| {
                    Ok(Outcome {
                        json: json_of(&h.run(op)?)?,
                        vectors: None,
                    })
                })
            }
            "hutch++" => {
                let h = core(core(HutchPlusPlus::new(probes))?.with_level(level))?.with_seed(seed);
                spawn(n, move |op| {
                    Ok(Outcome {
                        json: json_of(&h.run(op)?)?,
                        vectors: None,
                    })
                })
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "method must be 'hutchinson' or 'hutch++', got {other:?}"
                )))
            }
        };
        Ok(d)
    }

    /// Dimension of the operator.
    #[getter]
    fn n(&self) -> usize {
        self.n
    }

    /// The next vector to multiply by the operator, or `None` once the solver has finished.
    fn next_query<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray1<f64>>>> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("solver state poisoned"))?;
        if st.awaiting {
            return Err(PyRuntimeError::new_err(
                "supply(y) the product of the previous query first",
            ));
        }
        if st.done.is_some() || st.failed.is_some() {
            return Ok(None);
        }
        loop {
            let rx = &st.from_solver;
            let got = py.detach(|| match rx.lock() {
                Ok(r) => r.recv_timeout(Duration::from_millis(100)),
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            match got {
                Ok(Msg::Query(v)) => {
                    st.awaiting = true;
                    return Ok(Some(v.into_pyarray(py)));
                }
                Ok(Msg::Done(r)) => {
                    match r {
                        Ok(o) => st.done = Some(o),
                        Err(e) => {
                            st.failed = Some(e.to_string());
                            return Err(crate::errors::CoreError(e).into());
                        }
                    }
                    return Ok(None);
                }
                Err(RecvTimeoutError::Timeout) => py.check_signals()?,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err(
                        "the solver thread ended unexpectedly",
                    ))
                }
            }
        }
    }

    /// Hands back the product `A q` of the last query `q`.
    fn supply(&self, y: PyReadonlyArray1<'_, f64>) -> PyResult<()> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("solver state poisoned"))?;
        if !st.awaiting {
            return Err(PyRuntimeError::new_err("no query is waiting for a product"));
        }
        let y = y.as_array();
        if y.len() != self.n {
            return Err(PyValueError::new_err(format!(
                "product of length {}, the operator has dimension {}",
                y.len(),
                self.n
            )));
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "operator output at index {i} is {} (NaN and infinity are not allowed)",
                y[i]
            )));
        }
        let v = y.to_vec();
        match &st.to_solver {
            Some(tx) => tx
                .send(v)
                .map_err(|_| PyRuntimeError::new_err("the solver thread ended unexpectedly"))?,
            None => return Err(PyRuntimeError::new_err("the solver was closed")),
        }
        st.awaiting = false;
        Ok(())
    }

    /// The finished result: (JSON text, eigenvectors as a k x n array or None).
    #[allow(clippy::type_complexity)]
    fn result<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(String, Option<Bound<'py, PyArray2<f64>>>)> {
        let st = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("solver state poisoned"))?;
        if let Some(e) = &st.failed {
            return Err(PyRuntimeError::new_err(format!("the solver failed: {e}")));
        }
        let Some(o) = &st.done else {
            return Err(PyRuntimeError::new_err(
                "the solver has not finished: call next_query() until it returns None",
            ));
        };
        let vecs = match &o.vectors {
            Some(v) => {
                let k = v.len();
                let flat: Vec<f64> = v.iter().flatten().copied().collect();
                let a = ndarray::Array2::from_shape_vec((k, self.n), flat)
                    .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
                Some(a.into_pyarray(py))
            }
            None => None,
        };
        Ok((o.json.clone(), vecs))
    }

    /// Stops the solver (its thread ends at its next query).
    fn close(&self) -> PyResult<()> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| PyRuntimeError::new_err("solver state poisoned"))?;
        st.to_solver = None;
        st.awaiting = false;
        if st.done.is_none() && st.failed.is_none() {
            st.failed = Some("closed before it finished".into());
        }
        Ok(())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Driver>()?;
    Ok(())
}

//! Exact Hessian-vector products (trainers/src/hvp.rs) against independent references: central
//! finite differences of gradients in f64 on a smooth tanh network, and the analytic dense Hessian
//! of softmax regression (nalgebra eigenvalues against Lanczos).
//!
//! This file is its own process, so it can set `CANDLE_GRAD_DO_NOT_DETACH=1` before any candle
//! work (every test calls [`enable`] first); the unit tests in the library binary never set it.

use anodiff_core::lanczos::{Lanczos, LinearOperator, PowerIteration};
use anodiff_trainers::hvp::{HessianOperator, DOUBLE_BACKWARD_ENV};
use candle_core::{DType, Device, Tensor, Var};
use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::sync::Once;

static ENABLE: Once = Once::new();

/// Sets the flag once, before any test thread has run a backward pass (each test calls this
/// first, and `Once` blocks the others until it is done).
fn enable() {
    ENABLE.call_once(|| std::env::set_var(DOUBLE_BACKWARD_ENV, "1"));
}

fn gaussian(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| scale * Distribution::<f64>::sample(&StandardNormal, rng))
        .collect()
}

fn var(rng: &mut ChaCha8Rng, shape: &[usize], scale: f64) -> Var {
    let n = shape.iter().product();
    Var::from_tensor(&Tensor::from_vec(gaussian(rng, n, scale), shape, &Device::Cpu).unwrap())
        .unwrap()
}

/// A fixed batch: inputs (n x d) and integer labels.
struct Batch {
    x: Tensor,
    y: Tensor,
    x_raw: Vec<f64>,
    y_raw: Vec<u32>,
}

fn batch(rng: &mut ChaCha8Rng, n: usize, d: usize, classes: u32) -> Batch {
    let x_raw = gaussian(rng, n * d, 1.0);
    let y_raw: Vec<u32> = (0..n as u32).map(|i| (i * 7 + 3) % classes).collect();
    Batch {
        x: Tensor::from_vec(x_raw.clone(), (n, d), &Device::Cpu).unwrap(),
        y: Tensor::from_vec(y_raw.clone(), n, &Device::Cpu).unwrap(),
        x_raw,
        y_raw,
    }
}

/// A smooth network: linear(3 -> 5) - tanh - linear(5 -> 4) - cross-entropy, f64.
struct TanhNet {
    params: Vec<Var>,
    batches: Vec<Batch>,
}

impl TanhNet {
    fn new(seed: u64, n_batches: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = vec![
            var(&mut rng, &[5, 3], 0.8),
            var(&mut rng, &[5], 0.3),
            var(&mut rng, &[4, 5], 0.8),
            var(&mut rng, &[4], 0.3),
        ];
        let batches = (0..n_batches).map(|_| batch(&mut rng, 7, 3, 4)).collect();
        TanhNet { params, batches }
    }

    fn loss(&self, b: usize) -> candle_core::Result<Tensor> {
        let p = &self.params;
        let bt = &self.batches[b];
        let h = bt.x.matmul(&p[0].t()?)?.broadcast_add(&p[1])?.tanh()?;
        let logits = h.matmul(&p[2].t()?)?.broadcast_add(&p[3])?;
        candle_nn::loss::cross_entropy(&logits, &bt.y)
    }

    fn flat(&self) -> Vec<f64> {
        self.params
            .iter()
            .flat_map(|p| p.flatten_all().unwrap().to_vec1::<f64>().unwrap())
            .collect()
    }

    fn set_flat(&self, w: &[f64]) {
        let mut off = 0;
        for p in &self.params {
            let n = p.elem_count();
            p.set(&Tensor::from_slice(&w[off..off + n], p.shape(), &Device::Cpu).unwrap())
                .unwrap();
            off += n;
        }
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&d) / norm(b)
}

/// (a) H v against the central difference (g(w + eps v) - g(w - eps v)) / (2 eps) in f64.
///
/// Tolerance 1e-7 relative: with eps = 1e-5 and |v| = 1 the truncation error is about
/// eps^2 |d^3 L| / 6 ~ 1e-11 and the rounding error about 1e-16 |g| / eps ~ 1e-11, so the two
/// agree to ~1e-10 (measured 3e-11 to 5e-11); a detached (wrong) product is off by O(1).
#[test]
fn tanh_network_matches_finite_differences_of_gradients() {
    enable();
    let net = TanhNet::new(11, 2);
    let op = HessianOperator::new(net.params.clone(), 2, |b| net.loss(b)).unwrap();
    assert_eq!(op.dim(), 15 + 5 + 20 + 4);
    let w0 = net.flat();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let eps = 1e-5;
    for _ in 0..3 {
        let mut v = gaussian(&mut rng, op.dim(), 1.0);
        let nv = norm(&v);
        v.iter_mut().for_each(|x| *x /= nv);
        let mut hv = vec![0.0; op.dim()];
        op.apply(&v, &mut hv).unwrap();
        let shifted = |s: f64| {
            let w: Vec<f64> = w0.iter().zip(&v).map(|(w, v)| w + s * v).collect();
            net.set_flat(&w);
            op.gradient().unwrap()
        };
        let (gp, gm) = (shifted(eps), shifted(-eps));
        net.set_flat(&w0);
        let fd: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * eps))
            .collect();
        let rel = rel_diff(&hv, &fd);
        eprintln!("exact HVP vs FD: relative difference {rel:.2e}");
        assert!(rel < 1e-7, "relative difference {rel:.3e}");
        assert!(norm(&hv) > 1e-2, "a trivial product proves nothing");
    }
}

/// (c) y^T H x = x^T H y: double backprop gives a symmetric operator to rounding.
///
/// Tolerance 1e-12: each product is exact up to a few ulps times the number of operations
/// (~1e-15 relative, measured 5e-17); FD Hessians sit at 1e-8 and broken ones at O(1).
#[test]
fn tanh_network_operator_is_symmetric() {
    enable();
    let net = TanhNet::new(3, 1);
    let op = HessianOperator::new(net.params.clone(), 1, |b| net.loss(b)).unwrap();
    let check = op.check_symmetric(4, 9).unwrap();
    eprintln!("relative asymmetry {:.2e}", check.relative_asymmetry);
    assert!(check.relative_asymmetry < 1e-12, "{check:?}");
}

/// Softmax regression `z = W x + b`, mean cross-entropy: the Hessian is
/// `(1/n) sum_i (diag(p_i) - p_i p_i^T) (x) [x_i; 1][x_i; 1]^T`, written out by hand in nalgebra.
fn softmax_regression_hessian(w: &[f64], bt: &Batch, d: usize, k: usize) -> DMatrix<f64> {
    let n = bt.y_raw.len();
    let dim = k * d + k;
    let mut h = DMatrix::zeros(dim, dim);
    // Flat order: W (k x d, row-major), then b (k).
    let idx = |class: usize, feat: usize| {
        if feat < d {
            class * d + feat
        } else {
            k * d + class
        }
    };
    for i in 0..n {
        let xi: Vec<f64> = bt.x_raw[i * d..(i + 1) * d]
            .iter()
            .copied()
            .chain([1.0])
            .collect();
        let z: Vec<f64> = (0..k)
            .map(|c| (0..d).map(|j| w[c * d + j] * xi[j]).sum::<f64>() + w[k * d + c])
            .collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|z| (z - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|e| e / s).collect();
        for a in 0..k {
            for c in 0..k {
                let hz = if a == c { p[a] } else { 0.0 } - p[a] * p[c];
                for j in 0..=d {
                    for l in 0..=d {
                        h[(idx(a, j), idx(c, l))] += hz * xi[j] * xi[l] / n as f64;
                    }
                }
            }
        }
    }
    h
}

/// (b) The operator's columns equal the analytic dense Hessian, and Lanczos's top eigenvalues
/// equal nalgebra's `SymmetricEigen` of it (two batches averaged).
///
/// Tolerances: columns 1e-12 relative to max |H| (both are exact formulas evaluated in f64 with a
/// few hundred operations each); eigenvalues 1e-9 relative, the Lanczos tolerance 1e-10 plus
/// margin (residual-based bound for well separated eigenvalues).
#[test]
fn softmax_regression_matches_dense_hessian_and_eigenvalues() {
    enable();
    let (d, k) = (4, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let wv = var(&mut rng, &[k, d], 0.7);
    let bv = var(&mut rng, &[k], 0.3);
    let batches: Vec<Batch> = (0..2).map(|_| batch(&mut rng, 9, d, k as u32)).collect();
    let loss = |b: usize| {
        let bt = &batches[b];
        let z = bt.x.matmul(&wv.t()?)?.broadcast_add(&bv)?;
        candle_nn::loss::cross_entropy(&z, &bt.y)
    };
    let op = HessianOperator::new(vec![wv.clone(), bv.clone()], 2, loss).unwrap();
    let dim = op.dim();
    assert_eq!(dim, k * d + k);

    let w: Vec<f64> = wv
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
        .into_iter()
        .chain(bv.to_vec1::<f64>().unwrap())
        .collect();
    let dense = (softmax_regression_hessian(&w, &batches[0], d, k)
        + softmax_regression_hessian(&w, &batches[1], d, k))
        / 2.0;
    let scale = dense.amax();

    let mut col = vec![0.0; dim];
    for j in 0..dim {
        let mut e = vec![0.0; dim];
        e[j] = 1.0;
        op.apply(&e, &mut col).unwrap();
        for i in 0..dim {
            let diff = (col[i] - dense[(i, j)]).abs();
            assert!(
                diff < 1e-12 * scale,
                "H[{i}][{j}]: {} vs {}",
                col[i],
                dense[(i, j)]
            );
        }
    }

    let mut exact: Vec<f64> = SymmetricEigen::new(dense)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    exact.sort_by(|a, b| b.total_cmp(a));
    let res = Lanczos::new(4)
        .unwrap()
        .with_tol(1e-10)
        .unwrap()
        .run(&op)
        .unwrap();
    assert!(res.converged.iter().all(|&c| c), "{res:?}");
    for (got, want) in res.eigenvalues.iter().zip(&exact) {
        assert!(
            (got - want).abs() < 1e-9 * exact[0],
            "Lanczos {got} vs nalgebra {want}"
        );
    }
    // The power method on the same operator agrees on the top eigenvalue (a second solver).
    let pw = PowerIteration::new(1)
        .unwrap()
        .with_tol(1e-10)
        .unwrap()
        .run(&op)
        .unwrap();
    assert!((pw.eigenvalues[0] - exact[0]).abs() < 1e-6 * exact[0]);
}

#[test]
fn bad_inputs_are_refused() {
    enable();
    let w = Var::new(&[1.0f64, 2.0], &Device::Cpu).unwrap();
    let f = |_: usize| w.sqr()?.sum_all();
    assert!(HessianOperator::new(vec![], 1, f).is_err());
    assert!(HessianOperator::new(vec![w.clone()], 0, f).is_err());
    let ints = Var::from_tensor(&Tensor::new(&[1u32], &Device::Cpu).unwrap()).unwrap();
    assert!(HessianOperator::new(vec![ints], 1, f).is_err());
    let op = HessianOperator::new(vec![w.clone()], 1, f).unwrap();
    let mut out = [0.0; 2];
    assert!(op.apply(&[1.0], &mut out).is_err());
    assert!(op.apply(&[f64::NAN, 0.0], &mut out).is_err());
    op.apply(&[1.0, -1.0], &mut out).unwrap();
    assert_eq!(out, [2.0, -2.0]);
    assert!(HessianOperator::new(vec![w.clone()], 1, f)
        .unwrap()
        .with_batch_weights(vec![-1.0])
        .is_err());
    // A non-scalar loss is named.
    let op = HessianOperator::new(vec![w.clone()], 1, |_| w.sqr()).unwrap();
    let err = op.apply(&[1.0, 0.0], &mut out).unwrap_err();
    assert!(err.to_string().contains("scalar"), "{err}");
    // f32 parameters work too (products computed in f32, accumulated in f64).
    let w32 = Var::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
    let op = HessianOperator::new(vec![w32.clone()], 1, |_| w32.powf(3.0)?.sum_all()).unwrap();
    op.apply(&[1.0, 1.0], &mut out).unwrap();
    assert!(
        (out[0] - 6.0).abs() < 1e-5 && (out[1] - 12.0).abs() < 1e-5,
        "{out:?}"
    );
    assert_eq!(w32.dtype(), DType::F32);
}

const CHILD: &str = "ANODIFF_HVP_CHILD";

/// Runs [`child_without_flag`] in a fresh process without the variable: the operator must refuse,
/// and a hand-made double backward must be visibly wrong (why the refusal exists).
#[test]
fn the_flag_matters_in_a_fresh_process() {
    enable();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_without_flag", "--exact", "--ignored", "--nocapture"])
        .env_remove(DOUBLE_BACKWARD_ENV)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
#[ignore = "run by the_flag_matters_in_a_fresh_process in a process without the flag"]
fn child_without_flag() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    assert!(std::env::var(DOUBLE_BACKWARD_ENV).is_err());
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let wv = var(&mut rng, &[3, 2], 0.7);
    let bt = batch(&mut rng, 5, 2, 3);
    let loss = || candle_nn::loss::cross_entropy(&bt.x.matmul(&wv.t()?)?, &bt.y);
    let err = HessianOperator::new(vec![wv.clone()], 1, |_| loss()).unwrap_err();
    assert!(
        err.to_string().contains("CANDLE_GRAD_DO_NOT_DETACH"),
        "{err}"
    );

    // Raw double backward: grad(sum(g * e_0)) should be H[:, 0], which is non-zero.
    let g = loss().unwrap().backward().unwrap();
    let g = g.get(&wv).unwrap();
    let mut e = vec![0.0f64; 6];
    e[0] = 1.0;
    let e = Tensor::from_vec(e, (3, 2), &Device::Cpu).unwrap();
    let second = (g * e).unwrap().sum_all().unwrap().backward().unwrap();
    let col: Vec<f64> = second
        .get(&wv)
        .map(|t| t.flatten_all().unwrap().to_vec1().unwrap())
        .unwrap_or_else(|| vec![0.0; 6]);
    let mut w: Vec<f64> = wv.flatten_all().unwrap().to_vec1().unwrap();
    w.extend([0.0; 3]); // softmax_regression_hessian wants a bias; it is zero here
    let exact = softmax_regression_hessian(&w, &bt, 2, 3);
    let want: Vec<f64> = (0..6).map(|i| exact[(i, 0)]).collect();
    assert!(norm(&want) > 1e-3);
    assert!(
        rel_diff(&col, &want) > 0.5,
        "without the flag the second derivative is expected to be wrong: {col:?} vs {want:?}"
    );
}

mod network {
    use super::*;
    use anodiff_trainers::data::{load, DatasetSpec};
    use anodiff_trainers::hvp::{network_hessian, FixedBatches};
    use anodiff_trainers::init::InitOptions;
    use anodiff_trainers::model::{Arch, LossKind, Network};
    use anodiff_trainers::surface::eval_loss;

    fn net(arch: &str, seed: u64) -> (Network, FixedBatches) {
        let splits = load(&DatasetSpec::Digits).unwrap();
        let arch: Arch = arch.parse().unwrap();
        let net = Network::new(
            &arch,
            [1, 8, 8],
            10,
            DType::F64,
            &Device::Cpu,
            seed,
            &InitOptions::default(),
        )
        .unwrap();
        // Move away from the tiny classifier init so every block of the Hessian is sizeable.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let w: Vec<f32> = gaussian(&mut rng, net.num_params(), 0.3)
            .into_iter()
            .map(|x| x as f32)
            .collect();
        net.set_flat_weights(&w).unwrap();
        let idx: Vec<usize> = (0..33).map(|i| i * 17).collect();
        let data =
            FixedBatches::from_dataset(&splits.train, &idx, 20, DType::F64, &Device::Cpu).unwrap();
        (net, data)
    }

    /// A smooth `mlp-tanh` Network over two unequal batches: H v matches central differences of
    /// gradients (tolerance as in the hand-made tanh network above), and the operator's loss
    /// equals the example-weighted eval loss.
    #[test]
    fn tanh_mlp_network_matches_finite_differences() {
        enable();
        let (net, data) = net("mlp-tanh:6", 4);
        assert_eq!(data.sizes(), &[20, 13]);
        let op = network_hessian(&net, &data, LossKind::CrossEntropy).unwrap();
        assert_eq!(op.dim(), net.num_params());
        let l = op.loss().unwrap();
        assert!((l - eval_loss(&net, &data, LossKind::CrossEntropy).unwrap()).abs() < 1e-12 * l);

        let params: Vec<Var> = net.trainable().iter().map(|(_, v)| v.clone()).collect();
        let w0 = anodiff_trainers::surface::flat_values(&params).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut v = gaussian(&mut rng, op.dim(), 1.0);
        let nv = norm(&v);
        v.iter_mut().for_each(|x| *x /= nv);
        let mut hv = vec![0.0; op.dim()];
        op.apply(&v, &mut hv).unwrap();
        let eps = 1e-5;
        let grad_at = |s: f64| {
            let w: Vec<f64> = w0.iter().zip(&v).map(|(w, v)| w + s * v).collect();
            anodiff_trainers::surface::set_flat_values(&params, &w).unwrap();
            op.gradient().unwrap()
        };
        let (gp, gm) = (grad_at(eps), grad_at(-eps));
        anodiff_trainers::surface::set_flat_values(&params, &w0).unwrap();
        let fd: Vec<f64> = gp
            .iter()
            .zip(&gm)
            .map(|(a, b)| (a - b) / (2.0 * eps))
            .collect();
        let rel = rel_diff(&hv, &fd);
        eprintln!("mlp-tanh network: exact HVP vs FD relative difference {rel:.2e}");
        assert!(rel < 1e-7, "{rel:.3e}");
        assert!(norm(&hv) > 1e-2);
    }

    /// The small CNN (convolutions, batch norm in eval mode, ReLU): the operator is symmetric to
    /// rounding (1e-12, as for the tanh network).
    #[test]
    fn cnn_network_operator_is_symmetric() {
        enable();
        let (net, data) = net("cnn", 2);
        let op = network_hessian(&net, &data, LossKind::Mse).unwrap();
        let check = op.check_symmetric(2, 3).unwrap();
        eprintln!(
            "cnn network: relative asymmetry {:.2e}",
            check.relative_asymmetry
        );
        assert!(check.relative_asymmetry < 1e-12, "{check:?}");
    }
}

/// Cached gradient graphs give bit-identical products, and `clear_cache` follows new weights.
#[test]
fn cached_gradients_give_the_same_products() {
    enable();
    let net = TanhNet::new(17, 2);
    let plain = HessianOperator::new(net.params.clone(), 2, |b| net.loss(b)).unwrap();
    let cached = HessianOperator::new(net.params.clone(), 2, |b| net.loss(b))
        .unwrap()
        .with_cached_gradients();
    let n = plain.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..3 {
        let v = gaussian(&mut rng, n, 1.0);
        plain.apply(&v, &mut a).unwrap();
        cached.apply(&v, &mut b).unwrap();
        assert_eq!(a, b);
    }
    // New weights: the stale cache differs, a cleared one agrees again.
    let w: Vec<f64> = net.flat().iter().map(|x| 1.5 * x).collect();
    net.set_flat(&w);
    let v = gaussian(&mut rng, n, 1.0);
    plain.apply(&v, &mut a).unwrap();
    cached.apply(&v, &mut b).unwrap();
    assert!(
        rel_diff(&b, &a) > 1e-3,
        "the cache holds the old weights' graph"
    );
    cached.clear_cache();
    cached.apply(&v, &mut b).unwrap();
    assert_eq!(a, b);
}

/// The operator and the eval loss on CUDA tensors agree with the CPU ones (the commands'
/// `--device cuda`). Compiled only in a `cuda` build (never in CI), skipped without a GPU.
#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use anodiff_trainers::data::{load, DatasetSpec};
    use anodiff_trainers::hvp::{network_hessian, FixedBatches};
    use anodiff_trainers::init::InitOptions;
    use anodiff_trainers::model::{Arch, LossKind, Network};
    use anodiff_trainers::surface::eval_loss;

    /// The seeded small CNN (conv, batch norm, ReLU) and 64 digits in two batches, on `device`.
    fn on(device: &Device) -> (Network, FixedBatches) {
        let splits = load(&DatasetSpec::Digits).unwrap();
        let arch: Arch = "cnn".parse().unwrap();
        let net = Network::new(
            &arch,
            [1, 8, 8],
            10,
            DType::F64,
            device,
            3,
            &InitOptions::default(),
        )
        .unwrap();
        let idx: Vec<usize> = (0..64).map(|i| i * 13).collect();
        let data = FixedBatches::from_dataset(&splits.train, &idx, 32, DType::F64, device).unwrap();
        (net, data)
    }

    #[test]
    fn cuda_products_and_losses_match_the_cpu() {
        enable();
        let Ok(gpu) = Device::new_cuda(0) else {
            eprintln!("no CUDA device: skipped");
            return;
        };
        let (cpu_net, cpu_data) = on(&Device::Cpu);
        let (gpu_net, gpu_data) = on(&gpu);
        // The initialisation is drawn on the host from the seed: the same weights on both.
        assert_eq!(
            cpu_net.flat_weights().unwrap(),
            gpu_net.flat_weights().unwrap()
        );
        let kind = LossKind::CrossEntropy;
        let cpu_op = network_hessian(&cpu_net, &cpu_data, kind).unwrap();
        let gpu_op = network_hessian(&gpu_net, &gpu_data, kind).unwrap();
        let n = cpu_op.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        for _ in 0..2 {
            let v = gaussian(&mut rng, n, 1.0);
            cpu_op.apply(&v, &mut a).unwrap();
            gpu_op.apply(&v, &mut b).unwrap();
            // Both in f64; the kernels sum in other orders, so ~1e-15 per operation compounds
            // to far below 1e-9 relative.
            assert!(rel_diff(&b, &a) < 1e-9, "{}", rel_diff(&b, &a));
        }
        let lc = eval_loss(&cpu_net, &cpu_data, kind).unwrap();
        let lg = eval_loss(&gpu_net, &gpu_data, kind).unwrap();
        assert!((lc - lg).abs() < 1e-12 * lc.abs().max(1.0), "{lc} vs {lg}");
    }
}

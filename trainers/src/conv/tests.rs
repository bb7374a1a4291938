use super::*;
use crate::test_util::{check_hvp, to_f64};
use candle_core::{Device, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rand_tensor(shape: &[usize], dtype: DType, rng: &mut ChaCha8Rng) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    to_f64(a)
        .iter()
        .zip(to_f64(b))
        .fold(0f64, |m, (x, y)| m.max((x - y).abs()))
}

fn max_abs(a: &Tensor) -> f64 {
    to_f64(a).iter().fold(0f64, |m, x| m.max(x.abs()))
}

/// (n, c_in, h, w, c_out, k, stride, padding): the networks' shapes (3x3 stride 1 and 2, 1x1
/// stride 1 and 2), odd and non-square sizes, strides that do not divide the input, larger
/// kernels and paddings, and padding 0.
/// (n, c_in, h, w, c_out, k, stride, padding).
type Case = (usize, usize, usize, usize, usize, usize, usize, usize);

const CASES: [Case; 10] = [
    (4, 8, 8, 8, 16, 3, 1, 1),
    (4, 8, 9, 7, 16, 3, 2, 1),
    (4, 8, 8, 8, 16, 1, 2, 0),
    (4, 8, 8, 8, 16, 1, 1, 0),
    (2, 3, 6, 6, 4, 3, 1, 0),
    (2, 3, 5, 5, 4, 5, 1, 2),
    (3, 2, 7, 6, 3, 3, 3, 2),
    (9, 3, 4, 5, 2, 3, 2, 0),
    (1, 1, 2, 2, 1, 3, 1, 1),
    (2, 4, 6, 6, 3, 2, 2, 1),
];

/// Direct loops over the definition y[n,o,a,b] = sum_{c,i,j} x[n,c,a s+i-p,b s+j-p] w[o,c,i,j]
/// (zero outside the image), with the input and weight gradients of sum(y * r) from the same
/// index map: the brute-force reference for all three kernels.
fn brute(
    x: &[f64],
    w: &[f64],
    r: &[f64],
    (n, c, h, wd, o, k, s, p): Case,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let ho = (h + 2 * p - k) / s + 1;
    let wo = (wd + 2 * p - k) / s + 1;
    let mut y = vec![0.0; n * o * ho * wo];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    for b in 0..n {
        for oc in 0..o {
            for a in 0..ho {
                for bb in 0..wo {
                    let yi = ((b * o + oc) * ho + a) * wo + bb;
                    for ci in 0..c {
                        for i in 0..k {
                            for j in 0..k {
                                let iy = (a * s + i) as isize - p as isize;
                                let ix = (bb * s + j) as isize - p as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((b * c + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = ((oc * c + ci) * k + i) * k + j;
                                y[yi] += x[xi] * w[wi];
                                dx[xi] += r[yi] * w[wi];
                                dw[wi] += r[yi] * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dx, dw)
}

fn grads(
    f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
    x: &Tensor,
    w: &Tensor,
    r: &Tensor,
) -> (Tensor, Tensor, Tensor) {
    let xv = Var::from_tensor(x).unwrap();
    let wv = Var::from_tensor(w).unwrap();
    let y = f(xv.as_tensor(), wv.as_tensor()).unwrap();
    let gs = (&y * r).unwrap().sum_all().unwrap().backward().unwrap();
    (
        y,
        gs.get(&xv).unwrap().clone(),
        gs.get(&wv).unwrap().clone(),
    )
}

/// f64: forward, input gradient and weight gradient (directly and through autograd) against
/// the brute-force loops. Both sides sum at most c k^2 (forward, dx) or n ho wo (dw) products of
/// O(1) numbers in different orders, so they agree to a few ulps of the sums: 1e-12 absolute.
#[test]
fn matches_brute_force_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in CASES {
        let (n, ci, h, wd, co, k, s, p) = case;
        let x = rand_tensor(&[n, ci, h, wd], DType::F64, &mut rng);
        let w = rand_tensor(&[co, ci, k, k], DType::F64, &mut rng);
        let ho = (h + 2 * p - k) / s + 1;
        let wo = (wd + 2 * p - k) / s + 1;
        let r = rand_tensor(&[n, co, ho, wo], DType::F64, &mut rng);
        let (y0, dx0, dw0) = brute(&to_f64(&x), &to_f64(&w), &to_f64(&r), case);
        let (y, dx, dw) = grads(|x, w| conv2d(x, w, s, p), &x, &w, &r);
        let dx_direct = cpu::conv2d_input_grad(&r, &w, x.dims(), s, p).unwrap();
        let dw_direct = cpu::conv2d_weight_grad(&x, &r, w.dims(), s, p).unwrap();
        let check = |name: &str, got: &Tensor, want: &[f64]| {
            let got = to_f64(got);
            assert_eq!(got.len(), want.len(), "{case:?} {name}");
            let err = got
                .iter()
                .zip(want)
                .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(err < 1e-12, "{case:?} {name}: max error {err}");
        };
        assert_eq!(y.dims(), &[n, co, ho, wo]);
        check("y", &y, &y0);
        check("dx", &dx, &dx0);
        check("dw", &dw, &dw0);
        check("dx direct", &dx_direct, &dx0);
        check("dw direct", &dw_direct, &dw0);
    }
}

/// Values and both autograd gradients agree with candle's conv2d in f64 (1e-12 absolute, as
/// above) and in f32 (1e-5 relative to the largest entry: a few ulps of sums of up to 9 * 8 * 64
/// products of O(1) terms, summed in different orders), for both implementations (the CPU
/// kernels and the candle-backed op used on CUDA).
#[test]
fn matches_candle_conv2d() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    type Conv = fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor>;
    let impls: [(&str, Conv); 2] = [("cpu", conv2d), ("candle_backed", candle_backed::conv2d)];
    for (dtype, tol_rel, tol_abs) in [(DType::F64, 0.0, 1e-12), (DType::F32, 1e-5, 0.0)] {
        for (n, ci, h, wd, co, k, s, p) in CASES {
            let x = rand_tensor(&[n, ci, h, wd], dtype, &mut rng);
            let w = rand_tensor(&[co, ci, k, k], dtype, &mut rng);
            let ho = (h + 2 * p - k) / s + 1;
            let wo = (wd + 2 * p - k) / s + 1;
            let r = rand_tensor(&[n, co, ho, wo], dtype, &mut rng);
            if (h + 2 * p - k) % s != (wd + 2 * p - k) % s {
                // candle's own backward fails here: its conv_transpose2d takes one output
                // padding for both axes (the brute-force test covers these cases).
                continue;
            }
            let (y0, gx0, gw0) = grads(|x, w| x.conv2d(w, p, s, 1, 1), &x, &w, &r);
            for (name, f) in impls {
                let (y1, gx1, gw1) = grads(|x, w| f(x, w, s, p), &x, &w, &r);
                let case = format!("{name} {dtype:?} {:?}", (n, ci, h, wd, co, k, s, p));
                for (what, a, b) in [("y", &y0, &y1), ("dx", &gx0, &gx1), ("dw", &gw0, &gw1)] {
                    let err = max_abs_diff(a, b);
                    let tol = tol_abs + tol_rel * max_abs(a);
                    assert!(err <= tol, "{case}: {what} error {err} > {tol}");
                }
            }
        }
    }
}

/// The CPU kernels give the same bits on 1, 2 and 3 threads (f32, a batch that is not a multiple
/// of the weight-gradient chunk).
#[test]
fn bit_identical_across_thread_counts() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = rand_tensor(&[19, 8, 10, 10], DType::F32, &mut rng);
    let w = rand_tensor(&[16, 8, 3, 3], DType::F32, &mut rng);
    let r = rand_tensor(&[19, 16, 5, 5], DType::F32, &mut rng);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let (y, dx, dw) = grads(|x, w| conv2d(x, w, 2, 1), &x, &w, &r);
            [y, dx, dw].map(|t| {
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<u32>>()
            })
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// A small conv net, smooth (tanh) so that finite differences of the gradient are exact to
/// O(eps^2): conv 3x3 s1 -> tanh -> conv 3x3 s2 (odd input: the stride does not divide it) ->
/// tanh -> conv 1x1 s2 -> tanh -> conv 1x1 -> mean of squares. The input is a parameter too, so
/// the second derivative reaches every argument of all three ops.
fn small_net(conv: Conv, params: &[Tensor]) -> Result<Tensor> {
    let h = conv(&params[0], &params[1], 1, 1)?.tanh()?;
    let h = conv(&h, &params[2], 2, 1)?.tanh()?;
    let h = conv(&h, &params[3], 2, 0)?.tanh()?;
    let h = conv(&h, &params[4], 1, 0)?;
    h.sqr()?.mean(D::Minus1)?.mean(D::Minus1)?.sum_all()? * 0.5
}

type Conv = fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor>;

/// Exact HVP (double backprop through the custom ops) against central differences of the
/// gradient, in f64, for both implementations. Needs CANDLE_GRAD_DO_NOT_DETACH=1, which candle
/// reads once per thread: the check runs in a fresh thread with the variable set before its
/// first backward pass.
#[test]
fn hessian_vector_product_matches_finite_differences_f64() {
    std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
    std::thread::spawn(|| {
        hvp_check(conv2d);
        hvp_check(candle_backed::conv2d);
    })
    .join()
    .unwrap();
}

fn hvp_check(conv: Conv) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let shapes: [&[usize]; 5] = [
        &[2, 2, 7, 7],
        &[3, 2, 3, 3],
        &[4, 3, 3, 3],
        &[3, 4, 1, 1],
        &[2, 3, 1, 1],
    ];
    let vars: Vec<Var> = shapes
        .iter()
        .map(|s| Var::from_tensor(&rand_tensor(s, DType::F64, &mut rng)).unwrap())
        .collect();
    let v: Vec<Tensor> = shapes
        .iter()
        .map(|s| rand_tensor(s, DType::F64, &mut rng))
        .collect();

    check_hvp(&vars, &v, |p| small_net(conv, p).unwrap());
}

#[test]
fn no_grad_inputs_give_plain_conv() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = rand_tensor(&[1, 2, 5, 5], DType::F32, &mut rng);
    let w = rand_tensor(&[3, 2, 3, 3], DType::F32, &mut rng);
    let y = conv2d(&x, &w, 1, 1).unwrap();
    assert!(!y.track_op());
    assert_eq!(y.dims(), &[1, 3, 5, 5]);
}

#[test]
fn bad_shapes_are_errors() {
    let x = Tensor::zeros((1, 2, 5, 5), DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::zeros((3, 4, 3, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(conv2d(&x, &w, 1, 1).is_err(), "channel mismatch");
    let w = Tensor::zeros((3, 2, 9, 9), DType::F32, &Device::Cpu).unwrap();
    assert!(
        conv2d(&x, &w, 1, 1).is_err(),
        "kernel larger than the input"
    );
    let w = Tensor::zeros((3, 2, 3, 3), DType::F32, &Device::Cpu).unwrap();
    assert!(conv2d(&x, &w, 0, 1).is_err(), "stride 0");
    let w64 = Tensor::zeros((3, 2, 3, 3), DType::F64, &Device::Cpu).unwrap();
    assert!(conv2d(&x, &w64, 1, 1).is_err(), "mixed dtypes");
}

use anodiff_trainers::candle_core::{DType, Device, Tensor};
use anodiff_trainers::init::InitOptions;
use anodiff_trainers::model::{loss, LossKind, Network};
use anodiff_trainers::train::sgd_update;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let dev = Device::Cpu;
    let net = Network::new(
        &"resnet20".parse().unwrap(),
        [3, 32, 32],
        10,
        DType::F32,
        &dev,
        0,
        &InitOptions::default(),
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..128 * 3 * 32 * 32)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y: Vec<u32> = (0..128).map(|_| rng.random_range(0..10)).collect();
    let x = Tensor::from_vec(x, (128, 3, 32, 32), &dev).unwrap();
    let y = Tensor::from_vec(y, 128, &dev).unwrap();
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for _ in 0..steps {
        let t0 = Instant::now();
        let logits = net.forward(&x, true).unwrap();
        let l = loss(&logits, &y, LossKind::CrossEntropy, 10).unwrap();
        let lv = l.to_scalar::<f32>().unwrap();
        let t1 = Instant::now();
        let g = l.backward().unwrap();
        let t2 = Instant::now();
        sgd_update(&net, &g, 1e-3).unwrap();
        let t3 = Instant::now();
        eprintln!(
            "loss {lv:.4} fwd {:.3} bwd {:.3} sgd {:.3}",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64()
        );
    }
}

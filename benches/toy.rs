//! Toy-model speed target: 1000 steps x 100 walkers on a 2049 x 2049 landscape in
//! under 1 s on 2 cores. Also times generating that landscape (diamond-square) once.

use anodiff_core::landscape::{diamond_square, DiamondSquareConfig, Landscape};
use anodiff_core::toy::{simulate_many, ToyConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn toy(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cfg = DiamondSquareConfig {
        size: 2049,
        ..Default::default()
    };
    let z = diamond_square(&cfg, &mut rng).expect("valid settings");
    let land = Landscape::new(z).expect("finite square grid");
    let toy_cfg = ToyConfig {
        steps: 1000,
        ..Default::default()
    };
    let seeds: Vec<u64> = (0..100).collect();
    let mut g = c.benchmark_group("toy");
    g.sample_size(10);
    g.bench_function("1000_steps_x_100_walkers_2049", |b| {
        b.iter(|| simulate_many(black_box(&land), &toy_cfg, &seeds).expect("runs"))
    });
    g.bench_function("diamond_square_2049", |b| {
        b.iter(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            diamond_square(black_box(&cfg), &mut rng).expect("valid settings")
        })
    });
    g.finish();
}

criterion_group!(benches, toy);
criterion_main!(benches);

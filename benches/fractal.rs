//! Box counting of 4096 x 4096 images (target: under 1 s) and the surface estimators on a
//! 1025 x 1025 exact fBm surface.
use anodiff_core::fractal::{
    box_count_image, box_count_points, level_set_dimension, surface_dimension, Bitmap,
    BoxCountConfig, SurfaceDimConfig, SurfaceMethod,
};
use anodiff_core::landscape::{fbm_surface, FbmSurfaceConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn boxcount(c: &mut Criterion) {
    let n = 4096;
    let tri = Bitmap::from_fn(n, n, |x, y| x & y == 0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let bits: Vec<bool> = (0..n * n).map(|_| rng.random::<f64>() < 0.3).collect();
    let noise = Bitmap::new(n, n, &bits).unwrap();
    let cfg = BoxCountConfig::default();
    let mut g = c.benchmark_group("boxcount");
    g.sample_size(10);
    g.bench_function("sierpinski_4096", |b| {
        b.iter(|| box_count_image(black_box(&tri), &cfg).unwrap())
    });
    g.bench_function("random_30pct_4096", |b| {
        b.iter(|| box_count_image(black_box(&noise), &cfg).unwrap())
    });
    let pts = Array2::from_shape_fn((1_000_000, 2), |_| rng.random::<f64>());
    g.bench_function("points_1e6_2d", |b| {
        b.iter(|| box_count_points(black_box(pts.view()), &cfg).unwrap())
    });
    g.finish();
}

fn surfaces(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let z = fbm_surface(
        &FbmSurfaceConfig {
            size: 1025,
            hurst: 0.5,
            scale: 1.0,
        },
        &mut rng,
    )
    .unwrap();
    let mut g = c.benchmark_group("surface_1025");
    g.sample_size(10);
    for m in [
        SurfaceMethod::Variogram,
        SurfaceMethod::Madogram,
        SurfaceMethod::Dbc,
    ] {
        let cfg = SurfaceDimConfig::new(m);
        g.bench_function(m.name(), |b| {
            b.iter(|| surface_dimension(black_box(z.view()), &cfg).unwrap())
        });
    }
    let cfg = BoxCountConfig::default();
    g.bench_function("level-set", |b| {
        b.iter(|| level_set_dimension(black_box(z.view()), None, &cfg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, boxcount, surfaces);
criterion_main!(benches);

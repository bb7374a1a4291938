//! Segmented (broken-line) regression with 100 bootstrap restarts, on the data of
//! `fixtures/msd/piecewise_regression.json` (the piecewise-regression recipe
//! y = 100 - 4x + 2(x - 7)_+ + N(0, 1), 200 points, numpy seed 1). `scripts/peer_piecewise.py`
//! times piecewise-regression 1.5.0's `Fit(x, y, n_breakpoints=1, n_boot=100)` on the same data;
//! `scripts/compare-peers.sh` prints the ratio.

use anodiff_core::exponent::Segmented;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use std::hint::black_box;

fn load() -> (Vec<f64>, Vec<f64>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/msd/piecewise_regression.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture present in the repository");
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let nums = |a: &serde_json::Value| -> Vec<f64> {
        a.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    };
    (nums(&v["x"]), nums(&v["cases"][0]["y"]))
}

fn bench(c: &mut Criterion) {
    let (x, y) = load();
    c.bench_function("segmented/recipe_n200_boot100", |b| {
        b.iter(|| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            black_box(Segmented::default().fit(&x, &y, &mut rng).expect("fit"))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

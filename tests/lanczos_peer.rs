use anodiff_core::lanczos::*;
#[test]
#[ignore]
fn tune() {
    let n: usize = std::env::var("N").ok().and_then(|x| x.parse().ok()).unwrap_or(3000);
    let lam = cifar_like_spectrum(n).unwrap();
    let op = PlantedOperator::random(lam.clone(), 4, 2021).unwrap();
    let ms: Vec<usize> = std::env::var("MS").unwrap_or("41,60,80,100".into()).split(',').map(|x| x.parse().unwrap()).collect(); for m in ms {
        let mut tot = vec![];
        for seed in 0..5 {
            let r = Lanczos::new(20).unwrap().with_basis_size(m).unwrap().with_seed(seed).with_vectors(true).run(&op).unwrap();
            let res = residual_norms(&op, &r.eigenvalues, r.eigenvectors.as_ref().unwrap()).unwrap();
            let maxrel = res.iter().zip(&r.eigenvalues).map(|(a,b)| a/b.abs()).fold(0.0f64, f64::max);
            let maxerr = r.eigenvalues.iter().zip(&lam).map(|(a,b)| ((a-b)/b).abs()).fold(0.0f64, f64::max);
            assert!(r.termination == Termination::Converged);
            tot.push((r.matvecs, maxrel, maxerr));
        }
        let mv: Vec<usize> = tot.iter().map(|t| t.0).collect(); let mr = tot.iter().map(|t| t.1).fold(0.0f64, f64::max); let me = tot.iter().map(|t| t.2).fold(0.0f64, f64::max); println!("m={m} {:?} maxres {:.1e} maxerr {:.1e}", mv, mr, me);
    }
}
#[test]
#[ignore]
fn export() {
    use ndarray::{Array1, Array2};
    for (n, dir) in [(3000usize, "fixtures/lanczos"), (20000, "target/lanczos-peer")] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let op = PlantedOperator::random(cifar_like_spectrum(n).unwrap(), 4, 2021).unwrap();
        let ev = Array1::from(op.eigenvalues().to_vec());
        let r = Array2::from_shape_fn((4, n), |(i, j)| op.reflectors()[i][j]);
        ndarray_npy::write_npy(dir.join(format!("cifar{n}_eigenvalues.npy")), &ev).unwrap();
        ndarray_npy::write_npy(dir.join(format!("cifar{n}_reflectors.npy")), &r).unwrap();
    }
}

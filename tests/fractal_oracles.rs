//! Box counting on sets of known dimension, generated exactly here.
//!
//! Reference values are analytic (similarity dimensions of self-similar sets satisfying the
//! open-set condition: log m / log r for m copies scaled by 1/r; Falconer 2003, thm 9.3).

use anodiff_core::fractal::{
    box_count_image, box_count_points, Bitmap, BoxCountConfig, FitRange, OffsetAggregate,
};
use ndarray::Array2;

/// Pascal's triangle mod 2: pixel (x, y) is in the set iff x AND y == 0 (Lucas' theorem).
fn sierpinski_triangle(n: usize) -> Bitmap {
    Bitmap::from_fn(n, n, |x, y| x & y == 0).unwrap()
}

/// Sierpinski carpet of side 3^k: no base-3 digit position where both x and y have a 1.
fn sierpinski_carpet(k: u32) -> Bitmap {
    let n = 3usize.pow(k);
    Bitmap::from_fn(n, n, |mut x, mut y| {
        while x > 0 || y > 0 {
            if x % 3 == 1 && y % 3 == 1 {
                return false;
            }
            x /= 3;
            y /= 3;
        }
        true
    })
    .unwrap()
}

/// Vertices of the level-`k` Koch curve from (0, 0) to (1, 0): 4^k + 1 points.
fn koch_vertices(k: u32) -> Vec<[f64; 2]> {
    let mut pts = vec![[0.0, 0.0], [1.0, 0.0]];
    let (c, s) = (0.5, 3f64.sqrt() / 2.0); // rotation by +60°: the bumps point to +y
    for _ in 0..k {
        let mut next = Vec::with_capacity(4 * pts.len());
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let d = [(b[0] - a[0]) / 3.0, (b[1] - a[1]) / 3.0];
            let p1 = [a[0] + d[0], a[1] + d[1]];
            let p3 = [a[0] + 2.0 * d[0], a[1] + 2.0 * d[1]];
            let p2 = [p1[0] + c * d[0] - s * d[1], p1[1] + s * d[0] + c * d[1]];
            next.extend_from_slice(&[a, p1, p2, p3]);
        }
        next.push(*pts.last().unwrap());
        pts = next;
    }
    pts
}

/// Rasterises a polyline into an n x n image (coordinates scaled by `scale`), sampling each
/// segment at steps of a quarter pixel so that no pixel along it is skipped.
fn rasterise(pts: &[[f64; 2]], n: usize, scale: f64, off: [f64; 2]) -> Bitmap {
    let mut img = Bitmap::from_fn(n, n, |_, _| false).unwrap();
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b[0] - a[0]).hypot(b[1] - a[1]) * scale * 4.0).ceil().max(1.0) as usize;
        for t in 0..=len {
            let f = t as f64 / len as f64;
            let x = (off[0] + scale * (a[0] + f * (b[0] - a[0]))) as usize;
            let y = (off[1] + scale * (a[1] + f * (b[1] - a[1]))) as usize;
            img.set(x.min(n - 1), y.min(n - 1), true);
        }
    }
    img
}

/// Level-`k` IFS attractor points: every composition of k maps x -> (x + v_i) / 2 applied to
/// every vertex v (vertices of a simplex give the Sierpinski gasket in any dimension).
fn sierpinski_simplex(vertices: &[Vec<f64>], k: u32) -> Array2<f64> {
    let d = vertices[0].len();
    let mut pts: Vec<Vec<f64>> = vertices.to_vec();
    for _ in 0..k {
        pts = pts
            .iter()
            .flat_map(|p| {
                vertices
                    .iter()
                    .map(|v| p.iter().zip(v).map(|(a, b)| (a + b) / 2.0).collect::<Vec<f64>>())
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    Array2::from_shape_fn((pts.len(), d), |(i, j)| pts[i][j])
}

fn show(name: &str, bc: &anodiff_core::fractal::BoxCount, truth: f64) {
    eprintln!(
        "{name}: D = {:.4} (truth {truth:.4}, err {:+.4}) se {:.4} range {:?} spread {:.3} fallback {}\n  scales {:?}\n  slopes {:?}",
        bc.dimension,
        bc.dimension - truth,
        bc.se,
        bc.fit_range,
        bc.slope_spread,
        bc.auto_fallback,
        bc.scales,
        bc.local_slopes.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<_>>()
    );
}

#[test]
fn explore() {
    let cfg = BoxCountConfig::default();
    let t = sierpinski_triangle(1024);
    show("triangle", &box_count_image(&t, &cfg).unwrap(), 3f64.ln() / 2f64.ln());
    let c = sierpinski_carpet(7);
    show("carpet", &box_count_image(&c, &cfg).unwrap(), 8f64.ln() / 3f64.ln());
    let kv = koch_vertices(9);
    let k = rasterise(&kv, 2048, 2040.0, [4.0, 4.0]);
    show("koch raster", &box_count_image(&k, &cfg).unwrap(), 4f64.ln() / 3f64.ln());
    let kp = Array2::from_shape_fn((kv.len(), 2), |(i, j)| kv[i][j]);
    show("koch points", &box_count_points(kp.view(), &cfg).unwrap(), 4f64.ln() / 3f64.ln());
    let sq = Bitmap::from_fn(1024, 1024, |x, y| x >= 100 && y >= 50 && x < 900 && y < 1000).unwrap();
    show("square", &box_count_image(&sq, &cfg).unwrap(), 2.0);
    let line = rasterise(&[[0.0, 0.0], [1.0, 0.37]], 1024, 1000.0, [3.0, 3.0]);
    show("line", &box_count_image(&line, &cfg).unwrap(), 1.0);
    let tri = sierpinski_simplex(&[vec![0.0, 0.0], vec![1.0, 0.0], vec![0.5, 0.8660254037844386]], 10);
    show("triangle points", &box_count_points(tri.view(), &cfg).unwrap(), 3f64.ln() / 2f64.ln());
    let tet = sierpinski_simplex(
        &[vec![0.0, 0.0, 0.0], vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 1.0]],
        8,
    );
    show("tetrahedron points", &box_count_points(tet.view(), &cfg).unwrap(), 2.0);
    let seg = Array2::from_shape_fn((4096, 2), |(i, j)| if j == 0 { i as f64 } else { 0.5 * i as f64 });
    show("segment points", &box_count_points(seg.view(), &cfg).unwrap(), 1.0);
    let _ = (FitRange::All, OffsetAggregate::Mean);
}

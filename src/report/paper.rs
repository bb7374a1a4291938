//! The paper's published numbers, for the report's side-by-side tables.
//!
//! Sources: Chen, Qu & Gong, "Anomalous diffusion dynamics of learning in deep neural networks"
//! (text of 2021-11-15; /work/shared/paper), and the exponents the authors hard-coded in
//! `plot_Supplementary_Figure3.m` / `plot_Supplementary_Figure4.m` of
//! ifgovh/Anomalous-diffusion-dynamics-of-SGD (HEAD 480f965), which are the paper's Figs. 3-4.
//! The authors read these from log-log plots by hand ("from MSD_exponent_DNN.xlsx"); several
//! are two-point slopes such as 68/49.

/// One network of the authors' Fig. 3 table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthBatchRow {
    /// ResNet depth (14, 20, 56, 110).
    pub depth: u32,
    /// Minibatch size.
    pub batch: u32,
    /// With identity shortcuts (`false`: the `-noshort` twin).
    pub shortcut: bool,
    /// MSD exponent in regime 1 (`tau > tau0`, `t_w < t0`).
    pub alpha1: f64,
    /// MSD exponent in regime 2 (`t_w > t0`).
    pub alpha2: f64,
    /// Crossover lag `tau0` in steps.
    pub tau0: f64,
}

const fn row(
    depth: u32,
    batch: u32,
    shortcut: bool,
    alpha1: f64,
    alpha2: f64,
    tau0: f64,
) -> DepthBatchRow {
    DepthBatchRow {
        depth,
        batch,
        shortcut,
        alpha1,
        alpha2,
        tau0,
    }
}

/// The authors' exponents and crossovers by depth, batch size and shortcut (paper Fig. 3).
pub const DEPTH_BATCH: [DepthBatchRow; 24] = [
    row(14, 128, false, 1.358974359, 0.7, 80.0),
    row(14, 128, true, 1.315384615, 0.726666667, 180.0),
    row(14, 512, false, 1.221590909, 0.69, 50.0),
    row(14, 512, true, 1.404958678, 0.7, 100.0),
    row(14, 1024, false, 1.387755102, 0.69, 65.0),
    row(14, 1024, true, 1.214689266, 0.782608696, 70.0),
    row(20, 128, false, 1.230769231, 0.649717514, 140.0),
    row(20, 128, true, 1.227436823, 0.733333333, 150.0),
    row(20, 512, false, 1.297709924, 0.683333333, 60.0),
    row(20, 512, true, 1.36, 0.703333333, 100.0),
    row(20, 1024, false, 1.31372549, 0.693333333, 100.0),
    row(20, 1024, true, 1.36, 0.6, 45.0),
    row(56, 128, false, 1.111111111, 0.766666667, 200.0),
    row(56, 128, true, 1.157894737, 0.684210526, 70.0),
    row(56, 512, false, 1.1, 0.716666667, 125.0),
    row(56, 512, true, 1.172413793, 0.75, 70.0),
    row(56, 1024, false, 1.033333333, 0.7, 133.0),
    row(56, 1024, true, 1.259259259, 0.733333333, 70.0),
    row(110, 128, false, 1.012048193, 0.7, 300.0),
    row(110, 128, true, 1.215753425, 0.8, 220.0),
    row(110, 256, false, 1.172413793, 0.745762712, 400.0),
    row(110, 256, true, 1.181818182, 0.88372093, 110.0),
    row(110, 512, false, 1.35, 0.733333333, 300.0),
    row(110, 512, true, 1.416666667, 0.67357513, 100.0),
];

/// The authors' ResNet-14 exponents by learning rate (paper Fig. 4a): `(lr, alpha1, alpha2)`.
pub const LEARNING_RATE: [(f64, f64, f64); 5] = [
    (0.001, 2.0, 2.0),
    (0.01, 1.833333333, 1.7),
    (0.05, 1.7, 0.676666667),
    (0.1, 1.387755102, 0.69),
    (0.5, 1.4, 0.726666667),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_the_two_point_slopes_the_notes_identify() {
        // 68/49, 2.18/3 and 18/23 are the hand-read slopes named in authors-code.md s.2.
        let r14_noshort = DEPTH_BATCH[4];
        assert!((r14_noshort.alpha1 - 68.0 / 49.0).abs() < 1e-9);
        assert!((DEPTH_BATCH[1].alpha2 - 2.18 / 3.0).abs() < 1e-9);
        assert!((DEPTH_BATCH[5].alpha2 - 18.0 / 23.0).abs() < 1e-9);
        // Every (depth, batch) appears with and without shortcut.
        for pair in DEPTH_BATCH.chunks(2) {
            assert_eq!(
                (pair[0].depth, pair[0].batch),
                (pair[1].depth, pair[1].batch)
            );
            assert!(!pair[0].shortcut && pair[1].shortcut);
        }
    }
}

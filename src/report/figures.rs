//! The paper's figures (Figs. 2-8) as [`Figure`]s built from plain data.
//!
//! Each builder fixes what the paper fixes: which axes are logarithmic, the axis labels with
//! their units, the colouring of curves by the window start `t_w` (MATLAB's jet, as in the
//! paper). The callers pass measured numbers and fitted curves; nothing here fits anything.

use super::plot::{jet, palette, Axes, ColorBar, Figure, Grid, HeatPanel, Legend, Panel, Series};
use super::plot::{Rgb, XyPanel};

/// One curve measured in the window that starts at step `t_w`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCurve {
    /// First step of the window.
    pub t_w: f64,
    /// Abscissae (lag, distance, contour length, step in the window).
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
}

/// A normalised histogram: bin centres and probability densities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Bin centres.
    pub centres: Vec<f64>,
    /// Density in each bin (count / (n * bin width)).
    pub density: Vec<f64>,
}

/// Density histogram of the finite values inside `[lo, hi]` on `bins` equal bins; the
/// normalisation counts every finite value, so the bars of a clipped range integrate to the
/// fraction of the sample inside it (the same scale as a fitted pdf).
pub fn histogram(values: &[f64], bins: usize, lo: f64, hi: f64) -> Histogram {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if bins == 0 || finite.is_empty() || !(hi > lo) {
        return Histogram::default();
    }
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in &finite {
        if *v >= lo && *v <= hi {
            counts[(((v - lo) / w) as usize).min(bins - 1)] += 1;
        }
    }
    let n = finite.len() as f64;
    Histogram {
        centres: (0..bins).map(|k| lo + (k as f64 + 0.5) * w).collect(),
        density: counts.iter().map(|&c| c as f64 / (n * w)).collect(),
    }
}

/// Density of the positive values on `bins` logarithmically spaced bins between the smallest and
/// largest positive value (the tail of a distribution on log-log axes), normalised by the number
/// of finite values so that it matches a pdf of the whole sample; empty bins are left out, the
/// centres are geometric means of the edges.
pub fn log_histogram(values: &[f64], bins: usize) -> Histogram {
    let n = values.iter().filter(|v| v.is_finite()).count() as f64;
    let pos: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (lo, hi) = pos
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    if bins == 0 || pos.is_empty() || !(hi > lo) {
        return Histogram::default();
    }
    let (llo, lhi) = (lo.ln(), hi.ln());
    let dw = (lhi - llo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in &pos {
        counts[(((v.ln() - llo) / dw) as usize).min(bins - 1)] += 1;
    }
    let mut h = Histogram::default();
    for (k, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let (a, b) = (
            (llo + k as f64 * dw).exp(),
            (llo + (k + 1) as f64 * dw).exp(),
        );
        h.centres.push((a * b).sqrt());
        h.density.push(c as f64 / (n * (b - a)));
    }
    h
}

/// A fitted power law `y = prefactor * x^exponent`, drawn dashed over `x_range`.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerLaw {
    /// Legend text (the exponent is appended).
    pub label: String,
    /// Exponent.
    pub exponent: f64,
    /// Prefactor.
    pub prefactor: f64,
    /// Range of x the fit covers.
    pub x_range: (f64, f64),
}

impl PowerLaw {
    fn series(&self, color: Rgb) -> Series {
        let (a, b) = self.x_range;
        let xs: Vec<f64> = (0..=20)
            .map(|k| a * (b / a).powf(k as f64 / 20.0))
            .collect();
        let ys = xs
            .iter()
            .map(|x| self.prefactor * x.powf(self.exponent))
            .collect();
        Series::dashed(
            format!("{} (slope {:.2})", self.label, self.exponent),
            xs,
            ys,
        )
        .with_color(color)
    }
}

fn window_series(curves: &[WindowCurve]) -> (Vec<Series>, ColorBar) {
    let (lo, hi) = curves
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), c| {
            (a.min(c.t_w), b.max(c.t_w))
        });
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let t = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
    let series = curves
        .iter()
        .map(|c| Series::line("", c.x.clone(), c.y.clone()).with_color(jet(t(c.t_w))))
        .collect();
    (
        series,
        ColorBar {
            label: "t_w (step)".into(),
            min: lo,
            max: hi,
        },
    )
}

/// Dashed grey reference lines `y ∝ x^k` for each `k`, through the first drawable point of the
/// first series, over the x span of all series (the paper's guides for ballistic `tau^2` and
/// normal `tau^1` diffusion).
pub fn guides(series: &[Series], exponents: &[f64]) -> Vec<Series> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.x.iter().zip(&s.y).map(|(&x, &y)| (x, y)))
        .filter(|&(x, y)| x.is_finite() && y.is_finite() && x > 0.0 && y > 0.0)
        .collect();
    let Some(&(x0, y0)) = pts.first() else {
        return Vec::new();
    };
    let x1 = pts.iter().fold(x0, |m, p| m.max(p.0));
    if x1 <= x0 {
        return Vec::new();
    }
    exponents
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let shade = 90 + 50 * i as u8;
            Series::dashed(
                format!("slope {k}"),
                vec![x0, x1],
                vec![y0, y0 * (x1 / x0).powf(k)],
            )
            .with_color([shade, shade, shade])
        })
        .collect()
}

/// Fig. 2 (and Figs. 4c-f): MSD against lag in each window, log-log, coloured by `t_w`.
pub fn msd_by_window(title: &str, curves: &[WindowCurve]) -> Figure {
    let (mut series, cb) = window_series(curves);
    let g = guides(&series, &[1.0, 2.0]);
    series.extend(g);
    let mut p = XyPanel::new(
        Axes::new(title, "lag tau (steps)", "MSD (squared weight distance)").log(true, true),
        series,
    );
    p.colorbar = Some(cb);
    Figure::row("", vec![Panel::Xy(p)])
}

/// Figs. 3 and 4a: fitted quantities (exponent, `tau0`) against a swept variable (batch size,
/// depth, learning rate), one panel per `(y_label, series)`, the series carrying their
/// intervals as error bars.
pub fn sweep(
    title: &str,
    x_label: &str,
    log_x: bool,
    panels: Vec<(String, Vec<Series>)>,
) -> Figure {
    let panels = panels
        .into_iter()
        .map(|(y_label, series)| {
            Panel::Xy(
                XyPanel::new(Axes::new("", x_label, y_label).log(log_x, false), series)
                    .legend(Legend::UpperRight),
            )
        })
        .collect();
    Figure::row(title, panels)
}

/// Fig. 4b: training loss against time, one series per run; `log_y` as the paper's panel.
pub fn loss_curves(title: &str, x_label: &str, series: Vec<Series>, log_y: bool) -> Figure {
    let p = XyPanel::new(
        Axes::new(title, x_label, "training loss").log(false, log_y),
        series,
    )
    .legend(Legend::UpperRight);
    Figure::row("", vec![Panel::Xy(p)])
}

/// Fig. 5a: the gradient histogram with fitted densities (left, linear axes) and the positive
/// tail with the same densities on log-log axes (right, the paper's inset). `fits` are curves
/// `(x, pdf(x))` such as the stable and normal fits, drawn on both panels.
pub fn gradient_distribution(
    title: &str,
    x_label: &str,
    hist: &Histogram,
    tail: &Histogram,
    fits: &[Series],
) -> Figure {
    let mut left = vec![
        Series::bars("data", hist.centres.clone(), hist.density.clone())
            .with_color([120, 120, 120]),
    ];
    let lo = hist.centres.first().copied().unwrap_or(f64::NEG_INFINITY);
    let hi = hist.centres.last().copied().unwrap_or(f64::INFINITY);
    let peak = hist.density.iter().copied().fold(0.0f64, f64::max);
    for (i, f) in fits.iter().enumerate() {
        // Clip the fitted curves to the histogram's range (and its height, generously), so a
        // narrow normal peak cannot squash the bars.
        let keep: Vec<(f64, f64)> =
            f.x.iter()
                .zip(&f.y)
                .filter(|(&x, _)| x >= lo && x <= hi)
                .map(|(&x, &y)| (x, if peak > 0.0 { y.min(3.0 * peak) } else { y }))
                .collect();
        let mut s = Series::line(
            f.label.clone(),
            keep.iter().map(|p| p.0).collect(),
            keep.iter().map(|p| p.1).collect(),
        );
        s.color = Some(f.color.unwrap_or(palette(i + 1)));
        s.mark = f.mark;
        left.push(s);
    }
    let mut right = vec![
        Series::points("data, x > 0", tail.centres.clone(), tail.density.clone())
            .with_color([60, 60, 60]),
    ];
    let tail_lo = tail.centres.first().copied().unwrap_or(0.0);
    let floor = tail
        .density
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    for (i, f) in fits.iter().enumerate() {
        let keep: Vec<(f64, f64)> =
            f.x.iter()
                .zip(&f.y)
                .filter(|(&x, &y)| x >= tail_lo && y >= floor / 10.0)
                .map(|(&x, &y)| (x, y))
                .collect();
        let mut s = Series::line(
            f.label.clone(),
            keep.iter().map(|p| p.0).collect(),
            keep.iter().map(|p| p.1).collect(),
        );
        s.color = Some(f.color.unwrap_or(palette(i + 1)));
        s.mark = f.mark;
        right.push(s);
    }
    Figure::row(
        title,
        vec![
            Panel::Xy(
                XyPanel::new(
                    Axes::new("distribution", x_label, "probability density"),
                    left,
                )
                .legend(Legend::UpperRight),
            ),
            Panel::Xy(
                XyPanel::new(
                    Axes::new("positive tail (log-log)", x_label, "probability density")
                        .log(true, true),
                    right,
                )
                .legend(Legend::LowerLeft),
            ),
        ],
    )
}

/// Fig. 5b: `|Delta L|` against the step inside each window, coloured by `t_w`, log y.
pub fn loss_changes_by_window(title: &str, curves: &[WindowCurve]) -> Figure {
    let (series, cb) = window_series(curves);
    let mut p = XyPanel::new(
        Axes::new(
            title,
            "step in window (steps)",
            "|Delta L| (loss change per step)",
        )
        .log(false, true),
        series,
    )
    .legend(Legend::Hidden);
    p.colorbar = Some(cb);
    Figure::row("", vec![Panel::Xy(p)])
}

/// Fig. 5c: moving variance of the loss over `window` steps against time.
pub fn moving_variance(title: &str, steps: Vec<f64>, variance: Vec<f64>, window: usize) -> Figure {
    let p = XyPanel::new(
        Axes::new(title, "step", "moving variance of the loss").log(false, true),
        vec![Series::line(
            format!("window {window} steps"),
            steps,
            variance,
        )],
    )
    .legend(Legend::UpperRight);
    Figure::row("", vec![Panel::Xy(p)])
}

/// Fig. 6: the top Hessian eigenvalues against epoch: `eigenvalues[c]` holds checkpoint `c`'s
/// eigenvalues in decreasing order; each rank becomes one line coloured from red (largest) to
/// blue.
pub fn hessian_top_eigenvalues(title: &str, epochs: &[f64], eigenvalues: &[Vec<f64>]) -> Figure {
    let k = eigenvalues.iter().map(Vec::len).max().unwrap_or(0);
    let series = (0..k)
        .map(|r| {
            let (x, y): (Vec<f64>, Vec<f64>) = epochs
                .iter()
                .zip(eigenvalues)
                .filter_map(|(&e, ev)| ev.get(r).map(|&v| (e, v)))
                .unzip();
            let t = if k > 1 {
                1.0 - r as f64 / (k - 1) as f64
            } else {
                1.0
            };
            Series::line(
                if r == 0 {
                    "largest".to_string()
                } else if r + 1 == k {
                    format!("rank {k}")
                } else {
                    String::new()
                },
                x,
                y,
            )
            .with_color(jet(t))
        })
        .collect();
    let p = XyPanel::new(Axes::new(title, "epoch", "Hessian eigenvalue"), series)
        .legend(Legend::UpperRight);
    Figure::row("", vec![Panel::Xy(p)])
}

/// Fig. 7a and 7c: a scaling relation per window on log-log axes (MSL against distance,
/// squared end-to-end distance against contour length), coloured by `t_w`, with fitted power
/// laws drawn dashed.
pub fn scaling_by_window(
    title: &str,
    x_label: &str,
    y_label: &str,
    curves: &[WindowCurve],
    fits: &[PowerLaw],
) -> Figure {
    let (mut series, cb) = window_series(curves);
    for (i, f) in fits.iter().enumerate() {
        let shade = (40 * i as u8).min(160);
        series.push(f.series([shade, shade, shade]));
    }
    let mut p = XyPanel::new(Axes::new(title, x_label, y_label).log(true, true), series);
    p.colorbar = Some(cb);
    Figure::row("", vec![Panel::Xy(p)])
}

/// One landscape of Fig. 8a/e with a walker's path over it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyLandscape {
    /// Panel title (the landscape's name).
    pub name: String,
    /// Heights on `[-1, 1]^2`.
    pub grid: Grid,
    /// The walker's positions.
    pub path: Vec<[f64; 2]>,
    /// Step at which the walker enters its final basin, marked on the path.
    pub t0: Option<usize>,
}

/// Fig. 8a/e: each landscape as a heat map with one walker's path, its start, its `t0` and its
/// end marked.
pub fn toy_landscapes(title: &str, panels: &[ToyLandscape]) -> Figure {
    let panels = panels
        .iter()
        .map(|l| {
            let xs = l.path.iter().map(|p| p[0]).collect();
            let ys = l.path.iter().map(|p| p[1]).collect();
            let mut overlay = vec![Series::line("path", xs, ys).with_color([255, 255, 255])];
            let mark = |label: &str, i: usize, c: Rgb| {
                l.path
                    .get(i)
                    .map(|p| Series::points(label, vec![p[0]], vec![p[1]]).with_color(c))
            };
            overlay.extend(mark("start", 0, [255, 140, 0]));
            if let Some(t0) = l.t0 {
                overlay.extend(mark(&format!("t0 = {t0}"), t0, [255, 0, 255]));
            }
            overlay.extend(mark("end", l.path.len().saturating_sub(1), [220, 20, 60]));
            Panel::Heat(HeatPanel {
                axes: Axes::new(l.name.clone(), "x (weight 1)", "y (weight 2)"),
                grid: l.grid.clone(),
                z_label: "loss L".into(),
                overlay,
            })
        })
        .collect();
    let mut f = Figure::row(title, panels);
    f.panel_size = (620, 520);
    f
}

/// Fig. 8b/f: time-averaged MSD of the toy walkers (labelled series), log-log, with the
/// `tau^1` and `tau^2` guides.
pub fn toy_msd(title: &str, mut series: Vec<Series>) -> Figure {
    let g = guides(&series, &[1.0, 2.0]);
    series.extend(g);
    let p = XyPanel::new(
        Axes::new(title, "lag tau (steps)", "MSD (squared distance)").log(true, true),
        series,
    );
    Figure::row("", vec![Panel::Xy(p)])
}

/// Fig. 8c: gradient-component densities of the toy runs (labelled series), log density axis.
pub fn toy_gradients(title: &str, series: Vec<Series>) -> Figure {
    let p = XyPanel::new(
        Axes::new(title, "gradient component dL/dw", "probability density").log(false, true),
        series,
    )
    .legend(Legend::UpperRight);
    Figure::row("", vec![Panel::Xy(p)])
}

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
    if bins == 0 || finite.is_empty() || !lo.is_finite() || !hi.is_finite() || hi <= lo {
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
    if bins == 0 || pos.is_empty() || hi.is_nan() || lo.is_nan() || hi <= lo {
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

/// Dashed grey reference lines `y ∝ x^k` for each `k`, from the first drawable point of the
/// first series rightwards, each stopping where it leaves the data's vertical range so that a
/// steep guide cannot stretch the axes (the paper's guides for normal `tau^1` and ballistic
/// `tau^2` motion).
pub fn guides(series: &[Series], exponents: &[f64]) -> Vec<Series> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.x.iter().zip(&s.y).map(|(&x, &y)| (x, y)))
        .filter(|&(x, y)| x.is_finite() && y.is_finite() && x > 0.0 && y > 0.0)
        .collect();
    let Some(&(x0, y0)) = pts.first() else {
        return Vec::new();
    };
    let x_max = pts.iter().fold(x0, |m, p| m.max(p.0));
    let y_max = pts.iter().fold(y0, |m, p| m.max(p.1));
    exponents
        .iter()
        .enumerate()
        .filter_map(|(i, &k)| {
            let x1 = if k > 0.0 {
                x_max.min(x0 * (y_max / y0).powf(1.0 / k))
            } else {
                x_max
            };
            (x1 > x0).then(|| {
                let shade = 70 + 50 * i.min(3) as u8;
                Series::dashed(
                    format!("slope {k}"),
                    vec![x0, x1],
                    vec![y0, y0 * (x1 / x0).powf(k)],
                )
                .with_color([shade, shade, shade])
            })
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
    .legend(Legend::UpperLeft);
    Figure::row("", vec![Panel::Xy(p)])
}

#[cfg(test)]
mod tests {
    use super::super::plot::{render_png, render_svg, Mark};
    use super::*;

    #[test]
    fn histogram_counts_by_hand() {
        // Bins [0, 1) and [1, 2]: counts 2 and 3 out of 6 finite values (3.0 lies outside).
        let h = histogram(&[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, f64::NAN], 2, 0.0, 2.0);
        assert_eq!(h.centres, vec![0.5, 1.5]);
        assert_eq!(h.density, vec![2.0 / 6.0, 3.0 / 6.0]);
        assert_eq!(histogram(&[1.0], 3, 1.0, 1.0), Histogram::default());
        assert_eq!(histogram(&[], 3, 0.0, 1.0), Histogram::default());
    }

    #[test]
    fn log_histogram_integrates_to_the_positive_fraction() {
        // 1..=1000 and as many negatives: the positive half integrates to 1/2.
        let v: Vec<f64> = (1..=1000).flat_map(|k| [k as f64, -(k as f64)]).collect();
        let h = log_histogram(&v, 20);
        let area: f64 = h
            .centres
            .iter()
            .zip(&h.density)
            .map(|(&c, &d)| {
                // Edges from the geometric centre and the fixed log width ln(1000)/20.
                let r = (1000f64.ln() / 20.0 / 2.0).exp();
                d * (c * r - c / r)
            })
            .sum();
        assert!((area - 0.5).abs() < 1e-9, "{area}");
        // Uniform on 1..1000: density 1/(2000) per unit everywhere (to binning noise).
        for (c, d) in h.centres.iter().zip(&h.density) {
            if *c > 20.0 {
                assert!((d * 2000.0 - 1.0).abs() < 0.25, "{c}: {d}");
            }
        }
        assert_eq!(log_histogram(&[-1.0, 0.0], 5), Histogram::default());
    }

    #[test]
    fn guides_pass_through_the_first_point_with_their_slope() {
        let s = vec![Series::line(
            "",
            vec![1.0, 10.0, 100.0],
            vec![2.0, 20.0, 200.0],
        )];
        let g = guides(&s, &[1.0, 2.0]);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].x[0], g[0].y[0]), (1.0, 2.0));
        assert_eq!((g[0].x[1], g[0].y[1]), (100.0, 200.0));
        // The tau^2 guide stops where it reaches the data's top, 200, at x = 10.
        assert!((g[1].x[1] - 10.0).abs() < 1e-9 && (g[1].y[1] - 200.0).abs() < 1e-9);
        assert!(g.iter().all(|s| s.mark == Mark::Dashed));
        assert!(guides(&[], &[1.0]).is_empty());
    }

    fn windows() -> Vec<WindowCurve> {
        (0..5)
            .map(|k| {
                let x: Vec<f64> = (1..=100).map(f64::from).collect();
                let a = 1.5 - 0.2 * k as f64;
                let y = x.iter().map(|t| t.powf(a)).collect();
                WindowCurve {
                    t_w: 1.0 + 1000.0 * k as f64,
                    x,
                    y,
                }
            })
            .collect()
    }

    fn xy(f: &Figure, i: usize) -> &XyPanel {
        match &f.panels[i] {
            Panel::Xy(p) => p,
            Panel::Heat(_) => panic!("expected an x-y panel"),
        }
    }

    #[test]
    fn msd_curves_are_log_log_and_coloured_by_window_start() {
        let f = msd_by_window("MSD", &windows());
        let p = xy(&f, 0);
        assert!(p.axes.log_x && p.axes.log_y);
        assert!(p.axes.x_label.contains("steps"));
        let cb = p.colorbar.as_ref().unwrap();
        assert_eq!((cb.min, cb.max), (1.0, 4001.0));
        assert_eq!(p.series[0].color, Some(jet(0.0)));
        assert_eq!(p.series[4].color, Some(jet(1.0)));
        assert_eq!(p.series.len(), 5 + 2, "five windows and two guides");
    }

    #[test]
    fn power_laws_are_drawn_through_their_formula() {
        let f = scaling_by_window(
            "MSL",
            "distance Delta r",
            "MSL",
            &windows(),
            &[PowerLaw {
                label: "fit".into(),
                exponent: 1.8,
                prefactor: 0.5,
                x_range: (0.4, 10.0),
            }],
        );
        let fit = xy(&f, 0).series.last().unwrap();
        assert_eq!(fit.label, "fit (slope 1.80)");
        assert!((fit.x[0] - 0.4).abs() < 1e-12 && (fit.x[20] - 10.0).abs() < 1e-9);
        for (x, y) in fit.x.iter().zip(&fit.y) {
            assert!((y - 0.5 * x.powf(1.8)).abs() < 1e-12);
        }
    }

    #[test]
    fn hessian_ranks_become_lines() {
        let epochs = [0.0, 5.0, 10.0];
        let ev = vec![
            vec![30.0, 20.0, 10.0],
            vec![20.0, 10.0, 5.0],
            vec![10.0, 5.0],
        ];
        let f = hessian_top_eigenvalues("H", &epochs, &ev);
        let p = xy(&f, 0);
        assert_eq!(p.series.len(), 3);
        assert_eq!(p.series[0].y, vec![30.0, 20.0, 10.0]);
        // The third rank is missing at the last checkpoint.
        assert_eq!(p.series[2].x, vec![0.0, 5.0]);
        assert_eq!(p.series[0].color, Some(jet(1.0)));
        assert_eq!(p.axes.x_label, "epoch");
    }

    #[test]
    fn gradient_fits_are_clipped_to_the_histogram() {
        let hist = Histogram {
            centres: vec![-1.0, 0.0, 1.0],
            density: vec![0.2, 0.5, 0.2],
        };
        let tail = Histogram {
            centres: vec![0.1, 1.0],
            density: vec![0.4, 0.2],
        };
        let xs: Vec<f64> = (-30..=30).map(|k| f64::from(k) / 10.0).collect();
        let spike: Vec<f64> = xs
            .iter()
            .map(|&x| if x == 0.0 { 100.0 } else { 0.1 })
            .collect();
        let f = gradient_distribution(
            "G",
            "g",
            &hist,
            &tail,
            &[Series::dashed("normal", xs, spike)],
        );
        assert_eq!(f.panels.len(), 2);
        let left = xy(&f, 0);
        let fit = &left.series[1];
        assert_eq!(fit.mark, Mark::Dashed);
        assert!(fit.x.iter().all(|x| (-1.0..=1.0).contains(x)));
        // The spike is cut at three times the tallest bar.
        assert!(fit.y.iter().all(|&y| y <= 1.5));
        let right = xy(&f, 1);
        assert!(right.axes.log_x && right.axes.log_y);
        assert!(right.series[1].x.iter().all(|&x| x >= 0.1));
    }

    #[test]
    fn every_builder_renders_on_synthetic_data() {
        let w = windows();
        let x: Vec<f64> = (0..200).map(f64::from).collect();
        let loss: Vec<f64> = x.iter().map(|t| 2.3 * (-t / 50.0).exp() + 0.1).collect();
        let grid = Grid {
            nx: 17,
            ny: 17,
            z: (0..289)
                .map(|k| ((k / 17) as f64 - 8.0).powi(2) + ((k % 17) as f64 - 8.0).powi(2))
                .collect(),
            x_range: (-1.0, 1.0),
            y_range: (-1.0, 1.0),
        };
        let path: Vec<[f64; 2]> = (0..50)
            .map(|t| [-0.9 + 0.018 * t as f64, 0.5 * (t as f64 / 8.0).sin()])
            .collect();
        let figures = vec![
            msd_by_window("Fig. 2", &w),
            sweep(
                "Fig. 3",
                "batch size",
                true,
                vec![
                    (
                        "alpha".into(),
                        vec![Series::points(
                            "ResNet-14",
                            vec![128.0, 512.0, 1024.0],
                            vec![1.3, 1.4, 1.2],
                        )
                        .with_errors(vec![1.2, 1.3, 1.1], vec![1.4, 1.5, 1.3])],
                    ),
                    (
                        "tau0 (steps)".into(),
                        vec![Series::points(
                            "ResNet-14",
                            vec![128.0, 512.0, 1024.0],
                            vec![180.0, 100.0, 70.0],
                        )],
                    ),
                ],
            ),
            loss_curves(
                "Fig. 4b",
                "step",
                vec![Series::line("lr 0.1", x.clone(), loss.clone())],
                true,
            ),
            gradient_distribution(
                "Fig. 5a",
                "g",
                &histogram(&loss, 20, 0.0, 2.5),
                &log_histogram(&loss, 10),
                &[Series::line("fit", x.clone(), loss.clone())],
            ),
            loss_changes_by_window("Fig. 5b", &w),
            moving_variance("Fig. 5c", x.clone(), loss.clone(), 100),
            hessian_top_eigenvalues("Fig. 6", &[0.0, 5.0], &[vec![3.0, 2.0], vec![2.0, 1.0]]),
            scaling_by_window("Fig. 7", "Delta r", "MSL", &w, &[]),
            toy_landscapes(
                "Fig. 8a",
                &[ToyLandscape {
                    name: "bowl".into(),
                    grid,
                    path,
                    t0: Some(20),
                }],
            ),
            toy_msd(
                "Fig. 8b",
                vec![Series::line("walker", x[1..].to_vec(), x[1..].to_vec())],
            ),
            toy_gradients("Fig. 8c", vec![Series::line("g", x.clone(), loss)]),
        ];
        for f in &figures {
            let png = render_png(f).unwrap();
            assert!(png.starts_with(b"\x89PNG"));
            let svg = render_svg(f).unwrap();
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            // Axis labels reach the SVG as text.
            for p in &f.panels {
                let axes = match p {
                    Panel::Xy(p) => &p.axes,
                    Panel::Heat(h) => &h.axes,
                };
                let label = super::super::html::escape(&axes.x_label);
                assert!(super::super::plot::tests::has_text(&svg, &label), "{label}");
            }
        }
    }
}

//! Figures from plain data, rendered to PNG and SVG.
//!
//! Every builder takes numbers (`Vec<f64>`, labelled [`Series`]) and returns a [`Figure`], a plain
//! description of panels, axes and marks; [`save`] renders a figure to `STEM.png` and
//! `STEM.svg`. Statistics stay with the callers: a fitted density arrives here as a curve of
//! `(x, pdf)` points, not as a fit.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`assets/fonts`, Bitstream Vera
//! licence) through plotters' `ab_glyph` backend, so rendering needs no system font, fontconfig
//! or freetype. SVG files keep text as `<text>` elements and embed heat maps as one PNG
//! `<image>` (a few kB instead of one `<rect>` per grid node).

use anyhow::{anyhow, Context};
use base64::Engine;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The embedded font: DejaVu Sans 2.37 from Debian's `fonts-dejavu-core` (see
/// `assets/fonts/README.md`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Registers the embedded font once; every drawing entry point calls it.
fn ensure_font() -> anyhow::Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded DejaVu Sans font could not be parsed"))
    }
}

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A solid polyline through the points in the given order.
    Line,
    /// A dashed polyline (fitted lines, reference slopes).
    Dashed,
    /// Filled circles.
    Points,
    /// Bars from the bottom of the axis up to `y`, centred on `x`, each as wide as the gaps to
    /// its neighbours (histograms).
    Bars,
}

/// One labelled set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text; empty for no legend entry.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, as many as `x`.
    pub y: Vec<f64>,
    /// How to draw it.
    pub mark: Mark,
    /// Colour; `None` takes the next colour of the palette.
    pub color: Option<Rgb>,
    /// Error bars: lower and upper end of each point's interval.
    pub errors: Option<(Vec<f64>, Vec<f64>)>,
}

impl Series {
    /// A solid line.
    pub fn line(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series {
            label: label.into(),
            x,
            y,
            mark: Mark::Line,
            color: None,
            errors: None,
        }
    }

    /// A dashed line.
    pub fn dashed(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series {
            mark: Mark::Dashed,
            ..Series::line(label, x, y)
        }
    }

    /// Points.
    pub fn points(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series {
            mark: Mark::Points,
            ..Series::line(label, x, y)
        }
    }

    /// Histogram bars centred on `x`.
    pub fn bars(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series {
            mark: Mark::Bars,
            ..Series::line(label, x, y)
        }
    }

    /// The same series in a fixed colour.
    pub fn with_color(mut self, color: Rgb) -> Series {
        self.color = Some(color);
        self
    }

    /// The same series with error bars from `lower[i]` to `upper[i]`.
    pub fn with_errors(mut self, lower: Vec<f64>, upper: Vec<f64>) -> Series {
        self.errors = Some((lower, upper));
        self
    }

    /// Points drawable on the given axes: finite, and positive where an axis is logarithmic.
    fn drawable(&self, log_x: bool, log_y: bool) -> Vec<(f64, f64)> {
        self.x
            .iter()
            .zip(&self.y)
            .map(|(&x, &y)| (x, y))
            .filter(|&(x, y)| ok(x, log_x) && ok(y, log_y))
            .collect()
    }
}

fn ok(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// Where the legend sits inside the plotting area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// No legend.
    Hidden,
    /// Upper left corner.
    UpperLeft,
    /// Upper right corner.
    UpperRight,
    /// Lower left corner.
    LowerLeft,
    /// Lower right corner.
    LowerRight,
}

/// Titles, labels and scales of one panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Axes {
    /// Panel title.
    pub title: String,
    /// Horizontal axis label, with its unit.
    pub x_label: String,
    /// Vertical axis label, with its unit.
    pub y_label: String,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
    /// Fixed horizontal range (otherwise from the data).
    pub x_range: Option<(f64, f64)>,
    /// Fixed vertical range (otherwise from the data).
    pub y_range: Option<(f64, f64)>,
}

impl Axes {
    /// Linear axes with the given title and labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Axes {
        Axes {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
        }
    }

    /// The same axes with logarithmic scales where asked.
    pub fn log(mut self, log_x: bool, log_y: bool) -> Axes {
        self.log_x = log_x;
        self.log_y = log_y;
        self
    }
}

/// A colour scale shown beside a panel: series coloured by a value (the window start `t_w`, an
/// eigenvalue rank) through [`jet`].
#[derive(Debug, Clone, PartialEq)]
pub struct ColorBar {
    /// What the colour encodes, with its unit.
    pub label: String,
    /// Value at the bottom (blue) end.
    pub min: f64,
    /// Value at the top (red) end.
    pub max: f64,
}

/// An x-y panel: lines, points, bars, error bars.
#[derive(Debug, Clone, PartialEq)]
pub struct XyPanel {
    /// Axes.
    pub axes: Axes,
    /// Series, drawn in order.
    pub series: Vec<Series>,
    /// Legend placement.
    pub legend: Legend,
    /// Optional colour scale.
    pub colorbar: Option<ColorBar>,
}

impl XyPanel {
    /// A panel with a legend in the upper left corner.
    pub fn new(axes: Axes, series: Vec<Series>) -> XyPanel {
        XyPanel {
            axes,
            series,
            legend: Legend::UpperLeft,
            colorbar: None,
        }
    }

    /// The same panel with the legend elsewhere.
    pub fn legend(mut self, legend: Legend) -> XyPanel {
        self.legend = legend;
        self
    }
}

/// Values on a regular grid: node `(ix, iy)` holds `z[ix * ny + iy]` and sits at
/// `x = x_range.0 + ix (x_range.1 - x_range.0) / (nx - 1)` (likewise `y`); this is the row-major
/// layout of an `nx x ny` array whose first axis is `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Nodes along x.
    pub nx: usize,
    /// Nodes along y.
    pub ny: usize,
    /// Values, `nx * ny`.
    pub z: Vec<f64>,
    /// x of the first and last node.
    pub x_range: (f64, f64),
    /// y of the first and last node.
    pub y_range: (f64, f64),
}

/// A heat map (viridis) with paths drawn over it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatPanel {
    /// Axes (log scales are ignored).
    pub axes: Axes,
    /// The values.
    pub grid: Grid,
    /// What the colour encodes, with its unit.
    pub z_label: String,
    /// Paths and markers over the map, in data coordinates.
    pub overlay: Vec<Series>,
}

/// One panel of a figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    /// Lines, points and bars.
    Xy(XyPanel),
    /// A heat map with overlays.
    Heat(HeatPanel),
}

/// Panels on a grid of `columns` columns, each `panel_size` pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Title over the whole figure (empty for none).
    pub title: String,
    /// Panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Width and height of one panel in pixels.
    pub panel_size: (u32, u32),
}

impl Figure {
    /// A figure of panels in one row.
    pub fn row(title: impl Into<String>, panels: Vec<Panel>) -> Figure {
        let columns = panels.len().max(1);
        Figure {
            title: title.into(),
            panels,
            columns,
            panel_size: (640, 480),
        }
    }

    /// Total size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.columns.max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        let title = if self.title.is_empty() { 0 } else { TITLE_H };
        (
            self.panel_size.0 * cols as u32,
            self.panel_size.1 * rows as u32 + title,
        )
    }
}

const TITLE_H: u32 = 40;

/// The two files [`save`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The PNG file.
    pub png: PathBuf,
    /// The SVG file.
    pub svg: PathBuf,
}

/// Renders `fig` to `STEM.png` and `STEM.svg` (each written through a temporary file and a
/// rename, so an interrupted run never leaves a truncated figure).
///
/// # Errors
/// A figure without panels, a drawing failure, or a file that cannot be written.
pub fn save(fig: &Figure, stem: &Path) -> anyhow::Result<Written> {
    let png = render_png(fig)?;
    let svg = render_svg(fig)?;
    let png_path = stem.with_extension("png");
    let svg_path = stem.with_extension("svg");
    write_atomic(&png_path, &png)?;
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok(Written {
        png: png_path,
        svg: svg_path,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// The figure as PNG bytes.
///
/// # Errors
/// A figure without panels or a drawing failure.
pub fn render_png(fig: &Figure) -> anyhow::Result<Vec<u8>> {
    ensure_font()?;
    let (w, h) = fig.size();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw_figure(&root, fig, &mut Vec::new(), false)?;
        root.present().map_err(draw_err)?;
    }
    encode_png(&buf, w, h)
}

/// The figure as an SVG document.
///
/// # Errors
/// A figure without panels or a drawing failure.
pub fn render_svg(fig: &Figure) -> anyhow::Result<String> {
    ensure_font()?;
    let (w, h) = fig.size();
    let mut text = String::new();
    let mut images = Vec::new();
    {
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        draw_figure(&root, fig, &mut images, true)?;
        root.present().map_err(draw_err)?;
    }
    Ok(inject_images(text, &images))
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, w, h, image::ExtendedColorType::Rgb8)
        .context("encoding PNG")?;
    Ok(out)
}

fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// A raster image to place in an SVG: pixel rectangle and PNG bytes.
struct Raster {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
    png: Vec<u8>,
}

/// Puts the heat maps right after the background rectangle, so axes, grid and overlays drawn by
/// plotters stay on top of them.
fn inject_images(svg: String, images: &[Raster]) -> String {
    if images.is_empty() {
        return svg;
    }
    let mut tags = String::new();
    for r in images {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&r.png);
        tags.push_str(&format!(
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
             style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{b64}\"/>\n",
            r.x, r.y, r.w, r.h
        ));
    }
    let after_bg = svg
        .find("<rect")
        .and_then(|i| svg[i..].find("/>").map(|j| i + j + 2))
        .or_else(|| {
            svg.find("<svg")
                .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
        });
    match after_bg {
        Some(pos) => {
            let mut out = String::with_capacity(svg.len() + tags.len() + 1);
            out.push_str(&svg[..pos]);
            out.push('\n');
            out.push_str(&tags);
            out.push_str(&svg[pos..]);
            out
        }
        None => svg,
    }
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Colour `i` of a ten-colour qualitative palette (matplotlib's tab10), cycling.
pub fn palette(i: usize) -> Rgb {
    const P: [Rgb; 10] = [
        [31, 119, 180],
        [214, 39, 40],
        [44, 160, 44],
        [255, 127, 14],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    P[i % P.len()]
}

fn lerp_table(table: &[Rgb], t: f64) -> Rgb {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (table.len() - 1) as f64;
    let i = (pos.floor() as usize).min(table.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (table[i], table[i + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// MATLAB's `jet` at `t` in `[0, 1]` (dark blue to dark red), the colour map the paper uses for
/// the window start `t_w`; values outside `[0, 1]` are clamped.
pub fn jet(t: f64) -> Rgb {
    const JET: [Rgb; 9] = [
        [0, 0, 143],
        [0, 0, 255],
        [0, 127, 255],
        [0, 255, 255],
        [127, 255, 127],
        [255, 255, 0],
        [255, 127, 0],
        [255, 0, 0],
        [127, 0, 0],
    ];
    lerp_table(&JET, t)
}

/// The viridis colour map at `t` in `[0, 1]` (heat maps: perceptually uniform, readable in
/// grey); values outside `[0, 1]` are clamped.
pub fn viridis(t: f64) -> Rgb {
    const VIRIDIS: [Rgb; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    lerp_table(&VIRIDIS, t)
}

/// `(value - min) / (max - min)`, or 0.5 for an empty range.
fn unit(value: f64, min: f64, max: f64) -> f64 {
    if max > min {
        (value - min) / (max - min)
    } else {
        0.5
    }
}

/// A tick label: plain decimals for moderate values, `1e-3` style otherwise.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let e = a.log10().floor();
        let m = v / 10f64.powf(e);
        if (m.abs() - 1.0).abs() < 1e-9 {
            return format!("{}1e{e}", if v < 0.0 { "-" } else { "" });
        }
        return format!("{m:.1}e{e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Data range of one axis with a margin: 5 % of the span on linear axes, a factor 1.3 on
/// logarithmic ones; a default when nothing is drawable.
fn padded(values: impl Iterator<Item = f64>, log: bool, fixed: Option<(f64, f64)>) -> (f64, f64) {
    if let Some((a, b)) = fixed {
        if ok(a, log) && ok(b, log) && b > a {
            return (a, b);
        }
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|&v| ok(v, log)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        if hi / lo < 1.0 + 1e-9 {
            return (lo / 2.0, hi * 2.0);
        }
        (lo / 1.3, hi * 1.3)
    } else {
        let span = hi - lo;
        if span <= 1e-12 * hi.abs().max(lo.abs()).max(1e-300) {
            let d = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
            return (lo - d, hi + d);
        }
        (lo - 0.05 * span, hi + 0.05 * span)
    }
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    images: &mut Vec<Raster>,
    vector: bool,
) -> anyhow::Result<()> {
    if fig.panels.is_empty() {
        return Err(anyhow!("a figure needs at least one panel"));
    }
    root.fill(&WHITE).map_err(draw_err)?;
    // ab_glyph places text slightly above the layout box plotters reserves for it; a few pixels
    // of headroom keep the tallest glyphs of a top-row title inside the image.
    let root = root.margin(6, 0, 0, 0);
    let body = if fig.title.is_empty() {
        root.clone()
    } else {
        root.titled(&fig.title, font(24)).map_err(draw_err)?
    };
    let cols = fig.columns.max(1);
    let rows = fig.panels.len().div_ceil(cols);
    let areas = body.split_evenly((rows, cols));
    for (panel, area) in fig.panels.iter().zip(&areas) {
        match panel {
            Panel::Xy(p) => draw_xy(area, p)?,
            Panel::Heat(p) => draw_heat(area, p, images, vector)?,
        }
    }
    Ok(())
}

/// Space for the tick labels and axis titles.
const X_LABEL_AREA: u32 = 50;
const Y_LABEL_AREA: u32 = 80;
const COLORBAR_W: u32 = 100;

fn draw_xy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &XyPanel) -> anyhow::Result<()> {
    let ax = &p.axes;
    let xs = p.series.iter().flat_map(|s| s.drawable(ax.log_x, ax.log_y));
    let x = padded(xs.map(|(x, _)| x), ax.log_x, ax.x_range);
    let mut ys: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.drawable(ax.log_x, ax.log_y))
        .map(|(_, y)| y)
        .collect();
    for s in &p.series {
        if let Some((lo, hi)) = &s.errors {
            ys.extend(lo.iter().chain(hi).copied());
        }
        if s.mark == Mark::Bars && !ax.log_y {
            ys.push(0.0);
        }
    }
    let y = padded(ys.into_iter(), ax.log_y, ax.y_range);
    let chart_area = match &p.colorbar {
        Some(cb) => {
            let w = area.dim_in_pixel().0;
            let (left, right) = area.split_horizontally(w.saturating_sub(COLORBAR_W));
            draw_scale(&right, &cb.label, cb.min, cb.max, jet)?;
            left
        }
        None => area.clone(),
    };
    let mut builder = ChartBuilder::on(&chart_area);
    builder
        .caption(&ax.title, font(18))
        .margin(12)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA);
    match (ax.log_x, ax.log_y) {
        (false, false) => {
            let c = builder
                .build_cartesian_2d(x.0..x.1, y.0..y.1)
                .map_err(draw_err)?;
            fill_xy(c, p, y.0)
        }
        (true, false) => {
            let c = builder
                .build_cartesian_2d((x.0..x.1).log_scale(), y.0..y.1)
                .map_err(draw_err)?;
            fill_xy(c, p, y.0)
        }
        (false, true) => {
            let c = builder
                .build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())
                .map_err(draw_err)?;
            fill_xy(c, p, y.0)
        }
        (true, true) => {
            let c = builder
                .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())
                .map_err(draw_err)?;
            fill_xy(c, p, y.0)
        }
    }
}

/// Bar edges: half-way to the neighbouring centres (the first and last mirror their one gap).
fn bar_edges(x: &[f64]) -> Vec<(f64, f64)> {
    let n = x.len();
    (0..n)
        .map(|i| {
            let left_gap = if i > 0 {
                x[i] - x[i - 1]
            } else if n > 1 {
                x[1] - x[0]
            } else {
                1.0
            };
            let right_gap = if i + 1 < n { x[i + 1] - x[i] } else { left_gap };
            (x[i] - left_gap / 2.0, x[i] + right_gap / 2.0)
        })
        .collect()
}

fn fill_xy<'a, DB, X, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    p: &XyPanel,
    y_bottom: f64,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let ax = &p.axes;
    let fmt = |v: &f64| tick(*v);
    chart
        .configure_mesh()
        .x_desc(ax.x_label.as_str())
        .y_desc(ax.y_label.as_str())
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .label_style(font(14))
        .axis_desc_style(font(16))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .draw()
        .map_err(draw_err)?;
    let mut auto = 0;
    let mut legend_entries = 0;
    for s in &p.series {
        let color = match s.color {
            Some(c) => rgb(c),
            None => {
                auto += 1;
                rgb(palette(auto - 1))
            }
        };
        let pts = s.drawable(ax.log_x, ax.log_y);
        let line_style = color.stroke_width(2);
        let anno =
            match s.mark {
                Mark::Line => chart
                    .draw_series(LineSeries::new(pts.iter().copied(), line_style))
                    .map_err(draw_err)?,
                Mark::Dashed => chart
                    .draw_series(DashedLineSeries::new(pts.iter().copied(), 8, 5, line_style))
                    .map_err(draw_err)?,
                Mark::Points => chart
                    .draw_series(
                        pts.iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                    )
                    .map_err(draw_err)?,
                Mark::Bars => {
                    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
                    let edges = bar_edges(&xs);
                    let fill = color.mix(0.45).filled();
                    chart
                        .draw_series(pts.iter().zip(&edges).map(|(&(_, y), &(l, r))| {
                            Rectangle::new([(l, y_bottom), (r, y)], fill)
                        }))
                        .map_err(draw_err)?
                }
            };
        if !s.label.is_empty() {
            legend_entries += 1;
            let mark = s.mark;
            anno.label(s.label.as_str())
                .legend(move |(x, y)| legend_glyph(mark, color, x, y));
        }
        if let Some((lo, hi)) = &s.errors {
            let bars: Vec<(f64, f64, f64)> =
                s.x.iter()
                    .zip(lo.iter().zip(hi))
                    .map(|(&x, (&l, &h))| (x, l, h))
                    .filter(|&(x, l, h)| ok(x, ax.log_x) && ok(l, ax.log_y) && ok(h, ax.log_y))
                    .collect();
            let style = color.stroke_width(1);
            chart
                .draw_series(
                    bars.iter()
                        .map(|&(x, l, h)| PathElement::new(vec![(x, l), (x, h)], style)),
                )
                .map_err(draw_err)?;
            for &(x, l, h) in &bars {
                for end in [l, h] {
                    chart
                        .plotting_area()
                        .draw(
                            &(EmptyElement::at((x, end))
                                + PathElement::new(vec![(-4, 0), (4, 0)], style)),
                        )
                        .map_err(draw_err)?;
                }
            }
        }
    }
    let pos = match p.legend {
        Legend::Hidden => None,
        Legend::UpperLeft => Some(SeriesLabelPosition::UpperLeft),
        Legend::UpperRight => Some(SeriesLabelPosition::UpperRight),
        Legend::LowerLeft => Some(SeriesLabelPosition::LowerLeft),
        Legend::LowerRight => Some(SeriesLabelPosition::LowerRight),
    };
    if let (Some(pos), true) = (pos, legend_entries > 0) {
        chart
            .configure_series_labels()
            .position(pos)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(font(13))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

fn draw_heat<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &HeatPanel,
    images: &mut Vec<Raster>,
    vector: bool,
) -> anyhow::Result<()> {
    let g = &p.grid;
    if g.nx < 2 || g.ny < 2 || g.z.len() != g.nx * g.ny {
        return Err(anyhow!(
            "a heat map needs at least 2 x 2 nodes and nx * ny values, got {} x {} and {}",
            g.nx,
            g.ny,
            g.z.len()
        ));
    }
    let (zmin, zmax) =
        g.z.iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
    if zmin > zmax {
        return Err(anyhow!("a heat map needs at least one finite value"));
    }
    // Each node owns a cell centred on it, so the map fills the axes exactly.
    let hx = (g.x_range.1 - g.x_range.0) / (g.nx - 1) as f64;
    let hy = (g.y_range.1 - g.y_range.0) / (g.ny - 1) as f64;
    let xr = (g.x_range.0 - hx / 2.0, g.x_range.1 + hx / 2.0);
    let yr = (g.y_range.0 - hy / 2.0, g.y_range.1 + hy / 2.0);
    let w = area.dim_in_pixel().0;
    let (left, right) = area.split_horizontally(w.saturating_sub(COLORBAR_W));
    let mut chart = ChartBuilder::on(&left)
        .caption(&p.axes.title, font(18))
        .margin(12)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA - 20)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(draw_err)?;
    let color_of = |v: f64| viridis(unit(v, zmin, zmax));
    if vector {
        let (px, py) = chart.plotting_area().get_pixel_range();
        let mut rgb_buf = Vec::with_capacity(g.nx * g.ny * 3);
        for row in 0..g.ny {
            let iy = g.ny - 1 - row;
            for ix in 0..g.nx {
                rgb_buf.extend_from_slice(&color_of(g.z[ix * g.ny + iy]));
            }
        }
        images.push(Raster {
            x: px.start,
            y: py.start,
            w: px.end - px.start,
            h: py.end - py.start,
            png: encode_png(&rgb_buf, g.nx as u32, g.ny as u32)?,
        });
    } else {
        chart
            .draw_series((0..g.nx).flat_map(|ix| {
                (0..g.ny).map(move |iy| {
                    let x = g.x_range.0 + ix as f64 * hx;
                    let y = g.y_range.0 + iy as f64 * hy;
                    Rectangle::new(
                        [(x - hx / 2.0, y - hy / 2.0), (x + hx / 2.0, y + hy / 2.0)],
                        rgb(color_of(g.z[ix * g.ny + iy])).filled(),
                    )
                })
            }))
            .map_err(draw_err)?;
    }
    let fmt = |v: &f64| tick(*v);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(p.axes.x_label.as_str())
        .y_desc(p.axes.y_label.as_str())
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .label_style(font(14))
        .axis_desc_style(font(16))
        .draw()
        .map_err(draw_err)?;
    let mut entries = 0;
    for s in &p.overlay {
        let color = rgb(s.color.unwrap_or([255, 255, 255]));
        let pts = s.drawable(false, false);
        let anno = match s.mark {
            Mark::Points | Mark::Bars => chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 5, color.filled().stroke_width(1))),
                )
                .map_err(draw_err)?,
            Mark::Dashed => chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().copied(),
                    6,
                    4,
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?,
            Mark::Line => chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(draw_err)?,
        };
        if !s.label.is_empty() {
            entries += 1;
            let mark = s.mark;
            anno.label(s.label.as_str())
                .legend(move |(x, y)| legend_glyph(mark, color, x, y));
        }
    }
    if entries > 0 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(RGBColor(40, 40, 40).mix(0.75))
            .border_style(RGBColor(200, 200, 200))
            .label_font(font(13).color(&WHITE))
            .draw()
            .map_err(draw_err)?;
    }
    draw_scale(&right, &p.z_label, zmin, zmax, viridis)
}

/// A vertical colour scale from `lo` (bottom) to `hi` (top) with its label above it.
/// The legend's sample of a series: a short bar shaped after the mark (one element type for
/// every mark keeps the legend closure free of trait objects).
fn legend_glyph(mark: Mark, color: RGBColor, x: i32, y: i32) -> Rectangle<(i32, i32)> {
    match mark {
        Mark::Points => Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], color.filled()),
        Mark::Bars => Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.mix(0.45).filled()),
        Mark::Line | Mark::Dashed => Rectangle::new([(x, y - 1), (x + 20, y + 1)], color.filled()),
    }
}

fn draw_scale<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    lo: f64,
    hi: f64,
    cmap: fn(f64) -> Rgb,
) -> anyhow::Result<()> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let fmt = |v: &f64| tick(*v);
    let mut chart: ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>> =
        ChartBuilder::on(area)
            .margin_top(42)
            .margin_bottom(62)
            .margin_right(8)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&fmt)
        .label_style(font(12))
        .draw()
        .map_err(draw_err)?;
    let n = 64;
    let step = (hi - lo) / n as f64;
    chart
        .draw_series((0..n).map(|k| {
            let a = lo + k as f64 * step;
            Rectangle::new(
                [(0.0, a), (1.0, a + step)],
                rgb(cmap((k as f64 + 0.5) / n as f64)).filled(),
            )
        }))
        .map_err(draw_err)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let base = area.get_base_pixel();
    area.draw(&Text::new(
        label.to_string(),
        (xr.start - base.0 - 4, yr.start - base.1 - 24),
        font(13),
    ))
    .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn decode(png: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .expect("a decodable PNG")
            .to_rgb8()
    }

    /// Whether the SVG draws `label` as a text element (plotters puts the text on its own line).
    pub(crate) fn has_text(svg: &str, label: &str) -> bool {
        svg.contains(&format!(">\n{label}\n</text>")) || svg.contains(&format!(">{label}</text>"))
    }

    fn sample_xy(log: bool) -> Figure {
        let x: Vec<f64> = (1..=50).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| v * v).collect();
        let mut noisy = y.clone();
        // Values a log axis cannot show, which must be skipped, not drawn or fatal.
        noisy[3] = f64::NAN;
        noisy[4] = -1.0;
        noisy[5] = 0.0;
        let p = XyPanel::new(
            Axes::new("title", "lag tau (steps)", "MSD").log(log, log),
            vec![
                Series::line("tau^2", x.clone(), y).with_color([255, 0, 0]),
                Series::points("noisy", x.clone(), noisy),
                Series::dashed("", x.clone(), x.clone()),
                Series::bars("bars", x.clone(), x.clone()).with_errors(
                    x.iter().map(|v| v * 0.5).collect(),
                    x.iter().map(|v| v * 1.5).collect(),
                ),
            ],
        );
        Figure::row("figure title", vec![Panel::Xy(p)])
    }

    #[test]
    fn colour_maps_match_their_published_end_points() {
        // MATLAB jet(256) runs from [0 0 0.5156] to [0.5 0 0]; our 9-knot table starts at
        // 0.5625 * 255 = 143 (jet(64)'s first entry) and ends at 0.5 * 255 = 127.5.
        assert_eq!(jet(0.0), [0, 0, 143]);
        assert_eq!(jet(1.0), [127, 0, 0]);
        assert_eq!(jet(-3.0), jet(0.0));
        assert_eq!(jet(f64::NAN), jet(0.0));
        assert_eq!(jet(0.5), [127, 255, 127]);
        // matplotlib's viridis: #440154 at 0 and #fde725 at 1.
        assert_eq!(viridis(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(viridis(1.0), [0xfd, 0xe7, 0x25]);
        assert_eq!(palette(0), palette(10));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(1000.0), "1000");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(-2.25), "-2.25");
        assert_eq!(tick(1e-4), "1e-4");
        assert_eq!(tick(1e6), "1e6");
        assert_eq!(tick(2.5e6), "2.5e6");
    }

    #[test]
    fn ranges_skip_what_an_axis_cannot_show_and_never_collapse() {
        let v = [f64::NAN, -1.0, 0.0, 1.0, 100.0];
        let (lo, hi) = padded(v.iter().copied(), true, None);
        assert!((lo - 1.0 / 1.3).abs() < 1e-12 && (hi - 130.0).abs() < 1e-9);
        let (lo, hi) = padded(v.iter().copied(), false, None);
        assert!((lo - (-1.0 - 5.05)).abs() < 1e-12 && (hi - (100.0 + 5.05)).abs() < 1e-12);
        // A constant series still gets a span, and nothing drawable gets a default.
        let (lo, hi) = padded([3.0, 3.0].into_iter(), false, None);
        assert!(lo < 3.0 && hi > 3.0);
        assert_eq!(padded(std::iter::empty(), true, None), (1.0, 10.0));
        // A valid fixed range wins; an invalid one is ignored.
        assert_eq!(
            padded(v.iter().copied(), false, Some((0.0, 2.0))),
            (0.0, 2.0)
        );
        assert_eq!(
            padded(v.iter().copied(), true, Some((-1.0, 2.0))),
            (1.0 / 1.3, 130.0)
        );
    }

    #[test]
    fn bars_share_the_gaps_between_centres() {
        assert_eq!(
            bar_edges(&[1.0, 2.0, 4.0]),
            vec![(0.5, 1.5), (1.5, 3.0), (3.0, 5.0)]
        );
        assert_eq!(bar_edges(&[2.0]), vec![(1.5, 2.5)]);
    }

    #[test]
    fn png_has_the_figure_size_and_draws_the_series() {
        for log in [false, true] {
            let fig = sample_xy(log);
            let img = decode(&render_png(&fig).unwrap());
            assert_eq!(img.dimensions(), fig.size());
            assert_eq!(fig.size(), (640, 480 + TITLE_H));
            // The pure red line is drawn (no other element uses that colour).
            let red = img.pixels().filter(|p| p.0 == [255, 0, 0]).count();
            assert!(red > 200, "log = {log}: {red} red pixels");
            // Text is drawn: dark pixels in the title band.
            let dark = (0..img.width())
                .flat_map(|x| (0..30).map(move |y| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
                .count();
            assert!(dark > 50, "log = {log}: no title text ({dark} dark pixels)");
        }
    }

    #[test]
    fn svg_keeps_text_as_text() {
        let svg = render_svg(&sample_xy(true)).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        for label in [
            "figure title",
            "lag tau (steps)",
            "MSD",
            "tau^2",
            "noisy",
            "bars",
        ] {
            assert!(has_text(&svg, label), "{label} missing");
        }
        assert!(!svg.contains("<image"), "an x-y figure has no raster");
    }

    fn heat_figure() -> Figure {
        // z = iy: rising along y only.
        let (nx, ny) = (3, 2);
        let z = (0..nx * ny).map(|k| (k % ny) as f64).collect();
        let heat = HeatPanel {
            axes: Axes::new("heat", "x", "y"),
            grid: Grid {
                nx,
                ny,
                z,
                x_range: (-1.0, 1.0),
                y_range: (-1.0, 1.0),
            },
            z_label: "loss L".into(),
            overlay: vec![Series::line(
                "path",
                vec![-1.0, 0.0, 1.0],
                vec![-1.0, 1.0, 0.0],
            )],
        };
        Figure::row("", vec![Panel::Heat(heat.clone()), Panel::Heat(heat)])
    }

    #[test]
    fn heat_maps_become_one_upright_raster_per_panel_in_svg() {
        let svg = render_svg(&heat_figure()).unwrap();
        assert_eq!(svg.matches("<image").count(), 2);
        // The rasters come before every plotters element but the background, so axes and
        // paths stay visible.
        let first_image = svg.find("<image").unwrap();
        assert_eq!(svg[..first_image].matches("<rect").count(), 1);
        assert!(has_text(&svg, "loss L") && has_text(&svg, "path"));
        // Decode the raster: one pixel per node, highest y on the top row.
        let start = svg.find("base64,").unwrap() + 7;
        let end = start + svg[start..].find('"').unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(&svg[start..end])
            .unwrap();
        let img = decode(&png);
        assert_eq!(img.dimensions(), (3, 2));
        assert_eq!(img.get_pixel(1, 0).0, viridis(1.0));
        assert_eq!(img.get_pixel(1, 1).0, viridis(0.0));
    }

    #[test]
    fn heat_maps_are_drawn_in_png() {
        let fig = heat_figure();
        let img = decode(&render_png(&fig).unwrap());
        let top = img.pixels().filter(|p| p.0 == viridis(1.0)).count();
        let bottom = img.pixels().filter(|p| p.0 == viridis(0.0)).count();
        // Two panels of ~500 x 400 px, half of each map per colour (and the colour bars).
        assert!(top > 20_000 && bottom > 20_000, "{top} {bottom}");
    }

    #[test]
    fn bad_figures_are_errors_not_panics() {
        let empty = Figure::row("t", vec![]);
        assert!(render_png(&empty).is_err());
        let mut fig = heat_figure();
        if let Panel::Heat(h) = &mut fig.panels[0] {
            h.grid.z.pop();
        }
        let err = render_svg(&fig).unwrap_err().to_string();
        assert!(err.contains("nx * ny"), "{err}");
        if let Panel::Heat(h) = &mut fig.panels[0] {
            h.grid.z = vec![f64::NAN; 6];
        }
        assert!(render_png(&fig).is_err());
    }

    #[test]
    fn save_writes_both_files_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let w = save(&sample_xy(false), &dir.path().join("fig")).unwrap();
        assert_eq!(w.png, dir.path().join("fig.png"));
        assert!(std::fs::read(&w.png)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(std::fs::read_to_string(&w.svg).unwrap().starts_with("<svg"));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}

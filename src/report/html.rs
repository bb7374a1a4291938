//! `report.html`: one self-contained page with the figures, our numbers beside the paper's,
//! and a verdict per claim.
//!
//! Self-contained means viewable offline from the output folder alone: every figure is inlined
//! as a base64 PNG (the SVG and PNG files are linked beside it), the style sheet is inline, and
//! nothing is fetched from the network.

use super::paper::{DEPTH_BATCH, LEARNING_RATE};
use anyhow::Context;
use base64::Engine;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A figure written under `OUT/figures/` as `STEM.png` and `STEM.svg`.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureRef {
    /// File stem inside `figures/`.
    pub stem: String,
    /// Heading.
    pub title: String,
    /// What the figure shows and how it compares with the paper's.
    pub caption: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn fmt_num(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |x| format!("{x:.3}")),
        Value::Null => "&ndash;".into(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// The verdict as the report words it, with the CSS class that colours it.
fn verdict(v: &str) -> (&'static str, &'static str) {
    match v {
        "reproduced" => ("reproduced", "ok"),
        "contradicted" => ("contradicted", "bad"),
        "inconclusive" => ("inconclusive", "mid"),
        _ => ("not tested", "na"),
    }
}

/// A number of a claim's test, or a dash.
fn fmt_opt(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;\
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;\
padding:.3em .6em;vertical-align:top;text-align:left}th{background:#f0f0f0}td.num{text-align:right;\
font-variant-numeric:tabular-nums}.ok{background:#dff3df}.bad{background:#f8dcdc}.mid{background:#fff6d6}.na{background:#eee;\
color:#555}figure{margin:2em 0;border-top:1px solid #ddd;padding-top:1em}figure img{max-width:100%;\
height:auto}figcaption{margin-top:.5em}code{background:#f4f4f4;padding:0 .2em}";

/// Writes `OUT/report.html` from the run's summary and its figures (which must already exist
/// under `OUT/figures/`); returns the page's path.
///
/// # Errors
/// A figure's PNG that cannot be read, or the page that cannot be written.
pub fn write_report(out: &Path, summary: &Value, figures: &[FigureRef]) -> anyhow::Result<PathBuf> {
    let page = render(out, summary, figures)?;
    let path = out.join("report.html");
    let tmp = out.join("report.html.part");
    std::fs::write(&tmp, page).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(path)
}

/// The page as a string (see [`write_report`]).
///
/// # Errors
/// A figure's PNG that cannot be read.
pub fn render(out: &Path, summary: &Value, figures: &[FigureRef]) -> anyhow::Result<String> {
    let mut h = String::new();
    let scale = summary["scale"].as_str().unwrap_or("?");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>anodiff reproduce: {scale}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Anomalous diffusion of SGD: what this run reproduces</h1>\n\
         <p>Produced by <code>anodiff reproduce --scale {scale}</code> (anodiff {version}, \
         seed {seed}). Paper: Chen, Qu &amp; Gong, <i>Anomalous diffusion dynamics of learning \
         in deep neural networks</i>. Every number below is in <code>summary.json</code> \
         (schema version {schema}) with its configuration; the figures are in \
         <code>figures/</code> as PNG and SVG.</p>\n",
        scale = escape(scale),
        version = escape(summary["anodiff_version"].as_str().unwrap_or("?")),
        seed = fmt_num(&summary["config"]["seed"]),
        schema = fmt_num(&summary["schema_version"]),
    );
    if summary["network"].is_object() {
        let _ = writeln!(
            h,
            "<p>The run trained {models} on <code>{dataset}</code> with vanilla SGD, recorded \
             every step, and measured on the recorded trajectories what the paper measures on \
             ResNets trained on CIFAR-10; it also ran the paper's toy model (a 2-D walker doing \
             noisy gradient descent on generated landscapes, Fig. 8). At demo scale the data, \
             the networks and the run lengths are far smaller than the paper's, so a verdict \
             says whether the qualitative claim holds here, not that the paper's numbers are \
             matched.</p>",
            models = escape(
                &summary["config"]["network"]["models"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            ),
            dataset = fmt_num(&summary["config"]["network"]["dataset"]),
        );
    } else {
        h.push_str(
            "<p>This run used the paper's toy model (a 2-D walker doing noisy gradient descent \
             on generated landscapes, Fig. 8) and the fractal dimensions of the generated \
             landscape; the network stages were disabled in its configuration, so the claims \
             about trained ResNets are marked <i>not tested at this scale</i>.</p>\n",
        );
    }

    h.push_str("<h2>Claims and verdicts</h2>\n");
    if let Some(r) = summary["reading"].as_str() {
        let _ = writeln!(h, "<p>{}</p>", escape(r));
    }
    h.push_str(
        "<table>\n<tr><th>claim</th><th>paper</th><th>verdict</th><th>test</th>\
         <th>estimate [95 % interval]</th><th>p</th><th>p (Holm)</th>\
         <th>seeds: median [min, max]</th><th>why / caveat</th></tr>\n",
    );
    for c in summary["claims"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let t = &c["test"];
        let (word, class) = verdict(c["verdict"].as_str().unwrap_or(""));
        let mut est = fmt_opt(&t["estimate"], 3);
        if let Some([lo, hi]) = t["ci95"].as_array().map(Vec::as_slice) {
            if let (Some(lo), Some(hi)) = (lo.as_f64(), hi.as_f64()) {
                let _ = write!(est, " [{lo:.3}, {hi:.3}]");
            }
        }
        let mut seeds = format!("{} seed(s)", c["replicates"].as_u64().unwrap_or(1));
        if let (Some(m), Some([lo, hi])) = (
            c["median"].as_f64(),
            c["spread"].as_array().map(Vec::as_slice),
        ) {
            let _ = write!(
                seeds,
                ": {m:.3} [{:.3}, {:.3}]",
                lo.as_f64().unwrap_or(f64::NAN),
                hi.as_f64().unwrap_or(f64::NAN)
            );
        }
        let test = format!(
            "{}: {} ({}, level {})",
            t["statistic"].as_str().unwrap_or(""),
            t["hypothesis"].as_str().unwrap_or(""),
            t["kind"].as_str().unwrap_or(""),
            fmt_opt(&t["level"], 2),
        );
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td>\
             <td class=\"num\">{est}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td></tr>",
            fmt_num(&c["claim"]),
            fmt_num(&c["paper"]),
            escape(&test),
            fmt_opt(&t["p_value"], 4),
            fmt_opt(&c["p_holm"], 4),
            escape(&seeds),
            c["note"].as_str().map(escape).unwrap_or_default(),
        );
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Figures</h2>\n");
    for f in figures {
        let png = out.join("figures").join(format!("{}.png", f.stem));
        let bytes = std::fs::read(&png).with_context(|| format!("reading {}", png.display()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let stem = escape(&f.stem);
        let _ = writeln!(
            h,
            "<figure id=\"{stem}\">\n<h3>{title}</h3>\n\
             <img src=\"data:image/png;base64,{b64}\" alt=\"{title}\">\n\
             <figcaption>{caption} Files: <a href=\"figures/{stem}.svg\">figures/{stem}.svg</a>, \
             <a href=\"figures/{stem}.png\">figures/{stem}.png</a>.</figcaption>\n</figure>",
            title = escape(&f.title),
            caption = escape(&f.caption),
        );
    }

    let sweeps = summary["network"]["sweeps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !sweeps.is_empty() {
        h.push_str(
            "<h2>Our sweeps (paper Figs. 3-4)</h2>\n<p>Each run is analysed in one window from \
             t_w = 0 over all its steps: alpha is the single power-law exponent, alpha_long \
             the exponent at lags above tau0 when two regimes are found (else alpha), tau0 the \
             crossover lag with its 95 % interval.</p>\n<table>\n<tr><th>run</th><th>model</th>\
             <th>status</th><th>alpha</th><th>alpha_long</th><th>tau0 (steps)</th>\
             <th>tau0 95 % interval</th></tr>\n",
        );
        for r in &sweeps {
            let ci = r["tau0_ci95"]
                .as_array()
                .and_then(|c| {
                    Some(format!(
                        "[{:.1}, {:.1}]",
                        c.first()?.as_f64()?,
                        c.get(1)?.as_f64()?
                    ))
                })
                .unwrap_or_else(|| "&ndash;".into());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{ci}</td></tr>",
                fmt_num(&r["run"]),
                fmt_num(&r["model"]),
                fmt_num(&r["status"]),
                fmt_num(&r["alpha"]),
                fmt_num(&r["alpha_long"]),
                fmt_num(&r["tau0"]),
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<h2>The authors' exponents by depth, batch size and shortcut (paper Fig. 3)</h2>\n\
         <p>Hard-coded in the authors' plotting scripts (read by hand from log-log plots); \
         alpha1 is the MSD exponent at lags above tau0 in the first regime, alpha2 the exponent \
         in the second regime, on CIFAR-10. Our runs at the same depth, batch and dataset need \
         <code>--scale small</code> or <code>paper</code>; at demo scale compare the trends \
         with the sweep table above.</p>\n<table>\n<tr><th>ResNet</th>\
         <th>batch</th><th>shortcut</th><th>alpha1 (paper)</th><th>alpha2 (paper)</th>\
         <th>tau0 (paper, steps)</th></tr>\n",
    );
    for r in DEPTH_BATCH {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">\
             {:.3}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td></tr>",
            r.depth,
            r.batch,
            if r.shortcut { "yes" } else { "no" },
            r.alpha1,
            r.alpha2,
            r.tau0
        );
    }
    h.push_str(
        "</table>\n<h2>The authors' exponents by learning rate (ResNet-14, paper Fig. 4a)</h2>\n\
         <table>\n<tr><th>learning rate</th><th>alpha1 (paper)</th><th>alpha2 (paper)</th></tr>\n",
    );
    for (lr, a1, a2) in LEARNING_RATE {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{lr}</td><td class=\"num\">{a1:.3}</td><td class=\"num\">\
             {a2:.3}</td></tr>"
        );
    }
    h.push_str(
        "</table>\n<p>Other published numbers: t0 = 21000 steps (ResNet-14, batch 1024); \
         regime-2 alpha = 0.78; gradient alpha_dist = 1.47 [1.46509, 1.46546] then 1.61, \
         LLR against the normal 1.52e9; MSL exponent 1.8 on Delta r in [0.4, 10]; box \
         dimension of the projected landscape about 1.8; path dimension D_f in [1.32, 2.67]; \
         toy model alpha_dist = 1.9 [1.88749, 1.91298], LLR 39.37, t0 = 139.</p>\n\
         </body>\n</html>\n",
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn page_lists_claims_verdicts_and_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("figures")).unwrap();
        // Any bytes do: the page embeds the file as it is.
        std::fs::write(dir.path().join("figures/a.png"), b"\x89PNG fake").unwrap();
        let summary = json!({
            "scale": "demo", "anodiff_version": "0.1.0", "schema_version": 1,
            "config": {"seed": 3},
            "claims": [
                {"claim": "x < y", "paper": "1.9", "verdict": "reproduced",
                 "test": {"kind": "wald-z", "statistic": "alpha", "hypothesis": "< 2",
                          "estimate": 1.25, "ci95": [1.0, 1.5], "p_value": 0.001,
                          "level": 0.05},
                 "replicates": 3, "median": 1.2, "spread": [1.1, 1.3], "p_holm": 0.002},
                {"claim": "nets", "paper": null, "verdict": "not tested",
                 "test": {"kind": "not-tested", "statistic": "stage off", "hypothesis": "",
                          "level": 0.05},
                 "replicates": 1, "note": "needs the trainers"},
            ],
        });
        let figs = [FigureRef {
            stem: "a".into(),
            title: "A".into(),
            caption: "cap".into(),
        }];
        let page = render(dir.path(), &summary, &figs).unwrap();
        assert!(page.contains("x &lt; y"));
        assert!(page.contains("seed 3)") && page.contains("schema version 1)"));
        assert!(page.contains("1.250 [1.000, 1.500]"));
        assert!(page.contains("not tested"));
        assert!(page.contains("3 seed(s): 1.200 [1.100, 1.300]"));
        assert!(page.contains("needs the trainers"));
        assert!(page.contains("href=\"figures/a.svg\""));
        // The PNG is inlined: "\x89PNG fake" in base64.
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG fake");
        assert!(page.contains(&format!("data:image/png;base64,{b64}")));
        assert!(!page.contains("http://") && !page.contains("https://"));
        // A missing figure file is an error naming it.
        let missing = [FigureRef {
            stem: "gone".into(),
            title: "G".into(),
            caption: String::new(),
        }];
        let err = render(dir.path(), &summary, &missing).unwrap_err();
        assert!(format!("{err:#}").contains("gone.png"));
    }
}

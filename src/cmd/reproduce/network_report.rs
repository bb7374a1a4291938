//! What the network stages add to the summary, the claims table and the figures, and the
//! time and disk estimate printed before a long run.

use super::claim::{Claim, LEVEL};
use super::config::Config;
use super::network::{read_grid, NetworkResults};
use super::network_rules as rules;
use super::{floats, num, stored_hist};
use crate::report::figures::{self as figs, PowerLaw, WindowCurve};
use crate::report::html::FigureRef;
use crate::report::plot::{self, Axes, Grid, HeatPanel, Panel, Series};
use anodiff_core::regime::RegimeChange;
use anodiff_core::verdict::{self, Estimate as Est};
use anodiff_core::vuong::ModelComparison;
use anodiff_trainers::candle_core::{DType, Device};
use anodiff_trainers::data::DatasetSpec;
use anodiff_trainers::init::InitOptions;
use anodiff_trainers::model::{Arch, Network};
use anyhow::Context;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// Seconds per SGD step per (parameter x example x pixel), measured: ResNet-14 on the bundled
/// digits at batch 32 on a 2-core CPU (0.038 s a step) and ResNet-14 on CIFAR-10-sized input at
/// batch 1024 on an H200 (7.7 steps/s). A rough extrapolation to other sizes, good to a
/// factor of a few; it is printed as such.
const CPU_SECONDS_PER_UNIT: f64 = 1.06e-10;
const GPU_SECONDS_PER_UNIT: f64 = 7.1e-13;

/// The predicted cost of a configuration.
#[derive(Serialize, Debug, Clone)]
pub(super) struct Estimate {
    /// Training steps over every run.
    pub steps: usize,
    /// Hours of training (a rough extrapolation from measured step times).
    pub hours: f64,
    /// Bytes of recorded trajectories and checkpoints.
    pub bytes: u64,
    /// How the numbers were obtained.
    pub basis: String,
}

impl Estimate {
    /// One paragraph for stderr.
    pub fn describe(&self) -> String {
        format!(
            "estimated cost: {} training steps, about {:.1} hours of training, {:.1} GB of \
             recorded trajectories and checkpoints ({})",
            self.steps,
            self.hours,
            self.bytes as f64 / 1e9,
            self.basis
        )
    }
}

/// Size of a dataset without reading it: training examples, image shape, classes.
fn dataset_shape(spec: &DatasetSpec) -> (usize, [usize; 3], usize) {
    match spec {
        DatasetSpec::Digits => (1437, [1, 8, 8], 10),
        DatasetSpec::Mnist(_) => (60_000, [1, 28, 28], 10),
        DatasetSpec::Cifar10(_) => (50_000, [3, 32, 32], 10),
    }
}

fn coords(spec: &str, d: usize) -> usize {
    let n = spec
        .split_once(':')
        .and_then(|(_, m)| m.parse::<usize>().ok());
    match spec {
        "full" => d,
        "none" => 0,
        _ => n.unwrap_or(d).min(d),
    }
}

/// Steps, time and disk of every training run the configuration asks for.
pub(super) fn estimate(cfg: &Config) -> anyhow::Result<Estimate> {
    let n = &cfg.network;
    let gpu = n.device.starts_with("cuda");
    let unit = if gpu {
        GPU_SECONDS_PER_UNIT
    } else {
        CPU_SECONDS_PER_UNIT
    };
    let spec: DatasetSpec = n
        .dataset
        .parse()
        .map_err(|e| anyhow::anyhow!("network.dataset: {e}"))?;
    let (n_train, input, classes) = dataset_shape(&spec);
    let pixels = input[1] * input[2];
    let mut params = std::collections::HashMap::new();
    let mut count = |model: &str| -> anyhow::Result<usize> {
        if let Some(&p) = params.get(model) {
            return Ok(p);
        }
        let arch: Arch = model
            .parse()
            .map_err(|e| anyhow::anyhow!("model {model}: {e}"))?;
        let net = Network::new(
            &arch,
            input,
            classes,
            DType::F32,
            &Device::Cpu,
            0,
            &InitOptions::default(),
        )
        .map_err(|e| anyhow::anyhow!("model {model}: {e}"))?;
        params.insert(model.to_string(), net.num_params());
        Ok(net.num_params())
    };
    let (mut steps, mut seconds, mut bytes) = (0usize, 0.0f64, 0u64);
    let mut add = |model: &str,
                   batch: usize,
                   run_steps: usize,
                   weights: &str,
                   grad: &str,
                   epochs: usize|
     -> anyhow::Result<()> {
        let p = count(model)?;
        steps += run_steps;
        seconds += run_steps as f64 * unit * (p * batch * pixels) as f64;
        let row = 4 * (coords(weights, p) + coords(grad, p)) + 8;
        bytes += (run_steps * row) as u64 + (epochs as u64 + 2) * 4 * p as u64;
        Ok(())
    };
    if n.enabled {
        let per_epoch = n_train / n.batch_size.max(1);
        for m in n
            .models
            .iter()
            .flat_map(|m| std::iter::repeat_n(m, n.seeds))
        {
            add(
                m,
                n.batch_size,
                n.epochs * per_epoch,
                &n.record_weights,
                &n.record_grad,
                n.epochs,
            )?;
        }
        let s = &cfg.sweeps;
        if s.enabled {
            for _ in 0..2 {
                for &b in &s.batch_sizes {
                    add(
                        &format!("resnet{}", s.depth),
                        b,
                        s.steps,
                        &s.record_weights,
                        "none",
                        1,
                    )?;
                }
                for &d in &s.depths {
                    add(
                        &format!("resnet{d}"),
                        n.batch_size,
                        s.steps,
                        &s.record_weights,
                        "none",
                        1,
                    )?;
                }
            }
            for _ in &s.learning_rates {
                add(
                    &format!("resnet{}", s.depth),
                    n.batch_size,
                    s.steps,
                    &s.record_weights,
                    "none",
                    1,
                )?;
            }
        }
    }
    Ok(Estimate {
        steps,
        hours: seconds / 3600.0,
        bytes,
        basis: format!(
            "training only, extrapolated from measured {} step times; Hessians and the surface \
             add to it",
            if gpu { "H200" } else { "2-core CPU" }
        ),
    })
}

/// The numbers of the network stages for `summary.json` (curves and samples stay in the stage
/// files under `stages/`).
pub(super) fn summary_numbers(n: &NetworkResults) -> Value {
    let mut models = serde_json::Map::new();
    for (m, per_seed) in &n.analyses {
        let seeds: Vec<Value> = per_seed
            .iter()
            .enumerate()
            .map(|(k, a)| seed_numbers(a, n.runs.get(m).and_then(|r| r.get(k)), n.seeds.get(k)))
            .collect();
        models.insert(
            m.clone(),
            json!({ "seeds": seeds, "hessian": n.hessian.get(m) }),
        );
    }
    json!({
        "seeds": n.seeds,
        "models": models,
        "surface": n.surface,
        "sweeps": sweep_table(&n.sweeps),
    })
}

/// The numbers of one seed's run and analysis.
fn seed_numbers(a: &Value, run: Option<&Value>, seed: Option<&u64>) -> Value {
    let windows: Vec<Value> = a["windows"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| {
                    json!({
                        "t_w": w["t_w"],
                        "alpha": w["alpha"],
                        "alpha_se": w["alpha_se"],
                        "alpha_long": w["alpha_long"],
                        "regime_alpha": w["regime_alpha"],
                        "regime_alpha_se": w["regime_alpha_se"],
                        "two_regime": w["two_regime"],
                        "p_one_vs_two": w["p_one_vs_two"],
                        "lambda": w["contour"]["lambda"],
                        "fractal_dim": w["contour"]["fractal_dim"],
                        "fractal_dim_ci95": w["contour"]["fractal_dim_ci95"],
                        "msl_exponent_2h": w["msl"]["exponent_2h"],
                        "msl_exponent_ci95": w["msl"]["exponent_ci95"],
                        "mean_abs_dloss": w["loss"]["mean_abs_dloss"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let strip = |g: &Value| {
        let mut g = g.clone();
        if let Some(o) = g.as_object_mut() {
            o.remove("plot");
        }
        g
    };
    json!({
        "seed": seed,
        "run": run,
        "t0": a["t0"],
        "regime": a["regime"],
        "split_index": a["split_index"],
        "split_rule": a["split_rule"],
        "gradients_before_t0": strip(&a["gradients_before_t0"]),
        "gradients_after_t0": strip(&a["gradients_after_t0"]),
        "windows": windows,
        "error": a["error"],
    })
}

/// One row per sweep run: what it varied and what its first window gives.
fn sweep_table(s: &Value) -> Vec<Value> {
    let Some(runs) = s["runs"].as_object() else {
        return Vec::new();
    };
    runs.iter()
        .map(|(name, r)| {
            let f = &r["analysis"]["first_window"];
            let tr = &f["two_regime"];
            json!({
                "run": name,
                "model": r["run"]["model"],
                "status": r["run"]["status"],
                "diverged_step": r["run"]["diverged_step"],
                "steps": r["run"]["steps"],
                "alpha": f["alpha"],
                "alpha_long": f["alpha_long"],
                "tau0": tr["tau0"],
                "tau0_ci95": tr["tau0_ci95"],
                "alpha_short": tr["alpha_short"],
            })
        })
        .collect()
}

/// The first window's fitted value of a sweep run.
fn sweep_value(s: &Value, run: &str, key: &str) -> Option<f64> {
    let f = &s["runs"][run]["analysis"]["first_window"];
    match key {
        "tau0" => num(&f["two_regime"]["tau0"]),
        k => num(&f[k]),
    }
}

/// The paper's claims about trained networks, each a stated test (`network_rules`) on the
/// per-seed statistics gathered here.
pub(super) fn claims(n: Option<&NetworkResults>, cfg: &Config) -> Vec<Claim> {
    let first_model = cfg.network.models.first().cloned().unwrap_or_default();
    let Some(n) = n else {
        let why = "network stages disabled in the configuration (network.enabled)";
        return [
            "superdiffusive_first_window",
            "regime_change_subdiffusive_after_t0",
            "gradients_heavy_tailed_before_t0",
            "gradients_less_heavy_after_t0",
            "msl_flattens",
            "loss_changes_shrink",
            "path_dimension",
            "hessian_top_falls",
            "landscape_box_dimension",
        ]
        .iter()
        .map(|id| {
            Claim::new(
                &format!("network.{first_model}.{id}"),
                &format!("{first_model}: {}", id.replace('_', " ")),
                None,
                verdict::not_tested(why, LEVEL),
                why,
            )
        })
        .collect();
    };
    let mut out = Vec::new();
    let per_seed = |m: &str| -> Vec<SeedStats> {
        n.analyses
            .get(m)
            .map(|v| v.iter().map(SeedStats::from_analysis).collect())
            .unwrap_or_default()
    };
    let s0 = per_seed(&first_model);
    let col =
        |f: &dyn Fn(&SeedStats) -> Option<Est>| -> Vec<Option<Est>> { s0.iter().map(f).collect() };
    if !s0.is_empty() {
        let m = first_model.as_str();
        out.push(rules::superdiffusive_first_window(
            m,
            &col(&|s| s.first_alpha),
        ));
        out.push(rules::regime_change(
            m,
            &s0.iter().map(|s| s.regime).collect::<Vec<_>>(),
        ));
        out.push(rules::heavy_tailed_before(
            m,
            &s0.iter().map(|s| s.heavy).collect::<Vec<_>>(),
            &s0.iter()
                .map(|s| s.alpha_dist_before.map(|e| e.value))
                .collect::<Vec<_>>(),
        ));
        out.push(rules::less_heavy_after(
            m,
            &col(&|s| s.alpha_dist_before),
            &col(&|s| s.alpha_dist_after),
        ));
        out.push(rules::msl_flattens(
            m,
            &col(&|s| s.msl_first),
            &col(&|s| s.msl_late),
        ));
        out.push(rules::dloss_shrinks(
            m,
            &col(&|s| s.dloss_first),
            &col(&|s| s.dloss_last),
        ));
        out.push(rules::path_dimension(
            m,
            &col(&|s| s.df_first),
            &col(&|s| s.df_late),
        ));
    }
    // Shortcut: the first two models are a network and its -noshort twin, seed by seed.
    if let (Some(m0), Some(m1)) = (cfg.network.models.first(), cfg.network.models.get(1)) {
        let s1 = per_seed(m1);
        let pick = |v: &[SeedStats], f: &dyn Fn(&SeedStats) -> Option<Est>| {
            v.iter().map(f).collect::<Vec<_>>()
        };
        out.push(rules::shortcut_alpha_equivalent(
            m0,
            m1,
            &pick(&s0, &|s| s.first_alpha),
            &pick(&s1, &|s| s.first_alpha),
        ));
        out.push(rules::shortcut_tau0(
            m0,
            m1,
            &pick(&s0, &|s| s.first_ln_tau0),
            &pick(&s1, &|s| s.first_ln_tau0),
        ));
    }
    let s = &n.sweeps;
    if s.is_object() {
        let mut groups: Vec<Vec<(f64, Est)>> = Vec::new();
        for shortcut in [true, false] {
            let g: Vec<(f64, Est)> = s["by_batch_size"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter(|r| r["shortcut"].as_bool() == Some(shortcut))
                        .filter_map(|r| {
                            let b = num(&r["batch_size"])?;
                            Some((b.log2(), sweep_alpha(s, r["run"].as_str()?)?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            groups.push(g);
        }
        out.push(rules::batch_equivalence(&groups, &cfg.sweeps.batch_sizes));
        let depth_groups: Vec<Vec<(f64, Est)>> = [true, false]
            .iter()
            .map(|&shortcut| {
                s["by_depth"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["shortcut"].as_bool() == Some(shortcut))
                    .filter_map(|r| {
                        let f = &s["runs"][r["run"].as_str()?]["analysis"]["first_window"];
                        let tau = rules::log_estimate(
                            num(&f["two_regime"]["tau0"])?,
                            pair(&f["two_regime"]["tau0_ci95"])?,
                        )?;
                        Some((num(&r["depth"])?, tau))
                    })
                    .collect()
            })
            .collect();
        out.push(rules::depth_shortens_tau0(
            &depth_groups,
            &cfg.sweeps.depths,
        ));
        let smallest = s["by_learning_rate"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((num(&r["lr"])?, r["run"].as_str()?.to_string())))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        out.push(rules::smallest_lr_ballistic(
            smallest.as_ref().map(|x| x.0),
            smallest.as_ref().and_then(|(_, run)| sweep_alpha(s, run)),
        ));
    }
    if let Some(h) = n.hessian.get(&first_model) {
        let (epochs, tops): (Vec<f64>, Vec<f64>) = h["checkpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((num(&c["epoch"])?, num(&c["eigenvalues"][0])?)))
            .unzip();
        out.push(rules::hessian_falls(&first_model, &epochs, &tops));
    }
    let level = &n.surface["level_set_boxcount"];
    let dim = num(&level["dimension"]).zip(pair(&level["ci95"]));
    let note = match level["error"].as_str() {
        Some(e) => format!("not measured: {e}"),
        None if n.surface.is_null() => "the surface stage did not run".into(),
        None => format!(
            "box counting of the median level set of a {0} x {0} filter-normalised surface \
             around the last checkpoint (first seed), its bootstrap interval; the paper's 1.8 \
             is one unreplicated value",
            cfg.surface.grid
        ),
    };
    out.push(rules::landscape_box_dimension(
        &first_model,
        dim.and_then(|(d, ci)| Est::from_ci95(d, ci).ok()),
        &note,
    ));
    out
}

/// A pair of numbers stored as a two-element array.
fn pair(v: &Value) -> Option<[f64; 2]> {
    Some([v.get(0)?.as_f64()?, v.get(1)?.as_f64()?])
}

/// An estimate from a value and its 95 % interval in a stage result.
fn from_ci(v: &Value, ci: &Value) -> Option<Est> {
    Est::from_ci95(num(v)?, pair(ci)?).ok()
}

/// The first-window MSD exponent of a sweep run with its standard error.
fn sweep_alpha(s: &Value, run: &str) -> Option<Est> {
    let f = &s["runs"][run]["analysis"]["first_window"];
    Est::normal(num(&f["alpha"])?, num(&f["alpha_se"])?).ok()
}

/// The statistics of one seed's analysis that the network claims test.
struct SeedStats {
    first_alpha: Option<Est>,
    regime: Option<RegimeChange>,
    heavy: Option<ModelComparison>,
    alpha_dist_before: Option<Est>,
    alpha_dist_after: Option<Est>,
    msl_first: Option<Est>,
    msl_late: Option<Est>,
    dloss_first: Option<Est>,
    dloss_last: Option<Est>,
    df_first: Option<Est>,
    df_late: Option<Est>,
    first_ln_tau0: Option<Est>,
}

impl SeedStats {
    fn from_analysis(a: &Value) -> SeedStats {
        let ws: Vec<Value> = a["windows"].as_array().cloned().unwrap_or_default();
        let split = a["split_index"]
            .as_u64()
            .map_or(ws.len(), |s| s as usize)
            .min(ws.len());
        let late = &ws[split..];
        let w0 = ws.first();
        let stable = |g: &Value| {
            Est::normal(
                num(&g["stable"]["alpha"])?,
                num(&g["stable"]["se"]["alpha"])?,
            )
            .ok()
        };
        let late_mean = |f: &dyn Fn(&Value) -> Option<Est>| {
            rules::mean_conservative(&late.iter().filter_map(f).collect::<Vec<_>>())
        };
        let msl = |w: &Value| from_ci(&w["msl"]["exponent_2h"], &w["msl"]["exponent_ci95"]);
        let df = |w: &Value| {
            from_ci(
                &w["contour"]["fractal_dim"],
                &w["contour"]["fractal_dim_ci95"],
            )
        };
        let dloss =
            |w: &Value| rules::batch_mean(&floats(&w["loss"]["abs_dloss"]), rules::DLOSS_BATCHES);
        SeedStats {
            first_alpha: w0.and_then(|w| {
                Est::normal(num(&w["regime_alpha"])?, num(&w["regime_alpha_se"])?).ok()
            }),
            regime: serde_json::from_value(a["regime"]["estimate"].clone()).ok(),
            heavy: serde_json::from_value(a["gradients_before_t0"]["stable_vs_normal"].clone())
                .ok(),
            alpha_dist_before: stable(&a["gradients_before_t0"]),
            alpha_dist_after: stable(&a["gradients_after_t0"]),
            msl_first: w0.and_then(msl),
            msl_late: late_mean(&msl),
            dloss_first: w0.and_then(dloss),
            dloss_last: ws.last().and_then(dloss),
            df_first: w0.and_then(df),
            df_late: late_mean(&df),
            first_ln_tau0: w0.and_then(|w| {
                rules::log_estimate(
                    num(&w["two_regime"]["tau0"])?,
                    pair(&w["two_regime"]["tau0_ci95"])?,
                )
            }),
        }
    }
}

fn window_curves(
    windows: &Value,
    curve: impl Fn(&Value) -> Option<(Vec<f64>, Vec<f64>)>,
) -> Vec<WindowCurve> {
    windows
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter_map(|w| {
                    let (x, y) = curve(w)?;
                    (!x.is_empty()).then(|| WindowCurve {
                        t_w: num(&w["t_w"]).unwrap_or(0.0),
                        x,
                        y,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A power law through binned points with a fitted exponent: the prefactor by least squares
/// in log space at that exponent.
fn power_law(label: &str, bins: &Value, exponent: Option<f64>) -> Option<PowerLaw> {
    let e = exponent?;
    let x = floats(&bins["x"]);
    let y = floats(&bins["y"]);
    let logs: Vec<f64> = x
        .iter()
        .zip(&y)
        .filter(|(x, y)| **x > 0.0 && **y > 0.0)
        .map(|(x, y)| y.ln() - e * x.ln())
        .collect();
    if logs.is_empty() {
        return None;
    }
    let pos: Vec<f64> = x.iter().copied().filter(|v| *v > 0.0).collect();
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0.0, f64::max);
    Some(PowerLaw {
        label: label.into(),
        exponent: e,
        prefactor: (logs.iter().sum::<f64>() / logs.len() as f64).exp(),
        x_range: (lo, hi),
    })
}

/// The power laws fitted to `windows[..][part]` of the first and last windows (exponent at
/// `part.exponent`, points at `part.bins`).
fn first_last_fits(windows: &Value, part: &str, exponent: &str) -> Vec<PowerLaw> {
    let arr = windows.as_array().map(Vec::as_slice).unwrap_or(&[]);
    [(arr.first(), "first window"), (arr.last(), "last window")]
        .into_iter()
        .filter_map(|(w, label)| {
            let w = &w?[part];
            power_law(label, &w["bins"], num(&w[exponent]))
        })
        .collect()
}

/// Draws Figs. 2-7 from the network stages into `OUT/figures/`.
pub(super) fn write_figures(
    out: &Path,
    n: &NetworkResults,
    cfg: &Config,
) -> anyhow::Result<Vec<FigureRef>> {
    let dir = out.join("figures");
    let mut refs = Vec::new();
    let mut save = |stem: &str, fig: &plot::Figure, title: &str, caption: String| {
        plot::save(fig, &dir.join(stem)).with_context(|| format!("drawing figure {stem}"))?;
        refs.push(FigureRef {
            stem: stem.into(),
            title: title.into(),
            caption,
        });
        anyhow::Ok(())
    };
    let data = format!(
        "{} at batch {} and learning rate {}, {} epochs, recorded every step",
        cfg.network.dataset, cfg.network.batch_size, cfg.network.lr, cfg.network.epochs
    );
    let first = cfg.network.models.first().cloned().unwrap_or_default();
    if let Some(a) = n.analyses.get(&first).and_then(|v| v.first()) {
        let ws = &a["windows"];
        let msd = window_curves(ws, |w| {
            Some((floats(&w["curve"]["lag"]), floats(&w["curve"]["msd"])))
        });
        save(
            "fig2-msd-windows",
            &figs::msd_by_window(&format!("{first}: MSD per window (paper Fig. 2b)"), &msd),
            "Fig. 2: MSD of SGD in windows [t_w, t_w + T]",
            format!(
                "Time-averaged MSD of the recorded weights of {first} ({data}) in windows of {} \
                 steps starting every {} steps, coloured by t_w, with tau and tau^2 guides \
                 (first seed). t0 = {} (the change point of the window exponents when the test \
                 of no change rejects at 5 %, else null). The paper: ResNet-14 on CIFAR-10, \
                 T = 1000, t0 = 21000.",
                cfg.analysis.window, cfg.analysis.stride, a["t0"]
            ),
        )?;

        // Fig. 5a from the network's gradients before t0.
        let p = &a["gradient_plot_before_t0"];
        if p.is_object() {
            let hist = stored_hist(&p["hist"]);
            let tail = stored_hist(&p["tail"]);
            let fits = super::fitted_densities(&a["gradients_before_t0"], &hist, &tail)?;
            save(
                "fig5a-gradient-distribution",
                &figs::gradient_distribution(
                    &format!("{first}: minibatch gradient components before t0 (paper Fig. 5a)"),
                    "gradient component dL/dw",
                    &hist,
                    &tail,
                    &fits,
                ),
                "Fig. 5a: heavy-tailed minibatch gradients, stable against normal",
                format!(
                    "Histogram of {} recorded minibatch gradient components of {first} from \
                     the windows before t0 (central 99 % left, positive tail on log-log axes \
                     right), with the stable law fitted by maximum likelihood and the normal \
                     fit. The paper: alpha_dist = 1.47 for ResNet-14 on CIFAR-10.",
                    a["gradients_before_t0"]["n"]
                ),
            )?;
        }

        let dl = window_curves(ws, |w| {
            let y = floats(&w["loss"]["abs_dloss"]);
            let x = (0..y.len()).map(|k| k as f64).collect();
            Some((x, y.into_iter().map(|v| v.max(1e-12)).collect()))
        });
        save(
            "fig5b-loss-changes",
            &figs::loss_changes_by_window(
                &format!("{first}: |Delta L| per window (paper Fig. 5b)"),
                &dl,
            ),
            "Fig. 5b: loss changes per step",
            format!(
                "|L(t+1) - L(t)| of the minibatch loss at each step of each window, coloured by \
                 t_w ({first}, {data}). The paper: the fluctuations shrink as t_w grows."
            ),
        )?;
        let mv = floats(&a["moving_variance"]["values"]);
        let w = a["moving_variance"]["window"].as_u64().unwrap_or(100) as usize;
        let steps = (0..mv.len()).map(|k| (k + w - 1) as f64).collect();
        save(
            "fig5c-moving-variance",
            &figs::moving_variance(
                &format!("{first}: moving variance of the loss (paper Fig. 5c)"),
                steps,
                mv.into_iter().map(|v| v.max(1e-12)).collect(),
                w,
            ),
            "Fig. 5c: moving variance of the loss",
            format!("Variance of the minibatch loss over a sliding window of {w} steps ({first})."),
        )?;

        let msl = window_curves(ws, |w| {
            Some((
                floats(&w["msl"]["bins"]["x"]),
                floats(&w["msl"]["bins"]["y"]),
            ))
        });
        let fits = first_last_fits(ws, "msl", "exponent_2h");
        save(
            "fig7a-msl",
            &figs::scaling_by_window(
                &format!("{first}: mean squared loss difference (paper Fig. 7a)"),
                "end-to-end distance Delta r (weight units)",
                "MSL (squared loss difference)",
                &msl,
                &fits,
            ),
            "Fig. 7a: MSL against distance",
            format!(
                "Mean squared loss difference of pairs of recorded points against their distance \
                 in weight space, per window, coloured by t_w, with the fitted power laws of the \
                 first and last windows. The distances use the recorded coordinates ({}). The \
                 paper: exponent 1.8 at first, flat after t0.",
                cfg.network.record_weights
            ),
        )?;
        let contour = window_curves(ws, |w| {
            Some((
                floats(&w["contour"]["bins"]["x"]),
                floats(&w["contour"]["bins"]["y"]),
            ))
        });
        let fits = first_last_fits(ws, "contour", "lambda");
        save(
            "fig7c-contour",
            &figs::scaling_by_window(
                &format!("{first}: end-to-end distance against contour length (paper Fig. 7c)"),
                "contour length Delta s (weight units)",
                "squared end-to-end distance Delta r^2",
                &contour,
                &fits,
            ),
            "Fig. 7c: path geometry, Delta r^2 against Delta s",
            "Squared end-to-end distance against contour length along the path, per window, \
             with the fitted slopes lambda of the first and last windows (D_f = 2 / lambda). \
             The paper: D_f in [1.32, 2.67]."
                .into(),
        )?;
    }

    // Fig. 6: Hessian eigenvalues against epoch.
    if let Some(h) = n.hessian.get(&first) {
        let cps = h["checkpoints"].as_array().cloned().unwrap_or_default();
        let epochs: Vec<f64> = cps.iter().filter_map(|c| num(&c["epoch"])).collect();
        let eig: Vec<Vec<f64>> = cps.iter().map(|c| floats(&c["eigenvalues"])).collect();
        save(
            "fig6-hessian",
            &figs::hessian_top_eigenvalues(
                &format!(
                    "{first}: top {} Hessian eigenvalues (paper Fig. 6)",
                    cfg.hessian.k
                ),
                &epochs,
                &eig,
            ),
            "Fig. 6: top Hessian eigenvalues during training",
            format!(
                "The {} largest eigenvalues of the Hessian of the training loss (eval mode, {} \
                 fixed examples, exact Hessian-vector products, Lanczos) at checkpoints every {} \
                 epochs. The paper: the top 20 fall towards zero over 500 epochs.",
                cfg.hessian.k, h["examples"], cfg.hessian.every_epochs
            ),
        )?;
    }

    // The loss surface.
    if let Some(file) = n.surface["file"].as_str() {
        let z = read_grid(Path::new(file))?;
        let (nx, ny) = z.dim();
        let r = cfg.surface.range;
        let grid = Grid {
            nx,
            ny,
            z: z.iter().map(|v| v.max(1e-12).log10()).collect(),
            x_range: (-r, r),
            y_range: (-r, r),
        };
        let panel = Panel::Heat(HeatPanel {
            axes: Axes::new(
                format!("{first}: loss around the last checkpoint"),
                "direction 1 (filter-normalised)",
                "direction 2 (filter-normalised)",
            ),
            grid,
            z_label: "log10 training loss".into(),
            overlay: vec![
                Series::points("checkpoint", vec![0.0], vec![0.0]).with_color([255, 255, 255])
            ],
        });
        save(
            "surface-loss-landscape",
            &plot::Figure::row("", vec![panel]),
            "The filter-normalised loss surface",
            format!(
                "Training loss on a {nx} x {ny} grid of the plane through the last checkpoint \
                 spanned by two seeded filter-normalised random directions (Li et al. 2018; \
                 biases and batch-norm parameters fixed), log10 colour scale. Its level-set box \
                 dimension is {} (the paper: about 1.8).",
                n.surface["level_set_boxcount"]["dimension"]
            ),
        )?;
    }

    sweep_figures(&mut save, n, cfg)?;
    Ok(refs)
}

fn sweep_figures(
    save: &mut impl FnMut(&str, &plot::Figure, &str, String) -> anyhow::Result<()>,
    n: &NetworkResults,
    cfg: &Config,
) -> anyhow::Result<()> {
    let s = &n.sweeps;
    if !s.is_object() {
        return Ok(());
    }
    // A line through the points plus the points themselves, so that a sweep value without
    // neighbours (a run with one regime next to it) still shows.
    let series = |rows: &str, x_key: &str, shortcut: bool, y: &str| -> Vec<Series> {
        let mut pts: Vec<(f64, f64)> = s[rows]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|r| r["shortcut"].as_bool() == Some(shortcut))
                    .filter_map(|r| Some((num(&r[x_key])?, sweep_value(s, r["run"].as_str()?, y)?)))
                    .collect()
            })
            .unwrap_or_default();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
        let label = if shortcut {
            "with shortcuts"
        } else {
            "no shortcuts"
        };
        let color = if shortcut {
            [255, 127, 14]
        } else {
            [31, 119, 180]
        };
        vec![
            Series::line(label, xs.clone(), ys.clone()).with_color(color),
            Series::points("", xs, ys).with_color(color),
        ]
    };
    for (stem, rows, x_key, x_label, title) in [
        (
            "fig3ab-batch-size",
            "by_batch_size",
            "batch_size",
            "minibatch size",
            "Fig. 3a-b: alpha and tau0 against batch size",
        ),
        (
            "fig3cd-depth",
            "by_depth",
            "depth",
            "ResNet depth",
            "Fig. 3c-d: alpha and tau0 against depth",
        ),
    ] {
        let panels = vec![
            (
                "alpha at tau > tau0 (t_w = 0)".to_string(),
                [
                    series(rows, x_key, true, "alpha_long"),
                    series(rows, x_key, false, "alpha_long"),
                ]
                .concat(),
            ),
            (
                "tau0 (steps)".to_string(),
                [
                    series(rows, x_key, true, "tau0"),
                    series(rows, x_key, false, "tau0"),
                ]
                .concat(),
            ),
        ];
        save(
            stem,
            &figs::sweep(title, x_label, false, panels),
            title,
            format!(
                "Long-lag MSD exponent and crossover tau0 of the first {} steps of each run \
                 (one window from t_w = 0), ResNet depth {} for the batch sweep and batch {} for \
                 the depth sweep, learning rate {}; orange with shortcuts, blue without. A \
                 missing point means that run showed one regime (no tau0). The authors' values \
                 (CIFAR-10) are tabulated below.",
                cfg.sweeps.steps, cfg.sweeps.depth, cfg.network.batch_size, cfg.network.lr
            ),
        )?;
    }
    let lr_rows = s["by_learning_rate"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut pts: Vec<(f64, f64)> = lr_rows
        .iter()
        .filter_map(|r| {
            Some((
                num(&r["lr"])?,
                sweep_value(s, r["run"].as_str()?, "alpha_long")?,
            ))
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (lrs, alphas): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
    save(
        "fig4a-learning-rate",
        &figs::sweep(
            "Fig. 4a: alpha against learning rate",
            "learning rate",
            true,
            vec![(
                "alpha at tau > tau0 (t_w = 0)".into(),
                vec![
                    Series::line("with shortcuts", lrs.clone(), alphas.clone()),
                    Series::points("", lrs, alphas),
                ],
            )],
        ),
        "Fig. 4a: alpha against learning rate",
        format!(
            "Long-lag MSD exponent of the first {} steps at each learning rate (ResNet-{}, batch \
             {}). The paper: alpha falls from 2 (ballistic) at lr 0.001.",
            cfg.sweeps.steps, cfg.sweeps.depth, cfg.network.batch_size
        ),
    )?;
    let mut loss_series = Vec::new();
    let mut msd_panels = Vec::new();
    for (i, r) in lr_rows.iter().enumerate() {
        let Some(run) = r["run"].as_str() else {
            continue;
        };
        let a = &s["runs"][run]["analysis"];
        let l = floats(&a["losses"]);
        // A moving average over 10 steps, as the minibatch loss is noisy.
        let k = 10.min(l.len().max(1));
        let smooth: Vec<f64> = l
            .windows(k)
            .map(|w| w.iter().sum::<f64>() / k as f64)
            .collect();
        let x = (0..smooth.len()).map(|t| (t + k - 1) as f64).collect();
        loss_series
            .push(Series::line(format!("lr {}", r["lr"]), x, smooth).with_color(plot::palette(i)));
        let curves = window_curves(&a["windows"], |w| {
            Some((floats(&w["curve"]["lag"]), floats(&w["curve"]["msd"])))
        });
        if !curves.is_empty() {
            let f = figs::msd_by_window(&format!("lr {}", r["lr"]), &curves);
            msd_panels.extend(f.panels);
        }
    }
    save(
        "fig4b-loss-curves",
        &figs::loss_curves(
            "Fig. 4b: training loss by learning rate",
            "step",
            loss_series,
            true,
        ),
        "Fig. 4b: loss against time by learning rate",
        "Minibatch training loss (moving average over 10 steps) of the learning-rate sweep.".into(),
    )?;
    if !msd_panels.is_empty() {
        let mut fig = plot::Figure::row("Fig. 4c-f: MSD per window by learning rate", msd_panels);
        fig.columns = fig.columns.min(2);
        save(
            "fig4cf-msd-by-learning-rate",
            &fig,
            "Fig. 4c-f: MSD per window at each learning rate",
            format!(
                "MSD in windows of {} steps (every {} steps), coloured by t_w, for each learning \
                 rate of the sweep.",
                cfg.sweeps.window,
                (cfg.sweeps.window / 2).max(1)
            ),
        )?;
    }
    Ok(())
}

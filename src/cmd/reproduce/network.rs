//! The network stages of `anodiff reproduce`: recorded training runs and everything the paper
//! measures on them (Figs. 2-7).
//!
//! Training runs in this process (a killed run resumes bit for bit from its last checkpoint).
//! Hessian spectra and the loss surface run as child processes of this same binary: exact
//! Hessian-vector products need `CANDLE_GRAD_DO_NOT_DETACH=1` before a process's first backward
//! pass, which the training here has already made, and the variable also slows first-order
//! training, so it must not be set for the whole pipeline.

use super::claim::LEVEL;
use super::config::{Config, SweepSettings};
use super::{heavy_tail_summary, StageCache};
use crate::cmd::msd::analyse_window;
use crate::cmd::train::Progress;
use anodiff_core::exponent::{MsdFit, MsdFitOptions};
use anodiff_core::fractal::{level_set_dimension, surface_dimension, BoxCountConfig};
use anodiff_core::fractal::{SurfaceDimConfig, SurfaceMethod};
use anodiff_core::msd::{Lags, Window};
use anodiff_core::pathstats::{
    contour_with, gradient_sample, loss_fluctuations, msl_with, Bin, Binning, PairDistances,
    PathBootstrap,
};
use anodiff_core::regime::{
    exponent_options, regime_change, window_exponent, window_lags, RegimeAnalysis, RegimeOptions,
    WindowExponent,
};
use anodiff_core::trajectory::{StoreReader, TrajectorySource};
use anodiff_core::vuong::stable_vs_normal;
use anodiff_trainers::run::{Length, RunRecord, RunStatus, TrainConfig};
use anodiff_trainers::train;
use anodiff_trainers::Error as TrainError;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::Array2;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One training run as the pipeline asks for it (hashed into its stage key).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub(super) struct RunSpec {
    /// Directory name under `OUT/runs/`.
    pub name: String,
    pub model: String,
    pub dataset: String,
    pub loss: String,
    pub lr: f64,
    pub batch_size: usize,
    /// Epochs (`Some`) or steps.
    pub epochs: Option<usize>,
    pub steps: Option<usize>,
    pub record_weights: String,
    pub record_grad: String,
    pub linear_init: String,
    pub augment: Option<bool>,
    pub device: String,
    pub seed: u64,
}

impl RunSpec {
    /// The run of `model` with the `[network]` settings and `seed`, named after both.
    fn network(cfg: &Config, model: &str, seed: u64) -> RunSpec {
        let n = &cfg.network;
        RunSpec {
            name: format!("{model}-seed{seed}"),
            model: model.into(),
            dataset: n.dataset.clone(),
            loss: n.loss.clone(),
            lr: n.lr,
            batch_size: n.batch_size,
            epochs: Some(n.epochs),
            steps: None,
            record_weights: n.record_weights.clone(),
            record_grad: n.record_grad.clone(),
            linear_init: n.linear_init.clone(),
            augment: n.augment,
            device: n.device.clone(),
            seed,
        }
    }

    /// The `anodiff train` options of this run (without `--out`), as JSON values in the
    /// order of `anodiff train --help`.
    fn train_options(&self) -> Vec<(String, Value)> {
        let mut o: Vec<(String, Value)> = vec![
            ("model".into(), json!(self.model)),
            ("dataset".into(), json!(self.dataset)),
            ("loss".into(), json!(self.loss)),
            ("batch_size".into(), json!(self.batch_size)),
            ("lr".into(), json!(self.lr)),
        ];
        match (self.epochs, self.steps) {
            (_, Some(s)) => o.push(("steps".into(), json!(s))),
            (Some(e), None) => o.push(("epochs".into(), json!(e))),
            (None, None) => {}
        }
        o.push(("record_weights".into(), json!(self.record_weights)));
        o.push(("record_grad".into(), json!(self.record_grad)));
        o.push(("seed".into(), json!(self.seed)));
        o.push(("device".into(), json!(self.device)));
        o.push(("linear_init".into(), json!(self.linear_init)));
        if let Some(a) = self.augment {
            o.push(("augment".into(), json!(if a { "on" } else { "off" })));
        }
        o
    }

    fn train_config(&self) -> anyhow::Result<TrainConfig> {
        let parse = |what: &str, e: TrainError| anyhow::anyhow!("{what}: {e}");
        let mut c = TrainConfig::new(
            self.model.parse().map_err(|e| parse("model", e))?,
            self.dataset.parse().map_err(|e| parse("dataset", e))?,
        );
        c.loss = self.loss.parse().map_err(|e| parse("loss", e))?;
        c.lr = self.lr;
        c.batch_size = self.batch_size;
        c.length = match (self.epochs, self.steps) {
            (_, Some(s)) => Length::Steps(s),
            (Some(e), None) => Length::Epochs(e),
            (None, None) => Length::Epochs(1),
        };
        c.record_weights = self
            .record_weights
            .parse()
            .map_err(|e| parse("record_weights", e))?;
        c.record_grad = self
            .record_grad
            .parse()
            .map_err(|e| parse("record_grad", e))?;
        c.linear_init = self
            .linear_init
            .parse()
            .map_err(|e| parse("linear_init", e))?;
        if let Some(a) = self.augment {
            c.augment = a;
        }
        c.device = self.device.parse().map_err(|e| parse("device", e))?;
        c.seed = self.seed;
        c.validate().map_err(|e| parse(&self.name, e))?;
        Ok(c)
    }
}

/// Everything the network stages produced, for the summary, the claims and the figures.
pub(super) struct NetworkResults {
    /// The seeds of the replicate runs, in order.
    pub seeds: Vec<u64>,
    /// Per model: the run stage result of each seed.
    pub runs: BTreeMap<String, Vec<Value>>,
    /// Per model: the analysis stage result of each seed.
    pub analyses: BTreeMap<String, Vec<Value>>,
    /// Per model: the Hessian stage result.
    pub hessian: BTreeMap<String, Value>,
    /// The loss-surface stage result (first model).
    pub surface: Value,
    /// Sweep run results by run name, and how they are grouped.
    pub sweeps: Value,
}

/// Runs every network stage the configuration enables, training the runs into `OUT/runs/`, or
/// reading them from `given` when they were trained elsewhere (see [`check_given`]).
pub(super) fn run_all(
    cache: &StageCache,
    out: &Path,
    cfg: &Config,
    given: Option<&Path>,
) -> anyhow::Result<NetworkResults> {
    let n = &cfg.network;
    let seeds: Vec<u64> = (0..n.seeds as u64).map(|k| cfg.seed + k).collect();
    let mut res = NetworkResults {
        seeds: seeds.clone(),
        runs: BTreeMap::new(),
        analyses: BTreeMap::new(),
        hessian: BTreeMap::new(),
        surface: Value::Null,
        sweeps: Value::Null,
    };
    for (i, model) in n.models.iter().enumerate() {
        for (k, &seed) in seeds.iter().enumerate() {
            let spec = RunSpec::network(cfg, model, seed);
            let run = run_stage(cache, out, &spec, given)?;
            let dir = run_dir(&run)?;
            let a_cfg = json!({ "analysis": cfg.analysis, "run": run, "seed": seed });
            let analysis = cache.run_quiet(&format!("analysis-{}", spec.name), &a_cfg, || {
                analysis_stage(&dir, cfg, &run, seed)
            })?;
            // Fig. 6 shows one network: the Hessians and the surface are for the first model's
            // first seed.
            if i == 0 && k == 0 && cfg.hessian.enabled && run["status"] == "finished" {
                let h_cfg = json!({ "hessian": cfg.hessian, "run": run, "seed": seed });
                let h = cache.run_quiet(&format!("hessian-{}", spec.name), &h_cfg, || {
                    hessian_stage(out, &dir, &format!("{}-{}", spec.name, tag(&h_cfg)), cfg)
                })?;
                res.hessian.insert(model.clone(), h);
            }
            if i == 0 && k == 0 && cfg.surface.enabled && run["status"] == "finished" {
                let s_cfg = json!({ "surface": cfg.surface, "run": run, "seed": seed });
                res.surface = cache.run_quiet(&format!("surface-{}", spec.name), &s_cfg, || {
                    surface_stage(
                        out,
                        &dir,
                        &format!("{}-{}", spec.name, tag(&s_cfg)),
                        cfg,
                        &run,
                    )
                })?;
            }
            res.runs.entry(model.clone()).or_default().push(run);
            res.analyses
                .entry(model.clone())
                .or_default()
                .push(analysis);
        }
    }
    if cfg.sweeps.enabled {
        res.sweeps = sweeps(cache, out, cfg, given)?;
    }
    Ok(res)
}

/// A short content hash of a stage's settings and inputs, for the names of the files the child
/// processes resume from: a changed setting or a retrained run gets a fresh file instead of
/// one the child would refuse (or, worse, trust).
/// The run's directory is left out, so that two output folders with the same settings name
/// their files alike.
fn tag(v: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut v = v.clone();
    if let Some(run) = v.get_mut("run").and_then(Value::as_object_mut) {
        run.remove("dir");
    }
    let h = Sha256::digest(v.to_string().as_bytes());
    super::hex(&h[..6])
}

fn bar(len: u64, template: &str, msg: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(msg);
    bar
}

/// Trains (or resumes, or reuses) the run of `spec` in `OUT/runs/NAME`.
///
/// A run directory left by a kill is resumed when its `run.json` holds exactly this
/// configuration, and started afresh otherwise. A diverged run is a result, not a failure: the
/// learning-rate sweep is meant to find where SGD breaks down.
fn train_stage(cache: &StageCache, out: &Path, spec: &RunSpec) -> anyhow::Result<Value> {
    let cfg_value = serde_json::to_value(spec)?;
    cache.run_quiet(&format!("train-{}", spec.name), &cfg_value, || {
        let cfg = spec.train_config()?;
        let dir = out.join("runs").join(&spec.name);
        let mut obs = Progress::new(&spec.name);
        let existing = RunRecord::read(&dir).ok();
        let result = match existing {
            Some(r) if r.config == cfg && r.status == RunStatus::Finished => Ok(r),
            Some(r) if r.config == cfg && r.status == RunStatus::Diverged => Ok(r),
            Some(r) if r.config == cfg => {
                eprintln!("  {}: resuming at step {}", spec.name, r.steps_done);
                train::resume(&dir, &mut obs).map(|s| s.record)
            }
            _ => {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing stale run {}", dir.display()))?;
                }
                std::fs::create_dir_all(dir.parent().unwrap_or(out))?;
                train::train(&cfg, &dir, &mut obs).map(|s| s.record)
            }
        };
        obs.bar.finish_and_clear();
        let record = match result {
            Ok(r) => r,
            Err(TrainError::Diverged { .. }) => RunRecord::read(&dir)?,
            Err(e) => return Err(e).with_context(|| format!("training {}", spec.name)),
        };
        run_json(&dir, &record)
    })
}

/// The run of `spec`: trained here (see [`train_stage`]) or, with `given`, read from
/// `given/NAME` (checked beforehand by [`check_given`]).
fn run_stage(
    cache: &StageCache,
    out: &Path,
    spec: &RunSpec,
    given: Option<&Path>,
) -> anyhow::Result<Value> {
    let Some(root) = given else {
        return train_stage(cache, out, spec);
    };
    let dir = root.join(&spec.name);
    let record = RunRecord::read(&dir)?;
    eprintln!(
        "run {}: trained elsewhere, read from {}",
        spec.name,
        dir.display()
    );
    run_json(&dir, &record)
}

/// Every training run the configuration asks for, in the order the pipeline uses them: the
/// replicate runs of each model, then the sweeps' runs.
pub(super) fn plan(cfg: &Config) -> Vec<RunSpec> {
    let mut runs = Vec::new();
    if !cfg.network.enabled {
        return runs;
    }
    let seeds = (0..cfg.network.seeds as u64).map(|k| cfg.seed + k);
    for model in &cfg.network.models {
        for seed in seeds.clone() {
            runs.push(RunSpec::network(cfg, model, seed));
        }
    }
    if cfg.sweeps.enabled {
        runs.extend(sweep_plan(cfg).runs.into_values());
    }
    runs
}

/// The runs of [`plan`] as `anodiff reproduce --list-runs` prints them: per run its name (the
/// directory `--runs DIR` looks for), the `anodiff train` arguments that train it, and the
/// same options as a table (the keys `anodiff.dask.train_many` takes).
pub(super) fn list_runs(cfg: &Config) -> anyhow::Result<Value> {
    let mut runs = Vec::new();
    for spec in plan(cfg) {
        // Parsed once, so that a bad setting fails here rather than on the cluster.
        spec.train_config()?;
        let options = spec.train_options();
        let mut args = vec!["train".to_string()];
        let mut table = serde_json::Map::new();
        for (k, v) in &options {
            args.push(format!("--{}", k.replace('_', "-")));
            args.push(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            table.insert(k.clone(), v.clone());
        }
        args.push("--out".into());
        args.push(spec.name.clone());
        runs.push(json!({ "name": spec.name, "args": args, "config": table }));
    }
    Ok(json!({ "runs": runs }))
}

/// Checks, before anything runs, that `dir` holds every run of [`plan`] as `dir/NAME`,
/// finished (or diverged, which is a result), and trained with the settings the pipeline asks
/// for ([`TrainConfig::run_differences`]: the device, the checkpoint interval and where the
/// dataset lay may differ). Every problem is listed in one error.
pub(super) fn check_given(cfg: &Config, dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("--runs {}: no such directory", dir.display());
    }
    let mut problems = Vec::new();
    for spec in plan(cfg) {
        let want = spec.train_config()?;
        let run_dir = dir.join(&spec.name);
        if !run_dir.join("run.json").exists() {
            problems.push(format!("{}: missing", run_dir.display()));
            continue;
        }
        let record = match RunRecord::read(&run_dir) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", run_dir.display()));
                continue;
            }
        };
        let diffs = want.run_differences(&record.config);
        if !diffs.is_empty() {
            problems.push(format!(
                "{}: trained with other settings ({}; \"here\" is what reproduce asks for)",
                run_dir.display(),
                diffs.join("; ")
            ));
            continue;
        }
        match record.status {
            RunStatus::Finished | RunStatus::Diverged => {}
            other => problems.push(format!(
                "{}: {} at step {} of {}; continue it with `anodiff train --resume {}`",
                run_dir.display(),
                serde_json::to_value(other)?
                    .as_str()
                    .unwrap_or("unfinished"),
                record.steps_done,
                record.total_steps,
                run_dir.display()
            )),
        }
    }
    if !problems.is_empty() {
        bail!(
            "--runs {}: {} of the runs this configuration needs are not usable:\n  {}\n\
             `anodiff reproduce --list-runs` with the same --scale, --config and --seed prints \
             every run with the `anodiff train` arguments that train it",
            dir.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// SHA-256 of a checkpoint's tensors (names, dtypes, shapes and bytes, in name order). The
/// file's own bytes will not do: its header's metadata order changes from process to process.
fn checkpoint_sha256(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let mut names = st.names();
    names.sort();
    let mut h = Sha256::new();
    for name in names {
        let t = st
            .tensor(name)
            .with_context(|| format!("{}: tensor {name}", path.display()))?;
        h.update(name.as_bytes());
        h.update(format!("{:?}{:?}", t.dtype(), t.shape()).as_bytes());
        h.update(t.data());
    }
    Ok(super::hex(&h.finalize()))
}

/// The directory of a run stage's result.
fn run_dir(run: &Value) -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from(
        run["dir"]
            .as_str()
            .context("run stage lacks its directory")?,
    ))
}

/// The deterministic part of a run's record (no timings), with a content hash of its last
/// checkpoint so that the stages reading the run rerun when its weights change.
fn run_json(dir: &Path, r: &RunRecord) -> anyhow::Result<Value> {
    let last = r
        .checkpoints
        .iter()
        .max_by_key(|c| c.epoch)
        .map(|c| dir.join(&c.file));
    let weights = match last {
        Some(p) if p.exists() => Some(checkpoint_sha256(&p)?),
        _ => None,
    };
    Ok(json!({
        "dir": dir,
        "model": r.config.model.to_string(),
        "status": r.status,
        "num_params": r.num_params,
        "recorded_dim": r.recorded_dim,
        "gradient_dim": r.gradient_dim,
        "n_train": r.n_train,
        "steps_per_epoch": r.steps_per_epoch,
        "steps": r.steps_done,
        "diverged_step": r.diverged.as_ref().map(|d| d.step),
        "epochs": r.epochs,
        "checkpoints": r.checkpoints.iter().map(|c| c.epoch).collect::<Vec<_>>(),
        "last_checkpoint_sha256": weights,
    }))
}

/// The exponent the paper reads off at long lags: the second regime's when the window has two,
/// the single power law's otherwise.
fn long_alpha(f: &MsdFit) -> f64 {
    f.two_regime
        .as_ref()
        .map_or(f.power_law.alpha, |t| t.alpha_long)
}

fn fit_options(cfg: &Config, seed: u64) -> MsdFitOptions {
    MsdFitOptions {
        n_boot: cfg.analysis.n_boot,
        null_sims: cfg.analysis.null_sims,
        seed,
        ..MsdFitOptions::default()
    }
}

/// MSD of one window with its fits, as stored (curve included for the figures).
fn msd_window(
    src: &dyn TrajectorySource,
    win: Window,
    lags: usize,
    max_lag_fraction: f64,
    opts: &MsdFitOptions,
) -> anyhow::Result<Value> {
    let max_lag = ((win.len as f64 * max_lag_fraction) as usize).clamp(1, win.len - 1);
    let (m, fit) = analyse_window(src, win, Lags::Log(lags), Some(max_lag), 20, opts)?;
    Ok(json!({
        "t_w": win.start,
        "T": win.len,
        "alpha": fit.power_law.alpha,
        "alpha_se": fit.power_law.alpha_se,
        "alpha_long": long_alpha(&fit),
        "two_regime": fit.two_regime,
        "p_one_vs_two": fit.p_one_vs_two,
        "regime": fit.regime,
        "curve": { "lag": m.lags, "msd": m.msd },
    }))
}

fn bins_json(bins: &[Bin]) -> Value {
    json!({
        "x": bins.iter().map(|b| b.x).collect::<Vec<_>>(),
        "y": bins.iter().map(|b| b.y).collect::<Vec<_>>(),
    })
}

/// Every analysis of one recorded run: per window the MSD and its exponents, contour length
/// against end-to-end distance, MSL against distance and the loss fluctuations; then the
/// regime change `t0` and stable fits of the gradient components on each side of it.
fn analysis_stage(dir: &Path, cfg: &Config, run: &Value, run_seed: u64) -> anyhow::Result<Value> {
    let a = &cfg.analysis;
    let src = StoreReader::open(dir)?;
    let n = src.n_steps();
    if n < a.window {
        // A run that diverged early is a result to report, not a reason to stop the pipeline.
        return Ok(json!({
            "n_steps": n,
            "error": format!(
                "the run {} recorded {n} steps, fewer than analysis.window = {}",
                dir.display(),
                a.window
            ),
        }));
    }
    let starts: Vec<usize> = (0..=(n - a.window)).step_by(a.stride).collect();
    let pb = bar(
        starts.len() as u64,
        "{msg:>28} {bar:30} {pos}/{len} windows [{elapsed} < {eta}]",
        format!("analyse {}", run["model"].as_str().unwrap_or("run")),
    );
    let mut windows = Vec::new();
    let mut exponents = Vec::new();
    let mut grads: Vec<Vec<f64>> = Vec::new();
    let max_lag = ((a.window as f64 * a.max_lag_fraction) as usize).clamp(1, a.window - 1);
    for &tw in &starts {
        let win = Window {
            start: tw,
            len: a.window,
        };
        let seed = run_seed ^ tw as u64;
        let mut w = msd_window(
            &src,
            win,
            a.lags,
            a.max_lag_fraction,
            &fit_options(cfg, seed),
        )?;
        // The regime analysis's own exponent (its calibrated estimator), one per window.
        let ex = window_exponent(&src, win, Some(max_lag));
        if let Ok(ex) = &ex {
            w["regime_alpha"] = json!(ex.alpha);
            w["regime_alpha_se"] = json!(ex.alpha_se);
        }
        exponents.push(ex);
        let pd = PairDistances::compute(&src, win)?;
        let boot = PathBootstrap {
            seed,
            ..PathBootstrap::default()
        };
        w["contour"] = match contour_with(&pd, a.bins, None, &boot) {
            Ok(c) => json!({
                "lambda": c.lambda.exponent,
                "lambda_ci95": c.lambda.ci95,
                "fractal_dim": c.fractal_dim,
                "fractal_dim_ci95": c.fractal_dim_ci95,
                "bins": bins_json(&c.bins),
            }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        let losses = src.losses(win.steps())?;
        if let Some(l) = &losses {
            w["msl"] = match msl_with(&pd, l, Binning::Log(a.bins), None, &boot) {
                Ok(m) => json!({
                    "exponent_2h": m.fit.as_ref().map(|f| f.exponent),
                    "exponent_ci95": m.fit.as_ref().map(|f| f.ci95),
                    "bins": bins_json(&m.bins),
                }),
                Err(e) => json!({ "error": e.to_string() }),
            };
            let f = loss_fluctuations(l, a.moving_window.min(win.len))?;
            let mean = f.abs_diff.iter().sum::<f64>() / f.abs_diff.len().max(1) as f64;
            w["loss"] = json!({ "mean_abs_dloss": mean, "abs_dloss": f.abs_diff });
        }
        if src.gradient_dim() > 0 && a.grad_samples > 0 {
            grads.push(gradient_sample(&src, win, a.grad_samples, seed)?);
        } else {
            grads.push(Vec::new());
        }
        windows.push(w);
        pb.inc(1);
    }
    pb.finish_and_clear();

    // t0: the change-point analysis of the window exponents (a test of "no change", t0 with
    // its interval, the exponents on each side). The gradients are split at the estimated t0
    // when the test finds a change, else at the middle window (the "late" half).
    let regime = exponents
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)
        .and_then(|ex| regime_stage(&ex, a.window, max_lag, run_seed));
    let nw = starts.len();
    let (split, split_rule) = match regime.as_ref().ok().and_then(|r| r.change) {
        Some(c) => (
            starts.iter().position(|&s| s as f64 >= c.t0).unwrap_or(nw),
            "t0",
        ),
        None => (nw.div_ceil(2), "half"),
    };
    let t0 = regime.as_ref().ok().and_then(|r| r.change).map(|c| c.t0);
    let pooled =
        |r: std::ops::Range<usize>| -> Vec<f64> { grads[r].iter().flatten().copied().collect() };
    let before = pooled(0..split);
    let after = pooled(split..nw);
    let fit_or_null = |x: &[f64]| {
        if x.len() >= 5 {
            let mut v = heavy_tail_summary(x);
            v["stable_vs_normal"] = match stable_vs_normal(x, LEVEL) {
                Ok(c) => json!(c),
                Err(e) => json!({ "error": e.to_string() }),
            };
            v
        } else {
            Value::Null
        }
    };
    let hist_of = |x: &[f64]| -> Value {
        if x.is_empty() {
            return Value::Null;
        }
        let mut s: Vec<f64> = x.to_vec();
        s.sort_by(f64::total_cmp);
        let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
        let h = super::figs::histogram(x, 81, q(0.005), q(0.995));
        let t = super::figs::log_histogram(x, 30);
        json!({
            "hist": { "centres": h.centres, "density": h.density },
            "tail": { "centres": t.centres, "density": t.density },
        })
    };
    let all_losses = src.losses(0..n)?.unwrap_or_default();
    let mw = a.moving_window.min(n.max(2));
    let moving = if all_losses.len() >= 2 {
        loss_fluctuations(&all_losses, mw)?.moving_var
    } else {
        Vec::new()
    };
    Ok(json!({
        "n_steps": n,
        "dim": src.dim(),
        "gradient_dim": src.gradient_dim(),
        "window": a.window,
        "stride": a.stride,
        "t0": t0,
        "regime": match &regime {
            Ok(r) => json!({ "analysis": r, "estimate": r.estimate }),
            Err(e) => json!({ "error": e.to_string() }),
        },
        "split_index": split,
        "split_rule": split_rule,
        "gradients_before_t0": fit_or_null(&before),
        "gradients_after_t0": fit_or_null(&after),
        "gradient_plot_before_t0": hist_of(&before),
        "windows": windows,
        "losses": all_losses,
        "moving_variance": { "window": mw, "values": moving },
    }))
}

/// The change-point analysis of a run's window exponents ([`regime_change`]), with the
/// simulation sizes of the demo's budget.
fn regime_stage(
    exponents: &[WindowExponent],
    len: usize,
    max_lag: usize,
    seed: u64,
) -> anyhow::Result<RegimeAnalysis> {
    let lags = window_lags(len, Some(max_lag))?;
    let opts = RegimeOptions {
        null_sims: 1999,
        boot: 499,
        corr_sims: 100,
        seed,
        ..RegimeOptions::default()
    };
    Ok(regime_change(
        exponents,
        len,
        &lags,
        &exponent_options(),
        &opts,
    )?)
}

/// Runs `anodiff COMMAND RUNDIR OPTIONS.. --seed S --device D --out FILE` as a child process of
/// this same binary, its progress on our stderr, and parses the JSON it prints.
fn child(
    command: &str,
    rundir: &Path,
    options: &[(&str, String)],
    cfg: &Config,
    out: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let mut args: Vec<String> = vec![command.into(), rundir.display().to_string()];
    for (k, v) in options {
        args.push((*k).into());
        args.push(v.clone());
    }
    for (k, v) in [
        ("--seed", cfg.seed.to_string()),
        ("--device", cfg.network.device.clone()),
        ("--out", out.display().to_string()),
    ] {
        args.push(k.into());
        args.push(v);
    }
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut cmd = Command::new(&exe);
    cmd.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd
        .output()
        .with_context(|| format!("running {} {}", exe.display(), args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "`anodiff {}` failed ({}); its error is printed above",
            args.join(" "),
            output.status
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("`anodiff {}` printed no JSON", args.join(" ")))
}

/// Top Hessian eigenvalues at every `every_epochs`-th checkpoint (and the last), in eval mode,
/// on fixed batches (`anodiff hessian`).
fn hessian_stage(out: &Path, dir: &Path, file_stem: &str, cfg: &Config) -> anyhow::Result<Value> {
    let h = &cfg.hessian;
    let run = RunRecord::read(dir)?;
    let mut epochs: Vec<usize> = run
        .checkpoints
        .iter()
        .map(|c| c.epoch)
        .filter(|e| e % h.every_epochs == 0)
        .collect();
    if let Some(last) = run.checkpoints.iter().map(|c| c.epoch).max() {
        if !epochs.contains(&last) {
            epochs.push(last);
        }
    }
    if epochs.is_empty() {
        bail!("{} has no checkpoints", dir.display());
    }
    let file = out.join("hessian").join(format!("{file_stem}.json"));
    std::fs::create_dir_all(out.join("hessian"))?;
    let list = epochs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let opts = [
        ("--checkpoint", list),
        ("--k", h.k.to_string()),
        ("--batch-size", h.batch_size.to_string()),
        ("--batches", h.batches.to_string()),
        ("--tol", h.tol.to_string()),
        // The data as configured here: a run trained elsewhere recorded the cluster's path.
        ("--dataset", cfg.network.dataset.clone()),
    ];
    let v = child(
        "hessian",
        dir,
        &opts,
        cfg,
        &file,
        &[("CANDLE_GRAD_DO_NOT_DETACH", "1")],
    )?;
    let checkpoints: Vec<Value> = v["checkpoints"]
        .as_array()
        .context("`anodiff hessian` printed no checkpoints")?
        .iter()
        .map(|c| {
            json!({
                "epoch": c["checkpoint"],
                "loss": c["loss"],
                "eigenvalues": c["eigenvalues"],
                "residuals": c["residuals"],
                "converged": c["converged"],
            })
        })
        .collect();
    Ok(json!({
        "file": file,
        "k": h.k,
        "examples": v["examples"],
        "mode": v["mode"],
        "checkpoints": checkpoints,
    }))
}

/// The filter-normalised surface around the last checkpoint (`anodiff surface`) and its
/// variogram and level-set box-counting dimensions.
fn surface_stage(
    out: &Path,
    dir: &Path,
    file_stem: &str,
    cfg: &Config,
    run: &Value,
) -> anyhow::Result<Value> {
    let s = &cfg.surface;
    let last = run["checkpoints"]
        .as_array()
        .and_then(|c| c.iter().filter_map(Value::as_u64).max())
        .context("the run has no checkpoints")?;
    std::fs::create_dir_all(out.join("surface"))?;
    let file = out.join("surface").join(format!("{file_stem}.npy"));
    let range = format!("{},{}", -s.range, s.range);
    let opts = [
        ("--checkpoint", last.to_string()),
        ("--grid", s.grid.to_string()),
        ("--x-range", range.clone()),
        ("--y-range", range),
        ("--examples", s.examples.to_string()),
        ("--dataset", cfg.network.dataset.clone()),
    ];
    let v = child("surface", dir, &opts, cfg, &file, &[])?;
    let z: Array2<f64> = read_grid(&file)?;
    let variogram = surface_dimension(z.view(), &SurfaceDimConfig::new(SurfaceMethod::Variogram));
    let level = level_set_dimension(z.view(), None, &BoxCountConfig::default());
    Ok(json!({
        "file": file,
        "checkpoint": last,
        "grid": s.grid,
        "range": s.range,
        "examples": s.examples,
        "centre_loss": v["centre_loss"],
        "loss_min": v["loss_min"],
        "loss_max": v["loss_max"],
        "surface_variogram": match variogram {
            Ok(d) => json!({ "dimension": d.dimension, "ci95": d.ci95 }),
            Err(e) => json!({ "error": e.to_string() }),
        },
        "level_set_boxcount": match level {
            Ok(d) => json!({ "level": d.level, "dimension": d.boxcount.dimension, "ci95": d.boxcount.ci95 }),
            Err(e) => json!({ "error": e.to_string() }),
        },
    }))
}

/// Reads a surface grid written as f32 or f64.
pub(super) fn read_grid(file: &Path) -> anyhow::Result<Array2<f64>> {
    if let Ok(z) = ndarray_npy::read_npy::<_, Array2<f64>>(file) {
        return Ok(z);
    }
    let z: Array2<f32> =
        ndarray_npy::read_npy(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(z.mapv(f64::from))
}

/// A sweep run's name from what it varies.
fn sweep_name(depth: usize, shortcut: bool, batch: usize, lr: f64) -> String {
    format!(
        "sweep-resnet{depth}{}-b{batch}-lr{lr}",
        if shortcut { "" } else { "-noshort" }
    )
}

/// The sweep runs by name, and how the claims group them.
struct SweepPlan {
    runs: BTreeMap<String, RunSpec>,
    by_batch: Vec<Value>,
    by_depth: Vec<Value>,
    by_lr: Vec<Value>,
}

/// The batch-size, depth and learning-rate sweeps' runs: one seed each, `sweeps.steps` steps.
fn sweep_plan(cfg: &Config) -> SweepPlan {
    let s: &SweepSettings = &cfg.sweeps;
    let n = &cfg.network;
    let mut shape: BTreeMap<String, (usize, bool, usize, f64)> = BTreeMap::new();
    let mut by_batch = Vec::new();
    let mut by_depth = Vec::new();
    let mut by_lr = Vec::new();
    for shortcut in [true, false] {
        for &b in &s.batch_sizes {
            let k = sweep_name(s.depth, shortcut, b, n.lr);
            shape.insert(k.clone(), (s.depth, shortcut, b, n.lr));
            by_batch.push(json!({ "run": k, "batch_size": b, "shortcut": shortcut }));
        }
        for &d in &s.depths {
            let k = sweep_name(d, shortcut, n.batch_size, n.lr);
            shape.insert(k.clone(), (d, shortcut, n.batch_size, n.lr));
            by_depth.push(json!({ "run": k, "depth": d, "shortcut": shortcut }));
        }
    }
    for &lr in &s.learning_rates {
        let k = sweep_name(s.depth, true, n.batch_size, lr);
        shape.insert(k.clone(), (s.depth, true, n.batch_size, lr));
        by_lr.push(json!({ "run": k, "lr": lr }));
    }
    let runs = shape
        .into_iter()
        .map(|(name, (depth, shortcut, batch, lr))| {
            let spec = RunSpec {
                name: name.clone(),
                lr,
                batch_size: batch,
                epochs: None,
                steps: Some(s.steps),
                record_weights: s.record_weights.clone(),
                record_grad: "none".into(),
                ..RunSpec::network(
                    cfg,
                    &format!("resnet{depth}{}", if shortcut { "" } else { "-noshort" }),
                    cfg.seed,
                )
            };
            (name, spec)
        })
        .collect();
    SweepPlan {
        runs,
        by_batch,
        by_depth,
        by_lr,
    }
}

/// The batch-size, depth and learning-rate sweeps: short runs analysed in their first window
/// (the paper reads alpha and tau0 at `t_w = 1`), the learning-rate runs also in consecutive
/// windows for Fig. 4c-f.
fn sweeps(
    cache: &StageCache,
    out: &Path,
    cfg: &Config,
    given: Option<&Path>,
) -> anyhow::Result<Value> {
    let s: &SweepSettings = &cfg.sweeps;
    let plan = sweep_plan(cfg);
    let lr_runs: Vec<String> = plan
        .by_lr
        .iter()
        .filter_map(|v| v["run"].as_str().map(String::from))
        .collect();
    let mut results = serde_json::Map::new();
    for (name, spec) in &plan.runs {
        let run = run_stage(cache, out, spec, given)?;
        let with_windows = lr_runs.contains(name);
        let a_cfg =
            json!({ "sweeps": s, "analysis": cfg.analysis, "run": run, "windows": with_windows });
        let dir = run_dir(&run)?;
        let r = cache.run_quiet(&format!("analysis-{name}"), &a_cfg, || {
            sweep_analysis(&dir, cfg, with_windows)
        })?;
        results.insert(name.clone(), json!({ "run": run, "analysis": r }));
    }
    Ok(json!({
        "steps": s.steps,
        "runs": results,
        "by_batch_size": plan.by_batch,
        "by_depth": plan.by_depth,
        "by_learning_rate": plan.by_lr,
    }))
}

fn sweep_analysis(dir: &Path, cfg: &Config, windows: bool) -> anyhow::Result<Value> {
    let s = &cfg.sweeps;
    let a = &cfg.analysis;
    let src = StoreReader::open(dir)?;
    let n = src.n_steps();
    if n < 16 {
        return Ok(json!({ "error": format!("only {n} steps recorded (diverged early)") }));
    }
    let first = msd_window(
        &src,
        Window { start: 0, len: n },
        a.lags,
        a.max_lag_fraction,
        &fit_options(cfg, cfg.seed),
    )?;
    let mut curves = Vec::new();
    if windows && n >= s.window {
        for tw in (0..=(n - s.window)).step_by((s.window / 2).max(1)) {
            let w = msd_window(
                &src,
                Window {
                    start: tw,
                    len: s.window,
                },
                a.lags,
                a.max_lag_fraction,
                &fit_options(cfg, cfg.seed ^ tw as u64),
            )?;
            curves.push(json!({ "t_w": tw, "curve": w["curve"], "alpha_long": w["alpha_long"] }));
        }
    }
    let losses = src.losses(0..n)?.unwrap_or_default();
    Ok(json!({
        "first_window": first,
        "windows": curves,
        "losses": losses,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anodiff_core::trajectory::InMemoryTrajectory;
    use anodiff_trainers::data::DatasetSpec;
    use anodiff_trainers::record::{seeded_subset, WeightRecord};
    use anodiff_trainers::train::Silent;

    /// The demo records a seeded subset of the weights (`subset:M`): the MSD exponent of a
    /// window from the subset must match the exponent from all weights within the subset's
    /// 95 % interval. Checked on a real trajectory: ResNet-8 on the digits at the demo's
    /// learning rate, 400 steps recorded in full, windows in the fast first phase and in the
    /// slower phase after it.
    #[test]
    fn subset_exponent_matches_all_weights_within_its_interval() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = TrainConfig::new("resnet8".parse().unwrap(), DatasetSpec::Digits);
        cfg.lr = 0.1;
        cfg.batch_size = 32;
        cfg.length = Length::Steps(400);
        cfg.record_weights = WeightRecord::Full;
        let run = dir.path().join("run");
        train::train(&cfg, &run, &mut Silent).unwrap();
        let src = StoreReader::open(&run).unwrap();
        let d = src.dim();
        let all = InMemoryTrajectory::from_source(&src).unwrap();
        let idx = seeded_subset(d, 8192, 11, "test").unwrap();
        let w: Vec<f32> = all
            .weights()
            .chunks(d)
            .flat_map(|row| idx.iter().map(move |&i| row[i]))
            .collect();
        let sub = InMemoryTrajectory::from_weights(idx.len(), w, None).unwrap();
        for start in [0, 200] {
            let win = Window { start, len: 200 };
            let full = window_exponent(&src, win, Some(100)).unwrap();
            let part = window_exponent(&sub, win, Some(100)).unwrap();
            let half = 1.959_963_984_540_054 * part.alpha_se;
            assert!(
                (full.alpha - part.alpha).abs() <= half,
                "window at {start}: all weights {:.4}, subset {:.4} +- {half:.4}",
                full.alpha,
                part.alpha
            );
        }
    }
}

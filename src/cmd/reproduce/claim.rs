//! One claim of the paper as `anodiff reproduce` tests it: the hypothesis in the paper's
//! direction, the test that decides it at [`LEVEL`], and the per-seed statistics behind it.

use anodiff_core::verdict::{self, Decision, Estimate, Hypothesis, Test, Verdict};
use serde::{Deserialize, Serialize};

/// The level of every claim's test. The claims are also read as a family: `p_holm` is each
/// p-value after Holm's adjustment over every tested claim of a report.
pub const LEVEL: f64 = 0.05;

/// How the claims' tests are read together (written into `summary.json` as `reading`).
pub const READING: &str = "Each claim is one test at level 0.05 in the paper's direction: \
    'reproduced' means the test rejects in the paper's direction, 'contradicted' that it rejects \
    against it, 'inconclusive' that it rejects neither, 'not tested' that the statistic could \
    not be measured. Read one claim at a time, each verdict has error rate at most 5 % (2.5 % \
    per direction for one-directional claims). Read as a family of about 20 tests, some \
    verdicts are expected by chance: the claims whose p_holm (Holm's step-down adjustment over \
    every tested claim) is below 0.05 keep the family-wise error rate at 5 %. Claims built from \
    several parts (intersection-union) report the largest part's p-value.";

/// A claim, its verdict and the test behind it (one row of `claims` in `summary.json`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Claim {
    /// A stable identifier, e.g. `toy.fractal.superdiffusive_before_t0`.
    pub id: String,
    /// The claim in words, with the paper's figure.
    pub claim: String,
    /// `reproduced`, `contradicted`, `inconclusive` or `not tested`.
    pub verdict: Verdict,
    /// The test that decided the verdict.
    pub test: Test,
    /// The number of seeds behind the test.
    pub replicates: usize,
    /// The statistic of each seed (null where that seed could not measure it).
    pub seeds: Vec<Option<f64>>,
    /// Median of the per-seed statistics.
    pub median: Option<f64>,
    /// Smallest and largest per-seed statistic.
    pub spread: Option<[f64; 2]>,
    /// The p-value after Holm's adjustment over the tested claims of the report.
    pub p_holm: Option<f64>,
    /// The paper's value or statement.
    pub paper: Option<String>,
    /// How the test was built and its caveats.
    pub note: String,
}

impl Claim {
    /// A claim decided by `decision` from `replicates` seeds (no per-seed statistics).
    pub fn new(
        id: &str,
        claim: &str,
        paper: Option<&str>,
        decision: Decision,
        note: &str,
    ) -> Claim {
        Claim {
            id: id.to_string(),
            claim: claim.to_string(),
            verdict: decision.verdict,
            test: decision.test,
            replicates: 1,
            seeds: Vec::new(),
            median: None,
            spread: None,
            p_holm: None,
            paper: paper.map(str::to_string),
            note: note.to_string(),
        }
    }

    /// Records the per-seed statistics and their median and spread.
    pub fn with_seeds(mut self, seeds: Vec<Option<f64>>) -> Claim {
        let mut v: Vec<f64> = seeds.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        self.replicates = seeds.len().max(1);
        self.median = match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some(0.5 * (v[n / 2 - 1] + v[n / 2])),
        };
        self.spread = v.first().zip(v.last()).map(|(a, b)| [*a, *b]);
        self.seeds = seeds;
        self
    }

    /// Records the statistics of groups of one seed's runs (e.g. the runs with and without
    /// shortcuts) in place of per-seed values: their median and spread, one replicate.
    pub fn with_groups(self, groups: Vec<Option<f64>>) -> Claim {
        let mut c = self.with_seeds(groups);
        c.replicates = 1;
        c
    }

    /// A claim about one parameter estimated once per seed: the seeds are pooled
    /// ([`verdict::pool`]) and the pooled estimate tested against `h`. Seeds without an
    /// estimate are left out; with none the claim is not tested.
    #[allow(clippy::too_many_arguments)]
    pub fn from_replicates(
        id: &str,
        claim: &str,
        paper: Option<&str>,
        per_seed: &[Option<Estimate>],
        h: Hypothesis,
        statistic: &str,
        note: &str,
    ) -> Claim {
        let have: Vec<Estimate> = per_seed.iter().flatten().copied().collect();
        let decision = match verdict::pool(&have) {
            Ok(p) => verdict::test(&p.estimate, h, LEVEL, statistic)
                .unwrap_or_else(|_| verdict::not_tested(statistic, LEVEL)),
            Err(_) => verdict::not_tested(&format!("{statistic}: no seed measured it"), LEVEL),
        };
        Claim::new(id, claim, paper, decision, note)
            .with_seeds(per_seed.iter().map(|e| e.map(|e| e.value)).collect())
    }
}

/// Fills `p_holm` of every claim with a p-value (Holm over the tested claims).
pub fn adjust_holm(claims: &mut [Claim]) {
    let p: Vec<Option<f64>> = claims
        .iter()
        .map(|c| match c.verdict {
            Verdict::NotTested => None,
            _ => c.test.p_value,
        })
        .collect();
    for (c, adj) in claims.iter_mut().zip(verdict::holm(&p)) {
        c.p_holm = adj;
    }
}

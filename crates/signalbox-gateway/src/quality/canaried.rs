//! Owns the scheduled runs of a prompt canary's versions: each suite
//! registered under the canary's prompt (`suites[].prompt: id@…`) is also
//! run, while the canary rolls, under the canary's version and the
//! baseline's (those the suite does not name itself), on the canary
//! alias's routes that the suite judges. Their scores are kept like any
//! run's, under each version's `id@version`; they judge the canary
//! (`canary/evals.rs`), never the route: a version the model cannot cope
//! with is the canary's regression, not the route's, so these runs move no
//! gate and no warning. A version that needs a variable the suite gives no
//! value for is not run (warned at load).

use signalbox_config::{CanarySubject, Config, SuitePrompt};
use signalbox_eval::score::refusal::Detector;

use super::LoadedSuite;
use super::prompted::ScheduledPrompt;
use crate::canary::Floor;
use crate::runtime::Runtime;

/// The runs `loaded` gets for the configuration's prompt canaries.
pub(super) fn variants(config: &Config, loaded: &[LoadedSuite]) -> Vec<LoadedSuite> {
    let mut out = Vec::new();
    for c in &config.canaries {
        let CanarySubject::Prompt {
            id,
            baseline,
            canary,
        } = &c.subject
        else {
            continue;
        };
        let Some(p) = config.prompts.iter().position(|p| &p.id == id) else {
            continue;
        };
        let alias = config.alias(&c.alias).map_or(&[][..], |a| &a.routes[..]);
        for s in loaded.iter().filter(|s| s.canary.is_none()) {
            let Some(own) = s.config.prompt.as_ref().filter(|sp| sp.prompt == p) else {
                continue;
            };
            let routes: Vec<String> = alias
                .iter()
                .map(ToString::to_string)
                .filter(|r| s.config.judges(r))
                .collect();
            for version in [baseline, canary] {
                if let Some(v) = variant(config, s, own, version, &routes) {
                    out.push(LoadedSuite {
                        canary: Some(c.name.clone()),
                        ..v
                    });
                }
            }
        }
    }
    out
}

/// `s` under `version` of its prompt on `routes`; `None` when it runs that
/// version already, has no route to run on, or lacks a variable's value.
fn variant(
    config: &Config,
    s: &LoadedSuite,
    own: &SuitePrompt,
    version: &str,
    routes: &[String],
) -> Option<LoadedSuite> {
    let prompt = config.prompts.get(own.prompt)?;
    let index = prompt.versions.iter().position(|v| v.version == version)?;
    if index == own.version || routes.is_empty() {
        return None;
    }
    let label = format!("{}@{version}", prompt.id);
    let needs = &prompt.versions.get(index)?.variables;
    if let Some(missing) = needs
        .iter()
        .find(|n| !own.values.iter().any(|(k, _)| k == *n))
    {
        tracing::warn!(suite = %s.suite.suite, version = %label, "Suite not run under the canary's version: no value for its variable `{missing}`.");
        return None;
    }
    let sp = SuitePrompt {
        prompt: own.prompt,
        version: index,
        label,
        values: own
            .values
            .iter()
            .filter(|(k, _)| needs.contains(k))
            .cloned()
            .collect(),
    };
    let scheduled = ScheduledPrompt::of(config, &sp)?;
    let mut cfg = s.config.clone();
    cfg.routes = routes.to_vec();
    cfg.prompt = Some(sp);
    Some(LoadedSuite {
        suite: s.suite.clone(),
        detector: Detector::new(s.suite.refusal_patterns.as_deref()),
        config: cfg,
        prompt: Some(scheduled),
        canary: None,
    })
}

/// Whether `s` runs now: a canary's run only while its canary rolls.
pub(super) fn runs_now(rt: &Runtime, s: &LoadedSuite) -> bool {
    s.canary
        .as_deref()
        .is_none_or(|name| rt.canaries.rolling(name))
}

/// The floors `label` (a prompt version, `id@version`) must keep: every
/// `min-pass-rate` of the suites run under it.
pub(crate) fn floors(rt: &Runtime, label: &str) -> Vec<Floor> {
    rt.quality
        .iter()
        .filter(|s| s.prompt.as_ref().is_some_and(|p| p.label() == label))
        .flat_map(|s| {
            s.config.min_pass_rate.iter().map(|(scorer, min)| Floor {
                suite: s.suite.suite.clone(),
                scorer: scorer.clone(),
                min: *min,
            })
        })
        .collect()
}

//! The prompt registry: unique ids and versions, parsable templates, known
//! provider families, a default version that exists.

use super::{Errors, FirstSeen, check_name};
use crate::model::{PromptConfig, PromptVersion, ProviderKind, Template};
use crate::raw::{RawPrompt, RawPromptVersion};

pub(super) fn validate_prompts(
    raw: Option<Vec<RawPrompt>>,
    errors: &mut Errors,
) -> Vec<PromptConfig> {
    let raw = raw.unwrap_or_default();
    let mut seen = FirstSeen::default();
    for (i, p) in raw.iter().enumerate() {
        let path = format!("prompts[{i}].id");
        if check_name(errors, &path, "prompt id", p.id.as_str()) {
            seen.check(errors, &path, "prompt id", p.id.as_str(), "prompts", i);
        }
    }
    raw.iter()
        .enumerate()
        .map(|(i, p)| validate_prompt(p, &format!("prompts[{i}]"), errors))
        .collect()
}

fn validate_prompt(raw: &RawPrompt, path: &str, errors: &mut Errors) -> PromptConfig {
    if raw.versions.is_empty() {
        errors.push(
            format!("{path}.versions"),
            "at least one version is required",
        );
    }
    let mut seen = FirstSeen::default();
    for (i, v) in raw.versions.iter().enumerate() {
        let vpath = format!("{path}.versions[{i}].version");
        if check_name(errors, &vpath, "prompt version", v.version.as_str()) {
            seen.check(
                errors,
                &vpath,
                "prompt version",
                v.version.as_str(),
                &format!("{path}.versions"),
                i,
            );
        }
    }
    let versions: Vec<PromptVersion> = raw
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| validate_version(v, &format!("{path}.versions[{i}]"), errors))
        .collect();
    let default_version = match &raw.default_version {
        None => versions.len().saturating_sub(1),
        Some(name) => match versions.iter().position(|v| v.version == name.as_str()) {
            Some(i) => i,
            None => {
                let known: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
                errors.push(
                    format!("{path}.default-version"),
                    format!(
                        "unknown version {:?} (versions: {})",
                        name.as_str(),
                        known.join(", ")
                    ),
                );
                0
            }
        },
    };
    PromptConfig {
        id: raw.id.as_str().to_owned(),
        versions,
        default_version,
    }
}

fn validate_version(raw: &RawPromptVersion, path: &str, errors: &mut Errors) -> PromptVersion {
    let template = parse(raw.template.as_str(), format!("{path}.template"), errors);
    let mut variants = Vec::new();
    // Provider families a variant may be written for (`ProviderKind::family`).
    let families = ProviderKind::families();
    for (family, text) in raw.variants.iter().flatten() {
        let at = format!("{path}.variants.{family}");
        if !families.contains(&family.as_str()) {
            errors.push(
                &at,
                format!(
                    "unknown provider family {family:?} (use {})",
                    families.join(", ")
                ),
            );
            continue;
        }
        variants.push((family.clone(), parse(text.as_str(), at, errors)));
    }
    let variables = PromptVersion::collect_variables(&template, &variants);
    PromptVersion {
        version: raw.version.as_str().to_owned(),
        template,
        variants,
        variables,
    }
}

/// Parses a template, reporting a bad one at `at` (an empty template stands
/// in so that validation goes on; the document is refused anyway).
fn parse(text: &str, at: String, errors: &mut Errors) -> Template {
    Template::parse(text).unwrap_or_else(|e| {
        errors.push(at, e);
        Template::empty()
    })
}

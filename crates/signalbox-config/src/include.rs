//! `include:`: list sections kept in other files.
//!
//! Each included file is parsed, merged with `<<` keys and interpolated on its
//! own, then its list entries are appended to the main document's lists. This
//! happens on the YAML tree, before typed deserialisation, so every rule in
//! `validate` applies to the merged document unchanged.

use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Sequence, Value};

use crate::error::ConfigError;
use crate::interp;
use crate::vars::VarSource;

#[cfg(test)]
mod tests;

/// The list sections an included file may add to, as paths in the document.
const SECTIONS: &[&str] = &[
    "providers",
    "routes",
    "aliases",
    "tenants",
    "intents.rules",
    "policy.rules",
];

const ALLOWED: &str = "providers, routes, aliases, tenants, intents.rules and policy.rules";

/// What the includes added to the document.
#[derive(Debug, Default)]
pub(crate) struct Included {
    /// The resolved paths, in include order.
    pub files: Vec<PathBuf>,
    /// Each file's text as read, in the same order (kept with the policy
    /// version, before interpolation).
    pub texts: Vec<String>,
    /// Where each file's entries landed in the merged lists.
    spans: Vec<Span>,
}

/// `len` entries of `section`, from `start` on, that came from `files[file]`.
#[derive(Debug)]
struct Span {
    section: &'static str,
    start: usize,
    len: usize,
    file: usize,
}

impl Included {
    /// Adds where an entry came from to an error inside an included entry,
    /// e.g. `… (from policy/rules.yaml, policy.rules[0])`.
    pub(crate) fn annotate(&self, error: &mut ConfigError) {
        for span in &self.spans {
            let Some(rest) = error
                .path
                .strip_prefix(span.section)
                .and_then(|r| r.strip_prefix('['))
            else {
                continue;
            };
            let Some(index) = rest
                .split_once(']')
                .and_then(|(n, _)| n.parse::<usize>().ok())
            else {
                continue;
            };
            if (span.start..span.start + span.len).contains(&index) {
                error.message.push_str(&format!(
                    " (from {}, {}[{}])",
                    self.files[span.file].display(),
                    span.section,
                    index - span.start
                ));
                return;
            }
        }
    }
}

/// Removes `include` from the (interpolated) `doc` and appends the included
/// files' entries. `file` is the main file; without one, `include` is an error.
pub(crate) fn merge_includes(
    doc: &mut Value,
    file: Option<&Path>,
    vars: &dyn VarSource,
) -> Result<Included, Vec<ConfigError>> {
    let Some(main) = doc.as_mapping_mut() else {
        return Ok(Included::default());
    };
    let Some(list) = main.shift_remove("include") else {
        return Ok(Included::default());
    };
    let Some(file) = file else {
        return Err(vec![ConfigError::new(
            "include",
            "include needs a configuration file (relative paths resolve against it)",
        )]);
    };
    let base = file.parent().unwrap_or(Path::new(""));
    let entries = match list {
        Value::Null => Vec::new(),
        Value::Sequence(entries) => entries,
        _ => {
            return Err(vec![ConfigError::new(
                "include",
                "must be a list of file paths",
            )]);
        }
    };

    let mut errors = Vec::new();
    let mut included = Included::default();
    let mut contents = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("include[{i}]");
        let Some(name) = entry.as_str().filter(|s| !s.trim().is_empty()) else {
            errors.push(ConfigError::new(path, "must be a non-empty file path"));
            continue;
        };
        let resolved = base.join(name);
        match read_included(&resolved, vars) {
            Ok((mapping, text)) => {
                contents.push((included.files.len(), mapping));
                included.texts.push(text);
            }
            Err(messages) => {
                errors.extend(messages.into_iter().map(|m| {
                    ConfigError::new(path.clone(), format!("{}: {m}", resolved.display()))
                }))
            }
        }
        included.files.push(resolved);
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    for (file, mut mapping) in contents {
        for &section in SECTIONS {
            let Some(Value::Sequence(items)) = take_section(&mut mapping, section) else {
                continue;
            };
            if items.is_empty() {
                continue;
            }
            // A main-file section of the wrong type is left for deserialisation to report.
            if let Some(target) = section_list(main, section) {
                included.spans.push(Span {
                    section,
                    start: target.len(),
                    len: items.len(),
                    file,
                });
                target.extend(items);
            }
        }
    }
    Ok(included)
}

/// Reads, parses, merges and interpolates one included file and checks it
/// holds only list sections. Errors are messages about that file.
fn read_included(path: &Path, vars: &dyn VarSource) -> Result<(Mapping, String), Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read: {e}")])?;
    let mut doc: Value =
        yaml_serde::from_str(&text).map_err(|e| vec![format!("YAML syntax error: {e}")])?;
    doc.apply_merge()
        .map_err(|e| vec![format!("YAML merge error: {e}")])?;
    let errors = interp::interpolate_tree(&mut doc, vars);
    if !errors.is_empty() {
        return Err(errors.iter().map(ToString::to_string).collect());
    }
    let mapping = match doc {
        Value::Null => return Ok((Mapping::new(), text)),
        Value::Mapping(mapping) => mapping,
        _ => {
            return Err(vec![format!(
                "must be a mapping of list sections ({ALLOWED})"
            )]);
        }
    };

    let mut errors = Vec::new();
    for (key, value) in &mapping {
        let key = key.as_str().unwrap_or("?");
        match key {
            "providers" | "routes" | "aliases" | "tenants" => {
                if !value.is_sequence() {
                    errors.push(format!("{key}: must be a list"));
                }
            }
            "intents" | "policy" => match value.as_mapping() {
                Some(inner) => {
                    for (k, v) in inner {
                        match k.as_str() {
                            Some("rules") if v.is_sequence() => {}
                            Some("rules") => errors.push(format!("{key}.rules: must be a list")),
                            k => errors.push(format!(
                                "unknown key {key}.{} (an included file may only add {ALLOWED})",
                                k.unwrap_or("?")
                            )),
                        }
                    }
                }
                None => errors.push(format!("{key}: must be a mapping with only `rules`")),
            },
            "include" => {
                errors.push("nested include: an included file may not include other files".into());
            }
            _ => errors.push(format!(
                "unknown key {key} (an included file may only add {ALLOWED})"
            )),
        }
    }
    if errors.is_empty() {
        Ok((mapping, text))
    } else {
        Err(errors)
    }
}

/// Removes the list at `section` (`a` or `a.b`) from a checked included file.
fn take_section(mapping: &mut Mapping, section: &str) -> Option<Value> {
    match section.split_once('.') {
        None => mapping.shift_remove(section),
        Some((outer, inner)) => mapping
            .get_mut(outer)?
            .as_mapping_mut()?
            .shift_remove(inner),
    }
}

/// The main document's list at `section`, created when absent or null;
/// `None` when something that is not a list is in the way.
fn section_list<'a>(main: &'a mut Mapping, section: &str) -> Option<&'a mut Sequence> {
    let (outer, inner) = match section.split_once('.') {
        None => (section, None),
        Some((outer, inner)) => (outer, Some(inner)),
    };
    let mut slot = main.entry(Value::from(outer)).or_insert(Value::Null);
    if let Some(inner) = inner {
        if slot.is_null() {
            *slot = Value::Mapping(Mapping::new());
        }
        slot = slot
            .as_mapping_mut()?
            .entry(Value::from(inner))
            .or_insert(Value::Null);
    }
    if slot.is_null() {
        *slot = Value::Sequence(Sequence::new());
    }
    slot.as_sequence_mut()
}

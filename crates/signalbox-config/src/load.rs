//! The loading pipeline, from text to a frozen [`Config`].

use std::path::Path;

use yaml_serde::Value;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::Config;
use crate::raw::RawConfig;
use crate::vars::VarSource;
use crate::{include, interp, validate, version};

#[cfg(test)]
mod tests;

/// Reads and loads the file at `path`; its path becomes the config's `origin`.
/// Files it names under `include` are read too, relative to its directory.
pub fn load_file(path: &Path, vars: &dyn VarSource) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole_file(format!("cannot read {}: {e}", path.display())))?;
    load(&text, &path.display().to_string(), Some(path), vars)
}

/// Loads a document held in memory; `origin` names it in the summary (e.g. `<embedded>`).
/// Such a document cannot use `include`.
pub fn load_str(text: &str, origin: &str, vars: &dyn VarSource) -> Result<Config, ConfigErrors> {
    load(text, origin, None, vars)
}

fn load(
    text: &str,
    origin: &str,
    file: Option<&Path>,
    vars: &dyn VarSource,
) -> Result<Config, ConfigErrors> {
    // Parse to a generic tree first, so YAML syntax errors keep line and column
    // and interpolation can only ever replace scalars.
    let mut doc: Value = yaml_serde::from_str(text)
        .map_err(|e| ConfigError::whole_file(format!("YAML syntax error: {e}")))?;
    if doc.is_null() {
        return Err(ConfigError::whole_file("the configuration is empty").into());
    }
    // `<<: *anchor` merge keys, so shared blocks can be written once.
    doc.apply_merge()
        .map_err(|e| ConfigError::whole_file(format!("YAML merge error: {e}")))?;

    // Values come from `vars`; every bad `${...}` is reported, not just the first.
    let errors = interp::interpolate_tree(&mut doc, vars);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    // Append the included files' list entries; from here on there is one document.
    let included = include::merge_includes(&mut doc, file, vars).map_err(ConfigErrors)?;

    // Hash what will actually run: the merged document after interpolation.
    let version = version::policy_version(&doc);

    // Strict typed view; unknown keys and wrong types stop here, with their path.
    let raw: RawConfig = serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let mut error = ConfigError::new(path, e.into_inner().to_string());
        included.annotate(&mut error);
        error
    })?;

    // Semantic rules and secrets, all errors at once.
    let files = included.files.clone();
    let mut config =
        validate::validate(raw, vars, origin, version, files).map_err(|mut errors| {
            for error in &mut errors.0 {
                included.annotate(error);
            }
            errors
        })?;
    config.source_text = source_text(text, &included);
    Ok(config)
}

/// The text as written (before interpolation: `${VAR}` stays a reference,
/// a credential is only ever `{env: …}` / `{file: …}`), each included
/// file after a `# include: PATH` line.
fn source_text(main: &str, included: &include::Included) -> String {
    let mut out = main.to_owned();
    for (path, text) in included.files.iter().zip(&included.texts) {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("# include: {}\n", path.display()));
        out.push_str(text);
    }
    out
}

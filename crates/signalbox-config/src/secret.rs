//! Credentials: where they come from, and a wrapper that never prints them.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::vars::VarSource;

#[cfg(test)]
mod tests;

/// Where a provider's API key is read from at load time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum SecretSource {
    /// `{ env: VAR }`: the value of a variable (through the same source as interpolation).
    Env(String),
    /// `{ file: PATH }`: the contents of a file, without its trailing newline.
    File(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

pub use signalbox_core::Secret;

/// Reads a secret; the error names the variable or file, never a value.
pub fn resolve(source: &SecretSource, vars: &dyn VarSource) -> Result<Secret, String> {
    let value = match source {
        SecretSource::Env(name) => vars
            .var(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?,
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
    };
    if value.is_empty() {
        return Err(format!("{source} is empty"));
    }
    Ok(Secret::new(value))
}

/// SHA-256 of a credential. Tenant API keys and the admin token are kept only
/// in this form; hash the presented value and compare.
pub fn hash_secret(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

//! Credentials: where they come from, and a wrapper that never prints them.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

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

/// The most a `{file: PATH}` secret may hold. Keys and tokens are well
/// under a kilobyte; the bound keeps a wrong path (`/dev/zero`, a log file)
/// from filling memory, at load and on every reload.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Why a secret could not be resolved. The message names the variable or
/// file, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable {0} is not set")]
    NotSet(String),
    /// The file could not be opened or read.
    #[error("cannot read secret file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The path names a directory, FIFO, socket or device.
    #[error("secret file {} is not a regular file ({kind})", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than [`MAX_SECRET_FILE_BYTES`].
    #[error("secret file {} is larger than {} KiB", path.display(), MAX_SECRET_FILE_BYTES / 1024)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The value is empty (after removing a file's trailing newlines).
    #[error("{0} is empty")]
    Empty(SecretSource),
    /// The value has a character a credential cannot carry: it is sent as
    /// (or compared with) an HTTP header value, where a line break or a
    /// control character is invalid.
    #[error("{from} {what}; a secret must be one line of visible ASCII")]
    Malformed {
        /// Where it came from.
        from: SecretSource,
        /// What is wrong, without the value.
        what: &'static str,
    },
}

/// Reads a secret; the error names the variable or file, never a value.
/// `serve`, `check` and every reload resolve secrets through this one
/// function, so a secret `check` accepts is one `serve` can use.
pub fn resolve(source: &SecretSource, vars: &dyn VarSource) -> Result<Secret, SecretError> {
    let value = match source {
        SecretSource::Env(name) => vars
            .var(name)
            .ok_or_else(|| SecretError::NotSet(name.clone()))?,
        SecretSource::File(path) => read_secret_file(path)?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
    };
    if value.is_empty() {
        return Err(SecretError::Empty(source.clone()));
    }
    if let Some(what) = malformed(&value) {
        return Err(SecretError::Malformed {
            from: source.clone(),
            what,
        });
    }
    Ok(Secret::new(value))
}

/// Reads at most [`MAX_SECRET_FILE_BYTES`] of a regular file (a symlink to
/// one is fine, as mounted secrets are). Anything else is refused before it
/// is read: a FIFO would block the loader and a device never ends.
fn read_secret_file(path: &Path) -> Result<String, SecretError> {
    let unreadable = |e: std::io::Error| SecretError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    // `metadata` follows symlinks and, unlike `open`, does not block on a FIFO.
    regular_file(path, &std::fs::metadata(path).map_err(unreadable)?)?;
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Checked again on what was opened, in case the path changed in between.
    regular_file(path, &file.metadata().map_err(unreadable)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(SecretError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|_| SecretError::Malformed {
        from: SecretSource::File(path.to_owned()),
        what: "is not UTF-8 text",
    })
}

fn regular_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretError> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(SecretError::NotAFile {
        path: path.to_owned(),
        kind: if kind.is_dir() {
            "a directory"
        } else {
            special_kind(&kind)
        },
    })
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// What makes a value unusable as a credential, if anything: it must be
/// visible ASCII, with spaces or tabs only inside it (what an HTTP header
/// value can carry; tenant keys and the admin token arrive in one).
fn malformed(value: &str) -> Option<&'static str> {
    if value.bytes().any(|b| b == b'\n' || b == b'\r') {
        Some("has more than one line")
    } else if !value.is_ascii() {
        Some("has a non-ASCII character")
    } else if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        Some("has a control character")
    } else if value.trim_matches([' ', '\t']).len() != value.len() {
        Some("starts or ends with whitespace")
    } else {
        None
    }
}

/// SHA-256 of a credential. Tenant API keys and the admin token are kept only
/// in this form; hash the presented value and compare.
pub fn hash_secret(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

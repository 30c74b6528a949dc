//! Where `${VAR}` values come from. Tests and the demo pass values explicitly
//! instead of mutating the process environment.

use std::collections::HashMap;

/// A source of variable values for `${VAR}` interpolation and `{env: VAR}` secrets.
pub trait VarSource {
    /// The value of `name`, or `None` when it is not set.
    fn var(&self, name: &str) -> Option<String>;
}

/// Reads the process environment (`std::env::var`); non-UTF-8 values count as unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvVars;

impl VarSource for EnvVars {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Explicit values consulted first, then the process environment.
#[derive(Debug, Clone, Default)]
pub struct OverlayVars {
    values: HashMap<String, String>,
}

impl OverlayVars {
    /// Builds an overlay from `(name, value)` pairs; later pairs win.
    pub fn new<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Adds or replaces one value.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(name.into(), value.into());
        self
    }
}

impl FromIterator<(String, String)> for OverlayVars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self::new(iter)
    }
}

impl VarSource for OverlayVars {
    fn var(&self, name: &str) -> Option<String> {
        match self.values.get(name) {
            Some(value) => Some(value.clone()),
            None => EnvVars.var(name),
        }
    }
}

/// Only explicit values, never the process environment (hermetic tests).
impl VarSource for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

//! Turns the raw document into a frozen [`Config`], reporting every semantic
//! error at once, each with its path.
//!
//! Raw structs are destructured without `..`, so adding a field to one fails to
//! compile until it is validated and carried over here.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::{Config, DEFAULT_REGIONS, ServerConfig};
use crate::raw::{RawConfig, RawServer};
use crate::text::Text;
use crate::vars::VarSource;

mod provider;
mod route;
#[cfg(test)]
mod tests;

/// Validates `raw`; `version` and `origin` are carried into the result.
pub(crate) fn validate(
    raw: RawConfig,
    vars: &dyn VarSource,
    origin: &str,
    version: String,
) -> Result<Config, ConfigErrors> {
    let RawConfig {
        server,
        regions,
        providers,
        routes,
        aliases,
    } = raw;
    let mut errors = Errors::default();

    let server = validate_server(server, &mut errors);
    let regions = validate_regions(regions, &mut errors);

    let providers = provider::validate_providers(providers, vars, &mut errors);
    let provider_names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    let routes = route::validate_routes(routes, &provider_names, &regions, &mut errors);
    let route_ids: Vec<&str> = routes.iter().map(|r| r.id.as_str()).collect();
    let aliases = route::validate_aliases(aliases, &route_ids, &mut errors);

    if !errors.0.is_empty() {
        return Err(ConfigErrors(errors.0));
    }
    Ok(Config {
        server,
        regions,
        providers,
        routes,
        aliases,
        version,
        origin: origin.to_owned(),
    })
}

fn validate_server(raw: Option<RawServer>, errors: &mut Errors) -> ServerConfig {
    let defaults = ServerConfig::default();
    let Some(RawServer {
        listen,
        max_body_bytes,
    }) = raw
    else {
        return defaults;
    };
    let listen = match listen {
        None => defaults.listen,
        Some(text) => text.as_str().parse::<SocketAddr>().unwrap_or_else(|_| {
            errors.push(
                "server.listen",
                format!(
                    "invalid address {:?} (expected IP:PORT, e.g. 127.0.0.1:4000)",
                    text.as_str()
                ),
            );
            defaults.listen
        }),
    };
    let max_body_bytes = match max_body_bytes {
        None => defaults.max_body_bytes,
        Some(0) => {
            errors.push("server.max-body-bytes", "must be greater than 0");
            defaults.max_body_bytes
        }
        Some(n) => usize::try_from(n).unwrap_or_else(|_| {
            errors.push("server.max-body-bytes", "too large for this platform");
            defaults.max_body_bytes
        }),
    };
    ServerConfig {
        listen,
        max_body_bytes,
    }
}

fn validate_regions(raw: Option<Vec<Text>>, errors: &mut Errors) -> Vec<String> {
    let Some(raw) = raw else {
        return DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect();
    };
    if raw.is_empty() {
        errors.push(
            "regions",
            "at least one region is required (or omit `regions` for the built-in list)",
        );
    }
    let mut seen = FirstSeen::default();
    for (i, region) in raw.iter().enumerate() {
        let path = format!("regions[{i}]");
        if check_name(errors, &path, "region", region.as_str()) {
            seen.check(errors, &path, "region", region.as_str(), "regions", i);
        }
    }
    raw.into_iter().map(|t| t.0).collect()
}

// === helpers shared by the submodules ===

/// Collected errors.
#[derive(Default)]
pub(crate) struct Errors(Vec<ConfigError>);

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }
}

/// Checks a name against `[A-Za-z0-9._-]+`; returns whether it is valid.
pub(crate) fn check_name(errors: &mut Errors, path: &str, what: &str, name: &str) -> bool {
    if name.is_empty() {
        errors.push(path, format!("{what} must not be empty"));
        return false;
    }
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        errors.push(
            path,
            format!("invalid {what} {name:?}: use only letters, digits, '.', '_' and '-'"),
        );
    }
    valid
}

/// Remembers where each name was first defined, to report duplicates.
#[derive(Default)]
pub(crate) struct FirstSeen<'a>(HashMap<&'a str, usize>);

impl<'a> FirstSeen<'a> {
    /// Records `name` at index `i` of `list`, or reports it as a duplicate.
    pub(crate) fn check(
        &mut self,
        errors: &mut Errors,
        path: &str,
        what: &str,
        name: &'a str,
        list: &str,
        i: usize,
    ) {
        if let Some(first) = self.0.get(name) {
            errors.push(
                path,
                format!("duplicate {what} {name:?} (first defined at {list}[{first}])"),
            );
        } else {
            self.0.insert(name, i);
        }
    }
}

/// `unknown provider "foo" (known: a, b)`.
pub(crate) fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    if known.is_empty() {
        format!("unknown {what} {name:?} (none are defined)")
    } else {
        let mut unique: Vec<&str> = Vec::with_capacity(known.len());
        for k in known {
            if !unique.contains(k) {
                unique.push(k);
            }
        }
        format!("unknown {what} {name:?} (known: {})", unique.join(", "))
    }
}

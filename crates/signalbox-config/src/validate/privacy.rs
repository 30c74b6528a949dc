//! Trust zones and boundaries: zone names, one boundary per zone, and
//! detector specs that compile (a bad custom regex is reported with its path).

use std::time::Duration;

use super::{Errors, FirstSeen, check_name, unknown};
use crate::model::{Boundary, DEFAULT_ROUTE_ZONE, PrivacyConfig};
use crate::raw::{RawBoundary, RawPrivacy};

pub(super) fn validate_privacy(raw: Option<RawPrivacy>, errors: &mut Errors) -> PrivacyConfig {
    let defaults = PrivacyConfig::default();
    let Some(RawPrivacy {
        zones,
        vault_ttl,
        boundaries,
    }) = raw
    else {
        return defaults;
    };
    let zones = match zones {
        None => defaults.zones,
        Some(list) => {
            if list.is_empty() {
                errors.push(
                    "privacy.zones",
                    "must not be empty (omit it for [internal, external])",
                );
            }
            let mut seen = FirstSeen::default();
            for (i, z) in list.iter().enumerate() {
                let path = format!("privacy.zones[{i}]");
                if check_name(errors, &path, "zone", z.as_str()) {
                    seen.check(errors, &path, "zone", z.as_str(), "privacy.zones", i);
                }
            }
            list.into_iter().map(|t| t.0).collect()
        }
    };
    let vault_ttl = vault_ttl.unwrap_or(defaults.vault_ttl);
    if vault_ttl < Duration::from_secs(1) {
        errors.push("privacy.vault-ttl", "must be at least 1s");
    }
    let boundaries = validate_boundaries(boundaries, &zones, "privacy.boundaries", errors);
    PrivacyConfig {
        zones,
        vault_ttl,
        boundaries,
    }
}

/// Boundaries at `path`: known zones, at most one per zone, compiling specs.
pub(super) fn validate_boundaries(
    raw: Vec<RawBoundary>,
    zones: &[String],
    path: &str,
    errors: &mut Errors,
) -> Vec<Boundary> {
    let known: Vec<&str> = zones.iter().map(String::as_str).collect();
    let mut seen = FirstSeen::default();
    let names: Vec<String> = raw.iter().map(|b| b.zone.0.clone()).collect();
    for (i, name) in names.iter().enumerate() {
        seen.check(
            errors,
            &format!("{path}[{i}].zone"),
            "boundary for zone",
            name,
            path,
            i,
        );
    }
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, RawBoundary { zone, protect })| {
            let Some(z) = known.iter().position(|k| *k == zone.as_str()) else {
                errors.push(
                    format!("{path}[{i}].zone"),
                    unknown("zone", zone.as_str(), &known),
                );
                return None;
            };
            if let Err(e) = protect.check() {
                errors.push(format!("{path}[{i}].protect"), e.to_string());
            }
            Some(Boundary {
                zone: z,
                spec: protect,
            })
        })
        .collect()
}

/// A route's zone: the named one, or `external`.
pub(super) fn route_zone(
    raw: Option<&str>,
    zones: &[String],
    path: &str,
    errors: &mut Errors,
) -> usize {
    let name = raw.unwrap_or(DEFAULT_ROUTE_ZONE);
    zones.iter().position(|z| z == name).unwrap_or_else(|| {
        let known: Vec<&str> = zones.iter().map(String::as_str).collect();
        let message = if raw.is_some() {
            unknown("zone", name, &known)
        } else {
            format!("no zone given and the default `{DEFAULT_ROUTE_ZONE}` is not in privacy.zones; name one of: {}", known.join(", "))
        };
        errors.push(format!("{path}.zone"), message);
        0
    })
}

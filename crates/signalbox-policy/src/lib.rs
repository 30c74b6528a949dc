//! Owns the routing decision: given the loaded configuration and a request,
//! which routes may serve it and in which order.
//!
//! Today the decision is the alias's declared route order, filtered by the one
//! hard constraint a request can violate at this stage (streaming support),
//! and bounded by the alias's attempt budget. The policy engine (signals,
//! rules, constraints, objectives) grows here, behind the same
//! [`decide`] entry point, so the gateway and dispatcher do not change.

use std::collections::HashMap;

use signalbox_config::Config;
use signalbox_core::{AliasName, ChatRequest, RouteId};
use thiserror::Error;

/// Why no decision could be made. These are the gateway's own refusals:
/// they are never retried or failed over.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The requested model is not a configured alias.
    #[error("the model `{model}` does not exist; available models: {known}")]
    UnknownModel {
        /// What the caller asked for.
        model: String,
        /// The configured aliases, comma-separated.
        known: String,
    },
    /// Every route of the alias was excluded by a hard constraint.
    #[error("no route of `{alias}` can serve this request: {reasons}")]
    NoEligibleRoute {
        /// The alias.
        alias: String,
        /// Why each route was excluded, `;`-separated.
        reasons: String,
    },
}

/// The routes that may serve one request, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The alias the caller asked for.
    pub alias: AliasName,
    /// Indices into the snapshot's route table, in the order to try them.
    pub candidates: Vec<usize>,
    /// At most this many upstream attempts.
    pub max_attempts: usize,
}

/// A read-only view of the configuration prepared for fast decisions.
#[derive(Debug)]
pub struct PolicySnapshot {
    aliases: HashMap<String, AliasEntry>,
    known: String,
    route_ids: Vec<RouteId>,
    streaming: Vec<bool>,
}

#[derive(Debug)]
struct AliasEntry {
    name: AliasName,
    routes: Vec<usize>,
    max_attempts: usize,
}

impl PolicySnapshot {
    /// Prepares the lookup tables. Route indices follow `config.routes`.
    pub fn new(config: &Config) -> Self {
        let index: HashMap<&RouteId, usize> = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (&r.id, i))
            .collect();
        let aliases = config
            .aliases
            .iter()
            .map(|a| {
                let routes = a
                    .routes
                    .iter()
                    .filter_map(|id| index.get(id).copied())
                    .collect();
                (
                    a.name.to_string(),
                    AliasEntry {
                        name: a.name.clone(),
                        routes,
                        max_attempts: a.max_attempts,
                    },
                )
            })
            .collect();
        let mut names: Vec<&str> = config.aliases.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        Self {
            aliases,
            known: names.join(", "),
            route_ids: config.routes.iter().map(|r| r.id.clone()).collect(),
            streaming: config.routes.iter().map(|r| r.supports.streaming).collect(),
        }
    }

    /// The alias names clients may ask for, sorted.
    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.known.split(", ").filter(|s| !s.is_empty())
    }
}

/// Decides which routes may serve `req`, in order.
pub fn decide(snapshot: &PolicySnapshot, req: &ChatRequest) -> Result<Decision, PolicyError> {
    let model = req.model();
    let Some(alias) = snapshot.aliases.get(model) else {
        return Err(PolicyError::UnknownModel {
            model: model.to_string(),
            known: snapshot.known.clone(),
        });
    };
    let mut candidates = Vec::with_capacity(alias.routes.len());
    let mut excluded = Vec::new();
    for &i in &alias.routes {
        if req.is_stream() && !snapshot.streaming[i] {
            excluded.push(format!(
                "route {} does not support streaming",
                snapshot.route_ids[i]
            ));
            continue;
        }
        candidates.push(i);
    }
    if candidates.is_empty() {
        return Err(PolicyError::NoEligibleRoute {
            alias: alias.name.to_string(),
            reasons: excluded.join("; "),
        });
    }
    Ok(Decision {
        alias: alias.name.clone(),
        candidates,
        max_attempts: alias.max_attempts,
    })
}

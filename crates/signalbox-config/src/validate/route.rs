//! Routes and aliases: references between them, capacities, prices.

use signalbox_core::{AliasName, ProviderName, RouteId};

use super::resilience::{merge_breaker, merge_health_check, validate_weight};
use super::{Errors, FirstSeen, check_name, risk_tier, unknown};
use crate::model::{AliasConfig, BreakerConfig, HealthCheckConfig, Price, RouteConfig, Supports};
use crate::raw::{RawAlias, RawPrice, RawRoute, RawSupports};

const DEFAULT_CONTEXT_WINDOW: u32 = 8192;
const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 4096;

/// What routes are checked against.
pub(super) struct Scope<'a> {
    pub providers: &'a [&'a str],
    pub regions: &'a [String],
    pub risk_tiers: &'a [String],
    pub breaker: &'a BreakerConfig,
    pub health_check: &'a HealthCheckConfig,
    pub zones: &'a [String],
}

pub(super) fn validate_routes(
    raw: Vec<RawRoute>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Vec<RouteConfig> {
    if raw.is_empty() {
        errors.push("routes", "at least one route is required");
    }
    let regions: Vec<&str> = scope.regions.iter().map(String::as_str).collect();
    let ids: Vec<String> = raw.iter().map(|r| r.id.0.clone()).collect();
    let mut seen = FirstSeen::default();
    for (i, id) in ids.iter().enumerate() {
        let path = format!("routes[{i}].id");
        if check_name(errors, &path, "route id", id) {
            seen.check(errors, &path, "route id", id, "routes", i);
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("routes[{i}]");
            validate_route(r, &path, scope, &regions, errors)
        })
        .collect()
}

fn validate_route(
    raw: RawRoute,
    path: &str,
    scope: &Scope<'_>,
    regions: &[&str],
    errors: &mut Errors,
) -> RouteConfig {
    at_least_one(
        raw.max_requests_per_second,
        path,
        "max-requests-per-second",
        errors,
    );
    let zone = super::privacy::route_zone(
        raw.zone.as_ref().map(|z| z.as_str()),
        scope.zones,
        path,
        errors,
    );
    at_least_one(raw.max_concurrency, path, "max-concurrency", errors);
    check_identity(&raw, path, scope.providers, regions, errors);
    let (context_window, max_output_tokens) =
        token_limits(raw.context_window, raw.max_output_tokens, path, errors);
    let max_risk_tier = route_max_risk_tier(&raw, path, scope.risk_tiers, errors);
    let RawRoute {
        id,
        provider,
        model,
        region,
        version,
        max_output,
        supports,
        price,
        retention,
        content_filter,
        breaker,
        health_check,
        weight,
        max_concurrency,
        max_requests_per_second,
        endpoint,
        embedding,
        ..
    } = raw;
    let (endpoint, responses) =
        super::endpoints::endpoint_kind(endpoint.as_ref(), &format!("{path}.endpoint"), errors);
    let embedding =
        super::embedding::validate_embedding(endpoint, embedding, model.as_str(), path, errors);
    RouteConfig {
        id: RouteId::new(id.as_str()),
        provider: ProviderName::new(provider.as_str()),
        version: version.unwrap_or_else(|| model.clone()).0,
        model: model.0,
        region: region.0,
        context_window,
        max_output_tokens,
        max_output: max_output.unwrap_or_default(),
        supports: validate_supports(supports),
        price: validate_price(price, &format!("{path}.price"), errors),
        retention: retention.unwrap_or_default(),
        max_risk_tier,
        content_filter: content_filter.unwrap_or_default(),
        breaker: merge_breaker(scope.breaker, breaker, &format!("{path}.breaker"), errors),
        health_check: merge_health_check(
            scope.health_check,
            health_check,
            &format!("{path}.health-check"),
            errors,
        ),
        weight: validate_weight(weight, &format!("{path}.weight"), errors),
        max_concurrency,
        zone,
        max_requests_per_second,
        endpoint,
        responses,
        embedding,
    }
}

/// A per-route limit, when set, is at least 1 (omitted means no limit).
fn at_least_one<T: PartialEq + From<u8>>(
    value: Option<T>,
    path: &str,
    field: &str,
    errors: &mut Errors,
) {
    if value == Some(T::from(0)) {
        errors.push(
            format!("{path}.{field}"),
            "must be at least 1 (omit it for no limit)",
        );
    }
}

/// The highest risk tier the route may serve: the one it names, else the
/// highest declared.
fn route_max_risk_tier(
    raw: &RawRoute,
    path: &str,
    risk_tiers: &[String],
    errors: &mut Errors,
) -> usize {
    let highest_tier = risk_tiers.len().saturating_sub(1);
    raw.max_risk_tier.as_ref().map_or(highest_tier, |name| {
        let path = format!("{path}.max-risk-tier");
        risk_tier(errors, &path, name.as_str(), risk_tiers).unwrap_or(highest_tier)
    })
}

/// The route's provider and region exist; its model and version are not blank.
fn check_identity(
    raw: &RawRoute,
    path: &str,
    providers: &[&str],
    regions: &[&str],
    errors: &mut Errors,
) {
    if !providers.contains(&raw.provider.as_str()) {
        errors.push(
            format!("{path}.provider"),
            unknown("provider", raw.provider.as_str(), providers),
        );
    }
    if raw.model.as_str().trim().is_empty() {
        errors.push(format!("{path}.model"), "model must not be empty");
    }
    if !regions.contains(&raw.region.as_str()) {
        errors.push(
            format!("{path}.region"),
            unknown("region", raw.region.as_str(), regions),
        );
    }
    if raw
        .version
        .as_ref()
        .is_some_and(|v| v.as_str().trim().is_empty())
    {
        errors.push(
            format!("{path}.version"),
            "version must not be empty (omit it to use the model name)",
        );
    }
}

/// The context window (default [`DEFAULT_CONTEXT_WINDOW`]) and the output
/// limit (default [`DEFAULT_MAX_OUTPUT_TOKENS`], never above the window).
fn token_limits(
    context_window: Option<u32>,
    max_output_tokens: Option<u32>,
    path: &str,
    errors: &mut Errors,
) -> (u32, u32) {
    let context_window = context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW);
    if context_window == 0 {
        errors.push(format!("{path}.context-window"), "must be greater than 0");
    }
    let max_output_tokens = match max_output_tokens {
        None => DEFAULT_MAX_OUTPUT_TOKENS.min(context_window),
        Some(0) => {
            errors.push(
                format!("{path}.max-output-tokens"),
                "must be greater than 0",
            );
            0
        }
        Some(n) => {
            if n > context_window && context_window > 0 {
                errors.push(
                    format!("{path}.max-output-tokens"),
                    format!(
                        "max-output-tokens ({n}) must not exceed context-window ({context_window})"
                    ),
                );
            }
            n
        }
    };
    (context_window, max_output_tokens)
}

fn validate_supports(raw: Option<RawSupports>) -> Supports {
    let defaults = Supports::default();
    let Some(RawSupports {
        tools,
        vision,
        json_mode,
        streaming,
        prefill_continuation,
        reasoning,
    }) = raw
    else {
        return defaults;
    };
    Supports {
        tools: tools.unwrap_or(defaults.tools),
        vision: vision.unwrap_or(defaults.vision),
        json_mode: json_mode.unwrap_or(defaults.json_mode),
        streaming: streaming.unwrap_or(defaults.streaming),
        prefill_continuation: prefill_continuation.unwrap_or(defaults.prefill_continuation),
        reasoning: reasoning.unwrap_or(defaults.reasoning),
    }
}

fn validate_price(raw: Option<RawPrice>, path: &str, errors: &mut Errors) -> Price {
    let Some(RawPrice {
        input_per_1m,
        output_per_1m,
    }) = raw
    else {
        return Price::default();
    };
    let mut amount = |value: Option<f64>, key: &str| {
        let value = value.unwrap_or(0.0);
        if !value.is_finite() || value < 0.0 {
            errors.push(
                format!("{path}.{key}"),
                format!("price must be a finite number ≥ 0 (USD per 1M tokens), got {value}"),
            );
        }
        value
    };
    Price {
        input_per_1m: amount(input_per_1m, "input-per-1m"),
        output_per_1m: amount(output_per_1m, "output-per-1m"),
    }
}

pub(super) fn validate_aliases(
    raw: Vec<RawAlias>,
    routes: &[&str],
    errors: &mut Errors,
) -> Vec<AliasConfig> {
    if raw.is_empty() {
        errors.push("aliases", "at least one alias is required");
    }
    let names: Vec<String> = raw.iter().map(|a| a.name.0.clone()).collect();
    let mut seen = FirstSeen::default();
    for (i, name) in names.iter().enumerate() {
        let path = format!("aliases[{i}].name");
        if check_name(errors, &path, "alias name", name) {
            seen.check(errors, &path, "alias name", name, "aliases", i);
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let alias = validate_alias(a, &format!("aliases[{i}]"), routes, errors);
            check_smaller_model(&alias, i, &names, errors);
            alias
        })
        .collect()
}

/// `smaller-model` must name another alias.
fn check_smaller_model(alias: &AliasConfig, i: usize, names: &[String], errors: &mut Errors) {
    let Some(smaller) = &alias.smaller_model else {
        return;
    };
    let path = format!("aliases[{i}].smaller-model");
    if smaller == &alias.name {
        errors.push(path, "must name another alias, not this one");
    } else if !names.iter().any(|n| n == smaller.as_str()) {
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        errors.push(path, unknown("alias", smaller.as_str(), &known));
    }
}

fn validate_alias(raw: RawAlias, path: &str, known: &[&str], errors: &mut Errors) -> AliasConfig {
    let RawAlias {
        name,
        routes,
        max_attempts,
        smaller_model,
        on_stream_break,
    } = raw;
    if routes.is_empty() {
        errors.push(
            format!("{path}.routes"),
            "at least one route is required (route ids in failover order)",
        );
    }
    let mut seen = FirstSeen::default();
    for (i, route) in routes.iter().enumerate() {
        let route_path = format!("{path}.routes[{i}]");
        if !known.contains(&route.as_str()) {
            errors.push(&route_path, unknown("route", route.as_str(), known));
        }
        seen.check(errors, &route_path, "route", route.as_str(), "routes", i);
    }
    let max_attempts = match max_attempts {
        Some(0) => {
            errors.push(format!("{path}.max-attempts"), "must be at least 1");
            1
        }
        Some(n) => n,
        None => routes.len().max(1),
    };
    AliasConfig {
        name: AliasName::new(name.as_str()),
        routes: routes.iter().map(|r| RouteId::new(r.as_str())).collect(),
        max_attempts,
        smaller_model: smaller_model.map(|a| AliasName::new(a.as_str())),
        on_stream_break: on_stream_break.unwrap_or_default(),
    }
}

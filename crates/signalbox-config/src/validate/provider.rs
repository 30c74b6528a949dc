//! Providers: names, base URLs, credentials, headers, timeouts and the
//! stream event cap.

use std::collections::BTreeMap;
use std::time::Duration;

use signalbox_core::ProviderName;

use super::{Errors, FirstSeen, check_name};
use crate::model::{
    AwsConfig, DEFAULT_MAX_STREAM_EVENT_BYTES, MIN_MAX_STREAM_EVENT_BYTES, ProviderConfig,
    ProviderKind, Timeouts,
};
use crate::raw::{RawApiKey, RawAwsCredentials, RawProvider, RawTimeouts};
use crate::secret::{self, Secret};
use crate::text::Text;
use crate::vars::VarSource;

/// Headers that carry credentials (lower case). A value under `headers` is
/// plain configuration text: printed by `check`, kept unredacted in memory
/// and never scrubbed from upstream error text, so a credential there would
/// leak; credentials belong in `api-key`. Besides these, any name ending in
/// `api-key` or `apikey` (see [`is_credential_header`]).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "x-api-token",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
    "x-ms-token-aad-access-token",
    "ocp-apim-subscription-key",
    "x-functions-key",
    "cookie",
    "cookie2",
    "set-cookie",
];

/// Whether a (lower-case) header name carries a credential.
fn is_credential_header(lower: &str) -> bool {
    CREDENTIAL_HEADERS.contains(&lower) || lower.ends_with("api-key") || lower.ends_with("apikey")
}

pub(super) fn validate_providers(
    raw: Vec<RawProvider>,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> Vec<ProviderConfig> {
    if raw.is_empty() {
        errors.push("providers", "at least one provider is required");
    }
    let names: Vec<Text> = raw.iter().map(|p| p.name.clone()).collect();
    let mut seen = FirstSeen::default();
    for (i, name) in names.iter().enumerate() {
        let path = format!("providers[{i}].name");
        if check_name(errors, &path, "provider name", name.as_str()) {
            seen.check(
                errors,
                &path,
                "provider name",
                name.as_str(),
                "providers",
                i,
            );
        }
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, p)| validate_provider(p, &format!("providers[{i}]"), vars, errors))
        .collect()
}

fn validate_provider(
    raw: RawProvider,
    path: &str,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> ProviderConfig {
    let RawProvider {
        name,
        kind,
        base_url,
        api_key,
        api_version,
        aws_region,
        aws_credentials,
        quirks,
        headers,
        timeouts,
        max_stream_event_bytes,
    } = raw;
    // The kind says which of its own keys it takes (`ProviderKind::settings`).
    let settings = kind.settings();
    let aws = validate_aws(kind, aws_region, aws_credentials, path, vars, errors);
    let base_url = match (base_url, &aws) {
        (Some(url), _) => validate_url(url.as_str(), &format!("{path}.base-url"), errors),
        (None, Some(aws)) => format!("https://bedrock-runtime.{}.amazonaws.com", aws.region),
        (None, None) => {
            if !settings.aws {
                errors.push(
                    format!("{path}.base-url"),
                    format!("is required for a provider of kind {kind}"),
                );
            }
            String::new()
        }
    };
    let api_version = validate_api_version(kind, api_version, path, errors);
    if quirks.is_some() && !settings.quirks {
        let takers = ProviderKind::names_where(|s| s.quirks);
        errors.push(
            format!("{path}.quirks"),
            format!("only {takers} providers take quirks (this one is {kind})"),
        );
    }
    ProviderConfig {
        name: ProviderName::new(name.as_str()),
        kind,
        base_url,
        api_key: validate_api_key(api_key, &format!("{path}.api-key"), vars, errors),
        api_version,
        aws,
        quirks: quirks.unwrap_or_default(),
        headers: validate_headers(
            headers.unwrap_or_default(),
            &format!("{path}.headers"),
            errors,
        ),
        timeouts: validate_timeouts(timeouts, &format!("{path}.timeouts"), errors),
        max_stream_event_bytes: validate_event_cap(
            max_stream_event_bytes,
            &format!("{path}.max-stream-event-bytes"),
            errors,
        ),
    }
}

/// The API version of a kind that takes one (its default when omitted;
/// letters, digits, `-`, `.`, `_`); an error for a kind that takes none.
fn validate_api_version(
    kind: ProviderKind,
    raw: Option<Text>,
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    match (kind.settings().api_version, raw) {
        (Some(_), Some(v)) => {
            let v = v.0;
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                errors.push(
                    format!("{path}.api-version"),
                    format!("{v:?} is not a version (letters, digits, `-`, `.`, `_`)"),
                );
            }
            Some(v)
        }
        (Some(default), None) => Some(default.to_owned()),
        (None, Some(_)) => {
            let takers = ProviderKind::names_where(|s| s.api_version.is_some());
            errors.push(
                format!("{path}.api-version"),
                format!("only {takers} providers take an api-version (this one is {kind})"),
            );
            None
        }
        (None, None) => None,
    }
}

/// The cap on one stream event: at least [`MIN_MAX_STREAM_EVENT_BYTES`],
/// so that a unit slip (`8` meant as MiB) does not refuse every stream.
fn validate_event_cap(raw: Option<u64>, path: &str, errors: &mut Errors) -> usize {
    let Some(n) = raw else {
        return DEFAULT_MAX_STREAM_EVENT_BYTES;
    };
    if n < MIN_MAX_STREAM_EVENT_BYTES {
        errors.push(
            path,
            format!("must be at least {MIN_MAX_STREAM_EVENT_BYTES} bytes (it is {n})"),
        );
        return DEFAULT_MAX_STREAM_EVENT_BYTES;
    }
    usize::try_from(n).unwrap_or_else(|_| {
        errors.push(path, "too large for this platform");
        DEFAULT_MAX_STREAM_EVENT_BYTES
    })
}

/// Bedrock's region and credentials (from `aws-credentials`, else the
/// standard AWS environment variables); refused on other kinds.
fn validate_aws(
    kind: ProviderKind,
    region: Option<Text>,
    credentials: Option<RawAwsCredentials>,
    path: &str,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> Option<AwsConfig> {
    if !kind.settings().aws {
        let takers = ProviderKind::names_where(|s| s.aws);
        for (key, set) in [
            ("aws-region", region.is_some()),
            ("aws-credentials", credentials.is_some()),
        ] {
            if set {
                errors.push(
                    format!("{path}.{key}"),
                    format!("only {takers} providers take {key} (this one is {kind})"),
                );
            }
        }
        return None;
    }
    let Some(region) = region else {
        errors.push(
            format!("{path}.aws-region"),
            "is required for a bedrock provider (e.g. us-east-1)",
        );
        return None;
    };
    let region = region.0;
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.push(
            format!("{path}.aws-region"),
            format!("{region:?} is not an AWS region name (e.g. us-east-1)"),
        );
    }
    let (id, key, token) = aws_credentials(
        credentials,
        &format!("{path}.aws-credentials"),
        vars,
        errors,
    );
    Some(AwsConfig {
        region,
        access_key_id: id?,
        secret_access_key: key?,
        session_token: token,
    })
}

/// Bedrock's signing credentials: from `aws-credentials`, else the
/// standard AWS environment variables (`None` parts are reported).
fn aws_credentials(
    credentials: Option<RawAwsCredentials>,
    cred_path: &str,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> (Option<Secret>, Option<Secret>, Option<Secret>) {
    match credentials {
        Some(c) => (
            validate_api_key(
                Some(c.access_key_id),
                &format!("{cred_path}.access-key-id"),
                vars,
                errors,
            ),
            validate_api_key(
                Some(c.secret_access_key),
                &format!("{cred_path}.secret-access-key"),
                vars,
                errors,
            ),
            validate_api_key(
                c.session_token,
                &format!("{cred_path}.session-token"),
                vars,
                errors,
            ),
        ),
        None => {
            let env = |name: &str| vars.var(name).filter(|v| !v.is_empty()).map(Secret::new);
            let (id, key) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"));
            if id.is_none() || key.is_none() {
                errors.push(
                    cred_path,
                    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                     or name their sources under aws-credentials",
                );
            }
            (id, key, env("AWS_SESSION_TOKEN"))
        }
    }
}

/// Returns the URL normalised, without a trailing `/`. Errors never repeat
/// the query, fragment or user info: they are where credentials hide.
fn validate_url(text: &str, path: &str, errors: &mut Errors) -> String {
    let url = match url::Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            errors.push(
                path,
                format!(
                    "invalid URL {:?}: {e} (expected e.g. https://api.example.com/v1)",
                    redacted_url(text)
                ),
            );
            return text.to_owned();
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        errors.push(
            path,
            format!("unsupported scheme {:?} (use http or https)", url.scheme()),
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        errors.push(path, format!("URL {:?} has no host", redacted_url(text)));
    }
    for (part, present) in [
        ("a query (`?…`)", url.query().is_some()),
        ("a fragment (`#…`)", url.fragment().is_some()),
    ] {
        if present {
            errors.push(
                path,
                format!(
                    "URL {:?} must not contain {part}; credentials belong in api-key",
                    redacted_url(text)
                ),
            );
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.push(
            path,
            "URL must not contain credentials; use api-key: {env: VAR} or {file: PATH}",
        );
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// `text` without its query, fragment and user info (each shown as `…`), so
/// an error can name the URL without repeating a credential.
fn redacted_url(text: &str) -> String {
    let (mut out, rest) = match text.find(['?', '#']) {
        Some(at) => (text[..at].to_owned(), "…"),
        None => (text.to_owned(), ""),
    };
    let authority_start = out.find("://").map_or(0, |i| i + 3);
    let authority_end = out[authority_start..]
        .find('/')
        .map_or(out.len(), |i| authority_start + i);
    if let Some(at) = out[authority_start..authority_end].rfind('@') {
        out.replace_range(authority_start..authority_start + at, "…");
    }
    out.push_str(rest);
    out
}

pub(super) fn validate_api_key(
    raw: Option<RawApiKey>,
    path: &str,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> Option<Secret> {
    match raw? {
        RawApiKey::Inline => {
            errors.push(
                path,
                "inline keys are not allowed; use {env: VAR} or {file: PATH}",
            );
            None
        }
        RawApiKey::Source(source) => match secret::resolve(&source, vars) {
            Ok(secret) => Some(secret),
            Err(error) => {
                errors.push(path, error.to_string());
                None
            }
        },
    }
}

fn validate_headers(
    raw: BTreeMap<String, Text>,
    path: &str,
    errors: &mut Errors,
) -> Vec<(String, String)> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, value) in &raw {
        let header_path = format!("{path}.{name}");
        let lower = name.to_ascii_lowercase();
        if !is_header_name(name) {
            errors.push(&header_path, format!("invalid header name {name:?}"));
        } else if is_credential_header(&lower) {
            errors.push(
                &header_path,
                format!(
                    "header {name:?} carries credentials; set the provider's api-key \
                     ({{env: VAR}} or {{file: PATH}}) instead"
                ),
            );
        } else if let Some(first) = seen.insert(lower, name) {
            errors.push(
                &header_path,
                format!("header {name:?} repeats {first:?} (names are case-insensitive)"),
            );
        }
        if !is_header_value(value.as_str()) {
            errors.push(
                &header_path,
                "invalid header value: use visible ASCII, spaces or tabs, without leading or trailing whitespace",
            );
        }
    }
    raw.into_iter().map(|(k, v)| (k, v.0)).collect()
}

/// RFC 9110 token.
pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII, spaces and tabs, not starting or ending with whitespace.
pub(super) fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && value.trim_matches([' ', '\t']).len() == value.len()
}

fn validate_timeouts(raw: Option<RawTimeouts>, path: &str, errors: &mut Errors) -> Timeouts {
    let defaults = Timeouts::default();
    let Some(RawTimeouts {
        connect,
        first_byte,
        first_token,
        total,
        idle,
        min_tokens_per_second,
        throughput_window,
    }) = raw
    else {
        return defaults;
    };
    let mut positive = |value: Option<Duration>, default: Duration, key: &str| match value {
        Some(d) if d.is_zero() => {
            errors.push(format!("{path}.{key}"), "must be greater than 0");
            default
        }
        Some(d) => d,
        None => default,
    };
    let explicit_first_token = first_token.is_some();
    let mut timeouts = Timeouts {
        connect: positive(connect, defaults.connect, "connect"),
        first_byte: positive(first_byte, defaults.first_byte, "first-byte"),
        first_token: positive(first_token, defaults.first_token, "first-token"),
        total: positive(total, defaults.total, "total"),
        idle: positive(idle, defaults.idle, "idle"),
        min_tokens_per_second,
        throughput_window: positive(
            throughput_window,
            defaults.throughput_window,
            "throughput-window",
        ),
    };
    // A default first-token never makes a shorter `total` invalid: it
    // follows it down (configurations written before it existed stay valid).
    if !explicit_first_token {
        timeouts.first_token = timeouts.first_token.min(timeouts.total);
    }
    if min_tokens_per_second.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        errors.push(
            format!("{path}.min-tokens-per-second"),
            "must be a number greater than 0 (omit it for no minimum)",
        );
    }
    for (key, value) in [
        ("connect", timeouts.connect),
        ("first-byte", timeouts.first_byte),
        ("first-token", timeouts.first_token),
    ]
    .into_iter()
    .filter(|(key, _)| *key != "first-token" || explicit_first_token)
    {
        if value > timeouts.total {
            errors.push(
                format!("{path}.{key}"),
                format!(
                    "{key} ({}) must not exceed total ({})",
                    humantime::format_duration(value),
                    humantime::format_duration(timeouts.total)
                ),
            );
        }
    }
    timeouts
}

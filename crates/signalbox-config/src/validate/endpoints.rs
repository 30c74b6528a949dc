//! A route's `endpoint`: the API kind its model serves (`chat` or
//! `embeddings`, the policy's `endpoint` constraint) and whether its
//! provider also serves the OpenAI Responses API natively (`[chat,
//! responses]`). Responses is declared beside `chat`, never alone: a
//! Responses request may always fall back to translation through the chat
//! API, and a chat request sent to a route is sent to its chat API; a
//! Responses-only model is not expressible yet. Only provider kinds that
//! have the Responses API (OpenAI-compatible, Azure OpenAI) may declare it.

use signalbox_core::{EndpointKind, ProviderKind};

use super::Errors;
use crate::model::{ProviderConfig, RouteConfig};
use crate::raw::{RawEndpoint, RawEndpointName};

/// The route's endpoint kind and whether it serves Responses natively.
pub(super) fn endpoint_kind(
    raw: Option<&RawEndpoint>,
    path: &str,
    errors: &mut Errors,
) -> (EndpointKind, bool) {
    let Some(raw) = raw else {
        return (EndpointKind::default(), false);
    };
    let names = raw.names();
    let has = |n: RawEndpointName| names.contains(&n);
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            errors.push(format!("{path}[{i}]"), format!("{n:?} is listed twice"));
        }
    }
    let (chat, responses) = (has(RawEndpointName::Chat), has(RawEndpointName::Responses));
    if has(RawEndpointName::Embeddings) {
        if chat || responses {
            errors.push(
                path,
                "`embeddings` is listed alone: an embedding model serves no chat or Responses API",
            );
        }
        return (EndpointKind::Embeddings, false);
    }
    if !chat {
        let problem = if responses {
            "list `chat` with `responses` (`[chat, responses]`): a Responses-only model is not supported"
        } else {
            "must name at least one API (`chat`)"
        };
        errors.push(path, problem);
    }
    (EndpointKind::Chat, responses)
}

/// Every route declaring `responses` is on a provider kind that has the
/// Responses API.
pub(super) fn check_responses_providers(
    routes: &[RouteConfig],
    providers: &[ProviderConfig],
    errors: &mut Errors,
) {
    for (i, route) in routes.iter().enumerate().filter(|(_, r)| r.responses) {
        let Some(provider) = providers.iter().find(|p| p.name == route.provider) else {
            continue; // an unknown provider is reported where it is named
        };
        if !serves_responses(provider.kind) {
            errors.push(
                format!("routes[{i}].endpoint"),
                format!(
                    "`responses` needs a provider of kind openai-compatible or azure-openai; {} is {}",
                    provider.name,
                    provider.kind.as_str()
                ),
            );
        }
    }
}

/// Whether a provider kind has the Responses API.
fn serves_responses(kind: ProviderKind) -> bool {
    matches!(
        kind,
        ProviderKind::OpenAiCompatible | ProviderKind::AzureOpenAi
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(yaml: &str) -> ((EndpointKind, bool), Vec<String>) {
        let raw: RawEndpoint = yaml_serde::from_str(yaml).unwrap();
        let mut errors = Errors::default();
        let out = endpoint_kind(Some(&raw), "routes[0].endpoint", &mut errors);
        (out, errors.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_name_or_a_list_of_names() {
        assert_eq!(kind("chat"), ((EndpointKind::Chat, false), vec![]));
        assert_eq!(kind("embeddings").0, (EndpointKind::Embeddings, false));
        assert_eq!(
            kind("[chat, responses]"),
            ((EndpointKind::Chat, true), vec![])
        );
        assert_eq!(kind("[responses, chat]").0, (EndpointKind::Chat, true));
    }

    #[test]
    fn impossible_lists_are_refused_naming_the_field() {
        for yaml in ["responses", "[embeddings, chat]", "[]", "[chat, chat]"] {
            let (_, errors) = kind(yaml);
            assert!(
                errors.iter().any(|e| e.contains("routes[0].endpoint")),
                "{yaml}: {errors:?}"
            );
        }
        assert!(yaml_serde::from_str::<RawEndpoint>("chats").is_err());
    }

    const CONFIG: &str = "\
providers:
  - name: oai
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1
  - name: claude
    kind: anthropic
    base-url: http://127.0.0.1:9002
    api-key: { env: K }
routes:
  - id: gpt
    provider: oai
    model: gpt-4o
    region: us
    endpoint: [chat, responses]
  - id: sonnet
    provider: claude
    model: claude-sonnet
    region: us
    endpoint: ENDPOINT
aliases:
  - name: chat
    routes: [gpt, sonnet]
";

    #[test]
    fn only_kinds_with_the_responses_api_may_declare_it() {
        let load = |endpoint: &str| {
            let text = CONFIG.replace("ENDPOINT", endpoint);
            let vars = std::collections::HashMap::from([("K".to_owned(), "k".to_owned())]);
            crate::load_str(&text, "test.yaml", &vars)
        };
        let config = load("chat").unwrap();
        assert!(config.routes[0].responses);
        assert!(!config.routes[1].responses);
        let errors = load("[chat, responses]").unwrap_err();
        let (path, message) = errors.0.first().map(|e| (&e.path, &e.message)).unwrap();
        assert_eq!(path, "routes[1].endpoint");
        assert!(message.contains("claude is anthropic"), "{message}");
    }
}

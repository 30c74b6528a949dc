//! Intent rules: names, intents, and `last-user-message` regexes compiled at load.

use regex::Regex;

use super::{Errors, check_rule_names};
use crate::model::{IntentConfig, IntentRule, IntentWhen};
use crate::raw::{RawIntentRule, RawIntentWhen, RawIntents};
use crate::text::Text;

pub(super) fn validate_intents(raw: Option<RawIntents>, errors: &mut Errors) -> IntentConfig {
    let defaults = IntentConfig::default();
    let Some(RawIntents { default, rules }) = raw else {
        return defaults;
    };
    let default = default.map_or(defaults.default, |d| {
        non_empty(errors, "intents.default", "intent", &d);
        d.0
    });
    let rules = rules.unwrap_or_default();
    check_rule_names(errors, "intents.rules", "intent rule name", &rules, |r| {
        &r.name
    });
    let rules = rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let RawIntentRule { name, when, intent } = rule;
            let path = format!("intents.rules[{i}]");
            non_empty(errors, &format!("{path}.intent"), "intent", &intent);
            IntentRule {
                name: name.0,
                when: validate_intent_when(when, &format!("{path}.when"), errors),
                intent: intent.0,
            }
        })
        .collect();
    IntentConfig { default, rules }
}

fn validate_intent_when(raw: Option<RawIntentWhen>, path: &str, errors: &mut Errors) -> IntentWhen {
    let Some(RawIntentWhen {
        tools,
        last_user_message,
    }) = raw
    else {
        return IntentWhen::default();
    };
    let last_user_message = last_user_message.and_then(|pattern| {
        Regex::new(pattern.as_str())
            .map_err(|e| {
                errors.push(
                    format!("{path}.last-user-message"),
                    format!("invalid regex {:?}: {}", pattern.as_str(), regex_reason(&e)),
                );
            })
            .ok()
    });
    IntentWhen {
        tools,
        last_user_message,
    }
}

/// The one-line reason of a regex error (its display spans several lines).
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    match text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
    {
        Some(reason) => reason.to_owned(),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

fn non_empty(errors: &mut Errors, path: &str, what: &str, value: &Text) {
    if value.as_str().trim().is_empty() {
        errors.push(path, format!("{what} must not be empty"));
    }
}

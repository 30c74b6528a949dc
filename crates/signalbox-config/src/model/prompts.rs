//! The prompt registry: prompt id → versions → per-provider-family variants,
//! each a template with `{{variable}}` placeholders parsed at load time.

use std::collections::BTreeSet;

/// One registered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptConfig {
    /// What requests name (`x-signalbox-prompt: support-answer`).
    pub id: String,
    /// Versions in document order.
    pub versions: Vec<PromptVersion>,
    /// Index into `versions` used when a request names no version.
    pub default_version: usize,
}

impl PromptConfig {
    /// The version called `name`, or the default one.
    pub fn version(&self, name: Option<&str>) -> Option<&PromptVersion> {
        match name {
            Some(n) => self.versions.iter().find(|v| v.version == n),
            None => self.versions.get(self.default_version),
        }
    }
}

/// One version of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptVersion {
    /// The version name (`v3`, `2025-06-01`, …).
    pub version: String,
    /// The system prompt for every family without its own variant.
    pub template: Template,
    /// `(family, template)` overrides, sorted by family.
    pub variants: Vec<(String, Template)>,
    /// Every variable the template or a variant uses, sorted: a request
    /// must supply all of them, so that it can be served by any route.
    pub variables: Vec<String>,
}

impl PromptVersion {
    /// The template for provider `family`, and whether it is a variant.
    pub fn for_family(&self, family: &str) -> (&Template, bool) {
        match self.variants.iter().find(|(f, _)| f == family) {
            Some((_, t)) => (t, true),
            None => (&self.template, false),
        }
    }

    pub(crate) fn collect_variables(
        template: &Template,
        variants: &[(String, Template)],
    ) -> Vec<String> {
        let mut all: BTreeSet<&str> = template.variables().collect();
        for (_, t) in variants {
            all.extend(t.variables());
        }
        all.into_iter().map(str::to_owned).collect()
    }
}

/// A parsed template: literal text and `{{name}}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

impl Template {
    /// A template with no text.
    pub fn empty() -> Self {
        Self { parts: Vec::new() }
    }

    /// Parses `text`; `{{ name }}` (letters, digits, `_`, `-`) is a
    /// placeholder. An unclosed `{{` or an invalid name is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!(
                    "unclosed `{{{{` at byte {}",
                    text.len() - rest.len() + open
                ));
            };
            let name = after[..close].trim();
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(format!(
                    "invalid placeholder `{{{{{}}}}}`: use letters, digits, `_` and `-`",
                    &after[..close]
                ));
            }
            parts.push(Piece::Var(name.to_owned()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The placeholders' names, in order of appearance (repeats included).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The text with each placeholder replaced by `value(name)`; `None`
    /// when a value is missing (the caller checks the set beforehand).
    pub fn render<'a>(&self, value: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(value(v)?),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Template;

    #[test]
    fn parses_and_renders_placeholders() {
        let t = Template::parse("Hi {{ name }}, welcome to {{product}}. {{name}}!").unwrap();
        assert_eq!(
            t.variables().collect::<Vec<_>>(),
            ["name", "product", "name"]
        );
        let out = t.render(|v| match v {
            "name" => Some("Ada"),
            "product" => Some("Acme"),
            _ => None,
        });
        assert_eq!(out.as_deref(), Some("Hi Ada, welcome to Acme. Ada!"));
        assert_eq!(t.render(|_| None), None);
    }

    #[test]
    fn rejects_unclosed_and_invalid_placeholders() {
        assert!(
            Template::parse("a {{name")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            Template::parse("a {{na me}}")
                .unwrap_err()
                .contains("invalid placeholder")
        );
        assert!(Template::parse("a {{}}").is_err());
        // Single braces are text.
        assert_eq!(
            Template::parse("{json: {a: 1}}")
                .unwrap()
                .render(|_| None)
                .as_deref(),
            Some("{json: {a: 1}}")
        );
    }
}

//! The prompt registry: what loads, and what is refused with which path.

use std::collections::HashMap;

use crate::load_str;

fn doc(prompts: &str) -> String {
    format!(
        "\
regions: [us]
providers:
  - {{name: p, kind: openai-compatible, base-url: 'http://127.0.0.1:9/v1'}}
routes:
  - {{id: r, provider: p, model: m, region: us}}
aliases:
  - {{name: chat, routes: [r]}}
prompts:
{prompts}
"
    )
}

fn errors(prompts: &str) -> Vec<(String, String)> {
    match load_str(&doc(prompts), "t.yaml", &HashMap::new()) {
        Ok(_) => panic!("expected errors for {prompts}"),
        Err(e) => e.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

#[test]
fn versions_variants_and_default() {
    let c = load_str(
        &doc("  - id: support
    default-version: v1
    versions:
      - {version: v1, template: 'Help with {{product}}.'}
      - version: v2
        template: 'Help with {{product}} in {{lang}}.'
        variants: {anthropic: '<p>{{product}}</p>'}"),
        "t.yaml",
        &HashMap::new(),
    )
    .unwrap();
    let p = c.prompt("support").unwrap();
    assert_eq!(p.version(None).unwrap().version, "v1");
    let v2 = p.version(Some("v2")).unwrap();
    assert_eq!(v2.variables, ["lang", "product"]);
    assert!(v2.for_family("anthropic").1);
    assert!(!v2.for_family("gemini").1);
    assert!(p.version(Some("v9")).is_none());
    // Without default-version, the last listed is the default.
    let c = load_str(
        &doc("  - {id: s, versions: [{version: a, template: x}, {version: b, template: y}]}"),
        "t.yaml",
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(c.prompts[0].version(None).unwrap().version, "b");
}

#[test]
fn bad_prompts_are_refused_with_their_paths() {
    let errs = errors(
        "  - id: s
    default-version: v3
    versions:
      - {version: v1, template: 'Hi {{name'}
      - {version: v1, template: ok, variants: {mistral: x, gemini: '{{bad name}}'}}
  - {id: s, versions: []}",
    );
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "prompts[1].id",
            "prompts[0].versions[1].version",
            "prompts[0].versions[0].template",
            "prompts[0].versions[1].variants.gemini",
            "prompts[0].versions[1].variants.mistral",
            "prompts[0].default-version",
            "prompts[1].versions",
        ],
        "{errs:?}"
    );
    assert!(errs[0].1.contains("duplicate prompt id"), "{errs:?}");
    assert!(errs[4].1.contains("unknown provider family"), "{errs:?}");
}

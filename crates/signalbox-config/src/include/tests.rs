use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::test_temp::{TempDir, temp_dir};
use crate::{Config, ConfigErrors, load_file, load_str};

const MAIN: &str = "\
regions: [us, eu]
providers:
  - name: p1
    kind: openai-compatible
    base-url: http://127.0.0.1:9001/v1
routes:
  - id: us
    provider: p1
    model: m
    region: us
  - id: eu
    provider: p1
    model: m
    region: eu
aliases:
  - name: chat
    routes: [us, eu]
tenants:
  - id: main-tenant
    api-keys: [{ env: MAIN_KEY }]
intents:
  default: general
  rules:
    - name: main-intent
      intent: coding
policy:
  rules:
    - name: main-rule
      when: { tenants: [main-tenant] }
      routes: [us]
include:
  - policy/rules.yaml
  - ${TENANTS_FILE:-tenants.yaml}
";

const RULES: &str = "\
intents:
  rules:
    - name: included-intent
      when: { tools: true }
      intent: agent
policy:
  rules:
    - name: eu-only
      when: { tenants: [acme] }
      routes: [eu]
    - name: fallback
      routes: [us, eu]
";

const TENANTS: &str = "\
tenants:
  - id: acme
    api-keys: [{ env: ACME_KEY }]
    allowed-regions: [eu]
policy:
  rules:
    - name: tenant-rule
      when: { tenants: [acme], tools: true }
      routes: [eu]
";

/// Files in a fresh directory under the system temp dir, removed on drop
/// (pass or fail).
struct Layout(TempDir);

impl Layout {
    fn new() -> Self {
        Self(temp_dir())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The standard layout: main file, `policy/rules.yaml`, `tenants.yaml`.
    fn standard() -> (Self, PathBuf) {
        let dir = Self::new();
        dir.write("policy/rules.yaml", RULES);
        dir.write("tenants.yaml", TENANTS);
        let main = dir.write("signalbox.yaml", MAIN);
        (dir, main)
    }
}

fn vars() -> HashMap<String, String> {
    [("MAIN_KEY", "main-key"), ("ACME_KEY", "acme-key")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn load(path: &Path) -> Config {
    load_file(path, &vars()).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(path: &Path) -> ConfigErrors {
    match load_file(path, &vars()) {
        Ok(_) => panic!("expected errors for {}", path.display()),
        Err(e) => e,
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(name).collect()
}

#[test]
fn entries_are_appended_main_first_then_includes_in_order() {
    let (dir, main) = Layout::standard();
    let config = load(&main);
    assert_eq!(
        names(&config.policy_rules, |r| &r.name),
        ["main-rule", "eu-only", "fallback", "tenant-rule"]
    );
    assert_eq!(
        names(&config.intents.rules, |r| &r.name),
        ["main-intent", "included-intent"]
    );
    assert_eq!(config.intents.default, "general");
    assert_eq!(names(&config.tenants, |t| &t.id), ["main-tenant", "acme"]);
    // The included tenant validates, and included rules use the main file's routes.
    assert_eq!(config.tenant("acme").unwrap().allowed_regions, ["eu"]);
    let routes = config.policy_rules[1].routes.as_ref().unwrap();
    assert_eq!(routes[0].as_str(), "eu");
    assert_eq!(
        config.includes,
        [
            dir.path().join("policy/rules.yaml"),
            dir.path().join("tenants.yaml")
        ]
    );

    // Reversing the include order reverses the included rules.
    let swapped = MAIN.replace(
        "  - policy/rules.yaml\n  - ${TENANTS_FILE:-tenants.yaml}\n",
        "  - tenants.yaml\n  - policy/rules.yaml\n",
    );
    let config = load(&dir.write("swapped.yaml", &swapped));
    assert_eq!(
        names(&config.policy_rules, |r| &r.name),
        ["main-rule", "tenant-rule", "eu-only", "fallback"]
    );
}

#[test]
fn sections_absent_from_the_main_file_are_created() {
    let dir = Layout::new();
    dir.write("policy/rules.yaml", RULES);
    dir.write("tenants.yaml", TENANTS);
    let start = MAIN.find("tenants:\n").unwrap();
    let end = MAIN.find("include:\n").unwrap();
    let mut main_text = MAIN.to_owned();
    main_text.replace_range(start..end, "");
    let config = load(&dir.write("main.yaml", &main_text));
    assert_eq!(names(&config.tenants, |t| &t.id), ["acme"]);
    assert_eq!(
        names(&config.policy_rules, |r| &r.name),
        ["eu-only", "fallback", "tenant-rule"]
    );
    assert_eq!(
        names(&config.intents.rules, |r| &r.name),
        ["included-intent"]
    );
}

#[test]
fn summary_lists_included_files() {
    let (dir, main) = Layout::standard();
    let summary = load(&main).summary();
    let second = summary.lines().nth(1).unwrap();
    assert_eq!(
        second,
        format!(
            "  includes {}, {}",
            dir.path().join("policy/rules.yaml").display(),
            dir.path().join("tenants.yaml").display()
        )
    );
    assert!(summary.contains("2 tenants"), "{summary}");
    assert!(
        summary.contains("4 policy rules, 2 intent rules"),
        "{summary}"
    );
}

#[test]
fn include_paths_are_interpolated() {
    let (dir, main) = Layout::standard();
    dir.write("other-tenants.yaml", &TENANTS.replace("acme", "initech"));
    let mut vars = vars();
    vars.insert("TENANTS_FILE".into(), "other-tenants.yaml".into());
    // `acme` is now unknown in policy/rules.yaml: merged paths, annotated with the file.
    let errs = load_file(&main, &vars).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "policy.rules[1].when.tenants[0]");
    assert_eq!(
        errs.0[0].message,
        format!(
            "unknown tenant \"acme\" (known: main-tenant, initech) (from {}, policy.rules[0])",
            dir.path().join("policy/rules.yaml").display()
        )
    );
}

#[test]
fn deserialisation_errors_name_the_included_file() {
    let (dir, main) = Layout::standard();
    dir.write(
        "tenants.yaml",
        &TENANTS.replace("allowed-regions", "alowed-regions"),
    );
    let errs = load_err(&main);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "tenants[1].alowed-regions");
    let message = &errs.0[0].message;
    assert!(
        message.contains("unknown field `alowed-regions`"),
        "{message}"
    );
    let from = format!(
        "(from {}, tenants[0])",
        dir.path().join("tenants.yaml").display()
    );
    assert!(message.ends_with(&from), "{message}");
}

#[test]
fn unknown_key_in_an_included_file_names_file_and_key() {
    let (dir, main) = Layout::standard();
    let rules = dir.write(
        "policy/rules.yaml",
        &format!("server: {{ listen: 0.0.0.0:1 }}\n{RULES}policy-x: []\n"),
    );
    dir.write("tenants.yaml", "intents:\n  default: other\n");
    let errs = load_err(&main);
    let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let allowed = "providers, routes, aliases, tenants, intents.rules and policy.rules";
    assert_eq!(
        lines,
        [
            format!(
                "include[0]: {}: unknown key server (an included file may only add {allowed})",
                rules.display()
            ),
            format!(
                "include[0]: {}: unknown key policy-x (an included file may only add {allowed})",
                rules.display()
            ),
            format!(
                "include[1]: {}: unknown key intents.default (an included file may only add {allowed})",
                dir.path().join("tenants.yaml").display()
            ),
        ]
    );
}

#[test]
fn missing_included_file_is_an_error_at_its_entry() {
    let dir = Layout::new();
    dir.write("tenants.yaml", TENANTS);
    let main = dir.write("signalbox.yaml", MAIN);
    let errs = load_err(&main);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "include[0]");
    let resolved = dir.path().join("policy/rules.yaml").display().to_string();
    let message = &errs.0[0].message;
    assert!(
        message.starts_with(&format!("{resolved}: cannot read: ")),
        "{message}"
    );
}

#[test]
fn nested_include_is_an_error() {
    let (dir, main) = Layout::standard();
    let tenants = dir.write("tenants.yaml", &format!("{TENANTS}include: [more.yaml]\n"));
    dir.write("more.yaml", "tenants: []\n");
    let errs = load_err(&main);
    assert_eq!(
        errs.to_string(),
        format!(
            "include[1]: {}: nested include: an included file may not include other files",
            tenants.display()
        )
    );
}

#[test]
fn syntax_and_interpolation_errors_name_the_included_file() {
    let (dir, main) = Layout::standard();
    let rules = dir.write("policy/rules.yaml", "policy:\n  rules: [unclosed\n");
    let errs = load_err(&main);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "include[0]");
    let message = &errs.0[0].message;
    let prefix = format!("{}: YAML syntax error", rules.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(message.contains("line"), "{message}");

    dir.write("policy/rules.yaml", RULES);
    let tenants = dir.write(
        "tenants.yaml",
        &TENANTS
            .replace("acme-key", "x")
            .replace("id: acme", "id: ${NOPE}"),
    );
    let errs = load_err(&main);
    assert_eq!(
        errs.to_string(),
        format!(
            "include[1]: {}: tenants[0].id: environment variable NOPE is not set",
            tenants.display()
        )
    );
}

#[test]
fn version_covers_included_files() {
    let (dir, main) = Layout::standard();
    let before = load(&main).version;
    assert_eq!(load(&main).version, before);
    dir.write(
        "policy/rules.yaml",
        &RULES.replace("routes: [us, eu]", "routes: [eu, us]"),
    );
    let after = load(&main).version;
    assert_ne!(after, before);

    // Only the merged content counts: the same entries written in the main file
    // instead of through `include` give the same version.
    let inline = format!("{}{}", &MAIN[..MAIN.find("include:\n").unwrap()], "",);
    let inline = inline
        .replace(
            "      routes: [us]\n",
            "      routes: [us]\n    - name: eu-only\n      when: { tenants: [acme] }\n      routes: [eu]\n    - name: fallback\n      routes: [eu, us]\n    - name: tenant-rule\n      when: { tenants: [acme], tools: true }\n      routes: [eu]\n",
        )
        .replace(
            "      intent: coding\n",
            "      intent: coding\n    - name: included-intent\n      when: { tools: true }\n      intent: agent\n",
        )
        .replace(
            "    api-keys: [{ env: MAIN_KEY }]\n",
            "    api-keys: [{ env: MAIN_KEY }]\n  - id: acme\n    api-keys: [{ env: ACME_KEY }]\n    allowed-regions: [eu]\n",
        );
    let inline = load(&dir.write("inline.yaml", &inline));
    assert!(inline.includes.is_empty());
    assert_eq!(inline.version, after);
}

#[test]
fn load_str_rejects_include() {
    let errs = load_str(MAIN, "<embedded>", &vars()).unwrap_err();
    assert_eq!(
        errs.to_string(),
        "include: include needs a configuration file (relative paths resolve against it)"
    );
}

#[test]
fn include_must_be_a_list_of_paths() {
    let dir = Layout::new();
    let bad = MAIN.replace("  - policy/rules.yaml\n", "  - ''\n  - { file: x }\n");
    let errs = load_err(&dir.write("a.yaml", &bad));
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["include[0]", "include[1]", "include[2]"], "{errs}");
    assert_eq!(errs.0[0].message, "must be a non-empty file path");

    let start = MAIN.find("include:\n").unwrap();
    let scalar = format!("{}include: tenants.yaml\n", &MAIN[..start]);
    let errs = load_err(&dir.write("b.yaml", &scalar));
    assert_eq!(errs.to_string(), "include: must be a list of file paths");

    // An empty included file adds nothing.
    dir.write("empty.yaml", "# nothing yet\n");
    let empty = format!("{}include: [empty.yaml]\n", &MAIN[..start]);
    let config = load(&dir.write("c.yaml", &empty));
    assert_eq!(config.policy_rules.len(), 1);
    assert_eq!(config.includes, [dir.path().join("empty.yaml")]);
}

#[test]
fn the_source_text_is_the_files_as_written_with_secrets_as_references() {
    let (dir, main) = Layout::standard();
    let config = load(&main);
    let text = &config.source_text;
    assert!(text.starts_with(&std::fs::read_to_string(&main).unwrap()));
    let marker = format!("# include: {}\n", dir.path().join("tenants.yaml").display());
    assert!(text.contains(&marker), "{text}");
    assert!(
        text.contains("{ env: ACME_KEY }"),
        "a reference, as written"
    );
    for secret in ["main-key", "acme-key"] {
        assert!(
            !text.contains(secret),
            "the value of a secret is never kept"
        );
    }
}

//! Suite files: read from YAML and JSONL, refused naming the field.

use super::*;

const GOOD: &str = r#"
suite: support
cases:
  - id: refund-window
    intent: refunds
    context: "Refunds are accepted within 30 days of purchase."
    messages: [{role: user, content: "How long do I have to return it?"}]
    expect: {facts: ["30 days"], quotes: ["within 30 days of purchase"]}
  - id: order-lookup
    intent: orders
    messages: [{role: user, content: "Where is order A17?"}]
    tools: [{name: lookup_order, parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}}]
    expect: {tool: {name: lookup_order, arguments: {order_id: "A17"}}}
"#;

#[test]
fn a_suite_is_read_from_yaml_and_from_jsonl() {
    let suite = Suite::from_yaml(GOOD).unwrap();
    assert_eq!(suite.cases.len(), 2);
    let jsonl = r#"
# one case a line
{"id": "a", "intent": "x", "messages": [{"role": "user", "content": "hi"}], "expect": {"refusal": false}}
{"id": "b", "intent": "x", "messages": [{"role": "user", "content": "hi"}], "expect": {"facts": ["hello"]}}
"#;
    let suite = Suite::from_jsonl("inline", jsonl).unwrap();
    assert_eq!((suite.suite.as_str(), suite.cases.len()), ("inline", 2));
}

#[test]
fn a_bad_suite_is_refused_naming_the_field() {
    for (yaml, path) in [
        (
            GOOD.replace("id: order-lookup", "id: refund-window"),
            "cases[1].id",
        ),
        (
            GOOD.replace(
                "name: lookup_order, arguments",
                "name: lookup_ordr, arguments",
            ),
            "cases[1].expect.tool.name",
        ),
        (
            GOOD.replace("facts: [\"30 days\"], ", "fact: [\"30 days\"], "),
            "cases[0].expect",
        ),
        (
            GOOD.replace("type: object, properties", "type: 12, properties"),
            "cases[1].tools[0].parameters",
        ),
        (
            GOOD.replace(
                "expect: {facts: [\"30 days\"], quotes: [\"within 30 days of purchase\"]}",
                "expect: {}",
            ),
            "cases[0].expect",
        ),
    ] {
        let err = Suite::from_yaml(&yaml).unwrap_err();
        let SuiteError::Invalid { path: got, .. } = &err else {
            panic!("{err}");
        };
        assert!(got.starts_with(path), "{got} for {path}: {err}");
    }
    let err = Suite::from_jsonl("x", "{\"id\": 1}").unwrap_err();
    assert!(err.to_string().starts_with("line 1"), "{err}");
}

#[test]
fn the_json_schema_names_every_expectation() {
    let schema = json_schema().to_string();
    for field in [
        "facts",
        "quotes",
        "must_not_contain",
        "refusal",
        "tool",
        "output_schema",
    ] {
        assert!(schema.contains(field), "{field}");
    }
}

#[test]
fn a_suite_declares_the_data_classes_its_cases_carry() {
    let yaml = GOOD.replace(
        "suite: support\n",
        "suite: support\ndata_classes: [email, customer-names]\n",
    );
    let suite = Suite::from_yaml(&yaml).unwrap();
    assert_eq!(suite.data_classes, ["email", "customer-names"]);
    assert!(Suite::from_yaml(GOOD).unwrap().data_classes.is_empty());
    let yaml = GOOD.replace(
        "suite: support\n",
        "suite: support\ndata_classes: [\" \"]\n",
    );
    let e = Suite::from_yaml(&yaml).unwrap_err().to_string();
    assert!(e.starts_with("data_classes[0]"), "{e}");
}

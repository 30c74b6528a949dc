//! JSON Schema of the configuration document, for editors and `signalbox schema`.

use crate::raw::RawConfig;

/// The JSON Schema (draft 2020-12) of the document after `${VAR}` interpolation.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawConfig).to_value()
}

#[cfg(test)]
mod tests {
    use super::json_schema;

    #[test]
    fn schema_describes_the_top_level_sections() {
        let schema = json_schema();
        assert_eq!(schema["title"], "Signalbox configuration");
        let properties = schema["properties"].as_object().unwrap();
        for key in [
            "include",
            "server",
            "regions",
            "providers",
            "routes",
            "aliases",
            "risk-tiers",
            "tenants",
            "anonymous-tenant",
            "admin",
            "decision-log",
            "intents",
            "policy",
        ] {
            assert!(properties.contains_key(key), "missing {key}");
        }
        assert_eq!(schema["additionalProperties"], false);
        let include = serde_json::to_string(&properties["include"]).unwrap();
        assert!(include.contains("\"array\""), "{include}");
        assert!(include.contains("\"string\""), "{include}");
        let required = schema["required"].as_array().unwrap();
        assert_eq!(required.len(), 3);
        let defs = schema["$defs"].as_object().unwrap();
        for def in [
            "Tenant",
            "PolicyRule",
            "RuleWhen",
            "IntentRule",
            "DecisionLog",
            "Admin",
        ] {
            assert!(defs.contains_key(def), "missing $defs.{def}");
        }
        let route = &defs["Route"]["properties"];
        assert!(route["max-risk-tier"].is_object());
        assert!(route["content-filter"].is_object());
        let steps = serde_json::to_string(&defs["DegradeStep"]).unwrap();
        assert!(steps.contains("human-escalation"), "{steps}");
        assert_eq!(defs["Tenant"]["additionalProperties"], false);
    }
}

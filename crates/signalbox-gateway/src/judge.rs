//! Owns judging live answers with `signalbox-eval`'s scorers, for shadow
//! traffic and canaries: what a request asked for that an answer can be
//! held to (its tools' argument schemas, its structured-output schema),
//! whether an answer met it, and how a shadow answer compares with the
//! served one (the served answer stands in for a suite case's
//! expectation: same refusal decision, same tool with equivalent
//! arguments, output valid against the request's schema).

use serde_json::{Map, Value};
use signalbox_core::ChatRequest;
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::score::{structured, tools};
use signalbox_eval::suite::ExpectTool;
use signalbox_eval::{Answer, Case, Expect, Verdict, score_case};

/// What a request asked for that its answer can be judged against.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Asked {
    /// Each offered tool's name and argument schema.
    tools: Vec<(String, Value)>,
    /// The `response_format` JSON Schema, when one was given.
    output_schema: Option<Value>,
}

impl Asked {
    /// Reads an OpenAI chat request's `tools` and `response_format`
    /// (clones only what is there).
    pub fn of(req: &ChatRequest) -> Self {
        let body = req.body();
        let tools = body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let f = t.get("function")?;
                let name = f.get("name")?.as_str()?.to_owned();
                let schema = f
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"type": "object"}));
                Some((name, schema))
            })
            .collect();
        let output_schema = body
            .get("response_format")
            .and_then(|f| f.get("json_schema"))
            .and_then(|s| s.get("schema"))
            .cloned();
        Self {
            tools,
            output_schema,
        }
    }

    /// Whether there is anything to judge an answer against.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.output_schema.is_none()
    }

    fn schema_of(&self, tool: &str) -> Option<Value> {
        self.tools
            .iter()
            .find(|(n, _)| n == tool)
            .map(|(_, s)| s.clone())
    }

    /// A suite case with nothing but `expect`, for the scorers.
    fn case(&self, expect: Expect) -> Case {
        Case {
            id: "live".into(),
            intent: String::new(),
            messages: Vec::new(),
            context: None,
            tools: Vec::new(),
            expect,
        }
    }

    /// Whether `answer`'s tool calls are offered tools whose arguments
    /// validate against their schemas, and its text against the output
    /// schema; `None` when there was nothing to judge.
    pub fn validity(&self, answer: &Answer) -> Option<bool> {
        if self.is_empty() {
            return None;
        }
        let case = self.case(Expect::default());
        let calls = answer.tool_calls.iter().map(|call| {
            let expect = ExpectTool {
                name: call.name.clone(),
                arguments: Map::new(),
                accept: Map::new(),
                schema: self.schema_of(&call.name),
            };
            // A tool nobody offered is as invalid as broken arguments.
            expect.schema.is_some() && tools::score(&case, &expect, answer).passed
        });
        let mut judged = false;
        let mut valid = true;
        for ok in calls {
            judged = true;
            valid &= ok;
        }
        if let Some(schema) = &self.output_schema
            && answer.tool_calls.is_empty()
        {
            judged = true;
            valid &= structured::score(schema, answer).passed;
        }
        judged.then_some(valid)
    }

    /// The shadow answer judged against the served one: refusal agreement,
    /// tool-call agreement (the served call's tool, its arguments as the
    /// expected values, the tool's schema), structured-output validity.
    pub fn compare(&self, served: &Answer, shadow: &Answer, refusals: &Detector) -> Vec<Verdict> {
        let tool = served.tool_calls.first().map(|call| ExpectTool {
            name: call.name.clone(),
            arguments: serde_json::from_str::<Map<String, Value>>(&call.arguments)
                .unwrap_or_default(),
            accept: Map::new(),
            schema: self.schema_of(&call.name),
        });
        let expect = Expect {
            refusal: Some(refusals.refuses(served)),
            tool,
            output_schema: self
                .output_schema
                .clone()
                .filter(|_| served.tool_calls.is_empty()),
            ..Expect::default()
        };
        score_case(&self.case(expect), shadow, refusals)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use signalbox_eval::{Scorer, ToolCall};

    use super::*;

    fn asked(extra: Value) -> Asked {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Asked::of(&ChatRequest::parse(body.to_string().as_bytes()).unwrap())
    }

    fn weather() -> Asked {
        asked(
            json!({"tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]}),
        )
    }

    fn call(name: &str, args: &str) -> Answer {
        Answer {
            tool_calls: vec![ToolCall {
                name: name.into(),
                arguments: args.into(),
            }],
            ..Answer::default()
        }
    }

    #[test]
    fn validity_holds_tool_arguments_to_their_schema() {
        let a = weather();
        assert_eq!(
            a.validity(&call("get_weather", r#"{"location":"Paris"}"#)),
            Some(true)
        );
        assert_eq!(
            a.validity(&call("get_weather", r#"{"location":42}"#)),
            Some(false)
        );
        assert_eq!(a.validity(&call("launch", "{}")), Some(false));
        assert_eq!(a.validity(&Answer::text("hello")), None);
        assert_eq!(asked(json!({})).validity(&Answer::text("x")), None);
    }

    #[test]
    fn structured_output_is_judged_against_the_requested_schema() {
        let a = asked(
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "n",
            "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}}}),
        );
        assert_eq!(a.validity(&Answer::text(r#"{"n": 1}"#)), Some(true));
        assert_eq!(a.validity(&Answer::text("one")), Some(false));
    }

    #[test]
    fn a_shadow_answer_agrees_or_not_with_the_served_one() {
        let a = weather();
        let d = Detector::new(None);
        let served = call("get_weather", r#"{"location":"Paris"}"#);
        let verdict = |shadow: &Answer, scorer: Scorer| {
            a.compare(&served, shadow, &d)
                .into_iter()
                .find(|v| v.scorer == scorer)
                .unwrap()
                .passed
        };
        let same = call("get_weather", r#"{"location": "Paris"}"#);
        assert!(verdict(&same, Scorer::ToolCall));
        assert!(verdict(&same, Scorer::Refusal));
        let wrong = call("get_weather", r#"{"location": 42}"#);
        assert!(!verdict(&wrong, Scorer::ToolCall));
        let refusal = Answer::text("I'm sorry, but I can't help with that.");
        assert!(!verdict(&refusal, Scorer::Refusal));
        assert!(!verdict(&refusal, Scorer::ToolCall));
    }
}

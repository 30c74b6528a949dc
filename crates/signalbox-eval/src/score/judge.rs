//! Owns the judge scorer: a model grades an answer against the case's
//! rubric. The judge is an alias the caller names, so its requests go
//! through the gateway's policy like any other (residency, privacy
//! boundary, failover): this module only writes the judge's request and
//! reads its grade; sending it is the runner's. The grade is a JSON object
//! `{"score": 0–1, "reason": "…"}` somewhere in the judge's text; an answer
//! without one is a failed verdict naming what the judge said.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Scorer, Verdict};
use crate::answer::Answer;
use crate::suite::Case;

/// Marks a judge request (the mock provider grades such requests).
pub const MARK: &str = "[signalbox-judge]";

/// What a case asks the judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectJudge {
    /// What a good answer does, in words, for the judge.
    pub rubric: String,
    /// The lowest acceptable grade, 0–1 (default 0.7).
    #[serde(default = "default_min")]
    pub min: f64,
}

fn default_min() -> f64 {
    0.7
}

/// The chat body asking `alias` to grade `answer` to `case` by `rubric`.
pub fn request(alias: &str, case: &Case, judge: &ExpectJudge, answer: &Answer) -> Value {
    let question = case
        .messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let calls: Vec<String> = answer.tool_calls.iter().map(|c| c.name.clone()).collect();
    let prompt = format!(
        "{MARK} Grade the answer below against the rubric. Reply with only a JSON object \
         {{\"score\": <0 to 1>, \"reason\": \"<one sentence>\"}}.\n\
         Rubric: {rubric}\n<question>{question}</question>\n<answer>{text}</answer>\n\
         <tool_calls>{calls}</tool_calls>",
        rubric = judge.rubric,
        text = answer.text,
        calls = calls.join(", "),
    );
    json!({
        "model": alias,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "You are a strict, fair grader of assistant answers."},
            {"role": "user", "content": prompt},
        ],
    })
}

/// The verdict from the judge's reply text.
pub fn verdict(judge: &ExpectJudge, reply: &str) -> Verdict {
    match grade(reply) {
        Some((score, reason)) => {
            let findings = if score < judge.min {
                vec![format!("judged {score:.2} < {:.2}: {reason}", judge.min)]
            } else {
                Vec::new()
            };
            Verdict::of(Scorer::Judge, score, findings)
        }
        None => {
            let said: String = reply.chars().take(120).collect();
            Verdict::of(
                Scorer::Judge,
                0.0,
                vec![format!("the judge gave no grade: {said:?}")],
            )
        }
    }
}

/// The verdict when the judge gave no answer at all (`why`).
pub fn unanswered(why: &str) -> Verdict {
    Verdict::of(
        Scorer::Judge,
        0.0,
        vec![format!("the judge did not answer: {why}")],
    )
}

/// `(score, reason)` from the first JSON object in `reply` with a numeric
/// `score` in 0–1.
fn grade(reply: &str) -> Option<(f64, String)> {
    let mut rest = reply;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let mut stream = serde_json::Deserializer::from_str(tail).into_iter::<Value>();
        if let Some(Ok(v)) = stream.next()
            && let Some(score) = v["score"].as_f64().filter(|s| (0.0..=1.0).contains(s))
        {
            let reason = v["reason"].as_str().unwrap_or_default().to_owned();
            return Some((score, reason));
        }
        rest = &tail[1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge() -> ExpectJudge {
        ExpectJudge {
            rubric: "Names the capital.".into(),
            min: 0.7,
        }
    }

    #[test]
    fn a_grade_is_read_from_the_judges_text() {
        let v = verdict(&judge(), r#"Sure. {"score": 0.9, "reason": "names Paris"}"#);
        assert!(v.passed, "{v:?}");
        let v = verdict(&judge(), r#"{"score": 0.2, "reason": "no capital named"}"#);
        assert!(!v.passed);
        assert!(v.findings[0].contains("judged 0.20 < 0.70: no capital named"));
    }

    #[test]
    fn a_reply_without_a_grade_fails_naming_what_the_judge_said() {
        for reply in ["I think it is fine.", r#"{"score": 7}"#, r#"{"grade": 1}"#] {
            let v = verdict(&judge(), reply);
            assert!(
                !v.passed && v.findings[0].contains("no grade"),
                "{reply}: {v:?}"
            );
        }
    }
}

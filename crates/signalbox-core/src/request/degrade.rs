//! The request rewrites later stages make: dropping tools and trimming old
//! turns (degradation steps; never the system prompt or last user turn), and
//! arbitrary body rewrites (the privacy layer). Each returns a new request.

use serde_json::Value;

use super::ChatRequest;

/// Keys that ask for tool use.
const TOOL_KEYS: [&str; 4] = ["tools", "tool_choice", "parallel_tool_calls", "functions"];

impl ChatRequest {
    /// The request without tools (`tools`, `tool_choice`, …), or `None` when
    /// it had none.
    pub fn without_tools(&self) -> Option<ChatRequest> {
        if !TOOL_KEYS.iter().any(|k| self.body.contains_key(*k)) {
            return None;
        }
        let mut body = self.body.clone();
        for k in TOOL_KEYS {
            body.remove(k);
        }
        Some(self.derived(body))
    }

    /// A copy of the request whose body `f` rewrote (e.g. the privacy layer
    /// tokenising what it found), or `f`'s error with nothing changed.
    pub fn rewritten<T, E>(
        &self,
        f: impl FnOnce(&mut Value) -> Result<T, E>,
    ) -> Result<(ChatRequest, T), E> {
        let mut body = Value::Object(self.body.clone());
        let out = f(&mut body)?;
        let body = match body {
            Value::Object(map) => map,
            _ => self.body.clone(),
        };
        Ok((self.derived(body), out))
    }

    /// Drops the oldest turns — never system messages or the last user
    /// message — until `fits` accepts the request. A dropped assistant turn
    /// takes its tool results with it. Returns `None` when nothing can be
    /// dropped or even the shortest form does not fit.
    ///
    /// `fits` must be monotone (dropping more never makes a request stop
    /// fitting, as with a token count against a window): the fewest turns to
    /// drop are found by bisection, so a request of thousands of messages
    /// costs a few dozen `fits` calls, not one per message (each of which
    /// estimates the whole request).
    pub fn reduce_context(&self, fits: impl Fn(&ChatRequest) -> bool) -> Option<ChatRequest> {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return None;
        };
        let turns = droppable_turns(messages)?;
        let without = |n: usize| {
            let dropped = turns.get(..n).unwrap_or(&turns).last().map_or(0, |t| t.end);
            let kept: Vec<Value> = messages
                .iter()
                .enumerate()
                .filter(|(i, m)| *i >= dropped || role(m) == "system")
                .map(|(_, m)| m.clone())
                .collect();
            let mut body = self.body.clone();
            body.insert("messages".into(), Value::Array(kept));
            self.derived(body)
        };
        // The smallest n in 1..=len whose request fits (fits(len) checked first).
        let (mut lo, mut hi) = (1, turns.len());
        let mut best = without(hi);
        if !fits(&best) {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let candidate = without(mid);
            if fits(&candidate) {
                hi = mid;
                best = candidate;
            } else {
                lo = mid + 1;
            }
        }
        Some(best)
    }
}

/// A message's role (`""` when it has none).
fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or_default()
}

/// The turns that may be dropped, oldest first, as message ranges: each
/// non-system message before the last user message, with the tool results
/// that follow it. `None` when there is no user message or nothing to drop.
/// Dropping `n` turns keeps the system messages before `turns[n-1].end`.
fn droppable_turns(messages: &[Value]) -> Option<Vec<std::ops::Range<usize>>> {
    let last_user = messages.iter().rposition(|m| role(m) == "user")?;
    let mut turns = Vec::new();
    let mut i = 0;
    while i < last_user {
        let start = i;
        i += 1;
        if messages.get(start).is_some_and(|m| role(m) == "system") {
            continue;
        }
        while i < last_user && messages.get(i).is_some_and(|m| role(m) == "tool") {
            i += 1;
        }
        turns.push(start..i);
    }
    (!turns.is_empty()).then_some(turns)
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;

    fn req(v: Value) -> ChatRequest {
        ChatRequest::parse(v.to_string().as_bytes()).unwrap()
    }

    fn count(r: &ChatRequest) -> usize {
        r.body()["messages"].as_array().map_or(0, Vec::len)
    }

    #[test]
    fn tools_are_removed_only_when_present() {
        let with = req(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto"}),
        );
        let without = with.without_tools().unwrap();
        assert!(
            !without.body().contains_key("tools") && !without.body().contains_key("tool_choice")
        );
        assert!(without.without_tools().is_none());
    }

    #[test]
    fn oldest_turns_go_first_keeping_system_and_last_user() {
        let r = req(json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "result"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"}
        ]}));
        // Fits once at most 3 messages remain.
        let trimmed = r.reduce_context(|c| count(c) <= 3).unwrap();
        let msgs = trimmed.body()["messages"].as_array().unwrap().clone();
        assert_eq!(msgs[0]["role"], "system");
        assert_eq!(msgs.last().unwrap()["content"], "three");
        assert!(
            msgs.iter().all(|m| m["role"] != "tool"),
            "orphan tool result kept: {msgs:?}"
        );
        assert_eq!(msgs.len(), 3);
    }

    #[test]
    fn nothing_to_drop_or_never_fits_is_none() {
        let r = req(json!({"model": "m", "messages": [
            {"role": "system", "content": "s"}, {"role": "user", "content": "only"}]}));
        assert!(r.reduce_context(|_| true).is_none());
        let long = req(json!({"model": "m", "messages": [
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}));
        assert!(long.reduce_context(|_| false).is_none());
        assert_eq!(count(&long.reduce_context(|c| count(c) == 1).unwrap()), 1);
    }

    #[test]
    fn thousands_of_turns_take_a_logarithmic_number_of_fit_checks() {
        let mut messages = vec![json!({"role": "system", "content": "s"})];
        for i in 0..4000 {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            messages.push(json!({"role": role, "content": format!("m{i}")}));
        }
        messages.push(json!({"role": "user", "content": "last"}));
        let r = req(json!({"model": "m", "messages": messages}));
        let calls = std::cell::Cell::new(0_usize);
        // Fits once at most 11 messages remain: the system prompt and ten.
        let trimmed = r
            .reduce_context(|c| {
                calls.set(calls.get() + 1);
                count(c) <= 11
            })
            .unwrap();
        assert_eq!(count(&trimmed), 11);
        let msgs = trimmed.body()["messages"].as_array().unwrap().clone();
        assert_eq!(msgs[0]["role"], "system");
        assert_eq!(msgs[1]["content"], "m3991");
        assert_eq!(msgs.last().unwrap()["content"], "last");
        // One check per message before; bisection needs about log2(4000).
        assert!(calls.get() <= 14, "{} fit checks", calls.get());
    }
}

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
        Some(ChatRequest {
            body,
            stream: self.stream,
        })
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
        Ok((
            ChatRequest {
                body,
                stream: self.stream,
            },
            out,
        ))
    }

    /// Drops the oldest turns — never system messages or the last user
    /// message — until `fits` accepts the request. A dropped assistant turn
    /// takes its tool results with it. Returns `None` when nothing can be
    /// dropped or even the shortest form does not fit.
    pub fn reduce_context(&self, fits: impl Fn(&ChatRequest) -> bool) -> Option<ChatRequest> {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return None;
        };
        let role = |m: &Value| {
            m.get("role")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let last_user = messages.iter().rposition(|m| role(m) == "user")?;
        let mut keep: Vec<bool> = vec![true; messages.len()];
        let mut candidate = self.clone();
        let mut dropped_any = false;
        for i in 0..last_user {
            if dropped_any && fits(&candidate) {
                return Some(candidate);
            }
            let Some(m) = messages.get(i) else { break };
            if role(m) == "system" || !keep.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Some(k) = keep.get_mut(i) {
                *k = false;
            }
            // Tool results answer the turn just dropped; they go with it.
            for (j, next) in messages.iter().enumerate().take(last_user).skip(i + 1) {
                if role(next) != "tool" {
                    break;
                }
                if let Some(k) = keep.get_mut(j) {
                    *k = false;
                }
            }
            dropped_any = true;
            let kept: Vec<Value> = messages
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(m, _)| m.clone())
                .collect();
            candidate.body.insert("messages".into(), Value::Array(kept));
        }
        (dropped_any && fits(&candidate)).then_some(candidate)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

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
}

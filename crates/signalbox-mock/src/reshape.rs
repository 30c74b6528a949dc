//! Owns reshaping a rendered answer the way some real servers write theirs:
//! a stream without the `[DONE]` marker, a stream with one broken event in
//! the middle, and JSON whose non-ASCII characters are escaped as `\uXXXX`
//! (Python's `json.dumps` default).

use bytes::Bytes;

use crate::faults::Faults;

const DONE: &[u8] = b"data: [DONE]\n\n";
/// An event no SSE decoder can read as JSON, in every format.
const MALFORMED: &[u8] = b"data: {\"choices\": [{\"delta\": \n\n";

/// Applies the stream faults that reshape events to a rendered stream.
pub(crate) fn events(faults: &Faults, mut events: Vec<Bytes>) -> Vec<Bytes> {
    if faults.omit_done && events.last().is_some_and(|e| e.as_ref() == DONE) {
        events.pop();
    }
    if faults.escape_non_ascii {
        events = events.iter().map(|e| escape_non_ascii(e)).collect();
    }
    if let Some(version) = &faults.model_version {
        events = events
            .iter()
            .map(|e| crate::quality::with_model_version(e, version))
            .collect();
    }
    if let Some(after) = faults.malformed_event_after {
        let at = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(events.len());
        events.insert(at, Bytes::from_static(MALFORMED));
    }
    events
}

/// Applies the faults that reshape a JSON body.
pub(crate) fn body(faults: &Faults, body: Bytes) -> Bytes {
    let body = if faults.corrupt_tool_arguments {
        corrupt_tool_arguments(&body)
    } else if faults.quality == Some(crate::QualityFault::InvalidToolJson) {
        cut_tool_arguments(&body)
    } else {
        body
    };
    let body = match &faults.model_version {
        Some(version) => crate::quality::with_model_version(&body, version),
        None => body,
    };
    if faults.escape_non_ascii {
        escape_non_ascii(&body)
    } else {
        body
    }
}

/// The canned tool arguments with a number where the location's string
/// belongs, as a JSON string (OpenAI, Cohere) or an object (Anthropic,
/// Gemini) writes them.
fn corrupt_tool_arguments(body: &[u8]) -> Bytes {
    let Ok(text) = std::str::from_utf8(body) else {
        return Bytes::copy_from_slice(body);
    };
    let text = text
        .replace(r#"\"location\":\"Paris\""#, r#"\"location\":42"#)
        .replace(r#""location":"Paris""#, r#""location":42"#);
    Bytes::from(text)
}

/// The canned tool arguments cut before their closing brace, where a
/// format carries them as a JSON string (OpenAI, Cohere): not JSON at all.
fn cut_tool_arguments(body: &[u8]) -> Bytes {
    let Ok(text) = std::str::from_utf8(body) else {
        return Bytes::copy_from_slice(body);
    };
    let text = text.replace(r#"\"location\":\"Paris\"}"#, r#"\"location\":\"Paris\""#);
    Bytes::from(text)
}

/// Gives an injected error body the faults' `error.code` and `error.type`;
/// a body without an `error` object is returned unchanged.
pub(crate) fn error_ids(faults: &Faults, body: Bytes) -> Bytes {
    if faults.error_code.is_none() && faults.error_type.is_none() {
        return body;
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let Some(error) = value.get_mut("error").and_then(|e| e.as_object_mut()) else {
        return body;
    };
    if let Some(code) = &faults.error_code {
        error.insert("code".to_owned(), code.clone().into());
    }
    if let Some(kind) = &faults.error_type {
        error.insert("type".to_owned(), kind.clone().into());
    }
    serde_json::to_vec(&value).map_or(body, Bytes::from)
}

/// Writes every non-ASCII character as `\uXXXX` (UTF-16 surrogate pairs
/// above U+FFFF). Outside JSON strings only ASCII occurs, so the whole text
/// can be rewritten; bytes that are not UTF-8 are left as they are.
fn escape_non_ascii(bytes: &[u8]) -> Bytes {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Bytes::copy_from_slice(bytes);
    };
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_python_json_dumps() {
        let escaped = escape_non_ascii("{\"a\":\"⟦EMAIL_1⟧ é 😀\"}".as_bytes());
        assert_eq!(
            &escaped[..],
            b"{\"a\":\"\\u27e6EMAIL_1\\u27e7 \\u00e9 \\ud83d\\ude00\"}"
        );
        let back: serde_json::Value = serde_json::from_slice(&escaped).unwrap_or_default();
        assert_eq!(back["a"], "⟦EMAIL_1⟧ é 😀");
    }

    #[test]
    fn drops_only_a_final_done_marker() {
        let faults = Faults {
            omit_done: true,
            ..Faults::default()
        };
        let evs = vec![
            Bytes::from_static(b"data: {}\n\n"),
            Bytes::from_static(DONE),
        ];
        assert_eq!(events(&faults, evs.clone()), evs[..1].to_vec());
        assert_eq!(events(&Faults::default(), evs.clone()), evs);
    }

    #[test]
    fn injected_errors_carry_the_given_code_and_type() {
        let faults = Faults {
            error_code: Some("content_filter".to_owned()),
            error_type: Some("invalid_request_error".to_owned()),
            ..Faults::default()
        };
        let body =
            Bytes::from_static(br#"{"error":{"message":"m","type":"server_error","code":null}}"#);
        let out: serde_json::Value =
            serde_json::from_slice(&error_ids(&faults, body.clone())).unwrap_or_default();
        assert_eq!(out["error"]["code"], "content_filter");
        assert_eq!(out["error"]["type"], "invalid_request_error");
        assert_eq!(out["error"]["message"], "m");
        assert_eq!(error_ids(&Faults::default(), body.clone()), body);
    }

    #[test]
    fn a_malformed_event_goes_in_after_the_given_count() {
        let faults = Faults {
            malformed_event_after: Some(1),
            ..Faults::default()
        };
        let evs = vec![
            Bytes::from_static(b"data: {}\n\n"),
            Bytes::from_static(DONE),
        ];
        let out = events(&faults, evs.clone());
        assert_eq!(out.len(), 3);
        assert_eq!((&out[0], &out[2]), (&evs[0], &evs[1]));
        assert!(serde_json::from_slice::<serde_json::Value>(&out[1][6..]).is_err());
    }
}

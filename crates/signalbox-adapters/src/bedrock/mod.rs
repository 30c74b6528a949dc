//! Owns the AWS Bedrock Converse / ConverseStream adapter: the JSON body,
//! SigV4 signing, and the event-stream framing of streamed answers.

mod eventstream;
mod format;
#[cfg(feature = "mock")]
pub mod mock;
mod render;
mod response;
mod sign;

pub use eventstream::{Frame, FrameDecoder, HeaderValue, encode_frame};
pub use format::{BedrockFormat, FORMAT};
pub use response::{parse_error, parse_response};
pub use sign::{AwsCredentials, sign_request};

pub(crate) use response::stream_error_class;

use std::time::SystemTime;

use crate::canonical::{ChatRequest, StreamEvent};
use crate::error::{StreamError, TranslateError};
use crate::note::Notes;
use crate::route::{Rendered, RouteSettings, UpstreamRequest, encode_segment, join_url, to_body};

/// The SigV4 service name of the Bedrock runtime.
pub const SERVICE: &str = "bedrock";

/// The Bedrock runtime in one region.
#[derive(Debug, Clone)]
pub struct BedrockAdapter {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint override (tests, VPC endpoints); default
    /// `https://bedrock-runtime.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    /// Signing credentials.
    pub credentials: AwsCredentials,
}

impl BedrockAdapter {
    /// Renders and signs `req` at `now`: `POST {endpoint}/model/{id}/converse`
    /// or `/converse-stream`.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render::body(req, route, &mut notes)?;
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", self.region));
        let action = if req.stream {
            "converse-stream"
        } else {
            "converse"
        };
        let path = format!("model/{}/{action}", encode_segment(&route.upstream_model));
        let mut request =
            UpstreamRequest::post_json(join_url(&endpoint, &path), to_body(&body)?, req.stream);
        if req.stream {
            request.header("accept", "application/vnd.amazon.eventstream")?;
        }
        sign_request(&mut request, &self.credentials, &self.region, SERVICE, now)?;
        Ok(Rendered {
            request,
            notes: notes.0,
        })
    }
}

/// Decodes a ConverseStream body: event-stream frames into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    frames: FrameDecoder,
    events: response::FrameEvents,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses messages longer than `max` bytes (call before the first bytes).
    pub fn limit_message_bytes(&mut self, max: usize) {
        self.frames = FrameDecoder::with_max_message_bytes(max);
    }

    /// Feeds received bytes; returns the events of every frame they complete.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        self.frames.push(bytes);
        let mut out = Vec::new();
        while let Some(frame) = self.frames.next_frame()? {
            out.extend(self.events.on_frame(&frame)?);
        }
        Ok(out)
    }

    /// Checks the end of the stream: leftover bytes mean it was cut mid-frame.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        match self.frames.pending_len() {
            0 => Ok(()),
            n => Err(StreamError::Frame(format!(
                "stream ended inside a frame ({n} bytes)"
            ))),
        }
    }
}

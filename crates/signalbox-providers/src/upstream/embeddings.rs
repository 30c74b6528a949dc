//! Owns an embeddings request's trip to one route: rendering it as the
//! route's batches ([`HttpUpstream::prepare`] hands embeddings requests
//! here), sending the batches one after another, and reassembling their
//! vectors in input order with usage summed. The batches are one attempt:
//! a failed batch fails the attempt, and failover sends the whole request
//! to the next route (of the same embedding space), so no answer ever
//! mixes vectors of two routes.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Uri};
use signalbox_adapters::embeddings::{self, EmbeddingAnswer, Encoding};
use signalbox_adapters::{EmbeddingsBody, RouteSettings};
use signalbox_core::request::WireFormat;
use signalbox_core::{ChatRequest, OutcomeClass};

use super::{
    CallContext, ChatJson, HttpUpstream, MAX_RESPONSE_BYTES, PrepareError, Prepared, parse_uri,
    prepare_error,
};
use crate::classify::UpstreamError;
use crate::client;

/// An embeddings request rendered for one route: its batches in order.
#[derive(Debug)]
pub(crate) struct EmbedPlan {
    batches: Vec<Batch>,
    encoding: Encoding,
    /// Names the answer when the provider does not.
    model: String,
    /// Every vector's length.
    dimensions: usize,
}

#[derive(Debug)]
struct Batch {
    body: Bytes,
    /// The batch's URL and the adapter's headers; `None`: the untranslated
    /// OpenAI-compatible `{base}/embeddings` with the provider's headers.
    native: Option<(Uri, HeaderMap)>,
    inputs: usize,
}

impl HttpUpstream {
    /// Renders an embeddings request as the route's batches. A chat route
    /// (no embedding record) or a kind without an embeddings API cannot
    /// carry it; nor can an embedding route carry a chat request.
    pub(super) fn prepare_embeddings(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Prepared, PrepareError> {
        let Some(spec) = route.embedding else {
            return Err(PrepareError(
                "the route serves chat, not embeddings".to_owned(),
            ));
        };
        let body = req.body();
        let inputs = embeddings::inputs(body);
        let max_batch = spec.max_batch.max(1) as usize;
        let runs: Vec<Option<&[&serde_json::Value]>> = if inputs.len() <= max_batch {
            vec![None]
        } else {
            inputs.chunks(max_batch).map(Some).collect()
        };
        let mut batches = Vec::with_capacity(runs.len());
        for run in runs {
            let batch = EmbeddingsBody { body, batch: run };
            let count = run.map_or(inputs.len(), <[_]>::len);
            batches.push(self.render_batch(&batch, route, count)?);
        }
        let plan = EmbedPlan {
            batches,
            encoding: Encoding::of(body),
            model: route.upstream_model.clone(),
            dimensions: spec.dimensions as usize,
        };
        let mut prepared = Prepared::forwarded(Bytes::new(), false);
        prepared.client = WireFormat::Embeddings;
        prepared.format = WireFormat::Embeddings;
        prepared.embedding = Some(Arc::new(plan));
        Ok(prepared)
    }

    fn render_batch(
        &self,
        batch: &EmbeddingsBody<'_>,
        route: &RouteSettings,
        inputs: usize,
    ) -> Result<Batch, PrepareError> {
        let Some(adapter) = &self.adapter else {
            let body = embeddings::openai_body(batch, &route.upstream_model);
            return Ok(Batch {
                body: Bytes::from(body),
                native: Some((self.embeddings_url.clone(), HeaderMap::new())),
                inputs,
            });
        };
        let now = signalbox_core::clock::system_now();
        let Some(rendered) = adapter.render_embeddings(batch, route, now) else {
            return Err(PrepareError(format!(
                "{} routes serve no embeddings",
                adapter.name()
            )));
        };
        let request = rendered.map_err(prepare_error)?;
        let url = parse_uri(&request.url)
            .map_err(|e| PrepareError(format!("invalid upstream URL: {e}")))?;
        Ok(Batch {
            body: Bytes::from(request.body),
            native: Some((url, request.headers)),
            inputs,
        })
    }

    /// Sends every batch in order and answers with the client's list.
    pub async fn call_embeddings(
        &self,
        prepared: &Prepared,
        call: &CallContext<'_>,
    ) -> Result<ChatJson, UpstreamError> {
        let Some(plan) = &prepared.embedding else {
            return Err(UpstreamError::new(
                OutcomeClass::BadResponse,
                "not an embeddings request".to_owned(),
            ));
        };
        let mut parts: Vec<EmbeddingAnswer> = Vec::with_capacity(plan.batches.len());
        for batch in &plan.batches {
            let mut one = Prepared::forwarded(batch.body.clone(), false);
            one.native.clone_from(&batch.native);
            let head = self.send(&one, call).await?;
            let body = client::read_limited(
                head.body,
                MAX_RESPONSE_BYTES,
                head.deadline,
                self.timeouts.total,
            )
            .await
            .map_err(|e| self.scrubber.error(e))?;
            let read = match &self.adapter {
                Some(adapter) => adapter.read_embeddings(&body, batch.inputs),
                None => embeddings::read_answer(&body, batch.inputs),
            };
            let read = read.and_then(|part| {
                embeddings::check_dimensions(&part, plan.dimensions).map(|()| part)
            });
            let part = read.map_err(|e| {
                self.scrubber.error(UpstreamError::new(
                    OutcomeClass::BadResponse,
                    format!("upstream answered 2xx with an unreadable embeddings list: {e}"),
                ))
            })?;
            parts.push(part);
        }
        let (body, usage) = embeddings::merge(parts, plan.encoding, &plan.model);
        Ok(ChatJson {
            body: Bytes::from(body),
            usage: Some(usage),
            format: WireFormat::Embeddings,
            model: super::AnswerModel::Unknown,
        })
    }
}

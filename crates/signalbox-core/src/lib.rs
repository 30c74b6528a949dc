//! Owns the types every pipeline stage shares: route and provider ids, the
//! canonical chat request, upstream outcome classes, attempt records, the
//! privacy spec as configured, the endpoint kinds routes serve, the operator-action model, the names of
//! headers and metrics, and the one wall clock. Nothing here does I/O.

pub mod attempt;
pub mod canonical;
pub mod clock;
pub mod decision;
pub mod endpoint;
pub mod headers;
pub mod ids;
pub mod metric_names;
pub mod operator;
pub mod outcome;
pub mod privacy_spec;
pub mod provider_kind;
pub mod quirks;
pub mod request;
pub mod secret;
pub mod usage;

pub use attempt::{AttemptRecord, ProviderErrorCode};
pub use decision::{
    CandidateRecord, ContinuedRecord, DecisionRecord, DemotionKind, DemotionRecord, ReorderRecord,
    RuleRecord, SignalRecord, SignalSource, SkipKind, SkipRecord, TranslationRecord, Verdict,
};
pub use endpoint::EndpointKind;
pub use ids::{AliasName, ProviderName, RouteId, RouteIdx};
pub use outcome::{ErrorSource, OutcomeClass};
pub use provider_kind::{KindSettings, ProviderKind};
pub use quirks::{MaxTokensField, OpenAiQuirks};
pub use request::{ChatRequest, RequestError, WireFormat};
pub use secret::Secret;
pub use usage::Usage;

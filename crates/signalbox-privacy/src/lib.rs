//! Owns the privacy boundary: finding sensitive data in what a request
//! would send to a provider, redacting or tokenising it (or refusing the
//! request), and restoring tokens in the answer, whole or streamed.
//!
//! The flow for one request:
//! 1. at config load, `PrivacyProfile::compile(&spec)` for each boundary;
//! 2. `load_table(vault, scope)` gets the session's `TokenTable`;
//! 3. `profile.protect_chat_request(&mut body, &mut table)` rewrites the
//!    body and returns a `ProtectReport` (counts only), or `Blocked`
//!    (`protect_embeddings_request` for an embeddings body: tokenising
//!    classes are redacted there, as a vector cannot be restored);
//! 4. `store_fresh(vault, scope, &mut table)` saves new tokens;
//! 5. the answer goes through `restore_chat_response`, or chunk by chunk
//!    through a `ChatStreamRestorer` sharing the table in an `Arc`.
//!
//! Nothing here logs, and no error, report or `Debug` output carries a
//! detected value. See `docs/privacy.md` for detectors, token format and
//! benchmark figures.

mod detect;
mod embeddings;
mod error;
mod profile;
mod report;
mod request;
mod restore;
mod stream;
mod token;
mod vault;

pub use detect::{ClassId, Finding};
pub use error::{Blocked, ProtectError, VaultError};
pub use profile::PrivacyProfile;
pub use report::{ActionCounts, ProtectReport, RestoreStats};
pub use restore::{Escape, restore_chat_response, restore_text};
/// The spec as configured is plain data in `signalbox-core`, so the config
/// crate can hold and check it without depending on this one.
pub use signalbox_core::privacy_spec::{
    Action, CustomPatternSpec, DataClass, DictionarySpec, EntropySpec, NationalIdPattern,
    NationalIdSpec, PrivacySpec, SecretSpec, SpecError,
};
pub use stream::{ChatStreamRestorer, StreamRestorer};
pub use token::{
    MAX_TOKEN_LEN, TOKEN_CLOSE, TOKEN_OPEN, TokenEntry, TokenTable, may_contain_token,
};
pub use vault::{
    Clock, InMemoryVault, TokenVault, VaultFuture, VaultScope, load_table, store_fresh,
};

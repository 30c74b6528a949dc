//! Owns the privacy vocabulary shared by every stage: the built-in data
//! classes and the actions a profile may take on them.

use serde::{Deserialize, Serialize};

/// A built-in kind of sensitive data with its own detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataClass {
    /// E-mail addresses (`local@domain.tld`).
    Email,
    /// Telephone numbers in international (`+44 20 7946 0958`) or grouped national form.
    Phone,
    /// Payment card numbers (13–19 digits, Luhn-checked).
    Card,
    /// International bank account numbers (country length and mod-97 checked).
    Iban,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// National identifiers: US SSN built in, other countries by pattern.
    NationalId,
    /// API keys, access tokens, private keys and high-entropy strings.
    Secret,
}

impl DataClass {
    /// Every built-in class, in the priority order used to break ties.
    pub const ALL: [Self; 7] = [
        Self::Secret,
        Self::Card,
        Self::Iban,
        Self::NationalId,
        Self::Email,
        Self::Ip,
        Self::Phone,
    ];

    /// The label used in reports, errors and config (`national-id`).
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Card => "card",
            Self::Iban => "iban",
            Self::Ip => "ip",
            Self::NationalId => "national-id",
            Self::Secret => "secret",
        }
    }
}

/// What happens to a finding before the text crosses the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Replace with an irreversible placeholder such as `[REDACTED_EMAIL]`.
    Redact,
    /// Replace with a reversible token such as `⟦EMAIL_1⟧`, restored in the answer.
    Tokenise,
    /// Refuse the whole request, naming the class (never the value).
    Block,
    /// Leave the value as it is; it is still counted in the report.
    Allow,
}

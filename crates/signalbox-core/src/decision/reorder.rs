//! Owns the record of a request whose try order was changed without a
//! route being skipped: a route the quality loop warned about, moved after
//! the others for this request (it keeps its place for only its
//! `warn-weight` share of requests). Absent from almost every record: it
//! is written only when a route was actually moved, so the common record
//! is unchanged, and a record that has it is never routine for the
//! decision log (it keeps its whole explanation).

use serde::{Deserialize, Serialize};

/// Why a route was moved down the try order, as a type. Recorded as its
/// label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemotionKind {
    /// Its last quality run missed a warn bar (`warn-pass-rate`): it keeps
    /// its place for its `warn-weight` share of requests, and this request
    /// was not among them.
    QualityWarning,
    /// Recorded by a newer gateway with a kind this one does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl DemotionKind {
    /// The kind's name in records.
    pub fn label(self) -> &'static str {
        match self {
            Self::QualityWarning => "quality_warning",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for DemotionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One route moved down the try order, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemotionRecord {
    /// Route id.
    pub route: String,
    /// What moved it: what the gateway decides on (never the text).
    #[serde(default)]
    pub kind: DemotionKind,
    /// The evidence, for people (`quality warning: weather-tools tool-call
    /// 0.50 < 0.95`).
    pub reason: String,
    /// The share of requests for which the route keeps its place (its
    /// `warn-weight`), in (0, 1).
    pub share: f64,
}

impl std::fmt::Display for DemotionRecord {
    /// `us-large ranked lower (quality_warning): quality warning: … (it
    /// keeps its place for 25% of requests; this one was not among them)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ranked lower ({}): {} (it keeps its place for {}% of requests; this one was not among them)",
            self.route,
            self.kind,
            self.reason,
            (self.share * 100.0).round()
        )
    }
}

/// The routes moved down a request's try order, with the order they were
/// tried in (the record's `ranking` is the policy's order before them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReorderRecord {
    /// Each moved route, in the policy's order.
    pub demoted: Vec<DemotionRecord>,
    /// The order the round's routes were tried in, after the moves (and
    /// after health skips and stickiness).
    pub order: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demotion_says_which_route_why_and_the_share_it_keeps() {
        let d = DemotionRecord {
            route: "us-large".into(),
            kind: DemotionKind::QualityWarning,
            reason: "quality warning: weather-tools tool-call 0.50 < 0.95".into(),
            share: 0.25,
        };
        assert_eq!(
            d.to_string(),
            "us-large ranked lower (quality_warning): quality warning: weather-tools tool-call \
             0.50 < 0.95 (it keeps its place for 25% of requests; this one was not among them)"
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["kind"], "quality_warning");
        let back: DemotionRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
        let newer: DemotionRecord =
            serde_json::from_str(r#"{"route":"r","kind":"later","reason":"x","share":0.5}"#)
                .unwrap();
        assert_eq!(newer.kind, DemotionKind::Unknown);
    }
}

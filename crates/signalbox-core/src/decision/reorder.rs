//! Owns the record of a request whose try order was changed without a
//! route being skipped: a route the quality loop warned about, moved after
//! the others for this request (it keeps its place for only its
//! `warn-weight` share of requests), or a session moved off a warned route
//! it would otherwise have stuck to. Absent from almost every record: it
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
    /// The session's route was warned (for every request or for the
    /// request's intent): its weight for sessions is cut to its
    /// `warn-weight` share, and this session moved to another route of its
    /// group.
    SessionQualityWarning,
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
            Self::SessionQualityWarning => "session_quality_warning",
            Self::Unknown => "unknown",
        }
    }

    /// What happened to the route, for people: `ranked lower`, or `lost
    /// this session`.
    pub fn verb(self) -> &'static str {
        match self {
            Self::SessionQualityWarning => "lost this session",
            Self::QualityWarning | Self::Unknown => "ranked lower",
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
    /// `warn-weight`), in (0, 1); for a session, the share of its weight
    /// for sessions it keeps (with an intent's warning, times that).
    pub share: f64,
}

impl std::fmt::Display for DemotionRecord {
    /// `us-large ranked lower (quality_warning): quality warning: … (it
    /// keeps its place for 25% of requests; this one was not among them)`;
    /// for a session: `us-large lost this session (session_quality_warning):
    /// quality warning: … (it keeps 25% of its weight for sessions; this
    /// session moved to another route)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = (self.share * 100.0).round();
        let (route, kind, reason, verb) = (&self.route, self.kind, &self.reason, self.kind.verb());
        match self.kind {
            DemotionKind::SessionQualityWarning => write!(
                f,
                "{route} {verb} ({kind}): {reason} (it keeps {share}% of its weight for sessions; this session moved to another route)"
            ),
            DemotionKind::QualityWarning | DemotionKind::Unknown => write!(
                f,
                "{route} {verb} ({kind}): {reason} (it keeps its place for {share}% of requests; this one was not among them)"
            ),
        }
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

    #[test]
    fn a_session_moved_off_a_warned_route_says_so() {
        let d = DemotionRecord {
            route: "us-large".into(),
            kind: DemotionKind::SessionQualityWarning,
            reason: "quality warning: w tool-call 0.50 < 0.95 (for intent weather)".into(),
            share: 0.25,
        };
        assert_eq!(
            d.to_string(),
            "us-large lost this session (session_quality_warning): quality warning: w tool-call \
             0.50 < 0.95 (for intent weather) (it keeps 25% of its weight for sessions; this \
             session moved to another route)"
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["kind"], "session_quality_warning");
        assert_eq!(serde_json::from_value::<DemotionRecord>(v).unwrap(), d);
    }
}

//! Owns the scenarios shipped in `chaos/`, compiled into the binary so
//! `signalbox chaos list` and `signalbox chaos run NAME` work anywhere.

use std::path::Path;

use crate::scenario::{Scenario, ScenarioErrors};

/// A scenario file shipped with Signalbox.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// Its name (the file's stem).
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        /// Every shipped scenario, in the order `chaos list` shows them.
        pub const SHIPPED: &[Shipped] = &[
            $(Shipped { name: $name, text: include_str!(concat!("../../../chaos/", $name, ".yaml")) },)*
        ];
    };
}

shipped![
    "regional-outage",
    "quota-429-retry-after",
    "quota-429-no-retry-after",
    "quota-429-reset-header",
    "slow-but-up",
    "slow-first-token",
    "accepts-never-answers",
    "reset-before-headers",
    "error-500-once",
    "persistent-503",
    "flapping-primary",
    "mid-stream-cut",
    "mid-stream-stall",
    "malformed-event",
    "clean-end-without-marker",
    "total-outage",
    "tenant-surge",
    "config-reload-under-load",
    "content-filter",
    "context-length",
    "mid-stream-cut-continue",
    "anthropic-ingress",
    "redis-lost-and-restored",
];

impl Shipped {
    /// The shipped scenario of this name.
    pub fn find(name: &str) -> Option<Self> {
        SHIPPED.iter().copied().find(|s| s.name == name)
    }

    /// Parses it.
    pub fn scenario(self) -> Result<Scenario, ScenarioErrors> {
        let origin = format!("chaos/{}.yaml", self.name);
        Scenario::parse(self.text, &origin, Some(self.name), Path::new("chaos"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_is_valid() {
        for s in SHIPPED {
            if let Err(e) = s.scenario() {
                panic!("{e}");
            }
        }
    }

    #[test]
    fn the_list_matches_the_chaos_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../chaos");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".yaml").map(str::to_owned)
            })
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = SHIPPED.iter().map(|s| s.name.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "chaos/*.yaml and shipped! disagree");
    }
}

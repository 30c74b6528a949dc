//! Owns the bodies of one dispatch round: first the prompt variant for each
//! candidate's provider family (when the request uses a registered prompt
//! whose version has variants), then the privacy boundary of each
//! candidate's trust zone, applied to the body that route would get. The
//! result is one body per route, plus what the boundaries found and the
//! token table to restore the serving route's answer.

use std::sync::Arc;

use signalbox_core::{ChatRequest, SkipKind, SkipRecord};
use signalbox_privacy::TokenTable;

use crate::failover::Context;
use crate::privacy::{Protected, Who, protect};
use crate::prompt::PromptUse;

/// A round's request in each form its candidates need.
pub(crate) struct Round {
    /// Group 0 is the round's request itself (`None`); later groups are
    /// prompt variants, one per provider family that has one.
    groups: Vec<Group>,
    /// Per route index: its group.
    route_group: Vec<usize>,
    /// What the boundaries found and did (counts only), if any applied.
    pub report: Option<serde_json::Value>,
}

struct Group {
    family: Option<&'static str>,
    req: Option<ChatRequest>,
    protected: Option<Protected>,
}

/// Every candidate's route is blocked by its zone's boundary.
pub(crate) struct Blocked {
    pub zone: String,
    pub classes: Vec<String>,
}

impl Round {
    /// Builds the round's bodies; drops from `candidates` the routes whose
    /// zone blocks the request (each noted in `skipped`).
    pub(crate) async fn prepare(
        ctx: &Context<'_>,
        who: Who,
        session: Option<&str>,
        req: &ChatRequest,
        prompt: Option<&PromptUse>,
        candidates: &mut Vec<usize>,
        skipped: &mut Vec<SkipRecord>,
    ) -> Result<Self, Blocked> {
        let rt = ctx.runtime;
        let mut round = Round {
            groups: vec![Group {
                family: None,
                req: None,
                protected: None,
            }],
            route_group: vec![0; rt.routes.len()],
            report: None,
        };
        if let Some(prompt) = prompt {
            for &c in candidates.iter() {
                let Some(target) = rt.routes.get(c) else {
                    continue;
                };
                let family = target.upstream.kind().family();
                let group = match round.groups.iter().position(|g| g.family == Some(family)) {
                    Some(g) => g,
                    None => match prompt.for_family(&rt.config, family, req) {
                        Some(variant) => {
                            round.groups.push(Group {
                                family: Some(family),
                                req: Some(variant),
                                protected: None,
                            });
                            round.groups.len() - 1
                        }
                        None => 0,
                    },
                };
                if let Some(slot) = round.route_group.get_mut(c) {
                    *slot = group;
                }
            }
        }
        let privacy = &rt.privacy;
        if !privacy.applies(who, candidates) {
            return Ok(round);
        }
        for (g, group) in round.groups.iter_mut().enumerate() {
            let members: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&c| round.route_group.get(c) == Some(&g))
                .collect();
            if members.is_empty() {
                continue;
            }
            let body = group.req.as_ref().unwrap_or(req);
            let p = protect(
                privacy,
                ctx.state.vault.as_ref(),
                who,
                ctx.tenant_id,
                session,
                body,
                &members,
            )
            .await;
            // Variants differ only in their system prompt: the first
            // group's findings stand for the round.
            if round.report.is_none() {
                round.report = Some(p.report.clone());
            }
            group.protected = Some(p);
        }
        let mut first_block = None;
        candidates.retain(|&c| {
            let g = round.route_group.get(c).copied().unwrap_or(0);
            let Some(p) = round.groups.get(g).and_then(|g| g.protected.as_ref()) else {
                return true;
            };
            let blocked = p.blocks(c, privacy);
            if blocked {
                if first_block.is_none() {
                    first_block = p.blocked.first().cloned();
                }
                if let Some(r) = rt.routes.get(c) {
                    skipped.push(SkipRecord::new(
                        r.id.to_string(),
                        SkipKind::PrivacyBlocked,
                        "privacy boundary of its zone blocks this request",
                    ));
                }
            }
            !blocked
        });
        match first_block {
            // A block is the policy's answer, never a reason to degrade.
            Some((zone, classes)) if candidates.is_empty() => Err(Blocked { zone, classes }),
            _ => Ok(round),
        }
    }

    /// The body for each route (`None`: send the round's request as it is).
    pub(crate) fn bodies(&self, ctx: &Context<'_>) -> Vec<Option<&ChatRequest>> {
        if self.groups.len() == 1 && self.groups[0].protected.is_none() {
            return Vec::new();
        }
        let privacy = &ctx.runtime.privacy;
        (0..ctx.runtime.routes.len())
            .map(|i| {
                let group = self
                    .groups
                    .get(self.route_group.get(i).copied().unwrap_or(0))?;
                group
                    .protected
                    .as_ref()
                    .and_then(|p| p.for_route(i, privacy))
                    .or(group.req.as_ref())
            })
            .collect()
    }

    /// The token table of `route`'s zone, to restore its answer.
    pub(crate) fn table_for(&self, ctx: &Context<'_>, route: usize) -> Option<Arc<TokenTable>> {
        let group = self
            .groups
            .get(self.route_group.get(route).copied().unwrap_or(0))?;
        group
            .protected
            .as_ref()?
            .table_for(route, &ctx.runtime.privacy)
    }
}

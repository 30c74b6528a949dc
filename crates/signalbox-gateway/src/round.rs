//! Owns the bodies of one dispatch round: first the prompt variant for each
//! candidate's provider family (when the request uses a registered prompt
//! whose version has variants), then the privacy boundary of each
//! candidate's trust zone, applied to the body that route would get. The
//! result is one body per route, plus what the boundaries found and the
//! token table to restore the serving route's answer. Last, routes past an
//! operator's throttle are dropped (`operator.rs`).

use std::sync::Arc;

use signalbox_core::{ChatRequest, RouteIdx, SkipKind, SkipRecord};
use signalbox_dispatch::{Blocked, Eligible, PrepareRound, RoundBodies, RoundRequest};
use signalbox_privacy::TokenTable;

use crate::failover::Context;
use crate::privacy::{PrivacyRuntime, Protected, Who, protect};

/// Prepares each dispatch round's bodies for one request.
pub(crate) struct Rounds<'a> {
    pub ctx: &'a Context<'a>,
    /// The embedding space every round keeps to (embeddings only).
    pub space: crate::embeddings::Space,
}

/// A round's request in each form its candidates need.
pub(crate) struct Round<'a> {
    privacy: &'a PrivacyRuntime,
    /// How many routes the table has (the length of `bodies`).
    routes: usize,
    /// Group 0 is the round's request itself (`None`); later groups are
    /// prompt variants, one per provider family that has one.
    groups: Vec<Group>,
    /// Per route index: its group.
    route_group: Vec<usize>,
    /// What the boundaries found and did (counts only), if any applied.
    report: Option<serde_json::Value>,
}

struct Group {
    family: Option<&'static str>,
    req: Option<ChatRequest>,
    protected: Option<Protected>,
}

impl<'a> PrepareRound for Rounds<'a> {
    type Round = Round<'a>;

    /// Builds the round's bodies, and the candidates whose zone does not
    /// block the request (each blocked one with its skip).
    async fn prepare<'b>(
        &'b self,
        round: RoundRequest<'b>,
        candidates: Vec<RouteIdx>,
    ) -> Result<(Round<'a>, Eligible), Blocked> {
        let rt = self.ctx.runtime;
        let mut out = Round {
            privacy: &rt.privacy,
            routes: rt.routes.len(),
            groups: vec![Group {
                family: None,
                req: None,
                protected: None,
            }],
            route_group: vec![0; rt.routes.len()],
            report: None,
        };
        // Never a fallback into another embedding space (`embeddings.rs`);
        // chat requests pay nothing for it.
        let (candidates, other_space) = if round.req.is_embeddings() {
            let kept = self.space.keep(rt, round.signals.alias, candidates);
            (kept.candidates, kept.skipped)
        } else {
            (candidates, Vec::new())
        };
        out.variants(self.ctx, round.req, &candidates);
        let who = Who {
            tenant: round.signals.tenant,
            rule: round.decision.rule,
        };
        let mut eligible = if rt.privacy.applies(who, &candidates) {
            let session = round.signals.session.as_deref();
            out.protect(self.ctx, who, session, round.req, &candidates)
                .await;
            out.drop_blocked(self.ctx, candidates)?
        } else {
            Eligible {
                candidates,
                skipped: Vec::new(),
            }
        };
        // Operator throttles on routes: counted for the route about to be
        // offered the request (`operator.rs`).
        let tokens = round.signals.prompt_tokens + round.signals.max_tokens.unwrap_or(0);
        let throttled = crate::operator::throttle_routes(
            self.ctx.state,
            rt,
            tokens,
            std::mem::take(&mut eligible.candidates),
        )
        .await;
        eligible.candidates = throttled.candidates;
        eligible.skipped.extend(throttled.skipped);
        eligible.skipped.extend(other_space);
        Ok((out, eligible))
    }
}

impl Round<'_> {
    fn group_of(&self, route: RouteIdx) -> usize {
        self.route_group.get(route.get()).copied().unwrap_or(0)
    }

    /// Groups the candidates by the prompt variant of their provider
    /// family (when the request uses a registered prompt).
    fn variants(&mut self, ctx: &Context<'_>, req: &ChatRequest, candidates: &[RouteIdx]) {
        let Some(prompt) = ctx.prompt else {
            return;
        };
        let rt = ctx.runtime;
        for &c in candidates {
            let Some(target) = rt.routes.get(c) else {
                continue;
            };
            let family = target.upstream.kind().family();
            let group = match self.groups.iter().position(|g| g.family == Some(family)) {
                Some(g) => g,
                None => match prompt.for_family(&rt.config, family, req) {
                    Some(variant) => {
                        self.groups.push(Group {
                            family: Some(family),
                            req: Some(variant),
                            protected: None,
                        });
                        self.groups.len() - 1
                    }
                    None => 0,
                },
            };
            if let Some(slot) = self.route_group.get_mut(c.get()) {
                *slot = group;
            }
        }
    }

    /// Applies each candidate zone's boundary to each group's body.
    async fn protect(
        &mut self,
        ctx: &Context<'_>,
        who: Who,
        session: Option<&str>,
        req: &ChatRequest,
        candidates: &[RouteIdx],
    ) {
        for g in 0..self.groups.len() {
            let members: Vec<RouteIdx> = candidates
                .iter()
                .copied()
                .filter(|&c| self.group_of(c) == g)
                .collect();
            let Some(group) = self.groups.get_mut(g).filter(|_| !members.is_empty()) else {
                continue;
            };
            let body = group.req.as_ref().unwrap_or(req);
            let p = protect(
                self.privacy,
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
            if self.report.is_none() {
                self.report = Some(p.report.clone());
            }
            group.protected = Some(p);
        }
    }

    /// The candidates whose zone does not block the request; `Err` when
    /// that leaves none.
    fn drop_blocked(
        &self,
        ctx: &Context<'_>,
        candidates: Vec<RouteIdx>,
    ) -> Result<Eligible, Blocked> {
        let mut first_block = None;
        let eligible = Eligible::retain(candidates, |c| {
            let g = self.groups.get(self.group_of(c))?;
            let p = g.protected.as_ref().filter(|p| p.blocks(c, self.privacy))?;
            if first_block.is_none() {
                first_block = p.blocked.first().cloned();
            }
            let id = ctx
                .runtime
                .routes
                .get(c)
                .map_or_else(|| c.to_string(), |r| r.id.to_string());
            Some(SkipRecord::new(
                id,
                SkipKind::PrivacyBlocked,
                "privacy boundary of its zone blocks this request",
            ))
        });
        match first_block {
            // A block is the policy's answer, never a reason to degrade.
            Some((zone, classes)) if eligible.candidates.is_empty() => {
                Err(Blocked { zone, classes })
            }
            _ => Ok(eligible),
        }
    }

    /// The token table of `route`'s zone, to restore its answer.
    pub(crate) fn table_for(&self, route: RouteIdx) -> Option<Arc<TokenTable>> {
        let group = self.groups.get(self.group_of(route))?;
        group.protected.as_ref()?.table_for(route, self.privacy)
    }
}

impl RoundBodies for Round<'_> {
    /// The body for each route (`None`: send the round's request as it is).
    fn bodies(&self) -> Vec<Option<&ChatRequest>> {
        if self.groups.len() == 1 && self.groups[0].protected.is_none() {
            return Vec::new();
        }
        (0..self.routes)
            .map(|i| {
                let route = RouteIdx::new(i);
                let group = self.groups.get(self.group_of(route))?;
                group
                    .protected
                    .as_ref()
                    .and_then(|p| p.for_route(route, self.privacy))
                    .or(group.req.as_ref())
            })
            .collect()
    }

    fn take_report(&mut self) -> Option<serde_json::Value> {
        self.report.take()
    }
}

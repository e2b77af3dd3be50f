//! `[app.deploy]`: how ECS rolls a new task definition out. `rolling` (the default) replaces
//! tasks in place behind the one target group; `canary` and `blue_green` are ECS's built-in
//! strategies: the new revision starts in a second ("green") target group and ECS moves the
//! production listener rule's weights itself (canary: `canary_percent` for
//! `canary_bake_minutes`, then all of it), waits `bake_minutes`, and rolls back when one of
//! `rollback_alarms` goes into ALARM meanwhile.

use schemars::JsonSchema;
use serde::Deserialize;

use super::super::data::int_in;
use super::super::Errors;
use crate::spec::Spanned;

/// The alarms a canary or blue/green deployment rolls back on by default (those the env has).
pub const DEFAULT_ROLLBACK_ALARMS: &[&str] = &["error-rate", "elb-5xx", "alb-latency-p95"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// `rolling` (tasks replaced in place, the circuit breaker rolls back), `canary` or
    /// `blue_green` (need `[edge]`: ECS shifts traffic between two target groups). Default
    /// `rolling`.
    #[schemars(with = "Option<crate::spec::schema::DeployStrategy>")]
    pub strategy: Option<Spanned<String>>,
    /// `canary` only: the share of traffic the new revision gets first (1–99; default 10).
    pub canary_percent: Option<Spanned<i64>>,
    /// `canary` only: how long it keeps that share before taking all traffic (0–1440; default 5).
    pub canary_bake_minutes: Option<Spanned<i64>>,
    /// `canary`/`blue_green` only: how long the old revision stays up once the new one takes all
    /// traffic (0–1440; default 5).
    pub bake_minutes: Option<Spanned<i64>>,
    /// `canary`/`blue_green` only: `[monitoring.alarms]` names (at most 10) whose ALARM rolls the
    /// deployment back (default those of `error-rate`, `elb-5xx`, `alb-latency-p95` the env has).
    pub rollback_alarms: Option<Spanned<Vec<Spanned<String>>>>,
}

/// ECS's deployment strategies, as the spec spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Rolling,
    Canary,
    BlueGreen,
}

impl Strategy {
    pub const ALL: &'static [(&'static str, Strategy)] = &[
        ("rolling", Strategy::Rolling),
        ("canary", Strategy::Canary),
        ("blue_green", Strategy::BlueGreen),
    ];

    /// ECS's `deploymentConfiguration.strategy` value.
    pub fn ecs(self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::Canary => "CANARY",
            Strategy::BlueGreen => "BLUE_GREEN",
        }
    }

    /// Whether ECS shifts traffic between two target groups (a green one and the production
    /// listener rule exist).
    pub fn shifts_traffic(self) -> bool {
        !matches!(self, Strategy::Rolling)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub strategy: Strategy,
    /// Percent of the traffic the new revision gets first (canary only).
    pub canary_percent: i64,
    /// Minutes the canary serves that share before taking all of it (canary only).
    pub canary_bake_minutes: i64,
    /// Minutes both revisions stay up once the new one takes all traffic, before the old
    /// one's tasks stop (canary and blue_green).
    pub bake_minutes: i64,
    /// rtech alarm names (`[monitoring.alarms]` keys) whose ALARM state rolls a deployment
    /// back; empty for rolling.
    pub rollback_alarms: Vec<String>,
}

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            strategy: Strategy::Rolling,
            canary_percent: 10,
            canary_bake_minutes: 5,
            bake_minutes: 5,
            rollback_alarms: vec![],
        }
    }
}

/// `[app.deploy]` on its own (ranges and names); what depends on other sections is
/// [`check_deploy`].
pub fn validate_deploy(errs: &mut Errors, raw: Option<&Spanned<RawDeploy>>) -> Deploy {
    let Some(raw) = raw else {
        return Deploy::default();
    };
    let r = raw.get_ref();
    let d = Deploy::default();
    let strategy = match &r.strategy {
        None => d.strategy,
        Some(s) => match Strategy::ALL.iter().find(|(n, _)| n == s.get_ref()) {
            Some((_, st)) => *st,
            None => {
                errs.push(
                    s.span(),
                    "app.deploy.strategy",
                    format!(
                        "{:?} is not a strategy: rolling, canary or blue_green",
                        s.get_ref()
                    ),
                );
                d.strategy
            }
        },
    };
    let canary_percent = int_in(
        errs,
        &r.canary_percent,
        "app.deploy.canary_percent",
        1..=99,
        d.canary_percent,
    );
    let canary_bake_minutes = int_in(
        errs,
        &r.canary_bake_minutes,
        "app.deploy.canary_bake_minutes",
        0..=1440,
        d.canary_bake_minutes,
    );
    let bake_minutes = int_in(
        errs,
        &r.bake_minutes,
        "app.deploy.bake_minutes",
        0..=1440,
        d.bake_minutes,
    );
    if strategy != Strategy::Canary {
        for (key, v) in [
            ("canary_percent", &r.canary_percent),
            ("canary_bake_minutes", &r.canary_bake_minutes),
        ] {
            if let Some(v) = v {
                errs.push(
                    v.span(),
                    &format!("app.deploy.{key}"),
                    "applies to strategy = \"canary\" only",
                );
            }
        }
    }
    if strategy == Strategy::Rolling {
        for (key, span) in [
            ("bake_minutes", r.bake_minutes.as_ref().map(Spanned::span)),
            (
                "rollback_alarms",
                r.rollback_alarms.as_ref().map(Spanned::span),
            ),
        ] {
            if let Some(span) = span {
                errs.push(
                    span,
                    &format!("app.deploy.{key}"),
                    "applies to strategy = \"canary\" or \"blue_green\" only (a rolling deployment has no bake and rolls back on its circuit breaker)",
                );
            }
        }
    }
    Deploy {
        strategy,
        canary_percent,
        canary_bake_minutes,
        bake_minutes,
        rollback_alarms: vec![],
    }
}

/// What `[app.deploy]` needs from the rest of the spec: a traffic-shifting strategy needs
/// `[edge]` (the production listener rule is on its HTTPS listener), and each rollback alarm
/// must be an alarm the env has (`alarms`: their names, sorted). Fills `deploy.rollback_alarms` (default: those of
/// [`DEFAULT_ROLLBACK_ALARMS`] the env has).
pub fn check_deploy(
    errs: &mut Errors,
    raw: Option<&Spanned<RawDeploy>>,
    app_span: std::ops::Range<usize>,
    deploy: &mut Deploy,
    has_edge: bool,
    alarms: &[String],
) {
    if !deploy.strategy.shifts_traffic() {
        return;
    }
    let r = raw.map(Spanned::get_ref);
    if !has_edge {
        let span = r
            .and_then(|r| r.strategy.as_ref())
            .map(Spanned::span)
            .unwrap_or(app_span);
        errs.push(
            span,
            "app.deploy.strategy",
            "canary and blue_green deployments need an [edge] section: ECS shifts traffic on its HTTPS listener's production rule",
        );
        return;
    }
    let exists = |name: &str| alarms.iter().any(|a| a == name);
    deploy.rollback_alarms = match r.and_then(|r| r.rollback_alarms.as_ref()) {
        None => DEFAULT_ROLLBACK_ALARMS
            .iter()
            .filter(|n| exists(n))
            .map(|n| n.to_string())
            .collect(),
        Some(list) => {
            let mut out: Vec<String> = vec![];
            for (i, n) in list.get_ref().iter().enumerate() {
                let name = n.get_ref();
                if !exists(name) {
                    let known: Vec<&str> = alarms.iter().map(String::as_str).collect();
                    errs.push(
                        n.span(),
                        &format!("app.deploy.rollback_alarms[{i}]"),
                        format!(
                            "{name:?} is not an alarm of this env ({})",
                            if known.is_empty() {
                                "it has none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                } else if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            if out.len() > 10 {
                errs.push(
                    list.span(),
                    "app.deploy.rollback_alarms",
                    format!("{} alarms: ECS takes at most 10", out.len()),
                );
            }
            out
        }
    };
}

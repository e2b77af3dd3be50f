//! The service's deployments, as ECS reports them (`rtech deploy`, `rtech deploy status`):
//! ListServiceDeployments (newest first by `createdAt`), DescribeServiceDeployments (its
//! lifecycle stage, status and rollback) and DescribeServiceRevisions (the task definition and
//! image a service revision runs). The reads here; what they mean (outcome, progress line,
//! the revision a rollback goes to) is pure and unit-tested.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ServiceDeployment, ServiceDeploymentStatus};
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use super::{app_name, cluster_name};
use crate::aws::{aws, AwsError};
use crate::reconcile::Ctx;

/// DescribeServiceDeployments and DescribeServiceRevisions take at most 20 ARNs.
const DESCRIBE_MAX: usize = 20;

/// One service deployment, its revisions resolved to task definitions and image tags.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Deployment {
    pub arn: String,
    /// ECS's status: PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_*…
    pub status: String,
    /// The lifecycle stage (SCALE_UP, BAKE_TIME, …) while one is reported.
    pub stage: Option<String>,
    pub reason: Option<String>,
    /// RFC 3339.
    pub started: Option<String>,
    pub finished: Option<String>,
    /// The task definition ARN the deployment goes to, and its image tag.
    pub task_definition: Option<String>,
    pub image_tag: Option<String>,
    /// The task definition it started from (none for the service's first).
    pub source_task_definition: Option<String>,
    /// The task definition a rollback went back to.
    pub rolled_back_to: Option<String>,
    /// The target revision's (running, requested) tasks.
    pub running: i32,
    pub requested: i32,
    /// Alarms that fired, and whether the circuit breaker tripped.
    pub alarms_fired: Vec<String>,
    pub circuit_breaker_tripped: bool,
    /// The deployment's strategy (`ROLLING`, `CANARY`, `BLUE_GREEN`) and bakes, as it was
    /// started with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_bake_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_minutes: Option<i64>,
    /// When the current lifecycle stage began (ECS's `updatedAt`), seconds since the epoch.
    #[serde(skip)]
    pub stage_since: Option<i64>,
}

/// The production listener rule's split, by colour (`blue`: the service's target group,
/// `green`: its alternate), in percent.
pub type Split = Vec<(String, i64)>;

/// `blue 90 % / green 10 %` (pure).
pub fn split_text(split: &[(String, i64)]) -> String {
    split
        .iter()
        .map(|(c, w)| format!("{c} {w} %"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `3m05s`, `42s` (pure).
pub fn minutes_text(secs: i64) -> String {
    let s = secs.max(0);
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// How a deployment ended (pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Running,
    Succeeded,
    RolledBack,
    /// Stopped, or a rollback that failed.
    Failed,
}

pub fn outcome(status: &str) -> Outcome {
    match status {
        "SUCCESSFUL" => Outcome::Succeeded,
        "ROLLBACK_SUCCESSFUL" => Outcome::RolledBack,
        "STOPPED" | "ROLLBACK_FAILED" => Outcome::Failed,
        _ => Outcome::Running,
    }
}

impl Deployment {
    pub fn outcome(&self) -> Outcome {
        outcome(&self.status)
    }

    /// Why it did not succeed: the alarm or the circuit breaker, else ECS's reason.
    pub fn why(&self) -> String {
        if let Some(a) = self.alarms_fired.first() {
            return format!("alarm {a} fired");
        }
        match &self.reason {
            Some(r) if !r.is_empty() => r.trim_end_matches('.').to_string(),
            _ if self.circuit_breaker_tripped => "the deployment circuit breaker tripped".into(),
            _ => format!("the deployment ended {}", self.status),
        }
    }

    /// Seconds left in the bake the deployment is in at `now` (epoch seconds), if it is in
    /// one (pure): the canary's bake during a CANARY deployment's production traffic shift,
    /// the bake time during BAKE_TIME.
    pub fn bake_left(&self, now: i64) -> Option<i64> {
        let minutes = match (self.stage.as_deref(), self.strategy.as_deref()) {
            (Some("PRODUCTION_TRAFFIC_SHIFT"), Some("CANARY")) => self.canary_bake_minutes?,
            (Some("BAKE_TIME"), _) => self.bake_minutes?,
            _ => return None,
        };
        Some((self.stage_since? + minutes * 60 - now).max(0))
    }

    /// The live progress line with the production rule's traffic split and, given `now`, the
    /// bake's time left (pure).
    pub fn progress_at(&self, split: &[(String, i64)], now: Option<i64>) -> String {
        let mut line = format!(
            "{} → {}: {}",
            self.source_task_definition
                .as_deref()
                .map(revision_name)
                .unwrap_or("(none)"),
            self.task_definition
                .as_deref()
                .map(revision_name)
                .unwrap_or("?"),
            self.status
        );
        if let Some(s) = &self.stage {
            line.push_str(&format!(", stage {s}"));
        }
        if !split.is_empty() {
            line.push_str(&format!(", traffic {}", split_text(split)));
        }
        if let Some(left) = now.and_then(|n| self.bake_left(n)) {
            line.push_str(&format!(", bake {} left", minutes_text(left)));
        }
        line.push_str(&format!(
            ", {}/{} tasks running",
            self.running, self.requested
        ));
        if !self.alarms_fired.is_empty() {
            line.push_str(&format!(", alarm {} fired", self.alarms_fired.join(", ")));
        }
        line
    }

    /// The live progress line: stage, status and the new revision's task counts.
    pub fn progress(&self) -> String {
        self.progress_at(&[], None)
    }
}

/// `arn:…:task-definition/rtech-dev-app:3` → `rtech-dev-app:3` (pure).
pub fn revision_name(td: &str) -> &str {
    td.rsplit('/').next().unwrap_or(td)
}

/// `repo/app:3f9c2ab` → `3f9c2ab`; a digest reference or none reads `None` (pure).
pub fn tag_of(image: &str) -> Option<String> {
    let name = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        return None;
    }
    name.split_once(':').map(|(_, t)| t.to_string())
}

/// The revision a rollback goes to (pure): the task definition of the newest successful
/// deployment, before the one of `current`, that went to another task definition.
/// `deployments` newest first.
pub fn rollback_target(current: Option<&str>, deployments: &[Deployment]) -> Option<String> {
    let current = current?;
    let mut seen_current = false;
    for d in deployments {
        let Some(td) = d.task_definition.as_deref() else {
            continue;
        };
        if d.outcome() != Outcome::Succeeded {
            continue;
        }
        if td == current {
            seen_current = true;
            continue;
        }
        if seen_current {
            return Some(td.to_string());
        }
    }
    None
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

/// A described deployment → `Deployment`, its revisions resolved through `revs` (revision
/// ARN → (task definition, image tag)) (pure).
pub fn deployment_of(
    d: &ServiceDeployment,
    revs: &BTreeMap<String, (String, Option<String>)>,
) -> Deployment {
    let target = d.target_service_revision();
    let target_rev = target.and_then(|t| t.arn()).and_then(|a| revs.get(a));
    let source = d
        .source_service_revisions()
        .first()
        .and_then(|s| s.arn())
        .and_then(|a| revs.get(a));
    let rollback = d
        .rollback()
        .and_then(|r| r.service_revision_arn())
        .and_then(|a| revs.get(a));
    Deployment {
        arn: d.service_deployment_arn().unwrap_or_default().to_string(),
        status: d
            .status()
            .map(ServiceDeploymentStatus::as_str)
            .unwrap_or("PENDING")
            .to_string(),
        stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
        reason: d
            .status_reason()
            .or_else(|| d.rollback().and_then(|r| r.reason()))
            .map(str::to_string),
        started: time(d.started_at().or(d.created_at())),
        finished: time(d.finished_at().or(d.stopped_at())),
        task_definition: target_rev.map(|r| r.0.clone()),
        image_tag: target_rev.and_then(|r| r.1.clone()),
        source_task_definition: source.map(|r| r.0.clone()),
        rolled_back_to: rollback.map(|r| r.0.clone()),
        running: target.map(|t| t.running_task_count()).unwrap_or(0),
        requested: target.map(|t| t.requested_task_count()).unwrap_or(0),
        alarms_fired: d
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
        circuit_breaker_tripped: d
            .deployment_circuit_breaker()
            .and_then(|c| c.status())
            .is_some_and(|s| s.as_str() == "TRIGGERED"),
        strategy: d
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|s| s.as_str().to_string()),
        canary_percent: d
            .deployment_configuration()
            .and_then(|c| c.canary_configuration())
            .and_then(|c| c.canary_percent())
            .map(|p| p.round() as i64),
        canary_bake_minutes: d
            .deployment_configuration()
            .and_then(|c| c.canary_configuration())
            .and_then(|c| c.canary_bake_time_in_minutes())
            .map(i64::from),
        bake_minutes: d
            .deployment_configuration()
            .and_then(|c| c.bake_time_in_minutes())
            .map(i64::from),
        stage_since: d.updated_at().map(|t| t.secs()),
    }
}

/// The production listener rule's weights by target group ARN (pure, from DescribeRules).
pub fn rule_weights(rule: &aws_sdk_elasticloadbalancingv2::types::Rule) -> Vec<(String, i64)> {
    rule.actions()
        .iter()
        .filter_map(|a| a.forward_config())
        .flat_map(|f| f.target_groups())
        .map(|t| {
            (
                t.target_group_arn().unwrap_or_default().to_string(),
                i64::from(t.weight().unwrap_or(1)),
            )
        })
        .collect()
}

/// The split by colour (pure): `blue` is the service's target group, `green` its alternate.
pub fn colour_split(weights: &[(String, i64)], blue: &str, green: &str) -> Split {
    let w = |arn: &str| {
        weights
            .iter()
            .find(|(a, _)| a == arn)
            .map(|(_, w)| *w)
            .unwrap_or(0)
    };
    vec![("blue".into(), w(blue)), ("green".into(), w(green))]
}

/// The service's production listener rule's split (empty when the service has none: a
/// rolling deployment): DescribeServices and DescribeRules.
pub async fn traffic(ctx: &Ctx) -> Result<Split, AwsError> {
    let Some(s) = super::service::describe(
        ctx,
        &cluster_name(&ctx.project, &ctx.env),
        &app_name(&ctx.project, &ctx.env),
    )
    .await?
    else {
        return Ok(vec![]);
    };
    let Some((blue, adv)) = s.load_balancers().iter().find_map(|l| {
        l.advanced_configuration()
            .map(|a| (l.target_group_arn().unwrap_or_default(), a))
    }) else {
        return Ok(vec![]);
    };
    let (Some(rule), Some(green)) = (
        adv.production_listener_rule(),
        adv.alternate_target_group_arn(),
    ) else {
        return Ok(vec![]);
    };
    let out = crate::reconcile::kit::found(
        ctx.clients
            .elbv2
            .describe_rules()
            .rule_arns(rule)
            .send()
            .await
            .map_err(aws("elbv2:DescribeRules")),
    )?;
    let weights = out
        .and_then(|o| o.rules().first().map(rule_weights))
        .unwrap_or_default();
    Ok(colour_split(&weights, blue, green))
}

/// The ARNs of the env's service deployments, newest first, at most `max`.
pub async fn list(ctx: &Ctx, max: usize) -> Result<Vec<String>, AwsError> {
    let cluster = cluster_name(&ctx.project, &ctx.env);
    let service = app_name(&ctx.project, &ctx.env);
    let mut found = vec![];
    let mut next: Option<String> = None;
    loop {
        let out = ctx
            .clients
            .ecs
            .list_service_deployments()
            .cluster(&cluster)
            .service(&service)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(aws("ecs:ListServiceDeployments"))?;
        for d in out.service_deployments() {
            if let Some(arn) = d.service_deployment_arn() {
                let at = d.created_at().map(|t| t.as_nanos()).unwrap_or_default();
                found.push((at, arn.to_string()));
            }
        }
        next = out.next_token().map(str::to_string);
        if next.is_none() || found.len() >= max {
            break;
        }
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.0));
    Ok(found.into_iter().take(max).map(|(_, a)| a).collect())
}

/// The deployments of these ARNs, in their order, with their revisions resolved.
pub async fn describe(ctx: &Ctx, arns: &[String]) -> Result<Vec<Deployment>, AwsError> {
    let mut described: Vec<ServiceDeployment> = vec![];
    for chunk in arns.chunks(DESCRIBE_MAX) {
        let out = ctx
            .clients
            .ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("ecs:DescribeServiceDeployments"))?;
        described.extend(out.service_deployments().iter().cloned());
    }
    let mut rev_arns: Vec<String> = vec![];
    for d in &described {
        let arns = d
            .source_service_revisions()
            .iter()
            .filter_map(|s| s.arn())
            .chain(d.target_service_revision().and_then(|t| t.arn()))
            .chain(d.rollback().and_then(|r| r.service_revision_arn()));
        for a in arns {
            if !rev_arns.iter().any(|x| x == a) {
                rev_arns.push(a.to_string());
            }
        }
    }
    let mut revs = BTreeMap::new();
    for chunk in rev_arns.chunks(DESCRIBE_MAX) {
        let out = ctx
            .clients
            .ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("ecs:DescribeServiceRevisions"))?;
        for r in out.service_revisions() {
            let (Some(arn), Some(td)) = (r.service_revision_arn(), r.task_definition()) else {
                continue;
            };
            let tag = r
                .container_images()
                .iter()
                .find(|i| i.container_name() == Some(super::CONTAINER))
                .or(r.container_images().first())
                .and_then(|i| i.image())
                .and_then(tag_of);
            revs.insert(arn.to_string(), (td.to_string(), tag));
        }
    }
    let mut out: Vec<Deployment> = described.iter().map(|d| deployment_of(d, &revs)).collect();
    out.sort_by_key(|d| arns.iter().position(|a| *a == d.arn));
    Ok(out)
}

/// The task definition the env's service runs now (None without a live service).
pub async fn current_task_definition(ctx: &Ctx) -> Result<Option<String>, AwsError> {
    super::service::current_task_definition(
        ctx,
        &cluster_name(&ctx.project, &ctx.env),
        &app_name(&ctx.project, &ctx.env),
    )
    .await
}

/// Roll back a running deployment: StopServiceDeployment with stop type ROLLBACK.
pub async fn stop_with_rollback(ctx: &Ctx, arn: &str) -> Result<(), AwsError> {
    ctx.clients
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map_err(aws("ecs:StopServiceDeployment"))?;
    Ok(())
}

/// Deploy an existing task definition revision again: UpdateService with that task
/// definition and nothing else.
pub async fn redeploy(ctx: &Ctx, task_definition: &str) -> Result<(), AwsError> {
    ctx.clients
        .ecs
        .update_service()
        .cluster(cluster_name(&ctx.project, &ctx.env))
        .service(app_name(&ctx.project, &ctx.env))
        .task_definition(task_definition)
        .send()
        .await
        .map_err(aws("ecs:UpdateService"))?;
    Ok(())
}

/// The task definition `rtech rollback --to` names (pure): a revision number of the env's
/// family, or an image tag a deployment went to (the newest such); without `to`, the revision
/// before the current one (`rollback_target`).
pub fn resolve_rollback(
    to: Option<&str>,
    family: &str,
    current: Option<&str>,
    deployments: &[Deployment],
) -> Result<String, String> {
    match to {
        None => rollback_target(current, deployments).ok_or_else(|| {
            "no earlier revision to roll back to: no successful deployment ran before the current one"
                .to_string()
        }),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(format!("{family}:{n}"))
        }
        Some(tag) => deployments
            .iter()
            .find(|d| d.image_tag.as_deref() == Some(tag) && d.task_definition.is_some())
            .and_then(|d| d.task_definition.clone())
            .ok_or_else(|| {
                format!("no deployment of image tag {tag} is known: name a revision number, or deploy the tag with rtech deploy")
            }),
    }
}

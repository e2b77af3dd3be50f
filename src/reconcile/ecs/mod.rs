//! ECS on Fargate: `ecs_cluster/main`, `ecs_task_definition/app` and `ecs_service/app` (all
//! three only when the spec has an `[app]` section).
//!
//! - The cluster `{project}-{env}`: Container Insights (`container_insights`, as AWS names the
//!   setting's value: `enabled` / `disabled`) and tags. Updated in place (UpdateCluster with
//!   the setting; TagResource / UntagResource).
//! - The task definition family `{project}-{env}-app` (taskdef/): one container `app`. The
//!   plan compares the revision in use: the one our service runs, else (no service yet) the
//!   newest ACTIVE one, normalised so that what AWS fills in (defaults, the order of
//!   environment and secrets, empty lists) never shows as a difference; its ARN and
//!   `revision` are the attributes (`rtech output`'s `task_definition_revision`). So a deploy
//!   the circuit breaker rolled back (the service runs N, N+1 is the newest) is never rolled
//!   out again by a later apply. Any difference but `tags` and `keep_revisions` makes a new
//!   revision (new ARN: the kind declares `new_attrs_on_update`): the newest ACTIVE revision
//!   when it is ours and already the definition wanted (a re-run of a rolled-back
//!   `--image-tag`, an apply interrupted between registering and updating the service),
//!   else a RegisterTaskDefinition. Then ACTIVE revisions beyond the newest
//!   `keep_revisions` (but the one in use) are deregistered and deleted
//!   (DeleteTaskDefinitions). The image is `image_repository:image_tag`: the tag is
//!   `--image-tag` when given, else the one in use (late-initialised), else the spec's.
//! - The service `{project}-{env}-app` (service/): Fargate in the private subnets with the
//!   `app` security group, behind `target_group/blue`, with the circuit breaker (rollback),
//!   100 % / 200 %. Created with a client token (an SDK retry of a create that succeeded is
//!   idempotent); updated in place with UpdateService (task definition, desired count,
//!   network, load balancers, grace period, deployment configuration); cluster and launch
//!   type force a replacement. After a change apply waits for the service to become stable
//!   (the SDK's services-stable waiter, bounded by `stable_timeout_seconds`, beside a 20 s
//!   watch that ends the wait as soon as one deployment runs all its tasks, COMPLETED, or
//!   fails it early; when the waiter ends first, until the rollout is no longer IN_PROGRESS)
//!   and reports a failed deployment with the service's latest events. The PRIMARY
//!   deployment's rollout state is the observed property `rollout` (`COMPLETED` /
//!   `IN_PROGRESS` / `FAILED`, COMPLETED when ECS reports none), and the service wants
//!   `COMPLETED`: a rollout an interrupted or timed-out apply left unfinished is an update of
//!   `rollout` alone in the next plan, whose apply sends no UpdateService and only waits the
//!   same way (a FAILED one fails it with the report; rtech starts no deployment by itself).
//!   A saved plan made during a rollout is stale once it has ended. A
//!   delete waits until the service is INACTIVE or gone (MISSING) by polling DescribeServices:
//!   the SDK's services-inactive waiter fails on MISSING. With `[app.scaling]` the desired
//!   count is the scaler's inside `[min, max]` (`Resource::late_clamped`).
//!
//! RegisterTaskDefinition, CreateService and UpdateService are retried for up to 60 s while
//! ECS says it cannot assume a role (`role_not_ready`): IAM roles created by the same apply
//! take seconds to propagate.
//!
//! Settings AWS cannot report are kept in tags and reported as properties: the task
//! definition's `keep_revisions` (`rtech:keep-revisions`) and the service's
//! `stable_timeout_seconds` (`rtech:stable-timeout`), so a saved plan or a destroy (which has
//! no spec) knows them.
//!
//! Observe: DescribeClusters (TAGS, SETTINGS), DescribeTaskDefinition (TAGS) by the family's
//! name alone (AWS answers its newest ACTIVE revision; ClientException "Unable to describe
//! task definition." when it has none) and DescribeServices (TAGS) at once; then the
//! revision the service runs when that is another (a rollback), beside the subnets' rtech ids
//! of a live service (from the tag index, so the list follows the spec's order): three calls
//! (four after a rollback), whatever the number of revisions. Only when neither is ours does
//! observe list the ACTIVE revisions (ListTaskDefinitions) and describe older ones (at most
//! ten) to find ours (taskdef/, ownership). Without ACTIVE revisions and without a task
//! definition in the spec (destroy), it lists INACTIVE ones, so that revisions of ours an
//! interrupted destroy left are deleted.

mod cluster;
pub mod deployments;
mod iam;
mod service;
mod taskdef;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::Client;

use crate::aws::AwsError;
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::progress::Task;
use crate::reconcile::kit;
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub use cluster::observe_cluster;
pub use service::observe_service;

pub const CLUSTER: &str = "ecs_cluster";
pub const TASK_DEFINITION: &str = "ecs_task_definition";
pub const SERVICE: &str = "ecs_service";

/// The one container of the task definition (and the load balancer's target).
pub const CONTAINER: &str = "app";

/// The task definition's `keep_revisions`, kept on its revisions.
pub const TAG_KEEP_REVISIONS: &str = "rtech:keep-revisions";
/// The service's `stable_timeout_seconds`, kept on the service.
pub const TAG_STABLE_TIMEOUT: &str = "rtech:stable-timeout";
/// Tags kept behind their own properties, out of the `tags` property.
const INTERNAL_TAGS: &[&str] = &[TAG_KEEP_REVISIONS, TAG_STABLE_TIMEOUT];

const KINDS: &[&dyn Kind] = &[
    &cluster::EcsCluster,
    &taskdef::EcsTaskDefinition,
    &service::EcsService,
];

pub fn cluster_id() -> ResourceId {
    ResourceId::new(CLUSTER, "main")
}

pub fn task_definition_id() -> ResourceId {
    ResourceId::new(TASK_DEFINITION, "app")
}

pub fn service_id() -> ResourceId {
    ResourceId::new(SERVICE, "app")
}

/// `{project}-{env}`.
pub fn cluster_name(project: &str, env: &str) -> String {
    format!("{project}-{env}")
}

/// `{project}-{env}-app`: the task definition family and the service.
pub fn app_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-app")
}

/// Spec → Desired (pure): nothing without an `[app]` section.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(app) = &spec.app else {
        return vec![];
    };
    vec![
        cluster::expand(spec, app),
        taskdef::expand(spec, app),
        service::expand(spec, app),
    ]
}

// ---------------------------------------------------------------------------------------------
// shared helpers

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    kit::tags::tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

/// Ours: our project, env and resource id.
fn ours(ctx: &Ctx, id: &ResourceId, tags: &BTreeMap<String, String>) -> bool {
    kit::is_ours(tags, &ctx.project, &ctx.env, id)
}

/// The `tags` property: every tag but the ones kept behind their own properties.
fn visible_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| !INTERNAL_TAGS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A setting kept in a tag (`rtech:keep-revisions`…), as its property reads it.
fn tag_int(tags: &BTreeMap<String, String>, tag: &str) -> Option<i64> {
    tags.get(tag).and_then(|v| v.parse::<i64>().ok())
}

/// The live tags of a resource: its `tags` property and the settings kept in tags.
fn all_tags(
    visible: &BTreeMap<String, String>,
    internal: &[(&str, Option<i64>)],
) -> BTreeMap<String, String> {
    let mut t = visible.clone();
    for (tag, v) in internal {
        if let Some(n) = v {
            t.insert(tag.to_string(), n.to_string());
        }
    }
    t
}

fn ecs_tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn foreign(id: ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id, physical);
    o.ownership = Ownership::Foreign;
    o
}

// ECS speaks TagResource / UntagResource for clusters, services and task definitions alike.
crate::tag_api!(EcsTags, Client,
    untag "ecs:UntagResource" => |c, arn, keys| c.untag_resource()
        .resource_arn(arn).set_tag_keys(Some(keys)),
    tag "ecs:TagResource" => |c, arn, tags| c.tag_resource()
        .resource_arn(arn).set_tags(Some(ecs_tags(&tags))));

/// Bring the live tags of `arn` from `before` to `after`.
async fn sync_tags(
    ctx: &Ctx,
    arn: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    kit::sync_tags(&EcsTags(&ctx.clients.ecs), arn, before, after).await
}

/// How long a call that names a new IAM role is retried while the role propagates.
const ROLE_PROPAGATION: Duration = Duration::from_secs(60);

/// Whether ECS refused a call because it cannot assume a role yet: a role created seconds
/// ago is not visible to ECS everywhere at once (IAM is eventually consistent), and
/// RegisterTaskDefinition, CreateService and UpdateService say so with an
/// InvalidParameterException (or ClientException) naming the role.
pub fn role_not_ready(e: &AwsError) -> bool {
    if !(e.is("InvalidParameterException") || e.is("ClientException")) {
        return false;
    }
    let m = e.message.to_lowercase();
    m.contains("unable to assume role") || m.contains("unable to assume the role")
}

/// Run `f`, retrying with the kit's backoff for at most `ROLE_PROPAGATION` while it fails
/// because a new role has not propagated yet (`role_not_ready`); each retry shows on the
/// progress line, and an error after the last one says how long rtech retried.
async fn while_role_propagates<T, F, Fut>(task: &Task, f: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let on_retry = |e: &AwsError, delay: Duration| {
        task.status(&format!(
            "{}: ECS cannot assume the role yet (a new role takes a few seconds to propagate); retrying in {} s",
            e.op,
            delay.as_secs()
        ))
    };
    kit::retry_if(role_not_ready, ROLE_PROPAGATION, on_retry, f).await
}

/// The env's ECS service, whatever its status (None: no cluster or no service of its name),
/// read once per observe round and shared with Application Auto Scaling, whose target needs
/// the service's ARN.
pub async fn observed_service(ctx: &Ctx) -> Result<Option<aws_sdk_ecs::types::Service>, AwsError> {
    let round = ctx.round();
    let s = round
        .ecs_service
        .get_or_try_init(|| async {
            let (cluster, app) = (
                cluster_name(&ctx.project, &ctx.env),
                app_name(&ctx.project, &ctx.env),
            );
            service::describe(ctx, &cluster, &app).await
        })
        .await?;
    Ok(s.clone())
}

pub struct Ecs;

#[async_trait]
impl Service for Ecs {
    crate::service_basics!("ecs", KINDS, expand, iam::GRANTS, outputs: [("ecs_cluster_name", "ecs_cluster", "main", "name"),
    ("ecs_service_name", "ecs_service", "app", "name"),
    ("task_definition_arn", "ecs_task_definition", "app", "arn"),
    (
        "task_definition_revision",
        "ecs_task_definition",
        "app",
        "revision",
    )]);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let cluster = cluster_name(&ctx.project, &ctx.env);
        let app = app_name(&ctx.project, &ctx.env);
        let want_service = desired.iter().find(|r| r.id == service_id());
        let want_td = desired.iter().any(|r| r.id == task_definition_id());
        let (c, newest, s) = tokio::try_join!(
            cluster::describe(ctx, &cluster),
            taskdef::newest_active(ctx, &app),
            observed_service(ctx),
        )?;
        // A deleted (INACTIVE) or draining service is gone as far as planning goes; apply
        // waits for a draining one before creating its successor.
        let s = s.filter(|s| s.status() == Some("ACTIVE"));
        let s_tags = s.as_ref().map(|s| tag_map(s.tags())).unwrap_or_default();
        let s_ours = s.is_some() && ours(ctx, &service_id(), &s_tags);
        // The revision our service runs is the one the plan compares (taskdef/mod.rs).
        let running = s
            .as_ref()
            .filter(|_| s_ours)
            .and_then(|s| s.task_definition());
        let (subnet_rids, td) = tokio::try_join!(
            async {
                match &s {
                    Some(s) => service::subnet_rids(ctx, s).await,
                    None => Ok(BTreeMap::new()),
                }
            },
            taskdef::observe(ctx, &app, newest, running, !want_td),
        )?;

        let mut out = vec![];
        if let Some(c) = c.filter(|c| c.status() != Some("INACTIVE")) {
            let tags = tag_map(c.tags());
            if ours(ctx, &cluster_id(), &tags) {
                out.push(observe_cluster(&c, &tags));
            } else {
                out.push(foreign(cluster_id(), c.cluster_arn().unwrap_or(&cluster)));
            }
        }
        out.extend(td);
        if let Some(s) = s {
            if s_ours {
                out.push(observe_service(&s, &s_tags, &subnet_rids, want_service));
            } else {
                out.push(foreign(service_id(), s.service_arn().unwrap_or(&app)));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

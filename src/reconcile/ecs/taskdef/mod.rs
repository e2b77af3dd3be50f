//! `ecs_task_definition/app`: the family `{project}-{env}-app`, one Fargate container `app`.
//!
//! The properties are the container definition taken apart (`port_mappings`, `environment`
//! as a map, `secrets` as a map of `{arn, key}`, `log_configuration`, `health_check`, …) so
//! that a plan names exactly what changed. Observe normalises what AWS fills in: container
//! `cpu` 0, empty `mountPoints` / `volumesFrom` / `systemControls`, `hostPort` (= the container
//! port under awsvpc), `protocol` tcp, `essential` true, the health check's default interval,
//! timeout and retries, and the order of `environment` and `secrets`. Anything set on the live
//! definition that rtech never sets (a command, mount points, another container…) is listed
//! in `extras`, which rtech wants empty: an out-of-band revision is drift, never ignored.
//!
//! The revision compared (`observe_in_use`) is the one our service runs when it is ours
//! (after a rollback that is not the newest: the plan keeps what runs, never the image that
//! was rolled back), else the newest ACTIVE one. Its ARN and revision are the attributes.
//!
//! Ownership is per revision. The family is ours when the revision compared carries our
//! tags, or (a revision registered by hand) the newest or an older ACTIVE one does: then a
//! revision without our tags that runs, or that sits on top of ours, is flagged in `extras`,
//! so apply registers a revision of ours on top. A family with no revision of ours is
//! `Foreign` (a conflict).
//!
//! Apply makes a new revision only when the newest ACTIVE one is not already the one wanted
//! (`same_definition`; reused, its tags synced, otherwise). Pruning and destroy deregister
//! only revisions with our tags, then delete them (DeleteTaskDefinitions, ten per call; a
//! pruning failure is reported and left INACTIVE, a destroy failure fails the destroy, and
//! an endpoint without the call leaves them INACTIVE). Destroy also deletes INACTIVE
//! revisions of ours an interrupted destroy left.
//!
//! Files: the props and the kind here; observe's normalisation and reads in `observe.rs`;
//! the RegisterTaskDefinition request in `request.rs`; registering, pruning and deleting
//! revisions in `revisions.rs`.

mod image;
mod observe;
mod request;
mod revisions;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{app_name, task_definition_id, CONTAINER, TASK_DEFINITION};
use crate::aws::AwsError;
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::{Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::kit::{from_props, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::app::App;
use crate::spec::network::REDIS_PORT;
use crate::spec::Spec;

#[cfg(test)]
pub use observe::{
    extras, image_ref, no_active_revision, observe_foreign_newest, observe_in_use,
    observe_task_definition, parse_value_from, revisions_of, split_image, to_deregister,
    value_from, InUse,
};
pub(super) use observe::{newest_active, observe};
#[cfg(test)]
pub use request::{container_definition, register_request, same_definition};

/// The task definition's properties: the revision's settings and its one container's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefinitionProps {
    pub family: Option<String>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub network_mode: Option<String>,
    pub requires_compatibilities: Vec<String>,
    pub execution_role_arn: Option<Link>,
    pub task_role_arn: Option<Link>,
    /// What the live definition sets that rtech never does (module docs): wanted empty.
    pub extras: Vec<String>,
    pub container_name: Option<String>,
    pub image_repository: Link,
    /// Late-initialised without `--image-tag`: absent from expand until the engine fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    pub essential: bool,
    pub port_mappings: Vec<PortMappingProps>,
    /// Variable → value (a value may reference the Redis endpoint).
    pub environment: BTreeMap<String, Option<Link>>,
    pub secrets: BTreeMap<String, SecretProps>,
    pub log_configuration: Option<LogConfigurationProps>,
    pub health_check: Option<HealthCheckProps>,
    pub user: Option<String>,
    pub readonly_root_filesystem: bool,
    /// Kept in the `rtech:keep-revisions` tag: changing it registers nothing.
    pub keep_revisions: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMappingProps {
    pub container_port: i64,
    pub host_port: i64,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port_range: Option<String>,
}

/// An ECS secret: a Secrets Manager secret's ARN and JSON key (plus a version when one is
/// pinned), or any other `valueFrom` as it is (an SSM parameter).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretProps {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfigurationProps {
    pub log_driver: String,
    /// Option → value (the log group's name is a reference).
    pub options: BTreeMap<String, Link>,
    /// `name=valueFrom`, when the live configuration has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_options: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckProps {
    pub command: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub retries: i64,
    pub start_period: i64,
}

pub static SCHEMA: KindSchema = KindSchema {
    kind: TASK_DEFINITION,
    // Revisions are immutable: every change registers a new one (an update with a new ARN).
    force_new: &[],
    new_attrs_on_update: true,
    create_before_destroy: false,
};

pub struct EcsTaskDefinition;

#[async_trait]
impl Kind for EcsTaskDefinition {
    crate::typed_kind!(SCHEMA, TaskDefinitionProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: TaskDefinitionProps = from_props(&r.props)?;
        let family = p.family.clone().unwrap_or_else(|| r.name.clone());
        let a = revisions::register(ctx, r, &p, &family, task).await?;
        revisions::prune(ctx, &family, keep(&p), task).await?;
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (desired, prior, changed) = (u.desired, u.prior, u.changed);
        let p: TaskDefinitionProps = from_props(&desired.props)?;
        let family = p.family.clone().unwrap_or_else(|| desired.name.clone());
        let new_revision = changed
            .iter()
            .any(|k| k != "tags" && !TAG_PROPS.contains(&k.as_str()));
        let a = if new_revision {
            revisions::register(ctx, desired, &p, &family, task).await?
        } else {
            let before: TaskDefinitionProps = from_props(&prior.props)?;
            super::sync_tags(
                ctx,
                &prior.physical_id,
                &revision_tags(&before),
                &revision_tags(&p),
            )
            .await?;
            prior.attrs.clone()
        };
        revisions::prune(ctx, &family, keep(&p), task).await?;
        Ok(a)
    }

    async fn blocked(
        &self,
        ctx: &Ctx,
        change: &Change,
        desired: &[Resource],
    ) -> Result<Option<String>, AwsError> {
        image::blocked(ctx, change, desired).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let family = o
            .attrs
            .get("family")
            .cloned()
            .unwrap_or_else(|| app_name(&ctx.project, &ctx.env));
        revisions::delete_family(ctx, &family, task).await
    }
}

/// Properties that live in tags, not in the revision: changing them registers nothing.
const TAG_PROPS: &[&str] = &["keep_revisions"];

/// An ECS secret in the properties: the secret's ARN and the JSON key (valueFrom is built
/// from them at apply).
fn secret_ref(secret: &str, key: &str) -> SecretProps {
    SecretProps {
        arn: Some(Link::to(&ResourceId::new("secret", secret), "arn")),
        key: Some(key.to_string()),
        ..SecretProps::default()
    }
}

pub(super) fn expand(spec: &Spec, app: &App) -> Resource {
    let id = task_definition_id();
    let family = spec.name("app");
    let tags = tags_for(&spec.project, &spec.env, &id, &family, &spec.tags);

    let mut environment: BTreeMap<String, Option<Link>> = app
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), Some(Link::from(v.as_str()))))
        .collect();
    let mut secrets = BTreeMap::new();
    if let Some(r) = &spec.redis {
        environment.insert(
            "REDIS_HOST".into(),
            Some(Link::to(
                &ResourceId::new("redis", "main"),
                "primary_endpoint",
            )),
        );
        environment.insert(
            "REDIS_PORT".into(),
            Some(Link::from(REDIS_PORT.to_string())),
        );
        if r.transit_encryption {
            secrets.insert("REDIS_AUTH_TOKEN".into(), secret_ref("redis", "token"));
        }
    }
    if spec.docdb.is_some() {
        secrets.insert("MONGODB_URI".into(), secret_ref("docdb", "uri"));
    }
    let log_group = ResourceId::new("log_group", "app");
    let props = TaskDefinitionProps {
        family: Some(family.clone()),
        cpu: Some(app.cpu),
        memory: Some(app.memory),
        network_mode: Some("awsvpc".into()),
        requires_compatibilities: vec!["FARGATE".into()],
        execution_role_arn: Some(Link::to(&ResourceId::new("iam_role", "execution"), "arn")),
        task_role_arn: Some(Link::to(&ResourceId::new("iam_role", "task"), "arn")),
        extras: vec![],
        container_name: Some(CONTAINER.into()),
        image_repository: Link::to(&ResourceId::new("ecr_repository", "app"), "url"),
        // `--image-tag` wins; without it the deployed tag stays (an infrastructure-only apply
        // never rolls the image back), and the spec's tag is used on first create.
        image_tag: spec.image_tag.clone(),
        essential: true,
        port_mappings: vec![PortMappingProps {
            container_port: app.port,
            host_port: app.port,
            protocol: "tcp".into(),
            name: None,
            app_protocol: None,
            container_port_range: None,
        }],
        environment,
        secrets,
        log_configuration: Some(LogConfigurationProps {
            log_driver: "awslogs".into(),
            options: BTreeMap::from([
                ("awslogs-group".to_string(), Link::to(&log_group, "name")),
                (
                    "awslogs-region".to_string(),
                    Link::from(spec.region.as_str()),
                ),
                ("awslogs-stream-prefix".to_string(), Link::from("app")),
            ]),
            secret_options: None,
        }),
        health_check: app.health_check.as_ref().map(|h| HealthCheckProps {
            command: vec!["CMD-SHELL".into(), h.command.clone()],
            interval: h.interval_seconds,
            timeout: h.timeout_seconds,
            retries: h.retries,
            start_period: h.start_period_seconds,
        }),
        user: app.user.clone(),
        readonly_root_filesystem: app.read_only_root_filesystem,
        keep_revisions: Some(app.keep_revisions),
        tags,
    };
    let r = Resource::new(id, &family).with_props(to_props(&props));
    match &spec.image_tag {
        Some(_) => r,
        None => r.late("image_tag", crate::model::Value::str(&app.image_tag)),
    }
}

fn keep(p: &TaskDefinitionProps) -> usize {
    p.keep_revisions.unwrap_or(5).max(1) as usize
}

/// The tags a revision carries: its `tags` property and `keep_revisions`.
fn revision_tags(p: &TaskDefinitionProps) -> BTreeMap<String, String> {
    super::all_tags(&p.tags, &[(super::TAG_KEEP_REVISIONS, p.keep_revisions)])
}

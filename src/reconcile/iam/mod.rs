//! IAM: the roles the ECS service runs with (only when the spec has `[app]`).
//!
//! - `iam_role/execution` (`{project}-{env}-ecs-execution`): what ECS itself uses to start a
//!   task. Trusted by `ecs-tasks.amazonaws.com`; the AWS managed
//!   `AmazonECSTaskExecutionRolePolicy` (pull the image, write the logs); and an inline
//!   policy `rtech-secrets` allowing `secretsmanager:GetSecretValue` on exactly this env's
//!   data-tier secrets (`secret/docdb`, `secret/redis`, those the spec has), one statement per
//!   secret, nothing wider. No inline policy when the env has neither database.
//! - `iam_role/task` (`{project}-{env}-ecs-task`): what the application's code runs as. Same
//!   trust, no permissions by default; the spec's `app.task_role_statements` become the inline
//!   policy `rtech-app`.
//! - `iam_role/vpc-flow-logs` (`{project}-{env}-vpc-flow-logs`, only with `[network]
//!   flow_logs` on): what the VPC flow log delivers with. Trusted by
//!   `vpc-flow-logs.amazonaws.com` only; the inline policy `rtech-flow-logs` allows
//!   `logs:CreateLogStream`, `logs:PutLogEvents` and `logs:DescribeLogStreams` on the flow
//!   log's group (`log_group/vpc-flow-logs`) and its streams, nothing wider.
//! - `iam_role/ecs_infrastructure` (`{project}-{env}-ecs-infra`), with a canary or blue/green
//!   `[app.deploy]` strategy: the role ECS moves the production listener rule's weights with.
//!   Trusted by `ecs.amazonaws.com`; the AWS managed
//!   `AmazonECSInfrastructureRolePolicyForLoadBalancers`; no inline policy.
//!
//! - `iam_role/backup` (`{project}-{env}-backup`, only with `[backup]` and `[docdb]`): what
//!   AWS Backup runs the DocumentDB cluster's backups as. Trusted by `backup.amazonaws.com`; the
//!   AWS managed `AWSBackupServiceRolePolicyForBackup`; no inline policy.
//!
//! Policy documents are compared by meaning: each document is `model::policy::iam`'s canonical
//! form (sorted, de-duplicated `Action`/`Resource`/principal/condition values, single strings
//! and one-item lists alike, whitespace and key order gone; IAM returns documents URL-encoded,
//! `iam_text` decodes them), with `Statement` turned into a map keyed by each statement's
//! `Sid` (or, without one, `#` and a short hash of its content). Statement order therefore
//! never matters, an extra statement shows up as exactly that key, and a desired statement whose
//! `Resource` is a reference (a secret's ARN, known only once it exists) compares equal once
//! resolved: rtech's own statements carry a `Sid` and a single resource each, so nothing in the
//! desired document depends on how the resolved ARNs would sort.
//!
//! Observe: every role of the account in two calls at once, whatever the number of roles:
//! GetAccountAuthorizationDetails (`Filter=Role`) returns each role's trust policy, tags,
//! attached managed policies and inline policy documents, and ListRoles the description it
//! lacks (both paged to the end, 1,000 a page). Each role name rtech makes is then looked up in
//! them: 2 calls for dev and prod alike (it was one GetRole per name, then the policy lists
//! and one GetRolePolicy per inline policy: 9 for dev, 14 for prod). A role of ours ListRoles
//! has not listed yet gets its description from GetRole. Neither call can be scoped to the env's
//! roles: the plan policy grants them on `*` (`IamReadEveryRoleAtOnceSupportsNoResourceScoping`).
//! A same-named role without our tags (project, env and id) is a conflict, never modified or
//! deleted.
//!
//! IAM is eventually consistent on AWS: after CreateRole, apply waits for the role to be
//! readable (the SDK's role-exists waiter) before attaching policies, and IAM's
//! `ConcurrentModification` is retried. A role just created may still not be assumable by ECS
//! for some seconds: ECS calls that use it must retry on that. Delete detaches and
//! deletes every policy the role has at that moment, then retries DeleteRole on
//! `DeleteConflict` (the detachments may take a moment to be seen), bounded.

pub mod document;
#[allow(clippy::module_inception)]
mod iam;
pub mod role;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::{AttachedPolicy, EntityType, RoleDetail, Tag};

use crate::aws::{all_pages, aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{is_ours, try_tag_list};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

use document::trust_policy;
#[cfg(test)]
use document::{document_json, document_value, keyed};
#[cfg(test)]
use role::observed_role;

pub const ROLE: &str = "iam_role";
pub const EXECUTION: &str = "execution";
pub const TASK: &str = "task";
/// The role ECS shifts load balancer traffic with (canary and blue/green deployments).
pub const INFRASTRUCTURE: &str = "ecs_infrastructure";
pub const ECS: &str = "ecs.amazonaws.com";
/// The execution role's inline policy: read this env's data-tier secrets.
pub const SECRETS_POLICY: &str = "rtech-secrets";
/// The task role's inline policy: the spec's `app.task_role_statements`.
pub const TASK_POLICY: &str = "rtech-app";
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";
/// The VPC flow log role's id name and AWS name suffix.
pub const FLOW_LOGS: &str = "vpc-flow-logs";
/// The flow log role's inline policy: deliver to the flow log's group.
pub const FLOW_LOGS_POLICY: &str = "rtech-flow-logs";
/// The service that assumes the flow log role.
pub const VPC_FLOW_LOGS: &str = "vpc-flow-logs.amazonaws.com";
/// The AWS Backup role's id name and AWS name suffix.
pub const BACKUP: &str = "backup";
/// The service that assumes the backup role.
pub const BACKUP_SERVICE: &str = "backup.amazonaws.com";
const VERSION: &str = "2012-10-17";

const KINDS: &[&dyn Kind] = &[&role::RoleKind];

/// (id name, AWS name role) of every role rtech makes.
const ROLES: &[(&str, &str)] = &[
    (EXECUTION, "ecs-execution"),
    (TASK, "ecs-task"),
    (FLOW_LOGS, FLOW_LOGS),
    (INFRASTRUCTURE, "ecs-infra"),
    (BACKUP, "backup"),
];

pub fn role_id(name: &str) -> ResourceId {
    ResourceId::new(ROLE, name)
}

/// The AWS partition of a region (managed policy ARNs name it).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// The AWS managed policy every ECS task execution role needs (ECR pull, CloudWatch Logs).
pub fn execution_managed_policy(region: &str) -> String {
    format!(
        "arn:{}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        partition(region)
    )
}

/// The AWS managed policy of ECS's infrastructure role for load balancers (move listener rule
/// weights, read target groups).
pub fn infrastructure_managed_policy(region: &str) -> String {
    format!(
        "arn:{}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
        partition(region)
    )
}

/// The AWS managed policy AWS Backup needs to back up (and tag recovery points of) the
/// resources a plan selects.
pub fn backup_managed_policy(region: &str) -> String {
    format!(
        "arn:{}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        partition(region)
    )
}

/// Spec → Desired (pure): the ECS roles when the spec has `[app]` (with ECS's infrastructure
/// role when its deployment strategy shifts traffic: canary, blue/green), the flow log role
/// when `[network] flow_logs` is on, the backup role with `[backup]` and `[docdb]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let mut out = vec![];
    if spec.backup.is_some() && spec.docdb.is_some() {
        out.push(role::desired(
            spec,
            BACKUP,
            &format!(
                "rtech {}: AWS Backup's role for the DocumentDB cluster",
                spec.env
            ),
            document::trusted_by("BackupAssumeRole", BACKUP_SERVICE),
            vec![backup_managed_policy(&spec.region)],
            BTreeMap::new(),
        ));
    }
    out.extend(ecs_roles(spec));
    if spec.network.flow_logs.traffic_type().is_some() {
        out.push(role::desired(
            spec,
            FLOW_LOGS,
            &format!(
                "rtech {}: VPC flow logs delivery to its CloudWatch Logs group",
                spec.env
            ),
            document::trusted_by("VpcFlowLogsAssumeRole", VPC_FLOW_LOGS),
            vec![],
            document::flow_logs_inline(),
        ));
    }
    out
}

fn ecs_roles(spec: &Spec) -> Vec<Resource> {
    let Some(app) = &spec.app else {
        return vec![];
    };
    let mut roles = vec![
        role::desired(
            spec,
            EXECUTION,
            &format!(
                "rtech {}: ECS task execution role (image pull, logs, the data-tier secrets)",
                spec.env
            ),
            trust_policy(),
            vec![execution_managed_policy(&spec.region)],
            document::execution_inline(spec),
        ),
        role::desired(
            spec,
            TASK,
            &format!("rtech {}: the application's task role", spec.env),
            trust_policy(),
            vec![],
            document::task_inline(app),
        ),
    ];
    if app.deploy.strategy.shifts_traffic() {
        roles.push(role::desired(
            spec,
            INFRASTRUCTURE,
            &format!(
                "rtech {}: ECS infrastructure role (shifts the load balancer's traffic during deployments)",
                spec.env
            ),
            document::ecs_trust_policy(),
            vec![infrastructure_managed_policy(&spec.region)],
            BTreeMap::new(),
        ));
    }
    roles
}

/// The error, naming the role it was about.
pub(crate) fn about(id: &ResourceId, name: &str) -> impl FnOnce(AwsError) -> AwsError {
    let what = format!("{id} ({name})");
    move |e| {
        let msg = format!("{what}: {}", e.message);
        e.with_message(msg)
    }
}

pub(crate) fn iam_tags(m: &BTreeMap<String, String>, op: &str) -> Result<Vec<Tag>, AwsError> {
    try_tag_list(m, op, |k, v| Tag::builder().key(k).value(v).build())
}

crate::tag_api!(IamTags, aws_sdk_iam::Client,
    untag "iam:UntagRole" => |c, role, keys| c.untag_role().role_name(role).set_tag_keys(Some(keys)),
    tag "iam:TagRole" => |c, role, tags| c.tag_role().role_name(role)
        .set_tags(Some(iam_tags(&tags, "iam:TagRole")?)));

/// A role's attached managed policies and inline policy names, read concurrently.
pub(crate) async fn list_policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<(Vec<AttachedPolicy>, Vec<String>), AwsError> {
    tokio::try_join!(
        async {
            all_pages!(
                iam.list_attached_role_policies().role_name(name),
                "iam:ListAttachedRolePolicies"
            )
        },
        async {
            all_pages!(
                iam.list_role_policies().role_name(name),
                "iam:ListRolePolicies"
            )
        },
    )
}

/// Every role of the account, read at once whatever their number: GetAccountAuthorizationDetails
/// (`Filter=Role`, 1,000 a page) returns each role's trust policy, tags, attached managed
/// policies and inline policy documents, and ListRoles (1,000 a page, beside it) the description
/// the former lacks. Both are paged to the end; each page waits only on its own previous one.
pub(crate) struct AccountRoles {
    details: Vec<RoleDetail>,
    /// Role name → description, from ListRoles.
    descriptions: BTreeMap<String, Option<String>>,
}

impl AccountRoles {
    pub(crate) async fn read(iam: &aws_sdk_iam::Client) -> Result<Self, AwsError> {
        let (pages, listed) = tokio::try_join!(
            async {
                iam.get_account_authorization_details()
                    .filter(EntityType::Role)
                    .into_paginator()
                    .page_size(PAGE)
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("iam:GetAccountAuthorizationDetails"))
            },
            async { all_pages!(iam.list_roles().max_items(PAGE), "iam:ListRoles") },
        )?;
        Ok(AccountRoles {
            details: pages
                .into_iter()
                .flat_map(|p| p.role_detail_list.unwrap_or_default())
                .collect(),
            descriptions: listed
                .into_iter()
                .map(|r| (r.role_name, r.description))
                .collect(),
        })
    }

    fn detail(&self, name: &str) -> Option<&RoleDetail> {
        self.details.iter().find(|d| d.role_name() == Some(name))
    }
}

/// IAM's largest page (MaxItems) for GetAccountAuthorizationDetails and ListRoles.
const PAGE: i32 = 1000;

/// One role by name, from the account's roles: absent; ours (tagged for `ctx.project`, `env`
/// and `id`) with its policies; or, when `wanted`, foreign. A role of ours that ListRoles did
/// not list (created between the two reads) gets its description from GetRole.
async fn observe_listed(
    ctx: &Ctx,
    roles: &AccountRoles,
    id: ResourceId,
    name: String,
    wanted: bool,
) -> Result<Option<Observed>, AwsError> {
    let Some(d) = roles.detail(&name) else {
        return Ok(None);
    };
    let live = role::LiveRole::from_detail(d, None);
    if !is_ours(&live.tags, &ctx.project, &ctx.env, &id) {
        if !wanted {
            return Ok(None);
        }
        let mut o = Observed::new(id, live.arn).prop("name", crate::model::Value::str(live.name));
        o.ownership = Ownership::Foreign;
        return Ok(Some(o));
    }
    let description = match roles.descriptions.get(&name) {
        Some(d) => d.clone(),
        None => role::get_role(ctx, &name)
            .await
            .map_err(about(&id, &name))?
            .and_then(|r| r.description().map(str::to_string)),
    };
    let live = role::LiveRole::from_detail(d, description.as_deref());
    Ok(Some(role::observed_live(id, live)))
}

pub struct Iam;

#[async_trait]
impl Service for Iam {
    crate::service_basics!("iam", KINDS, expand, iam::GRANTS);

    /// The account's roles in two calls at once ([`AccountRoles`]), then each of ours by name.
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let names: Vec<(ResourceId, String, bool)> = ROLES
            .iter()
            .map(|(n, suffix)| {
                let id = role_id(n);
                let wanted = desired.iter().find(|r| r.id == id);
                let name = wanted
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| format!("{}-{}-{suffix}", ctx.project, ctx.env));
                (id, name, wanted.is_some())
            })
            .collect();
        let roles = AccountRoles::read(&ctx.clients.iam).await.map_err(|e| {
            let all: Vec<String> = names
                .iter()
                .map(|(id, n, _)| format!("{id} ({n})"))
                .collect();
            let msg = format!("{}: {}", all.join(", "), e.message);
            e.with_message(msg)
        })?;
        // Every name is looked up even when the spec has no [app] or no flow log: destroy and
        // a removed section must still find the roles to delete them.
        let jobs = names
            .into_iter()
            .map(|(id, name, wanted)| observe_listed(ctx, &roles, id, name, wanted));
        Ok(futures::future::try_join_all(jobs)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }
}

#[cfg(test)]
mod tests;

//! DocumentDB: the subnet group, the cluster parameter group, the cluster and its instances,
//! one kind per file.
//!
//! - `docdb_subnet_group/main` ([`subnet_group`]): the private subnets, keyed by AZ (a stable
//!   order to compare).
//! - `docdb_param_group/main` ([`param_group`]): `tls`, `audit_logs` and `profiler`, per the
//!   spec.
//! - `docdb_cluster/main` ([`cluster`]): encrypted, with its master password read from
//!   `secret/docdb` at apply time only (never a property); the generated id of that password
//!   and the secret's ARN are kept in tags (`rtech:password-id`, `rtech:password-secret`) so a
//!   plan can tell whether the cluster is in sync with its secret without ever reading the
//!   password.
//! - `docdb_instance/<n>` ([`instance`]): n = 1..instances, spread over the env's AZs
//!   round-robin.
//! - `docdb_event_sub/cluster` and `docdb_event_sub/instance` ([`event_sub`]): DocumentDB event
//!   subscriptions sending the cluster's and the instances' failover and failure events to the
//!   alerts topic, when the env has one.
//!
//! There is no state file, and destroy has no spec: how the cluster is deleted (final snapshot
//! or not) lives on the cluster itself, in the tag `rtech:final-snapshot`. Deletion protection
//! is read from the live cluster: the cluster's `guard` refuses a plan that would delete or
//! replace a protected cluster.

pub mod cluster;
pub mod drill;
pub mod event_sub;
mod iam;
pub mod instance;
mod observe;
pub mod param_group;
pub mod subnet_group;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_docdb::types::{DbCluster, DbInstance, Tag};
use aws_sdk_docdb::Client;

use crate::aws::{aws, AwsError};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::reconcile::kit::{self, found, Existing, ReadBack, TagRead};
use crate::reconcile::{logs, Ctx, Kind, Service};
use crate::spec::Spec;

pub const SUBNET_GROUP: &str = "docdb_subnet_group";
pub const PARAM_GROUP: &str = "docdb_param_group";
pub const CLUSTER: &str = "docdb_cluster";
pub const INSTANCE: &str = "docdb_instance";
pub const EVENT_SUB: &str = "docdb_event_sub";

const KINDS: &[&dyn Kind] = &[
    &subnet_group::SubnetGroup,
    &param_group::ParamGroup,
    &cluster::Cluster,
    &instance::Instance,
    &event_sub::EventSub,
];

/// Cluster creation takes ~10 minutes on AWS and instance deletion ~7: generous.
const WAIT: Duration = Duration::from_secs(60 * 60);
/// How long deletes retry while something still uses the group or the cluster is busy.
const BUSY_RETRY: Duration = Duration::from_secs(20 * 60);

fn rid(kind: &str, name: &str) -> ResourceId {
    ResourceId::new(kind, name)
}

/// `docdb5.0` for 5.0.0, `docdb4.0` for 4.0.0.
pub fn family(engine_version: &str) -> String {
    let mut parts = engine_version.split('.');
    let major = parts.next().unwrap_or("5");
    let minor = parts.next().unwrap_or("0");
    format!("docdb{major}.{minor}")
}

/// The cluster identifier, `{project}-{env}-docdb` (also the prefix of every DocumentDB
/// resource name rtech gives in an env).
fn cluster_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-docdb")
}

pub struct Docdb;

#[async_trait]
impl Service for Docdb {
    crate::service_basics!("docdb", KINDS, expand, iam::GRANTS, outputs: [("docdb_endpoint", CLUSTER, "main", "endpoint"),
                ("docdb_reader_endpoint", CLUSTER, "main", "reader_endpoint")]);

    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe::observe(ctx, desired).await
    }
}

/// Spec → Desired (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(d) = &spec.docdb else {
        return vec![];
    };
    let mut out = vec![
        subnet_group::expand(spec),
        param_group::expand(spec, d),
        cluster::expand(spec, d),
    ];
    out.extend(instance::expand(spec, d));
    out.extend(event_sub::expand(spec, d));
    out
}

/// Our tags for a resource of the spec, with `extra` bookkeeping tags.
fn spec_tags(
    spec: &Spec,
    id: &ResourceId,
    name: &str,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut t = tags_for(&spec.project, &spec.env, id, name, &spec.tags);
    for (k, v) in extra {
        t.insert(k.to_string(), v.to_string());
    }
    t
}

/// `true` or `false`: the spec's `apply_immediately`, as the tag records it.
fn apply_now_tag(apply_immediately: bool) -> &'static str {
    if apply_immediately {
        "true"
    } else {
        "false"
    }
}

/// The log groups (`log_group/docdb-audit`, `log_group/docdb-profiler`) the cluster exports to.
pub fn export_log_groups(audit: bool, profiler: bool) -> Vec<ResourceId> {
    let mut v = vec![];
    if audit {
        v.push(logs::docdb_audit_id());
    }
    if profiler {
        v.push(logs::docdb_profiler_id());
    }
    v
}

// ---------------------------------------------------------------------------------------------
// shared by the kinds

/// Tags as a map, without AWS's own.
pub fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    kit::tags::tag_map(tags.iter().map(|t| (t.key(), t.value())))
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// A tag map as the SDK's list.
fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| tag(k, v)).collect()
}

crate::tag_api!(Tags, Client,
    untag "docdb:RemoveTagsFromResource" => |c, arn, keys| c.remove_tags_from_resource()
        .resource_name(arn).set_tag_keys(Some(keys)),
    tag "docdb:AddTagsToResource" => |c, arn, tags| c.add_tags_to_resource()
        .resource_name(arn).set_tags(Some(tag_list(&tags))),
    read "docdb:ListTagsForResource" => |c, arn| c.list_tags_for_resource().resource_name(arn),
        |o| tag_map(o.tag_list()));

/// Make the live tags of `prior` what `after` says.
async fn sync_tags(
    ctx: &Ctx,
    prior: &Observed,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    kit::sync_tags(&Tags(&ctx.clients.docdb), arn_of(prior)?, before, after).await
}

fn arn_of(o: &Observed) -> Result<&str, AwsError> {
    o.attrs
        .get("arn")
        .map(String::as_str)
        .ok_or_else(|| AwsError::new("rtech", "NoArn", format!("{}: no ARN observed", o.id)))
}

/// A group's attributes: its name as `id`, and its ARN.
fn group_attrs(name: &str, arn: Option<&str>) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), name.to_string());
    if let Some(arn) = arn {
        a.insert("arn".into(), arn.to_string());
    }
    a
}

/// The resource's tags (None: it was deleted between the Describe and now).
async fn list_tags(ctx: &Ctx, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    Tags(&ctx.clients.docdb).read(arn).await
}

/// What an `AlreadyExists` on create found at `arn` (None: nothing by that name): adopted
/// when its tags are ours for `r`.
async fn existing_at<T>(ctx: &Ctx, r: &Resource, arn: Option<&str>, v: T) -> ReadBack<T> {
    Existing::at(ctx, &r.id, arn, v, &Tags(&ctx.clients.docdb)).await
}

async fn describe_cluster(ctx: &Ctx, id: &str) -> Result<Option<DbCluster>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DescribeDBClusters"));
    Ok(found(r)?.and_then(|o| o.db_clusters().first().cloned()))
}

async fn describe_instance(ctx: &Ctx, id: &str) -> Result<Option<DbInstance>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DescribeDBInstances"));
    Ok(found(r)?.and_then(|o| o.db_instances().first().cloned()))
}

/// Create with `send`. When the name is still taken by a resource being deleted (ours, after
/// an interrupted destroy or replace: `deleting` says whether it is), wait until it is `gone`,
/// then create again.
async fn create_after_deleting<F, Fut>(
    mut send: F,
    exists: &str,
    deleting: impl Future<Output = Result<bool, AwsError>>,
    gone: impl Future<Output = Result<(), AwsError>>,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    match send().await {
        Err(e) if e.is(exists) => {
            if !deleting.await? {
                return Err(e);
            }
            gone.await?;
            send().await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;

//! ElastiCache Redis: `cache_subnet_group/main` (the private subnets) and `redis/main`, a
//! cluster-mode-disabled replication group (a primary plus `replicas` read replicas, with
//! automatic failover and Multi-AZ when there is at least one replica).
//!
//! What the plan compares and how each field is applied:
//! - updatable through ModifyReplicationGroup: description, engine_version (upgrades only),
//!   node_type, automatic_failover, multi_az, snapshot_retention_limit, snapshot_window,
//!   preferred_maintenance_window, security_group_ids, log_delivery; `apply_immediately` is not
//!   a compared field: it lives in the `rtech:apply-immediately` tag and steers
//!   ModifyReplicationGroup.
//! - log_delivery: the slow log goes to `log_group/redis-slow-log` as JSON, a map of log type
//!   → `{destination_type, destination, log_format}`. A log type delivered live but not in the
//!   spec is turned off (`Enabled = false`); a configuration AWS is `disabling`, or in `error`,
//!   counts as not delivering. The group depends on the log group (AWS wants the destination
//!   to exist first). A delivery change is a ModifyReplicationGroup of its own with
//!   ApplyImmediately = true (AWS refuses one held for the maintenance window).
//! - num_cache_clusters: IncreaseReplicaCount / DecreaseReplicaCount (replicas are added before
//!   failover is turned on, and removed after it is turned off).
//! - replaced (delete, then create): engine, port, cache_subnet_group_name, at_rest_encryption,
//!   transit_encryption, and an engine downgrade (the synthetic `engine_version_downgrade`
//!   field, set by observe only when the live version is newer than the spec's; the same name
//!   DocumentDB uses).
//! - the AUTH token (with transit encryption): the group records which generated token it holds
//!   in the tags `rtech:auth-token-id` / `rtech:auth-token-secret`, reported as the properties
//!   `auth_token_id` / `auth_token_secret`; a new token in the secret rotates it
//!   (ModifyReplicationGroup AuthToken, AuthTokenUpdateStrategy=ROTATE). The token itself is read
//!   from Secrets Manager at apply time and never put in a property, attribute, log or error.
//! - modifications AWS holds for the maintenance window (PendingModifiedValues) count as done.
//! - delete: `rtech:final-snapshot` on the live group says `skip` or `take` (destroy has no
//!   spec); `take` deletes with FinalSnapshotIdentifier `<group>-final-<UTC yyyymmddHHMMSS>`.
//! - observe reads the group-wide settings that live on the member clusters (engine version,
//!   subnet group, security groups, maintenance window) from the primary member; a group whose
//!   primary cannot be read yet is an error (`MemberClusterNotFound`) rather than a plan built
//!   on guesses (destroy needs none of them).
//!
//! One file per kind: [`subnet_group`] and [`group`] (changes in [`group_apply`]); the log
//! delivery in [`log_delivery`]. Every request is unit-tested (tests.rs).

pub mod drill;
mod group;
mod group_apply;
mod iam;
mod log_delivery;
mod subnet_group;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::Tag;
use aws_sdk_elasticache::Client;

use group::{observe_group, primary_member, Group, RedisProps};
use subnet_group::{observe_subnet_group, SubnetGroup};

use crate::aws::{aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{found, from_props, is_ours, tags::tag_map, Existing, ReadBack};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

pub const SUBNET_GROUP: &str = "cache_subnet_group";
pub const REDIS: &str = "redis";

/// How destroy treats the group: `skip` or `take` a final snapshot.
pub const TAG_FINAL_SNAPSHOT: &str = "rtech:final-snapshot";
/// The spec's `apply_immediately`, kept on the group (not a compared field).
pub const TAG_APPLY_IMMEDIATELY: &str = "rtech:apply-immediately";
/// Which generated AUTH token the group holds (the secret's `generated_id`), and from where.
pub const TAG_AUTH_TOKEN_ID: &str = "rtech:auth-token-id";
pub const TAG_AUTH_TOKEN_SECRET: &str = "rtech:auth-token-secret";
/// Tags rtech manages through their own properties, kept out of the `tags` property.
const INTERNAL_TAGS: &[&str] = &[TAG_AUTH_TOKEN_ID, TAG_AUTH_TOKEN_SECRET];

/// How long DeleteCacheSubnetGroup retries while a deleted group still holds the subnets.
const IN_USE_RETRY: Duration = Duration::from_secs(10 * 60);

fn rid(kind: &str) -> ResourceId {
    ResourceId::new(kind, "main")
}

fn secret_ref() -> ResourceId {
    ResourceId::new("secret", "redis")
}

/// `{project}-{env}-redis`: both the group and its subnet group (destroy finds them by it).
fn name(project: &str, env: &str) -> String {
    format!("{project}-{env}-redis")
}

/// The `tags` property: every tag but the ones rtech keeps behind their own properties.
fn visible_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| !INTERNAL_TAGS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What an `AlreadyExists` on create found at `arn` (None: nothing by that name): adopted
/// when its tags are ours for `r`.
async fn existing_at<T>(ctx: &Ctx, r: &Resource, arn: Option<&str>, v: T) -> ReadBack<T> {
    Existing::at(ctx, &r.id, arn, v, &Ec(&ctx.clients.elasticache)).await
}

fn ec_tags(m: &BTreeMap<String, String>) -> Vec<Tag> {
    m.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

crate::tag_api!(Ec, Client,
    untag "elasticache:RemoveTagsFromResource" => |c, arn, keys| c.remove_tags_from_resource()
        .resource_name(arn).set_tag_keys(Some(keys)),
    tag "elasticache:AddTagsToResource" => |c, arn, tags| c.add_tags_to_resource()
        .resource_name(arn).set_tags(Some(ec_tags(&tags))),
    read "elasticache:ListTagsForResource" => |c, arn| c.list_tags_for_resource()
        .resource_name(arn), |o| tag_map(o.tag_list().iter().map(|t| (t.key(), t.value()))));

fn foreign(kind: &str, physical: &str) -> Observed {
    let mut o = Observed::new(rid(kind), physical);
    o.ownership = Ownership::Foreign;
    o
}

/// Spec → Desired (pure): nothing without a `[redis]` section.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(group) = group::expand(spec, &spec.name("redis")) else {
        return vec![];
    };
    vec![subnet_group::expand(spec, &group.name), group]
}

const KINDS: &[&dyn Kind] = &[&SubnetGroup, &Group];

pub struct Redis;

#[async_trait]
impl Service for Redis {
    crate::service_basics!("redis", KINDS, expand, iam::GRANTS, outputs: [(
        "redis_primary_endpoint",
        "redis",
        "main",
        "primary_endpoint",
    )]);

    /// Five calls at most, in two concurrent rounds: the groups and subnet groups, then their
    /// tags, the group's primary member cluster and the subnet group's subnets.
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let ec = &ctx.clients.elasticache;
        // Both names are deterministic: destroy (no desired) finds them too.
        let name = name(&ctx.project, &ctx.env);
        let want_group = desired
            .iter()
            .find(|r| r.id == rid(REDIS))
            .map(|r| from_props::<RedisProps>(&r.props))
            .transpose()?;
        let want_sng = desired.iter().find(|r| r.id == rid(SUBNET_GROUP));

        let (groups, subnet_groups) = tokio::try_join!(
            async {
                ec.describe_replication_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("elasticache:DescribeReplicationGroups"))
            },
            async {
                ec.describe_cache_subnet_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws("elasticache:DescribeCacheSubnetGroups"))
            },
        )?;
        // A group being deleted is gone as far as planning goes (never waited for here).
        let group = groups.into_iter().find(|g| {
            g.replication_group_id() == Some(name.as_str()) && g.status() != Some("deleting")
        });
        let sng = subnet_groups
            .into_iter()
            .find(|s| s.cache_subnet_group_name() == Some(name.as_str()));

        // The env's tag index holds our group's and subnet group's tags; others (someone
        // else's under our name) are read.
        let list_tags = |arn: Option<String>, op: &'static str| async move {
            let Some(arn) = arn else {
                return Ok(BTreeMap::new());
            };
            if let Some(t) = ctx.tag_index().await?.tags(&arn) {
                return Ok(t.clone());
            }
            ec.list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(aws(op))
                .map(|o| tag_map(o.tag_list().iter().map(|t| (t.key(), t.value()))))
        };
        let member_id = group.as_ref().and_then(primary_member).map(str::to_string);
        let subnet_ids: Vec<String> = sng
            .iter()
            .flat_map(|s| s.subnets())
            .filter_map(|s| s.subnet_identifier().map(str::to_string))
            .collect();
        let (group_tags, sng_tags, member, subnet_rids) = tokio::try_join!(
            list_tags(
                group.as_ref().and_then(|g| g.arn().map(str::to_string)),
                "elasticache:ListTagsForResource"
            ),
            list_tags(
                sng.as_ref().and_then(|s| s.arn().map(str::to_string)),
                "elasticache:ListTagsForResource"
            ),
            async {
                let Some(id) = &member_id else {
                    return Ok(None);
                };
                let r = ec
                    .describe_cache_clusters()
                    .cache_cluster_id(id)
                    .send()
                    .await
                    .map_err(aws("elasticache:DescribeCacheClusters"));
                // None: deleted between the two calls.
                Ok(found(r)?.and_then(|o| o.cache_clusters().first().cloned()))
            },
            crate::reconcile::kit::subnet_rids(ctx, &subnet_ids),
        )?;

        let mut out = vec![];
        if let Some(s) = &sng {
            if is_ours(&sng_tags, &ctx.project, &ctx.env, &rid(SUBNET_GROUP)) {
                out.push(observe_subnet_group(s, &sng_tags, &subnet_rids, want_sng));
            } else {
                out.push(foreign(SUBNET_GROUP, &name));
            }
        }
        if let Some(g) = &group {
            if is_ours(&group_tags, &ctx.project, &ctx.env, &rid(REDIS)) {
                // Without its member cluster, engine version, subnet group, security groups
                // and maintenance window are unknown: planning on that would show them all as
                // changed (and the subnet group as a replace). Refuse rather than guess; a
                // destroy needs none of them.
                if member.is_none() && want_group.is_some() {
                    return Err(AwsError::new(
                        "elasticache:DescribeCacheClusters",
                        "MemberClusterNotFound",
                        format!(
                            "{name} ({}): its primary cache cluster {} cannot be read yet; plan again once the group is available",
                            g.status().unwrap_or("unknown status"),
                            member_id.as_deref().unwrap_or("(none listed)")
                        ),
                    ));
                }
                out.push(observe_group(
                    g,
                    member.as_ref(),
                    &group_tags,
                    want_group.as_ref(),
                ));
            } else {
                out.push(foreign(REDIS, &name));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

//! `redis/main`: the cluster-mode-disabled replication group, its typed properties, what the
//! spec makes of them and how a live group (and its primary member cluster) reads back.
//! Changes are made in [`super::group_apply`].

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{CacheCluster, ReplicationGroup};
use serde::{Deserialize, Serialize};

use super::log_delivery::{observe_log_delivery, slow_log_delivery, Deliveries};
use super::{
    rid, secret_ref, visible_tags, REDIS, SUBNET_GROUP, TAG_APPLY_IMMEDIATELY, TAG_AUTH_TOKEN_ID,
    TAG_AUTH_TOKEN_SECRET, TAG_FINAL_SNAPSHOT,
};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::reconcile::kit::{to_props, Link, PropsError};
use crate::reconcile::logs::{redis_slow_log_id, redis_slow_log_name};
use crate::spec::network::REDIS_PORT;
use crate::spec::Spec;

pub const ENGINE: &str = "redis";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    REDIS,
    &[
        "engine",
        "engine_version_downgrade",
        "port",
        "cache_subnet_group_name",
        "at_rest_encryption",
        "transit_encryption",
    ],
);

/// The group's properties. The string settings are `None` only in observed state, where AWS
/// did not report them (a group still creating has no endpoint, hence no port; a group being
/// destroyed may have no member cluster left to read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisProps {
    pub description: Option<String>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    /// Set by observe only when the live engine is newer than the spec's (a downgrade, which
    /// ElastiCache cannot make in place): a replace, with the reason.
    pub engine_version_downgrade: Option<String>,
    pub node_type: Option<String>,
    pub port: Option<i64>,
    pub cache_subnet_group_name: Option<String>,
    pub security_group_ids: Option<Vec<Link>>,
    /// The primary plus the read replicas.
    pub num_cache_clusters: i64,
    pub automatic_failover: bool,
    pub multi_az: bool,
    pub at_rest_encryption: bool,
    pub transit_encryption: bool,
    pub snapshot_retention_limit: i64,
    /// Without snapshots the window means nothing (AWS keeps one anyway): not compared then.
    pub snapshot_window: Option<String>,
    /// Lower case (AWS accepts any case and reports lower case).
    pub preferred_maintenance_window: Option<String>,
    pub log_delivery: Deliveries,
    /// The SNS topic ElastiCache sends the group's events to (failover, node failure and
    /// replacement, snapshot failure): the alerts topic when the env has one. Read from the
    /// primary member's NotificationConfiguration; an `inactive` topic counts as none.
    pub notification_topic_arn: Option<Link>,
    /// Every tag but the ones kept behind the two properties below.
    pub tags: BTreeMap<String, String>,
    /// With transit encryption: the secret holding the AUTH token (its ARN), and which
    /// generated token the group holds (the secret's `generated_id`). Recorded in the tags
    /// `rtech:auth-token-secret` / `rtech:auth-token-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token_secret: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token_id: Option<Link>,
}

impl RedisProps {
    /// The spec's `apply_immediately`, kept in its tag.
    pub fn apply_immediately(&self) -> bool {
        self.tags.get(TAG_APPLY_IMMEDIATELY).map(String::as_str) == Some("true")
    }

    /// The tags the group carries: the visible ones and the AUTH token's record.
    pub fn all_tags(&self) -> Result<BTreeMap<String, String>, PropsError> {
        let mut t = self.tags.clone();
        if let Some(a) = &self.auth_token_secret {
            t.insert(
                TAG_AUTH_TOKEN_SECRET.to_string(),
                a.require("auth_token_secret")?.to_string(),
            );
        }
        if let Some(a) = &self.auth_token_id {
            t.insert(
                TAG_AUTH_TOKEN_ID.to_string(),
                a.require("auth_token_id")?.to_string(),
            );
        }
        Ok(t)
    }

    pub fn security_group_ids(&self) -> Result<Vec<String>, PropsError> {
        self.security_group_ids
            .iter()
            .flatten()
            .map(|l| l.require("security_group_ids").map(str::to_string))
            .collect()
    }
}

/// The spec's group (pure), named `name`.
pub fn expand(spec: &Spec, name: &str) -> Option<Resource> {
    let r = spec.redis.as_ref()?;
    let id = rid(REDIS);
    let mut tags = tags_for(&spec.project, &spec.env, &id, name, &spec.tags);
    let final_snapshot = if r.skip_final_snapshot {
        "skip"
    } else {
        "take"
    };
    tags.insert(TAG_FINAL_SNAPSHOT.into(), final_snapshot.into());
    tags.insert(
        TAG_APPLY_IMMEDIATELY.into(),
        r.apply_immediately.to_string(),
    );
    let ha = r.replicas > 0;
    let transit = r.transit_encryption;
    let props = RedisProps {
        description: Some(format!("rtech {}: ElastiCache Redis", spec.env)),
        engine: Some(ENGINE.into()),
        engine_version: Some(r.engine_version.clone()),
        engine_version_downgrade: None,
        node_type: Some(r.node_type.clone()),
        port: Some(REDIS_PORT as i64),
        cache_subnet_group_name: Some(name.to_string()),
        security_group_ids: Some(vec![Link::to(&ResourceId::new("sg", "redis"), "id")]),
        num_cache_clusters: 1 + r.replicas as i64,
        automatic_failover: ha,
        multi_az: ha,
        at_rest_encryption: r.at_rest_encryption,
        transit_encryption: transit,
        snapshot_retention_limit: r.snapshot_retention_days,
        snapshot_window: (r.snapshot_retention_days > 0).then(|| r.snapshot_window.clone()),
        preferred_maintenance_window: Some(r.maintenance_window.to_lowercase()),
        log_delivery: slow_log_delivery(&redis_slow_log_name(&spec.project, &spec.env)),
        notification_topic_arn: crate::reconcile::sns::wanted(spec)
            .then(|| Link::to(&crate::reconcile::sns::topic_id(), "arn")),
        tags,
        auth_token_secret: transit.then(|| Link::to(&secret_ref(), "arn")),
        auth_token_id: transit.then(|| Link::to(&secret_ref(), "generated_id")),
    };
    // Each property's references become dependencies (`Resource::prop`).
    let g = Resource::new(id, name)
        .dep(&rid(SUBNET_GROUP))
        .dep(&redis_slow_log_id());
    Some(
        to_props(&props)
            .into_iter()
            .fold(g, |g, (k, v)| g.prop(&k, v)),
    )
}

fn version_parts(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `7.1.0` is what AWS reports for a group created with `7.1`: report it as the spec wrote it
/// when the live version is within the spec's line, and as AWS has it otherwise.
pub fn normalise_version(live: &str, wanted: Option<&str>) -> String {
    if let Some(w) = wanted {
        let (l, w_parts) = (version_parts(live), version_parts(w));
        if l.len() >= w_parts.len() && l[..w_parts.len()] == w_parts[..] {
            return w.to_string();
        }
    }
    live.to_string()
}

/// Whether going from `live` to `wanted` is a downgrade (not possible in place).
pub fn is_downgrade(live: &str, wanted: &str) -> bool {
    let (mut l, mut w) = (version_parts(live), version_parts(wanted));
    if l.len() >= w.len() && l[..w.len()] == w[..] {
        return false;
    }
    let n = l.len().max(w.len());
    l.resize(n, 0);
    w.resize(n, 0);
    l > w
}

fn enabled(s: Option<&str>) -> bool {
    matches!(s, Some("enabled" | "enabling"))
}

/// The attributes dependants reference: `id`, `arn`, `primary_endpoint`, `reader_endpoint`
/// (when AWS reports one) and `port`.
pub fn group_attrs(g: &ReplicationGroup) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "id".into(),
        g.replication_group_id().unwrap_or_default().to_string(),
    );
    if let Some(arn) = g.arn() {
        a.insert("arn".into(), arn.to_string());
    }
    let ng = g.node_groups().first();
    let primary = ng
        .and_then(|n| n.primary_endpoint())
        .or(g.configuration_endpoint());
    if let Some(e) = primary {
        if let Some(addr) = e.address() {
            a.insert("primary_endpoint".into(), addr.to_string());
        }
        if let Some(p) = e.port() {
            a.insert("port".into(), p.to_string());
        }
    }
    if let Some(addr) = ng
        .and_then(|n| n.reader_endpoint())
        .and_then(|e| e.address())
    {
        a.insert("reader_endpoint".into(), addr.to_string());
    }
    a
}

/// The member cluster to read the group-wide settings from: the primary, else the first.
pub fn primary_member(g: &ReplicationGroup) -> Option<&str> {
    g.node_groups()
        .iter()
        .flat_map(|n| n.node_group_members())
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .or_else(|| g.member_clusters().first().map(String::as_str))
}

/// A live replication group → `Observed` in the desired shape (pure). `member` is its primary
/// cache cluster (engine version, subnet group, security groups, maintenance window live
/// there; None only while destroying, which needs none of them); pending modifications count
/// as done.
pub fn observe_group(
    g: &ReplicationGroup,
    member: Option<&CacheCluster>,
    tags: &BTreeMap<String, String>,
    desired: Option<&RedisProps>,
) -> Observed {
    let mut o = Observed::new(rid(REDIS), g.replication_group_id().unwrap_or_default());
    o.attrs = group_attrs(g);
    let group_pending = g.pending_modified_values();
    let member_pending = member.and_then(|m| m.pending_modified_values());

    let port = g
        .node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .or(g.configuration_endpoint())
        .and_then(|e| e.port())
        .map(i64::from)
        // No endpoint yet (still creating): the port cannot be read, and cannot have changed.
        .or(desired.and_then(|d| d.port));
    let automatic_failover = match group_pending.and_then(|p| p.automatic_failover_status()) {
        Some(p) => p.as_str() == "enabled",
        None => enabled(g.automatic_failover().map(|a| a.as_str())),
    };
    let transit_encryption = group_pending
        .and_then(|p| p.transit_encryption_enabled())
        .or(member_pending.and_then(|p| p.transit_encryption_enabled()))
        .or(g.transit_encryption_enabled())
        .unwrap_or(false);
    let retention = g.snapshot_retention_limit().unwrap_or(0);

    let wanted_version = desired.and_then(|d| d.engine_version.as_deref());
    let live_version = member.and_then(|m| {
        member_pending
            .and_then(|p| p.engine_version())
            .or(m.engine_version())
    });
    let engine_version_downgrade = match (live_version, wanted_version) {
        (Some(v), Some(w)) if is_downgrade(v, w) => {
            Some(format!("{v} to {w}: ElastiCache cannot downgrade in place"))
        }
        _ => None,
    };
    let security_group_ids = member.map(|m| {
        let mut sgs: Vec<&str> = m
            .security_groups()
            .iter()
            .filter_map(|s| s.security_group_id())
            .collect();
        sgs.sort();
        sgs.into_iter().map(Link::from).collect()
    });

    let props = RedisProps {
        description: g.description().map(str::to_string),
        engine: g
            .engine()
            .or(member.and_then(|m| m.engine()))
            .map(str::to_string),
        engine_version: live_version.map(|v| normalise_version(v, wanted_version)),
        engine_version_downgrade,
        node_type: member_pending
            .and_then(|p| p.cache_node_type())
            .or(g.cache_node_type())
            .map(str::to_string),
        port,
        cache_subnet_group_name: member
            .and_then(|m| m.cache_subnet_group_name())
            .map(str::to_string),
        security_group_ids,
        num_cache_clusters: g.member_clusters().len() as i64,
        automatic_failover,
        multi_az: enabled(g.multi_az().map(|m| m.as_str())),
        at_rest_encryption: g.at_rest_encryption_enabled().unwrap_or(false),
        transit_encryption,
        snapshot_retention_limit: retention as i64,
        snapshot_window: (retention > 0)
            .then(|| g.snapshot_window().map(str::to_string))
            .flatten(),
        preferred_maintenance_window: member
            .and_then(|m| m.preferred_maintenance_window())
            .map(str::to_lowercase),
        log_delivery: observe_log_delivery(g),
        notification_topic_arn: member
            .and_then(|m| m.notification_configuration())
            .filter(|n| n.topic_status() == Some("active"))
            .and_then(|n| n.topic_arn())
            .map(Link::from),
        tags: visible_tags(tags),
        auth_token_secret: tags
            .get(TAG_AUTH_TOKEN_SECRET)
            .map(|a| Link::from(a.as_str())),
        auth_token_id: tags.get(TAG_AUTH_TOKEN_ID).map(|a| Link::from(a.as_str())),
    };
    o.props = to_props(&props);

    // Deletes run after the group: its subnet group, security group, slow-log group and token
    // secret.
    o.deps.insert(rid(SUBNET_GROUP));
    o.deps.insert(ResourceId::new("sg", "redis"));
    o.deps.insert(redis_slow_log_id());
    if tags.contains_key(TAG_AUTH_TOKEN_SECRET) {
        o.deps.insert(secret_ref());
    }
    // Its event topic goes after it.
    if props.notification_topic_arn.is_some() {
        o.deps.insert(crate::reconcile::sns::topic_id());
    }
    o
}

pub struct Group;

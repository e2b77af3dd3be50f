//! Changes to `redis/main`: the requests (pure builders over [`RedisProps`], unit-tested) and
//! create / update / delete with their waits.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;

use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::operation::create_replication_group::builders::CreateReplicationGroupFluentBuilder;
use aws_sdk_elasticache::operation::decrease_replica_count::builders::DecreaseReplicaCountFluentBuilder;
use aws_sdk_elasticache::operation::delete_replication_group::builders::DeleteReplicationGroupFluentBuilder;
use aws_sdk_elasticache::operation::increase_replica_count::builders::IncreaseReplicaCountFluentBuilder;
use aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::{AuthTokenUpdateStrategyType, ReplicationGroup};
use aws_sdk_elasticache::Client;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::group::{group_attrs, Group, RedisProps, ENGINE, SCHEMA};
use super::log_delivery::log_delivery_requests;
use super::{ec_tags, existing_at, Ec, TAG_FINAL_SNAPSHOT};
use crate::aws::{aws, waited, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, sync_tags, with_ticker, PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};

/// Creating or modifying a replication group takes minutes, up to 40-60 in the worst case.
const WAIT: Duration = Duration::from_secs(60 * 60);

pub fn create_request(
    c: &Client,
    name: &str,
    p: &RedisProps,
    token: Option<&str>,
) -> Result<CreateReplicationGroupFluentBuilder, PropsError> {
    let mut req = c
        .create_replication_group()
        .replication_group_id(name)
        .set_replication_group_description(p.description.clone())
        .engine(p.engine.as_deref().unwrap_or(ENGINE))
        .set_engine_version(p.engine_version.clone())
        .set_cache_node_type(p.node_type.clone())
        .set_port(p.port.map(|n| n as i32))
        .set_cache_subnet_group_name(p.cache_subnet_group_name.clone())
        .set_security_group_ids(Some(p.security_group_ids()?))
        .num_cache_clusters(p.num_cache_clusters.max(1) as i32)
        .automatic_failover_enabled(p.automatic_failover)
        .multi_az_enabled(p.multi_az)
        .at_rest_encryption_enabled(p.at_rest_encryption)
        .transit_encryption_enabled(p.transit_encryption)
        .snapshot_retention_limit(p.snapshot_retention_limit as i32)
        .set_snapshot_window(p.snapshot_window.clone())
        .set_preferred_maintenance_window(p.preferred_maintenance_window.clone())
        .set_notification_topic_arn(
            p.notification_topic_arn
                .as_ref()
                .map(|l| l.require("notification_topic_arn").map(str::to_string))
                .transpose()?,
        )
        .set_tags(Some(ec_tags(&p.all_tags()?)));
    let delivery = log_delivery_requests(&p.log_delivery, &Default::default());
    if !delivery.is_empty() {
        req = req.set_log_delivery_configurations(Some(delivery));
    }
    if let Some(t) = token {
        req = req.auth_token(t);
    }
    Ok(req)
}

/// ModifyReplicationGroup for the changed fields (None when none of them is modified there;
/// the log delivery has [`log_delivery_request`]).
pub fn modify_request(
    c: &Client,
    group: &str,
    p: &RedisProps,
    changed: &BTreeSet<String>,
) -> Result<Option<ModifyReplicationGroupFluentBuilder>, PropsError> {
    let mut req = c
        .modify_replication_group()
        .replication_group_id(group)
        .apply_immediately(p.apply_immediately());
    let mut any = false;
    let has = |k: &str| changed.contains(k);
    if has("description") {
        req = req.set_replication_group_description(p.description.clone());
        any = true;
    }
    if has("node_type") {
        req = req.set_cache_node_type(p.node_type.clone());
        any = true;
    }
    if has("engine_version") {
        req = req.set_engine_version(p.engine_version.clone());
        any = true;
    }
    if has("automatic_failover") || has("multi_az") {
        req = req
            .automatic_failover_enabled(p.automatic_failover)
            .multi_az_enabled(p.multi_az);
        any = true;
    }
    if has("snapshot_retention_limit") {
        req = req.snapshot_retention_limit(p.snapshot_retention_limit as i32);
        any = true;
    }
    if has("snapshot_window") {
        if let Some(w) = &p.snapshot_window {
            req = req.snapshot_window(w);
            any = true;
        }
    }
    if has("preferred_maintenance_window") {
        req = req.set_preferred_maintenance_window(p.preferred_maintenance_window.clone());
        any = true;
    }
    if has("security_group_ids") {
        req = req.set_security_group_ids(Some(p.security_group_ids()?));
        any = true;
    }
    // Takes effect at once whatever ApplyImmediately says; no topic: notifications off.
    if has("notification_topic_arn") {
        req = match &p.notification_topic_arn {
            Some(l) => req
                .notification_topic_arn(l.require("notification_topic_arn")?)
                .notification_topic_status("active"),
            None => req.notification_topic_status("inactive"),
        };
        any = true;
    }
    Ok(any.then_some(req))
}

/// ModifyReplicationGroup for the log delivery alone: AWS takes a delivery change only with
/// ApplyImmediately (whatever the spec's `apply_immediately`), so it is a call of its own.
/// `live` is the group as observed: its delivered log types the spec lacks are turned off.
pub fn log_delivery_request(
    c: &Client,
    group: &str,
    p: &RedisProps,
    live: &RedisProps,
) -> Option<ModifyReplicationGroupFluentBuilder> {
    let delivery = log_delivery_requests(&p.log_delivery, &live.log_delivery);
    (!delivery.is_empty()).then(|| {
        c.modify_replication_group()
            .replication_group_id(group)
            .apply_immediately(true)
            .set_log_delivery_configurations(Some(delivery))
    })
}

/// A new AUTH token: ROTATE keeps the old one valid too, so clients still holding it keep
/// working until they read the new one from the secret. Always immediate.
pub fn rotate_token_request(
    c: &Client,
    group: &str,
    token: &str,
) -> ModifyReplicationGroupFluentBuilder {
    c.modify_replication_group()
        .replication_group_id(group)
        .auth_token(token)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
        .apply_immediately(true)
}

/// Replica count changes are always immediate (the API requires ApplyImmediately=true).
pub fn increase_replicas_request(
    c: &Client,
    group: &str,
    clusters: i32,
) -> IncreaseReplicaCountFluentBuilder {
    c.increase_replica_count()
        .replication_group_id(group)
        .new_replica_count(clusters - 1)
        .apply_immediately(true)
}

pub fn decrease_replicas_request(
    c: &Client,
    group: &str,
    clusters: i32,
) -> DecreaseReplicaCountFluentBuilder {
    c.decrease_replica_count()
        .replication_group_id(group)
        .new_replica_count(clusters - 1)
        .apply_immediately(true)
}

/// `<group>-final-<UTC yyyymmddHHMMSS>`.
pub fn final_snapshot_name(group: &str, now: DateTime) -> String {
    let stamp: String = DateTime::from_secs(now.secs())
        .fmt(Format::DateTime)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{group}-final-{stamp}")
}

/// Delete the group; a final snapshot unless its `rtech:final-snapshot` tag says `skip` (a
/// group without the tag keeps its data).
pub fn delete_request(
    c: &Client,
    o: &Observed,
    now: DateTime,
) -> DeleteReplicationGroupFluentBuilder {
    let req = c
        .delete_replication_group()
        .replication_group_id(&o.physical_id);
    if o.tag(TAG_FINAL_SNAPSHOT) == Some("skip") {
        req
    } else {
        req.final_snapshot_identifier(final_snapshot_name(&o.physical_id, now))
    }
}

/// The group as AWS has it now (None when there is none).
pub(super) async fn describe(ctx: &Ctx, id: &str) -> Result<Option<ReplicationGroup>, AwsError> {
    let r = ctx
        .clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(aws("elasticache:DescribeReplicationGroups"));
    Ok(found(r)?.and_then(|o| o.replication_groups().first().cloned()))
}

/// Wait (bounded) until the group is `available`, and return it.
pub async fn wait_available(
    ctx: &Ctx,
    id: &str,
    task: &Task,
) -> Result<ReplicationGroup, AwsError> {
    let what = format!("replication group {id} to become available (minutes on AWS)");
    let waiter = ctx
        .clients
        .elasticache
        .wait_until_replication_group_available()
        .replication_group_id(id)
        .wait(WAIT);
    let done = with_ticker(task, &what, waiter)
        .await
        .map_err(waited("elasticache:DescribeReplicationGroups", id))?;
    done.into_result()
        .map_err(aws("elasticache:DescribeReplicationGroups"))?
        .replication_groups()
        .first()
        .cloned()
        .ok_or_else(|| {
            AwsError::new(
                "elasticache:DescribeReplicationGroups",
                "ReplicationGroupNotFoundFault",
                format!("{id} vanished while rtech waited for it"),
            )
        })
}

/// Wait (bounded) until the group is gone.
async fn wait_deleted(ctx: &Ctx, id: &str, task: &Task) -> Result<(), AwsError> {
    let what = format!("replication group {id} to be deleted (minutes on AWS)");
    let waiter = ctx
        .clients
        .elasticache
        .wait_until_replication_group_deleted()
        .replication_group_id(id)
        .wait(WAIT);
    with_ticker(task, &what, waiter)
        .await
        .map(|_| ())
        .map_err(waited("elasticache:DescribeReplicationGroups", id))
}

/// The AUTH token (with transit encryption), read from its secret at apply time: never put in
/// a property, attribute, log or error.
async fn auth_token(
    ctx: &Ctx,
    id: &ResourceId,
    p: &RedisProps,
) -> Result<Option<String>, AwsError> {
    if !p.transit_encryption {
        return Ok(None);
    }
    let arn = p
        .auth_token_secret
        .as_ref()
        .ok_or_else(|| {
            AwsError::new(
                "rtech",
                "NoAuthTokenSecret",
                format!("{id}: transit encryption needs the AUTH token secret"),
            )
        })?
        .require("auth_token_secret")?;
    crate::reconcile::secrets::generated_value(ctx, arn)
        .await
        .map(Some)
}

/// One ModifyReplicationGroup, then the wait until the group is available again.
async fn modify_and_wait(
    ctx: &Ctx,
    id: &str,
    req: ModifyReplicationGroupFluentBuilder,
    what: &str,
    task: &Task,
) -> Result<(), AwsError> {
    task.status(what);
    req.send()
        .await
        .map_err(aws("elasticache:ModifyReplicationGroup"))?;
    wait_available(ctx, id, task).await?;
    Ok(())
}

#[async_trait]
impl Kind for Group {
    crate::typed_kind!(SCHEMA, RedisProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: RedisProps = from_props(&r.props)?;
        let id = r.name.as_str();
        // A group of the same name still being deleted (a replace, or an out-of-band delete)
        // holds the name until it is gone.
        if let Some(g) = describe(ctx, id).await? {
            if g.status() == Some("deleting") {
                task.status(&format!(
                    "waiting for the previous replication group {id} to finish deleting"
                ));
                wait_deleted(ctx, id, task).await?;
            }
        }
        let token = auth_token(ctx, &r.id, &p).await?;
        task.status(&format!("creating replication group {id}"));
        let req = create_request(&ctx.clients.elasticache, id, &p, token.as_deref())?;
        let create = async {
            req.send()
                .await
                .map_err(aws("elasticache:CreateReplicationGroup"))?;
            Ok(())
        };
        // The group id is unique: ReplicationGroupAlreadyExists on a retried create (lost
        // response) adopts the group when it carries our tags.
        adopt_on_exists(&r.id.to_string(), create, || async {
            let g = describe(ctx, id).await?;
            existing_at(ctx, r, g.as_ref().and_then(|g| g.arn()), ()).await
        })
        .await?;
        let g = wait_available(ctx, id, task).await?;
        Ok(group_attrs(&g))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (r, prior, changed) = (u.desired, u.prior, u.changed);
        let ec = &ctx.clients.elasticache;
        let p: RedisProps = from_props(&r.props)?;
        let live: RedisProps = from_props(&prior.props)?;
        let id = prior.physical_id.as_str();
        // A modification still in progress (an earlier apply, or someone else) must finish first.
        if describe(ctx, id)
            .await?
            .and_then(|g| g.status().map(str::to_string))
            .as_deref()
            != Some("available")
        {
            wait_available(ctx, id, task).await?;
        }

        let want = p.num_cache_clusters as i32;
        let have = live.num_cache_clusters as i32;
        // Replicas first when adding (failover needs one), last when removing (after failover
        // has been turned off).
        if changed.contains("num_cache_clusters") && want > have {
            task.status(&format!("adding replicas: {have} → {want} nodes"));
            increase_replicas_request(ec, id, want)
                .send()
                .await
                .map_err(aws("elasticache:IncreaseReplicaCount"))?;
            wait_available(ctx, id, task).await?;
        }
        if let Some(req) = modify_request(ec, id, &p, changed)? {
            modify_and_wait(ctx, id, req, "modifying the replication group", task).await?;
        }
        if changed.contains("log_delivery") {
            if let Some(req) = log_delivery_request(ec, id, &p, &live) {
                let what = "changing the log delivery (applied immediately)";
                modify_and_wait(ctx, id, req, what, task).await?;
            }
        }
        if changed.contains("num_cache_clusters") && want < have {
            task.status(&format!("removing replicas: {have} → {want} nodes"));
            decrease_replicas_request(ec, id, want)
                .send()
                .await
                .map_err(aws("elasticache:DecreaseReplicaCount"))?;
            wait_available(ctx, id, task).await?;
        }
        if changed.contains("auth_token_id") && p.auth_token_id.is_some() {
            if let Some(token) = auth_token(ctx, &r.id, &p).await? {
                let req = rotate_token_request(ec, id, &token);
                modify_and_wait(ctx, id, req, "rotating the AUTH token", task).await?;
            }
        }

        // The visible tags and the AUTH token's record: written only where they differ.
        let arn = prior.attrs.get("arn").cloned().unwrap_or_default();
        sync_tags(&Ec(ec), &arn, &live.all_tags()?, &p.all_tags()?).await?;

        let g = describe(ctx, id).await?.ok_or_else(|| {
            AwsError::new(
                "elasticache:DescribeReplicationGroups",
                "ReplicationGroupNotFoundFault",
                format!("{id} vanished during the update"),
            )
        })?;
        Ok(group_attrs(&g))
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let id = o.physical_id.as_str();
        let req = delete_request(
            &ctx.clients.elasticache,
            o,
            DateTime::from(std::time::SystemTime::now()),
        );
        match req.get_final_snapshot_identifier() {
            Some(s) => task.status(&format!("deleting; final snapshot {s}")),
            None => task.status("deleting without a final snapshot (rtech:final-snapshot=skip)"),
        }
        let r = req
            .send()
            .await
            .map(|_| ())
            .map_err(aws("elasticache:DeleteReplicationGroup"));
        match r {
            Err(e) if e.is_not_found() => return Ok(()),
            // Already being deleted: wait for it like for our own delete.
            Err(e) if e.is("InvalidReplicationGroupState") => {}
            other => other?,
        }
        wait_deleted(ctx, id, task).await
    }

    /// A group still `creating` (an interrupted apply) has no endpoint yet: wait for it.
    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        let g = wait_available(ctx, &o.physical_id, task).await?;
        Ok(group_attrs(&g))
    }
}

//! `rtech drill failover --service redis`: the env's replication group, whether it can fail
//! over, and TestFailover on the primary's node group, followed until a replica has become
//! the primary of an available group.

use std::time::Duration;

use aws_sdk_elasticache::types::{AutomaticFailoverStatus, ReplicationGroup};

use super::group_apply::describe;
use super::name;
use crate::aws::{aws, AwsError};
use crate::progress::Task;
use crate::reconcile::kit::{until, Poll};
use crate::reconcile::Ctx;

/// A failover takes seconds to minutes on AWS: generous.
const FAILOVER_WAIT: Duration = Duration::from_secs(30 * 60);

/// The env's replication group's name, `{project}-{env}-redis`.
pub fn live_name(ctx: &Ctx) -> String {
    name(&ctx.project, &ctx.env)
}

/// The env's replication group (None: there is none).
pub async fn live_group(ctx: &Ctx) -> Result<Option<ReplicationGroup>, AwsError> {
    describe(ctx, &live_name(ctx)).await
}

/// The primary member and the id of its node group (pure).
pub fn primary(g: &ReplicationGroup) -> Option<(&str, &str)> {
    g.node_groups().iter().find_map(|n| {
        let m = n
            .node_group_members()
            .iter()
            .find(|m| m.current_role() == Some("primary"))?;
        Some((m.cache_cluster_id()?, n.node_group_id()?))
    })
}

/// Why the group cannot fail over (pure); None: it can.
pub fn failover_refusal(name: &str, g: Option<&ReplicationGroup>) -> Option<String> {
    let Some(g) = g else {
        return Some(format!(
            "replication group {name} does not exist: apply the env first"
        ));
    };
    let Some((_, node_group)) = primary(g) else {
        return Some(format!("replication group {name} reports no primary"));
    };
    let members = g
        .node_groups()
        .iter()
        .find(|n| n.node_group_id() == Some(node_group))
        .map_or(0, |n| n.node_group_members().len());
    if members < 2 {
        return Some(format!(
            "replication group {name} has no replica to promote: set [redis] replicas = 1 or more (which turns automatic failover on) and apply"
        ));
    }
    if g.automatic_failover() != Some(&AutomaticFailoverStatus::Enabled) {
        return Some(format!(
            "replication group {name} has automatic failover {}: a failover needs it enabled ([redis] replicas = 1 or more)",
            g.automatic_failover().map_or("disabled", |s| s.as_str())
        ));
    }
    let status = g.status().unwrap_or("unknown");
    if status != "available" {
        return Some(format!(
            "replication group {name} is {status}: a failover needs it available"
        ));
    }
    None
}

/// TestFailover on the node group of `before` (the primary), then follow the group until
/// another member is the primary and the group is available; that member.
///
/// TestFailover has no target to name: the SDK must not repeat it (a repeat after a lost
/// response would fail over a second time), so it is sent once, and when it fails the group
/// is read back: a primary that moved, or a group already `modifying`, means it was accepted.
pub async fn failover(
    ctx: &Ctx,
    group: &str,
    node_group: &str,
    before: &str,
    task: &Task,
) -> Result<String, AwsError> {
    let once = aws_sdk_elasticache::config::Builder::default()
        .retry_config(aws_sdk_elasticache::config::retry::RetryConfig::disabled());
    let r = ctx
        .clients
        .elasticache
        .test_failover()
        .replication_group_id(group)
        .node_group_id(node_group)
        .customize()
        .config_override(once)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("elasticache:TestFailover"));
    if let Err(e) = r {
        let g = describe(ctx, group).await?;
        let accepted = g.as_ref().is_some_and(|g| {
            g.status() == Some("modifying") || primary(g).is_some_and(|(p, _)| p != before)
        });
        if !accepted {
            return Err(e);
        }
    }
    let what = format!("a replica of {group} to serve as its primary");
    let poll = Poll {
        op: "elasticache:DescribeReplicationGroups",
        what: &what,
        pending: &["failing-over"],
        target: &["serving"],
        timeout: FAILOVER_WAIT,
    };
    until(poll, task, || async {
        let g = describe(ctx, group).await?.ok_or_else(|| {
            AwsError::new(
                "elasticache:DescribeReplicationGroups",
                "ReplicationGroupNotFoundFault",
                format!("replication group {group} disappeared during its failover"),
            )
        })?;
        let now = primary(&g).map(|(p, _)| p.to_string());
        let state = match g.status().unwrap_or("unknown") {
            "available" if now.as_deref().is_some_and(|p| p != before) => "serving",
            "available" | "modifying" | "snapshotting" => "failing-over",
            other => other,
        };
        Ok((state.to_string(), now.unwrap_or_default()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::types::{NodeGroup, NodeGroupMember};

    fn group(
        status: &str,
        failover: AutomaticFailoverStatus,
        roles: &[(&str, &str)],
    ) -> ReplicationGroup {
        let members = roles
            .iter()
            .map(|(id, role)| {
                NodeGroupMember::builder()
                    .cache_cluster_id(*id)
                    .current_role(*role)
                    .build()
            })
            .collect();
        ReplicationGroup::builder()
            .replication_group_id("rtech-prod-redis")
            .status(status)
            .automatic_failover(failover)
            .node_groups(
                NodeGroup::builder()
                    .node_group_id("0001")
                    .set_node_group_members(Some(members))
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_failover_needs_a_replica_and_automatic_failover_on_an_available_group() {
        let name = "rtech-prod-redis";
        let why = |g: Option<&ReplicationGroup>| failover_refusal(name, g).unwrap_or_default();
        assert!(why(None).contains("does not exist"));
        let solo = group(
            "available",
            AutomaticFailoverStatus::Disabled,
            &[("rtech-prod-redis-001", "primary")],
        );
        assert!(why(Some(&solo)).contains("has no replica to promote: set [redis] replicas = 1"));
        let pair = [
            ("rtech-prod-redis-001", "primary"),
            ("rtech-prod-redis-002", "replica"),
        ];
        let off = group("available", AutomaticFailoverStatus::Disabled, &pair);
        assert!(why(Some(&off)).contains("automatic failover disabled"));
        let busy = group("modifying", AutomaticFailoverStatus::Enabled, &pair);
        assert!(why(Some(&busy)).contains("is modifying"));
        let ok = group("available", AutomaticFailoverStatus::Enabled, &pair);
        assert_eq!(failover_refusal(name, Some(&ok)), None);
        assert_eq!(primary(&ok), Some(("rtech-prod-redis-001", "0001")));
        let after = group(
            "available",
            AutomaticFailoverStatus::Enabled,
            &[
                ("rtech-prod-redis-001", "replica"),
                ("rtech-prod-redis-002", "primary"),
            ],
        );
        assert_eq!(primary(&after), Some(("rtech-prod-redis-002", "0001")));
    }
}

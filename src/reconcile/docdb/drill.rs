//! `rtech drill`'s DocumentDB calls: the live cluster and its writer, a failover followed until
//! the new writer serves, the cluster's snapshots, and a restore drill's temporary cluster
//! (restored beside the live one, given one instance, deleted, or found again by `destroy`).
//!
//! The drill cluster carries the env's `rtech:project` and `rtech:env` tags and the marker
//! [`TAG_DRILL`], but no `rtech:id`: observe claims nothing without `rtech:id`, so no plan shows
//! it, and [`kept_drills`] finds it for `destroy`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_docdb::types::{DbCluster, DbClusterSnapshot};
use aws_sdk_docdb::Client;

use super::cluster::{cluster_available, delete_cluster};
use super::instance::{delete_instance, instance_available};
use super::{cluster_name, describe_cluster, describe_instance, list_tags, tag_list};
use crate::aws::{all_pages, aws, AwsError};
use crate::drill::{is_drill_cluster_of, TAG_DRILL};
use crate::model::{TAG_ENV, TAG_PROJECT};
use crate::progress::Task;
use crate::reconcile::kit::{adopt_on_exists, found, until, Existing, Poll};
use crate::reconcile::Ctx;

/// A failover takes seconds to a couple of minutes on AWS: generous.
const FAILOVER_WAIT: Duration = Duration::from_secs(30 * 60);

/// The env's live cluster, `{project}-{env}-docdb` (None: there is none).
pub async fn live_cluster(ctx: &Ctx) -> Result<Option<DbCluster>, AwsError> {
    describe_cluster(ctx, &cluster_name(&ctx.project, &ctx.env)).await
}

/// The env's live cluster's name.
pub fn live_name(ctx: &Ctx) -> String {
    cluster_name(&ctx.project, &ctx.env)
}

/// The cluster's writer instance (pure).
pub fn writer(c: &DbCluster) -> Option<&str> {
    c.db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
}

/// The replica a failover promotes, as DocumentDB picks it: the lowest promotion tier, then
/// the name (pure).
pub fn failover_target(c: &DbCluster) -> Option<&str> {
    c.db_cluster_members()
        .iter()
        .filter(|m| m.is_cluster_writer() != Some(true))
        .min_by_key(|m| (m.promotion_tier().unwrap_or(15), m.db_instance_identifier()))
        .and_then(|m| m.db_instance_identifier())
}

/// Why the cluster cannot fail over (pure); None: it can.
pub fn failover_refusal(name: &str, c: Option<&DbCluster>) -> Option<String> {
    let Some(c) = c else {
        return Some(format!(
            "DocumentDB cluster {name} does not exist: apply the env first"
        ));
    };
    let n = c.db_cluster_members().len();
    if n < 2 {
        return Some(format!(
            "DocumentDB cluster {name} has {n} instance(s) and a failover needs at least 2 (a writer and a replica to promote): set [docdb] instances = 2 or more and apply"
        ));
    }
    let status = c.status().unwrap_or("unknown");
    if status != "available" {
        return Some(format!(
            "DocumentDB cluster {name} is {status}: a failover needs it available"
        ));
    }
    if writer(c).is_none() {
        return Some(format!(
            "DocumentDB cluster {name} reports no writer instance"
        ));
    }
    None
}

/// Fail the cluster over to `target` (a replica) and follow it until `target` is the writer
/// of an available cluster and is itself available. The target is named so that a request
/// the SDK retries after a lost response asks for the same failover, not a second one back.
pub async fn failover(ctx: &Ctx, name: &str, target: &str, task: &Task) -> Result<(), AwsError> {
    let r = ctx
        .clients
        .docdb
        .failover_db_cluster()
        .db_cluster_identifier(name)
        .target_db_instance_identifier(target)
        .send()
        .await
        .map(|_| ())
        .map_err(aws("docdb:FailoverDBCluster"));
    match r {
        // Already failing over (the first attempt of a retried request started it).
        Err(e) if e.is("InvalidDBClusterStateFault") => {
            let c = describe_cluster(ctx, name).await?;
            if !c.is_some_and(|c| c.status() == Some("failing-over") || writer(&c) == Some(target))
            {
                return Err(e);
            }
        }
        other => other?,
    }
    let what = format!("instance {target} to serve as the writer of cluster {name}");
    let poll = Poll {
        op: "docdb:DescribeDBClusters",
        what: &what,
        pending: &["failing-over", "promoting"],
        target: &["serving"],
        timeout: FAILOVER_WAIT,
    };
    until(poll, task, || async {
        let c = describe_cluster(ctx, name).await?.ok_or_else(|| {
            AwsError::new(
                "docdb:DescribeDBClusters",
                "DBClusterNotFoundFault",
                format!("cluster {name} disappeared during its failover"),
            )
        })?;
        let state = match c.status().unwrap_or("unknown") {
            "available" if writer(&c) == Some(target) => {
                let i = describe_instance(ctx, target).await?;
                match i.as_ref().and_then(|i| i.db_instance_status()) {
                    Some("available") => "serving",
                    _ => "promoting",
                }
            }
            "available" | "failing-over" | "modifying" | "backing-up" | "maintenance" => {
                "failing-over"
            }
            other => return Ok((other.to_string(), ())),
        };
        Ok((state.to_string(), ()))
    })
    .await
}

/// The available snapshots of `cluster`, automated and manual, newest first (pure).
pub fn newest_first<'a>(
    snaps: &'a [DbClusterSnapshot],
    cluster: &str,
) -> Vec<&'a DbClusterSnapshot> {
    let mut v: Vec<&DbClusterSnapshot> = snaps
        .iter()
        .filter(|s| s.db_cluster_identifier() == Some(cluster) && s.status() == Some("available"))
        .collect();
    v.sort_by(|a, b| {
        let t = |s: &DbClusterSnapshot| {
            s.snapshot_create_time()
                .map(|t| (t.secs(), t.subsec_nanos()))
        };
        t(b).cmp(&t(a))
    });
    v
}

/// Every snapshot of `cluster` (automated and manual), paginated.
pub async fn snapshots(ctx: &Ctx, cluster: &str) -> Result<Vec<DbClusterSnapshot>, AwsError> {
    all_pages!(
        ctx.clients
            .docdb
            .describe_db_cluster_snapshots()
            .db_cluster_identifier(cluster),
        "docdb:DescribeDBClusterSnapshots"
    )
}

/// The snapshot named `id` (None: no such snapshot).
pub async fn snapshot(ctx: &Ctx, id: &str) -> Result<Option<DbClusterSnapshot>, AwsError> {
    let r = ctx
        .clients
        .docdb
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
        .map_err(aws("docdb:DescribeDBClusterSnapshots"));
    Ok(found(r)?.and_then(|o| o.db_cluster_snapshots().first().cloned()))
}

/// When the snapshot was taken.
pub fn created(s: &DbClusterSnapshot) -> Option<SystemTime> {
    s.snapshot_create_time()
        .and_then(|t| SystemTime::try_from(*t).ok())
}

/// The restore request (pure): the snapshot into `name`, in the live cluster's subnet group
/// and security groups, with `tags`.
pub fn restore_request(
    c: &Client,
    name: &str,
    snapshot: &str,
    live: &DbCluster,
    tags: &BTreeMap<String, String>,
) -> aws_sdk_docdb::operation::restore_db_cluster_from_snapshot::builders::RestoreDBClusterFromSnapshotFluentBuilder
{
    c.restore_db_cluster_from_snapshot()
        .db_cluster_identifier(name)
        .snapshot_identifier(snapshot)
        .engine("docdb")
        .set_engine_version(live.engine_version().map(String::from))
        .set_db_subnet_group_name(live.db_subnet_group().map(String::from))
        .set_vpc_security_group_ids(Some(
            live.vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(String::from))
                .collect(),
        ))
        .set_tags(Some(tag_list(tags)))
}

/// Whether the resource's tags make it this env's drill resource of the run marked `marker`.
fn drill_of_run(ctx: &Ctx, tags: &BTreeMap<String, String>, marker: &str) -> bool {
    tags.get(TAG_PROJECT) == Some(&ctx.project)
        && tags.get(TAG_ENV) == Some(&ctx.env)
        && tags.get(TAG_DRILL).map(String::as_str) == Some(marker)
}

/// Restore `snapshot` into the drill cluster `name` and wait until it is available. A
/// retried request whose first attempt created the cluster adopts it (its marker tag names
/// this run).
pub async fn restore(
    ctx: &Ctx,
    name: &str,
    snapshot: &str,
    live: &DbCluster,
    tags: &BTreeMap<String, String>,
    task: &Task,
) -> Result<DbCluster, AwsError> {
    let marker = tags.get(TAG_DRILL).cloned().unwrap_or_default();
    let create = async {
        restore_request(&ctx.clients.docdb, name, snapshot, live, tags)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:RestoreDBClusterFromSnapshot"))
    };
    adopt_on_exists(&format!("drill cluster {name}"), create, || async {
        let arn = describe_cluster(ctx, name)
            .await?
            .and_then(|c| c.db_cluster_arn().map(String::from));
        Ok(match arn {
            None => Existing::Missing,
            Some(arn) => match list_tags(ctx, &arn).await? {
                Some(t) if drill_of_run(ctx, &t, &marker) => Existing::Ours(()),
                Some(_) => Existing::Foreign,
                None => Existing::Missing,
            },
        })
    })
    .await?;
    cluster_available(ctx, name, task).await
}

/// Give the drill cluster `cluster` the instance `instance` (of `class`) unless it has one,
/// and wait until that is available.
pub async fn add_instance(
    ctx: &Ctx,
    cluster: &DbCluster,
    instance: &str,
    class: &str,
    tags: &BTreeMap<String, String>,
    task: &Task,
) -> Result<String, AwsError> {
    let name = cluster.db_cluster_identifier().unwrap_or_default();
    if let Some(m) = cluster
        .db_cluster_members()
        .first()
        .and_then(|m| m.db_instance_identifier())
    {
        instance_available(ctx, m, task).await?;
        return Ok(m.to_string());
    }
    let create = async {
        ctx.clients
            .docdb
            .create_db_instance()
            .db_instance_identifier(instance)
            .db_cluster_identifier(name)
            .engine("docdb")
            .db_instance_class(class)
            .set_tags(Some(tag_list(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(aws("docdb:CreateDBInstance"))
    };
    // The name is unique: an instance of this drill cluster under it is this run's.
    adopt_on_exists(&format!("drill instance {instance}"), create, || async {
        Ok(match describe_instance(ctx, instance).await? {
            None => Existing::Missing,
            Some(i) if i.db_cluster_identifier() == Some(name) => Existing::Ours(()),
            Some(_) => Existing::Foreign,
        })
    })
    .await?;
    instance_available(ctx, instance, task).await?;
    Ok(instance.to_string())
}

/// Delete a drill cluster: its instances (waiting until they are gone), then the cluster
/// without a final snapshot. What is already gone counts as deleted.
pub async fn delete_drill(ctx: &Ctx, name: &str, task: &Task) -> Result<(), AwsError> {
    let Some(c) = describe_cluster(ctx, name).await? else {
        return Ok(());
    };
    for m in c.db_cluster_members() {
        let Some(id) = m.db_instance_identifier() else {
            continue;
        };
        task.status(&format!("deleting instance {id}"));
        delete_instance(ctx, id, task).await?;
    }
    task.status(&format!("deleting cluster {name} (no final snapshot)"));
    delete_cluster(ctx, name, None, task).await
}

/// The drill clusters a `rtech drill restore --keep` left in the env: named after the live
/// cluster, tagged with the env and the drill marker.
pub async fn kept_drills(ctx: &Ctx) -> Result<Vec<String>, AwsError> {
    let live = live_name(ctx);
    let clusters = all_pages!(
        ctx.clients
            .docdb
            .describe_db_clusters()
            .filters(super::observe::engine_filter()),
        "docdb:DescribeDBClusters"
    )?;
    let mut out = vec![];
    for c in clusters {
        let (Some(name), Some(arn)) = (c.db_cluster_identifier(), c.db_cluster_arn()) else {
            continue;
        };
        if !is_drill_cluster_of(name, &live) || c.status() == Some("deleting") {
            continue;
        }
        let Some(t) = list_tags(ctx, arn).await? else {
            continue;
        };
        if t.get(TAG_PROJECT) == Some(&ctx.project)
            && t.get(TAG_ENV) == Some(&ctx.env)
            && t.contains_key(TAG_DRILL)
        {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_docdb::types::{DbClusterMember, VpcSecurityGroupMembership};
    use aws_smithy_types::DateTime;

    fn member(id: &str, writer: bool, tier: i32) -> DbClusterMember {
        DbClusterMember::builder()
            .db_instance_identifier(id)
            .is_cluster_writer(writer)
            .promotion_tier(tier)
            .build()
    }

    fn cluster(status: &str, members: Vec<DbClusterMember>) -> DbCluster {
        DbCluster::builder()
            .db_cluster_identifier("rtech-prod-docdb")
            .status(status)
            .set_db_cluster_members(Some(members))
            .build()
    }

    #[test]
    fn a_failover_needs_an_available_cluster_with_a_writer_and_a_replica() {
        let name = "rtech-prod-docdb";
        let why = |c: Option<&DbCluster>| failover_refusal(name, c).unwrap_or_default();
        assert!(why(None).contains("does not exist: apply the env first"));
        let one = cluster("available", vec![member("rtech-prod-docdb-1", true, 1)]);
        assert!(why(Some(&one)).contains(
            "has 1 instance(s) and a failover needs at least 2 (a writer and a replica to promote): set [docdb] instances = 2"
        ));
        let two = vec![
            member("rtech-prod-docdb-1", true, 1),
            member("rtech-prod-docdb-2", false, 1),
        ];
        assert!(why(Some(&cluster("modifying", two.clone()))).contains("is modifying"));
        let ok = cluster("available", two);
        assert_eq!(failover_refusal(name, Some(&ok)), None);
        assert_eq!(writer(&ok), Some("rtech-prod-docdb-1"));
        assert_eq!(failover_target(&ok), Some("rtech-prod-docdb-2"));
        let no_writer = cluster(
            "available",
            vec![
                member("rtech-prod-docdb-1", false, 1),
                member("rtech-prod-docdb-2", false, 1),
            ],
        );
        assert!(why(Some(&no_writer)).contains("no writer"));
    }

    #[test]
    fn the_failover_target_is_the_replica_of_the_lowest_tier_then_name() {
        let c = cluster(
            "available",
            vec![
                member("x-1", false, 2),
                member("x-2", true, 0),
                member("x-4", false, 1),
                member("x-3", false, 1),
            ],
        );
        assert_eq!(failover_target(&c), Some("x-3"));
    }

    fn snap(id: &str, cluster: &str, status: &str, secs: i64) -> DbClusterSnapshot {
        DbClusterSnapshot::builder()
            .db_cluster_snapshot_identifier(id)
            .db_cluster_identifier(cluster)
            .status(status)
            .snapshot_create_time(DateTime::from_secs(secs))
            .build()
    }

    #[test]
    fn the_latest_snapshot_is_the_newest_available_one_of_the_cluster() {
        let all = [
            snap("rds:c-2026-12-01", "c", "available", 100),
            snap("manual-new", "c", "available", 300),
            snap("being-taken", "c", "creating", 400),
            snap("other", "c-other", "available", 500),
            snap("rds:c-2026-12-02", "c", "available", 200),
        ];
        let ids: Vec<_> = newest_first(&all, "c")
            .iter()
            .map(|s| s.db_cluster_snapshot_identifier().unwrap())
            .collect();
        assert_eq!(ids, ["manual-new", "rds:c-2026-12-02", "rds:c-2026-12-01"]);
        assert_eq!(
            created(&all[1]),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(300))
        );
    }

    #[test]
    fn the_restore_lands_beside_the_live_cluster_with_the_drill_tags() {
        let client: Client = crate::offline_client!(aws_sdk_docdb);
        let live = DbCluster::builder()
            .db_cluster_identifier("rtech-prod-docdb")
            .engine_version("5.0.0")
            .db_subnet_group("rtech-prod-docdb")
            .vpc_security_groups(
                VpcSecurityGroupMembership::builder()
                    .vpc_security_group_id("sg-1")
                    .build(),
            )
            .build();
        let tags = BTreeMap::from([
            (TAG_DRILL.to_string(), "2026-12-02T11:30:05Z".to_string()),
            (TAG_ENV.to_string(), "prod".to_string()),
        ]);
        let req = restore_request(
            &client,
            "rtech-prod-docdb-drill-20261202113005",
            "rds:rtech-prod-docdb-2026-12-02-03-00",
            &live,
            &tags,
        );
        let i = req.as_input();
        assert_eq!(
            i.get_db_cluster_identifier().as_deref(),
            Some("rtech-prod-docdb-drill-20261202113005")
        );
        assert_eq!(
            i.get_snapshot_identifier().as_deref(),
            Some("rds:rtech-prod-docdb-2026-12-02-03-00")
        );
        assert_eq!(i.get_engine().as_deref(), Some("docdb"));
        assert_eq!(i.get_engine_version().as_deref(), Some("5.0.0"));
        assert_eq!(
            i.get_db_subnet_group_name().as_deref(),
            Some("rtech-prod-docdb")
        );
        assert_eq!(
            i.get_vpc_security_group_ids().as_deref(),
            Some(&["sg-1".to_string()][..])
        );
        let t: BTreeMap<_, _> = i
            .get_tags()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        assert_eq!(t.get(TAG_DRILL), Some(&"2026-12-02T11:30:05Z"));
        assert!(!t.contains_key("rtech:id"));
    }
}

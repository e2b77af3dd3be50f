//! Failure and failover events to the alerts topic, and DocumentDB's snapshot tags, against the
//! emulator: DocumentDB event subscriptions (`docdb_event_sub/cluster`, `/instance`), the Redis
//! group's NotificationTopicArn, and the cluster's CopyTagsToSnapshot. Apply → empty plan; each
//! out-of-band change shows as exactly that drift and apply repairs it; a deleted subscription
//! is a create; destroy leaves no subscription; a same-named subscription without our tags is
//! never touched. Every check goes through the services' own APIs (the SDK).

use std::collections::BTreeMap;

use crate::emulator::Emulator;
use crate::support::*;

const DOCDB: &str = r#"
[docdb]
instance_class = "db.t3.medium"
instances = 1
backup_retention_days = 1
skip_final_snapshot = true
apply_immediately = true
"#;

const CLUSTER_SUB: &str = "rtech-dev-docdb-cluster-events";
const INSTANCE_SUB: &str = "rtech-dev-docdb-instance-events";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:rtech-dev-alerts";

fn sections() -> String {
    format!("{DOCDB}{DEV_REDIS}\n[monitoring]\nemails = [\"ops@example.com\"]\n")
}

/// Our event subscriptions, by name: (topic, source type, sorted source ids, sorted
/// categories, enabled, tags).
type Sub = (
    String,
    String,
    Vec<String>,
    Vec<String>,
    bool,
    BTreeMap<String, String>,
);

async fn subscriptions(dd: &aws_sdk_docdb::Client) -> BTreeMap<String, Sub> {
    let out = dd.describe_event_subscriptions().send().await.unwrap();
    let mut m = BTreeMap::new();
    for s in out.event_subscriptions_list() {
        let name = s.cust_subscription_id().unwrap_or_default().to_string();
        let tags = dd
            .list_tags_for_resource()
            .resource_name(s.event_subscription_arn().unwrap())
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = s.source_ids_list().to_vec();
        ids.sort();
        let mut cats: Vec<String> = s.event_categories_list().to_vec();
        cats.sort();
        m.insert(
            name,
            (
                s.sns_topic_arn().unwrap_or_default().to_string(),
                s.source_type().unwrap_or_default().to_string(),
                ids,
                cats,
                s.enabled().unwrap_or(false),
                tag_map(tags.tag_list().iter().map(|t| (t.key(), t.value()))),
            ),
        );
    }
    m
}

/// The primary member's notification topic and its status.
async fn redis_notification(ec: &aws_sdk_elasticache::Client) -> Option<(String, String)> {
    let out = ec
        .describe_cache_clusters()
        .cache_cluster_id("rtech-dev-redis-001")
        .send()
        .await
        .unwrap();
    let n = out.cache_clusters().first()?.notification_configuration()?;
    Some((
        n.topic_arn().unwrap_or_default().to_string(),
        n.topic_status().unwrap_or_default().to_string(),
    ))
}

async fn copy_tags(dd: &aws_sdk_docdb::Client) -> Option<bool> {
    dd.describe_db_clusters()
        .db_cluster_identifier("rtech-dev-docdb")
        .send()
        .await
        .unwrap()
        .db_clusters()
        .first()
        .and_then(|c| c.copy_tags_to_snapshot())
}

const KINDS: &[&str] = &["docdb_event_sub", "docdb_cluster", "redis"];

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_the_alerts_topic_drift_is_repaired_and_destroy_removes_them() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections());
    let d = dir.path();
    let dd = docdb(&emu).await;
    let ec = elasticache(&emu).await;

    apply_in(&emu, d, "dev", &[]);
    assert_plan_empty_in(&emu, d, "dev", &[]);

    // As DocumentDB and ElastiCache have them.
    let subs = subscriptions(&dd).await;
    let (topic, ty, ids, cats, enabled, tags) = &subs[CLUSTER_SUB];
    assert_eq!(
        (topic.as_str(), ty.as_str(), enabled),
        (TOPIC_ARN, "db-cluster", &true)
    );
    assert_eq!(ids, &["rtech-dev-docdb"]);
    assert_eq!(cats, &["failover", "maintenance", "notification"]);
    assert!(is_ours(tags, "dev"), "{tags:?}");
    assert_eq!(tags["rtech:id"], "docdb_event_sub/cluster");
    let (topic, ty, ids, cats, _, _) = &subs[INSTANCE_SUB];
    assert_eq!((topic.as_str(), ty.as_str()), (TOPIC_ARN, "db-instance"));
    assert_eq!(ids, &["rtech-dev-docdb-1"]);
    assert_eq!(cats, &["availability", "failure", "recovery"]);
    assert_eq!(
        redis_notification(&ec).await,
        Some((TOPIC_ARN.to_string(), "active".to_string()))
    );
    assert_eq!(copy_tags(&dd).await, Some(true));

    // Out of band: the instance subscription disabled, the cluster's categories cut to one,
    // Redis notifications turned off, snapshot tags off. Exactly those fields, in place.
    dd.modify_event_subscription()
        .subscription_name(INSTANCE_SUB)
        .enabled(false)
        .send()
        .await
        .unwrap();
    dd.modify_event_subscription()
        .subscription_name(CLUSTER_SUB)
        .source_type("db-cluster")
        .event_categories("failover")
        .send()
        .await
        .unwrap();
    ec.modify_replication_group()
        .replication_group_id("rtech-dev-redis")
        .notification_topic_arn(TOPIC_ARN)
        .notification_topic_status("inactive")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    dd.modify_db_cluster()
        .db_cluster_identifier("rtech-dev-docdb")
        .copy_tags_to_snapshot(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    let mut got = changes_of_kinds(&p, KINDS);
    got.sort();
    let want = |id: &str, f: &str| (id.to_string(), "update".to_string(), vec![f.to_string()]);
    assert_eq!(
        got,
        vec![
            want("docdb_cluster/main", "copy_tags_to_snapshot"),
            want("docdb_event_sub/cluster", "event_categories"),
            want("docdb_event_sub/instance", "enabled"),
            want("redis/main", "notification_topic_arn"),
        ],
        "{p:#}"
    );
    assert_eq!(changes(&p).len(), 4, "{p:#}");
    apply_in(&emu, d, "dev", &[]);
    assert_plan_empty_in(&emu, d, "dev", &[]);
    let subs = subscriptions(&dd).await;
    assert!(subs[INSTANCE_SUB].4, "enabled again");
    assert_eq!(subs[CLUSTER_SUB].3.len(), 3, "{:?}", subs[CLUSTER_SUB]);
    assert_eq!(
        redis_notification(&ec).await.map(|n| n.1),
        Some("active".to_string())
    );
    assert_eq!(copy_tags(&dd).await, Some(true));

    // Deleted out of band: a create, and apply makes it again.
    dd.delete_event_subscription()
        .subscription_name(CLUSTER_SUB)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&p),
        vec![("docdb_event_sub/cluster".to_string(), "create".to_string())],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &[]);
    assert_plan_empty_in(&emu, d, "dev", &[]);

    // A second instance: its id joins the instance subscription in place.
    std::fs::write(
        d.join("dev.toml"),
        format!(
            "{}{}",
            spec_head("dev"),
            sections().replace("instances = 1", "instances = 2")
        ),
    )
    .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes_of_kinds(&p, &["docdb_event_sub"]),
        vec![want("docdb_event_sub/instance", "source_ids")],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &[]);
    assert_eq!(
        subscriptions(&dd).await[INSTANCE_SUB].2,
        ["rtech-dev-docdb-1", "rtech-dev-docdb-2"]
    );
    assert_plan_empty_in(&emu, d, "dev", &[]);

    destroy_in(&emu, d, "dev");
    let left = subscriptions(&dd).await;
    assert!(
        !left.values().any(|s| is_ours(&s.5, "dev")),
        "destroy leaves no subscription of ours: {left:?}"
    );
    assert_eq!(leftovers(&emu, "dev").await["redis"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_subscription_without_our_tags_is_left_alone() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections());
    let d = dir.path();
    let dd = docdb(&emu).await;
    let other = "arn:aws:sns:us-east-1:123456789012:someone-elses";
    dd.create_event_subscription()
        .subscription_name(CLUSTER_SUB)
        .sns_topic_arn(other)
        .source_type("db-instance")
        .event_categories("deletion")
        .tags(
            aws_sdk_docdb::types::Tag::builder()
                .key("team")
                .value("data")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let target = ["--target", "docdb_event_sub/cluster"];
    assert_conflicts_left_alone_in(&emu, d, "dev", &["docdb_event_sub/cluster"], &target);
    let subs = subscriptions(&dd).await;
    let (topic, ty, _, cats, _, tags) = &subs[CLUSTER_SUB];
    assert_eq!((topic.as_str(), ty.as_str()), (other, "db-instance"));
    assert_eq!(cats, &["deletion"]);
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
}

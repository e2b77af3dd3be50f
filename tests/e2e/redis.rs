//! ElastiCache Redis end to end, on temporary env specs with a network and a `[redis]` section
//! (no `[docdb]`): apply → empty plan, drift repaired, out-of-band delete, destroy, and a
//! same-named group that is not ours. The emulator behaves as ElastiCache does here
//! (scripts/moto_elasticache_shim.py): member cache clusters, deletes that finish, subnet-group
//! calls; rtech runs the code it runs against AWS.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{LogDeliveryConfigurationRequest, LogType, ReplicationGroup, Tag};

use crate::emulator::Emulator;
use crate::support::*;

/// prod: a primary and a replica (failover, Multi-AZ), 7-day snapshots, a final snapshot.
const PROD_REDIS: &str = r#"
[redis]
node_type = "cache.t3.micro"
replicas = 1
snapshot_retention_days = 7
"#;

async fn group(ec: &aws_sdk_elasticache::Client, id: &str) -> Option<ReplicationGroup> {
    ec.describe_replication_groups()
        .send()
        .await
        .unwrap()
        .replication_groups()
        .iter()
        .find(|g| g.replication_group_id() == Some(id))
        .cloned()
}

async fn tags_of(ec: &aws_sdk_elasticache::Client, arn: &str) -> BTreeMap<String, String> {
    let out = ec
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap();
    tag_map(out.tag_list().iter().map(|t| (t.key(), t.value())))
}

/// Groups carrying our tags for `env`, with their status.
async fn our_groups(ec: &aws_sdk_elasticache::Client, env: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    for g in ec
        .describe_replication_groups()
        .send()
        .await
        .unwrap()
        .replication_groups()
    {
        let t = tags_of(ec, g.arn().unwrap()).await;
        if is_ours(&t, env) {
            out.push((
                g.replication_group_id().unwrap().to_string(),
                g.status().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_like_apply_from_empty_is_one_node_and_the_next_plan_is_empty() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("dev", DEV_REDIS);

    let first = plan_json_in(&emu, dir.path(), "dev", &[]);
    let ch = changes(&first);
    assert!(
        ch.contains(&("redis/main".into(), "create".into())),
        "{ch:?}"
    );
    assert!(
        ch.contains(&("cache_subnet_group/main".into(), "create".into())),
        "{ch:?}"
    );
    let r = apply_in(&emu, dir.path(), "dev", &[]);
    assert!(r.stderr.contains("redis/main: created"), "{}", r.stderr);
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);

    let g = group(&ec, "rtech-dev-redis").await.expect("the group");
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.member_clusters().len(), 1, "a single node");
    // The member cluster reports the group-wide settings observe reads, as on AWS.
    let members = ec
        .describe_cache_clusters()
        .cache_cluster_id("rtech-dev-redis-001")
        .send()
        .await
        .unwrap();
    let m = &members.cache_clusters()[0];
    assert_eq!(m.replication_group_id(), Some("rtech-dev-redis"));
    assert_eq!(m.engine(), Some("redis"));
    assert_eq!(m.engine_version(), Some("7.1.0"));
    assert_eq!(m.cache_subnet_group_name(), Some("rtech-dev-redis"));
    assert_eq!(m.security_groups().len(), 1);
    assert!(m.preferred_maintenance_window().is_some());
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("disabled"));
    assert_eq!(g.multi_az().map(|a| a.as_str()), Some("disabled"));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.auth_token_enabled(), Some(true), "the AUTH token is set");
    assert_eq!(g.cache_node_type(), Some("cache.t3.micro"));
    assert_eq!(g.snapshot_retention_limit(), Some(0));
    let t = tags_of(&ec, g.arn().unwrap()).await;
    assert_eq!(t["rtech:id"], "redis/main");
    assert_eq!(t["rtech:final-snapshot"], "skip");
    assert_eq!(t["rtech:apply-immediately"], "true");
    assert_eq!(t["Environment"], "test");

    // The token the group holds is the secret's, by id; the secret has the group's endpoint.
    let secret = secret_json(&emu, "rtech/dev/redis").await;
    assert_eq!(
        t["rtech:auth-token-id"],
        secret["generated_id"].as_str().unwrap()
    );
    assert!(t["rtech:auth-token-secret"].starts_with("arn:aws:secretsmanager:"));
    let primary = g.node_groups()[0]
        .primary_endpoint()
        .and_then(|e| e.address())
        .unwrap();
    assert_eq!(secret["host"], primary);
    assert_eq!(secret["port"], "6379");
    let token = secret["token"].as_str().unwrap();
    assert!(
        !t.values().any(|v| v.contains(token)),
        "the token is in no tag"
    );
    assert!(!r.stdout.contains(token) && !r.stderr.contains(token));

    // The subnet group: our private subnets, tagged.
    let sng = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("rtech-dev-redis")
        .send()
        .await
        .unwrap();
    let sng = &sng.cache_subnet_groups()[0];
    assert_eq!(sng.subnets().len(), 2);
    assert_eq!(
        tags_of(&ec, sng.arn().unwrap()).await["rtech:id"],
        "cache_subnet_group/main"
    );

    // Applying again changes nothing.
    let again = apply_in(&emu, dir.path(), "dev", &[]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_like_apply_is_primary_and_replica_with_failover_and_the_next_plan_is_empty() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("prod", PROD_REDIS);
    apply_in(&emu, dir.path(), "prod", &[]);
    assert_plan_empty_in(&emu, dir.path(), "prod", &[]);

    let g = group(&ec, "rtech-prod-redis").await.expect("the group");
    assert_eq!(g.member_clusters().len(), 2, "a primary and a replica");
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("enabled"));
    assert_eq!(g.multi_az().map(|a| a.as_str()), Some("enabled"));
    assert_eq!(g.snapshot_retention_limit(), Some(7));
    assert_eq!(g.snapshot_window(), Some("05:00-06:00"));
    let t = tags_of(&ec, g.arn().unwrap()).await;
    assert_eq!(t["rtech:final-snapshot"], "take");
    assert_eq!(t["rtech:apply-immediately"], "false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_snapshot_retention_is_shown_exactly_and_repaired() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("prod", PROD_REDIS);
    apply_in(&emu, dir.path(), "prod", &[]);

    ec.modify_replication_group()
        .replication_group_id("rtech-prod-redis")
        .snapshot_retention_limit(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();

    let p = plan_json_in(&emu, dir.path(), "prod", &[]);
    assert_eq!(
        changes(&p),
        [("redis/main".to_string(), "update".to_string())]
    );
    let fields = p["changes"][0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{fields:#?}");
    assert_eq!(fields[0]["path"], "snapshot_retention_limit");
    assert_eq!(fields[0]["before"], 3);
    assert_eq!(fields[0]["after"], 7);
    assert_eq!(fields[0]["forces_replacement"], false);

    let r = apply_in(&emu, dir.path(), "prod", &[]);
    assert!(r.stderr.contains("redis/main: updated"), "{}", r.stderr);
    assert_eq!(
        group(&ec, "rtech-prod-redis")
            .await
            .unwrap()
            .snapshot_retention_limit(),
        Some(7)
    );
    assert_plan_empty_in(&emu, dir.path(), "prod", &[]);
}

/// The group's slow-log delivery as (log type, destination type, log group, format).
fn delivery_of(g: &ReplicationGroup) -> Vec<(String, String, String, String)> {
    g.log_delivery_configurations()
        .iter()
        .map(|c| {
            (
                c.log_type().map(|t| t.as_str()).unwrap_or_default().into(),
                c.destination_type()
                    .map(|t| t.as_str())
                    .unwrap_or_default()
                    .into(),
                c.destination_details()
                    .and_then(|d| d.cloud_watch_logs_details())
                    .and_then(|d| d.log_group())
                    .unwrap_or_default()
                    .into(),
                c.log_format()
                    .map(|f| f.as_str())
                    .unwrap_or_default()
                    .into(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_log_is_delivered_to_its_log_group_and_turning_it_off_is_repaired() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let cwl = logs(&emu).await;
    let dir = spec_dir("prod", PROD_REDIS);
    apply_in(&emu, dir.path(), "prod", &[]);

    let wanted = vec![(
        "slow-log".to_string(),
        "cloudwatch-logs".to_string(),
        "/elasticache/rtech-prod/slow-log".to_string(),
        "json".to_string(),
    )];
    let g = group(&ec, "rtech-prod-redis").await.unwrap();
    assert_eq!(delivery_of(&g), wanted);
    // The destination exists, with its 7 days, before AWS delivers to it.
    let lg = cwl
        .describe_log_groups()
        .log_group_name_prefix("/elasticache/rtech-prod/slow-log")
        .send()
        .await
        .unwrap();
    assert_eq!(lg.log_groups().len(), 1);
    assert_eq!(lg.log_groups()[0].retention_in_days(), Some(7));

    // Out of band: someone turns the slow log off.
    ec.modify_replication_group()
        .replication_group_id("rtech-prod-redis")
        .log_delivery_configurations(
            LogDeliveryConfigurationRequest::builder()
                .log_type(LogType::SlowLog)
                .enabled(false)
                .build(),
        )
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert!(delivery_of(&group(&ec, "rtech-prod-redis").await.unwrap()).is_empty());

    let p = plan_json_in(&emu, dir.path(), "prod", &[]);
    assert_eq!(
        changes(&p),
        [("redis/main".to_string(), "update".to_string())]
    );
    let fields = p["changes"][0]["fields"].as_array().unwrap();
    assert!(!fields.is_empty());
    for f in fields {
        assert!(
            f["path"].as_str().unwrap().starts_with("log_delivery"),
            "only the delivery differs: {fields:#?}"
        );
        assert_eq!(f["forces_replacement"], false);
    }
    assert!(
        p["changes"][0]["fields"]
            .to_string()
            .contains("/elasticache/rtech-prod/slow-log"),
        "{fields:#?}"
    );

    let r = apply_in(&emu, dir.path(), "prod", &[]);
    assert!(r.stderr.contains("redis/main: updated"), "{}", r.stderr);
    assert_eq!(
        delivery_of(&group(&ec, "rtech-prod-redis").await.unwrap()),
        wanted
    );
    assert_plan_empty_in(&emu, dir.path(), "prod", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_deleted_out_of_band_is_planned_as_a_create() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("dev", DEV_REDIS);
    apply_in(&emu, dir.path(), "dev", &[]);

    ec.delete_replication_group()
        .replication_group_id("rtech-dev-redis")
        .send()
        .await
        .unwrap();
    // Gone, with its member clusters.
    assert!(group(&ec, "rtech-dev-redis").await.is_none());
    let clusters = ec.describe_cache_clusters().send().await.unwrap();
    assert!(clusters.cache_clusters().is_empty(), "{clusters:?}");

    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    let ch = changes(&p);
    let redis: Vec<_> = ch
        .iter()
        .filter(|(id, _)| id.starts_with("redis/") || id.starts_with("cache_subnet_group/"))
        .collect();
    assert_eq!(
        redis,
        [&("redis/main".to_string(), "create".to_string())],
        "{ch:?}"
    );
    // Only what uses the endpoint follows (the connection details in the secret).
    assert!(
        ch.iter()
            .all(|(id, a)| id == "redis/main" || (id == "secret_connection/redis" && a == "update")),
        "{ch:?}"
    );

    let r = run(rtech_in(&emu, dir.path()).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        group(&ec, "rtech-dev-redis").await.unwrap().status(),
        Some("available")
    );
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_leaves_no_live_group_with_our_tags_and_honours_the_final_snapshot_tag() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let prod = spec_dir("prod", PROD_REDIS);
    let dev = spec_dir("dev", DEV_REDIS);
    apply_in(&emu, prod.path(), "prod", &[]);
    apply_in(&emu, dev.path(), "dev", &[]);

    let d = destroy_in(&emu, prod.path(), "prod");
    // The final snapshot is named after the group and the time, and taken.
    assert!(
        d.stderr
            .contains("redis/main: deleting; final snapshot rtech-prod-redis-final-20"),
        "{}",
        d.stderr
    );
    let snaps = ec.describe_snapshots().send().await.unwrap();
    let snaps: Vec<&str> = snaps
        .snapshots()
        .iter()
        .filter_map(|s| s.snapshot_name())
        .collect();
    assert!(
        snaps.len() == 1 && snaps[0].starts_with("rtech-prod-redis-final-20"),
        "{snaps:?}"
    );
    // No group with our tags is left, nor its members, nor its subnet group.
    assert_eq!(our_groups(&ec, "prod").await, []);
    let clusters = ec.describe_cache_clusters().send().await.unwrap();
    assert!(
        !clusters
            .cache_clusters()
            .iter()
            .any(|c| c.replication_group_id() == Some("rtech-prod-redis")),
        "{clusters:?}"
    );
    let sngs = ec.describe_cache_subnet_groups().send().await.unwrap();
    assert!(
        !sngs
            .cache_subnet_groups()
            .iter()
            .any(|g| g.cache_subnet_group_name() == Some("rtech-prod-redis")),
        "{}",
        d.stderr
    );
    // The other env is untouched.
    assert_eq!(
        our_groups(&ec, "dev").await,
        [("rtech-dev-redis".to_string(), "available".to_string())]
    );
    assert_plan_empty_in(&emu, dev.path(), "dev", &[]);

    // A second destroy finds nothing left.
    let again = destroy_in(&emu, prod.path(), "prod");
    assert!(!again.stdout.contains("redis/main"), "{}", again.stdout);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    let d = destroy_in(&emu, dev.path(), "dev");
    assert!(
        d.stderr
            .contains("redis/main: deleting without a final snapshot"),
        "{}",
        d.stderr
    );
    assert_eq!(our_groups(&ec, "dev").await, []);
    let snaps = ec.describe_snapshots().send().await.unwrap();
    assert!(
        !snaps.snapshots().iter().any(|s| s
            .snapshot_name()
            .is_some_and(|n| n.starts_with("rtech-dev-redis"))),
        "skip means no final snapshot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_group_without_our_tags_is_a_conflict_and_never_touched() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let ec2 = ec2(&emu).await;
    let dir = spec_dir("dev", DEV_REDIS);

    // Someone else's group under our name, in their own VPC.
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.99.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block("10.99.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap();
    ec.create_cache_subnet_group()
        .cache_subnet_group_name("rtech-dev-redis")
        .cache_subnet_group_description("not rtech's")
        .subnet_ids(subnet)
        .send()
        .await
        .unwrap();
    let theirs = ec
        .create_replication_group()
        .replication_group_id("rtech-dev-redis")
        .replication_group_description("not rtech's")
        .engine("redis")
        .cache_node_type("cache.t3.small")
        .cache_subnet_group_name("rtech-dev-redis")
        .snapshot_retention_limit(5)
        .tags(Tag::builder().key("owner").value("someone-else").build())
        .send()
        .await
        .unwrap();
    let arn = theirs
        .replication_group()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();

    assert_conflicts_left_alone_in(
        &emu,
        dir.path(),
        "dev",
        &["redis/main", "cache_subnet_group/main"],
        &[],
    );

    // Untouched: same settings, same tags, still available.
    let g = group(&ec, "rtech-dev-redis").await.unwrap();
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.description(), Some("not rtech's"));
    assert_eq!(g.cache_node_type(), Some("cache.t3.small"));
    assert_eq!(g.snapshot_retention_limit(), Some(5));
    assert_eq!(
        tags_of(&ec, &arn).await,
        BTreeMap::from([("owner".to_string(), "someone-else".to_string())])
    );
    let sng = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("rtech-dev-redis")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sng.cache_subnet_groups()[0].cache_subnet_group_description(),
        Some("not rtech's")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_in_the_secret_rotates_the_groups_auth_token() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("dev", DEV_REDIS);
    apply_in(&emu, dir.path(), "dev", &[]);
    let arn = group(&ec, "rtech-dev-redis")
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let old_id = tags_of(&ec, &arn).await["rtech:auth-token-id"].clone();

    // The secret is lost (force-deleted out of band): a new one means a new token.
    secretsmanager(&emu)
        .await
        .delete_secret()
        .secret_id("rtech/dev/redis")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    let c = change_of(&p, "redis/main").expect("redis/main changes");
    assert_eq!(c["action"], "update", "a rotation, not a replacement");
    let paths: Vec<&str> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["auth_token_id", "auth_token_secret"]);

    let r = apply_in(&emu, dir.path(), "dev", &[]);
    assert!(
        r.stderr.contains("redis/main: rotating the AUTH token"),
        "{}",
        r.stderr
    );
    let secret = secret_json(&emu, "rtech/dev/redis").await;
    let tags = tags_of(&ec, &arn).await;
    assert_ne!(tags["rtech:auth-token-id"], old_id);
    assert_eq!(
        tags["rtech:auth-token-id"],
        secret["generated_id"].as_str().unwrap()
    );
    let token = secret["token"].as_str().unwrap();
    assert!(!r.stdout.contains(token) && !r.stderr.contains(token));
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);
}

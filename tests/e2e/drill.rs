//! `rtech drill` against the emulator: a DocumentDB failover on a two-instance cluster moves
//! the writer and reports both; a one-instance cluster is refused with the reason and left
//! as it was; a Redis failover moves the primary to the replica (TestFailover as
//! scripts/moto_elasticache_shim.py reproduces it); a restore from the latest automated
//! snapshot creates and removes the drill cluster; a kept one (from a manual snapshot made
//! with the SDK) never shows in a plan, and `destroy` removes it.
//!
//! The emulator answers in seconds, so no target in minutes can break here: the tests check
//! that the JSON carries the measured figures against the spec's `[dr]` targets; the verdicts
//! (and exit 1 on a broken target) are unit-tested in src/drill.rs.

use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

/// DocumentDB with `instances`, daily backups, deleted without a final snapshot; `[dr]` targets.
fn docdb_spec(instances: u32) -> String {
    format!(
        r#"
[docdb]
instance_class = "db.t3.medium"
instances = {instances}
backup_retention_days = 1
skip_final_snapshot = true
apply_immediately = true

[dr]
rto_minutes = 30
rpo_minutes = 720
"#
    )
}

/// A primary and a replica, automatic failover on.
const REDIS_PAIR: &str = r#"
[redis]
node_type = "cache.t3.micro"
replicas = 1
snapshot_retention_days = 0
skip_final_snapshot = true
apply_immediately = true
"#;

fn json_of(r: &Run) -> J {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

async fn writer(dd: &aws_sdk_docdb::Client, cluster: &str) -> String {
    let c = dd
        .describe_db_clusters()
        .db_cluster_identifier(cluster)
        .send()
        .await
        .unwrap();
    c.db_clusters()[0]
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .unwrap()
        .to_string()
}

async fn cluster_names(dd: &aws_sdk_docdb::Client) -> Vec<String> {
    dd.describe_db_clusters()
        .send()
        .await
        .unwrap()
        .db_clusters()
        .iter()
        .filter(|c| c.status() != Some("deleting"))
        .filter_map(|c| c.db_cluster_identifier().map(String::from))
        .collect()
}

/// The RTO (and RPO) figures carry the spec's targets and pass.
fn assert_figures(j: &J, names: &[(&str, u64)]) {
    let m = j["measured"].as_array().unwrap();
    assert_eq!(m.len(), names.len(), "{j:#}");
    for (got, (name, target)) in m.iter().zip(names) {
        assert_eq!(got["name"], *name, "{j:#}");
        assert_eq!(got["target_minutes"], *target, "{j:#}");
        let s = got["measured_s"].as_f64().unwrap();
        assert!((0.0..(*target * 60) as f64).contains(&s), "{j:#}");
        assert_eq!(got["pass"], true, "{j:#}");
    }
    assert_eq!(j["passed"], true, "{j:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docdb_failover_moves_the_writer_to_the_replica_and_reports_both() {
    let emu = Emulator::start();
    let dd = docdb(&emu).await;
    let dir = spec_dir("dev", &docdb_spec(2));
    apply_in(&emu, dir.path(), "dev", &[]);
    // The instances are created at once: whichever joined the cluster first writes.
    let first = writer(&dd, "rtech-dev-docdb").await;
    let other = if first == "rtech-dev-docdb-1" {
        "rtech-dev-docdb-2"
    } else {
        "rtech-dev-docdb-1"
    };
    let first = first.as_str();

    // Without a terminal and without --auto-approve: refused, as apply refuses.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "docdb",
        ]),
        1,
    );
    assert!(r.stderr.contains("stdin is not a terminal"), "{}", r.stderr);
    assert_eq!(writer(&dd, "rtech-dev-docdb").await, first);

    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--auto-approve",
            "--json",
        ]),
        0,
    );
    let j = json_of(&r);
    assert_eq!(j["drill"], "failover");
    assert_eq!(j["service"], "docdb");
    assert_eq!(j["resource"], "rtech-dev-docdb");
    assert_eq!(j["primary_before"], first);
    assert_eq!(j["primary_after"], other);
    assert_figures(&j, &[("rto", 30)]);
    assert!(
        r.stderr.contains("drill failover docdb: failing over"),
        "{}",
        r.stderr
    );
    assert_eq!(writer(&dd, "rtech-dev-docdb").await, other);

    // Which instance writes is not part of the spec: the plan stays empty.
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);

    // And back, reported as one line.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--auto-approve",
        ]),
        0,
    );
    assert!(
        r.stdout.contains(&format!(
            "failover docdb rtech-dev-docdb: writer {other} → {first}; RTO "
        )) && r.stdout.trim_end().ends_with("< 30 min: pass"),
        "{}",
        r.stdout
    );
    assert_eq!(writer(&dd, "rtech-dev-docdb").await, first);
    destroy_in(&emu, dir.path(), "dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docdb_failover_on_one_instance_is_refused_with_the_reason_and_changes_nothing() {
    let emu = Emulator::start();
    let dd = docdb(&emu).await;
    let dir = spec_dir("dev", &docdb_spec(1));
    apply_in(&emu, dir.path(), "dev", &[]);
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--auto-approve",
        ]),
        1,
    );
    assert!(
        r.stderr.contains(
            "cannot drill a docdb failover in env dev: DocumentDB cluster rtech-dev-docdb has 1 instance(s) and a failover needs at least 2"
        ) && r.stderr.contains("nothing was changed"),
        "{}",
        r.stderr
    );
    assert_eq!(writer(&dd, "rtech-dev-docdb").await, "rtech-dev-docdb-1");
    // An env without [redis] is refused before any call.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "redis",
            "--auto-approve",
        ]),
        1,
    );
    assert!(r.stderr.contains("has no [redis] section"), "{}", r.stderr);
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);
    // The lock was released: a plan under the lock runs.
    run_ok(
        rtech_in(&emu, dir.path()).args(["plan", "--lock", "--env", "dev"]),
        0,
    );
    destroy_in(&emu, dir.path(), "dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failover_hands_the_primary_role_to_the_replica() {
    let emu = Emulator::start();
    let ec = elasticache(&emu).await;
    let dir = spec_dir("dev", REDIS_PAIR);
    apply_in(&emu, dir.path(), "dev", &[]);
    let primary = || async {
        let g = ec
            .describe_replication_groups()
            .replication_group_id("rtech-dev-redis")
            .send()
            .await
            .unwrap();
        g.replication_groups()[0].node_groups()[0]
            .node_group_members()
            .iter()
            .find(|m| m.current_role() == Some("primary"))
            .and_then(|m| m.cache_cluster_id())
            .unwrap()
            .to_string()
    };
    assert_eq!(primary().await, "rtech-dev-redis-001");
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "failover",
            "--env",
            "dev",
            "--service",
            "redis",
            "--auto-approve",
            "--json",
        ]),
        0,
    );
    let j = json_of(&r);
    assert_eq!(j["service"], "redis");
    assert_eq!(j["resource"], "rtech-dev-redis");
    assert_eq!(j["primary_before"], "rtech-dev-redis-001");
    assert_eq!(j["primary_after"], "rtech-dev-redis-002");
    // No [dr]: the platform's targets.
    assert_figures(&j, &[("rto", 60)]);
    assert_eq!(primary().await, "rtech-dev-redis-002");
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);
    destroy_in(&emu, dir.path(), "dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_drills_remove_their_cluster_or_keep_it_out_of_plans_until_destroy() {
    let emu = Emulator::start();
    let dd = docdb(&emu).await;
    let dir = spec_dir("dev", &docdb_spec(1));
    apply_in(&emu, dir.path(), "dev", &[]);

    // --latest: the automated snapshot the daily backups made, restored, then deleted.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "restore",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--latest",
            "--auto-approve",
            "--json",
        ]),
        0,
    );
    let j = json_of(&r);
    assert_eq!(j["drill"], "restore");
    assert_eq!(j["resource"], "rtech-dev-docdb");
    assert_eq!(j["snapshot"]["kind"], "automated");
    assert!(
        j["snapshot"]["id"]
            .as_str()
            .unwrap()
            .starts_with("rds:rtech-dev-docdb-"),
        "{j:#}"
    );
    let drill = j["restored"]["cluster"].as_str().unwrap().to_string();
    assert!(drill.starts_with("rtech-dev-docdb-drill-"), "{drill}");
    assert_eq!(j["restored"]["instance"], format!("{drill}-1"));
    assert_eq!(j["restored"]["kept"], false);
    assert_figures(&j, &[("rto", 30), ("rpo", 720)]);
    assert_eq!(cluster_names(&dd).await, ["rtech-dev-docdb"]);

    // A manual snapshot, named: restored and kept.
    dd.create_db_cluster_snapshot()
        .db_cluster_identifier("rtech-dev-docdb")
        .db_cluster_snapshot_identifier("before-drill")
        .send()
        .await
        .unwrap();
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "restore",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--snapshot",
            "before-drill",
            "--keep",
            "--auto-approve",
        ]),
        0,
    );
    assert!(
        r.stdout
            .contains("restore docdb rtech-dev-docdb from before-drill (manual, ")
            && r.stdout.contains(", kept; RTO ")
            && r.stdout.contains("RPO "),
        "{}",
        r.stdout
    );
    let names = cluster_names(&dd).await;
    assert_eq!(names.len(), 2, "{names:?}");
    let kept = names
        .iter()
        .find(|n| n.contains("-drill-"))
        .unwrap()
        .clone();
    let c = dd
        .describe_db_clusters()
        .db_cluster_identifier(&kept)
        .send()
        .await
        .unwrap()
        .db_clusters()[0]
        .clone();
    assert_eq!(c.status(), Some("available"));
    assert_eq!(c.db_subnet_group(), Some("rtech-dev-docdb"));
    assert_eq!(c.db_cluster_members().len(), 1);
    let t = docdb_tags(&dd, c.db_cluster_arn().unwrap()).await;
    assert!(is_ours(&t, "dev"), "{t:?}");
    assert!(
        t.contains_key("rtech:drill") && !t.contains_key("rtech:id"),
        "{t:?}"
    );

    // Not the env's drift, nor a delete: the plan is empty while it lives.
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);

    // A snapshot of another cluster is refused.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "drill",
            "restore",
            "--env",
            "dev",
            "--service",
            "docdb",
            "--snapshot",
            "nope",
            "--auto-approve",
        ]),
        1,
    );
    assert!(
        r.stderr.contains("there is no cluster snapshot nope"),
        "{}",
        r.stderr
    );

    // destroy names the kept drill cluster and removes it with the env.
    let r = destroy_in(&emu, dir.path(), "dev");
    assert!(
        r.stdout
            .contains(&format!("Also deleted first: DocumentDB cluster {kept}")),
        "{}",
        r.stdout
    );
    assert!(cluster_names(&dd).await.is_empty());
    let left: usize = leftovers(&emu, "dev").await.values().sum();
    assert_eq!(left, 0, "{:?}", leftovers(&emu, "dev").await);
}

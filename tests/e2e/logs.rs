//! Log groups end to end against the emulator: the DocumentDB export groups and the Redis
//! slow-log group (scoped with `--target log_group/...`): apply → empty plan, a retention
//! changed out of band shown as exactly that drift and repaired, a deleted group recreated,
//! destroy leaves none of ours.

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

const AUDIT: &str = "/aws/docdb/rtech-dev-docdb/audit";
const PROFILER: &str = "/aws/docdb/rtech-dev-docdb/profiler";
const SLOW: &str = "/elasticache/rtech-dev/slow-log";

#[tokio::test(flavor = "multi_thread")]
async fn data_tier_log_groups_apply_drift_repair_recreate_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("{DOCDB}{DEV_REDIS}"));
    let d = dir.path();
    let target = [
        "--target",
        "log_group/docdb-audit",
        "--target",
        "log_group/docdb-profiler",
        "--target",
        "log_group/redis-slow-log",
    ];
    let logs = logs(&emu).await;

    apply_in(&emu, d, "dev", &target);
    assert_eq!(retention(&logs, AUDIT).await, Some(Some(14)));
    assert_eq!(retention(&logs, PROFILER).await, Some(Some(14)));
    assert_eq!(retention(&logs, SLOW).await, Some(Some(7)));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Retention changed out of band: exactly that field, repaired.
    logs.put_retention_policy()
        .log_group_name(SLOW)
        .retention_in_days(30)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        changes(&plan),
        [("log_group/redis-slow-log".to_string(), "update".to_string())]
    );
    let fields = change_of(&plan, "log_group/redis-slow-log").unwrap()["fields"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0]["path"], "retention_in_days");
    apply_in(&emu, d, "dev", &target);
    assert_eq!(retention(&logs, SLOW).await, Some(Some(7)));
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Deleted out of band: a create.
    logs.delete_log_group()
        .log_group_name(AUDIT)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        changes(&plan),
        [("log_group/docdb-audit".to_string(), "create".to_string())]
    );
    apply_in(&emu, d, "dev", &target);
    assert_eq!(retention(&logs, AUDIT).await, Some(Some(14)));

    destroy_in(&emu, d, "dev");
    for n in [AUDIT, PROFILER, SLOW] {
        assert_eq!(retention(&logs, n).await, None, "{n} left behind");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_group_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &format!("{DOCDB}{DEV_REDIS}"));
    let logs = logs(&emu).await;
    logs.create_log_group()
        .log_group_name(SLOW)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(SLOW)
        .retention_in_days(3)
        .send()
        .await
        .unwrap();
    assert_conflicts_left_alone_in(
        &emu,
        dir.path(),
        "dev",
        &["log_group/redis-slow-log"],
        &["--target", "log_group/redis-slow-log"],
    );
    assert_eq!(retention(&logs, SLOW).await, Some(Some(3)));
}

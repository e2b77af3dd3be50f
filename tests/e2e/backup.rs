//! AWS Backup of the DocumentDB cluster against the emulator (with scripts/moto_backup_shim.py):
//! the vault, the plan and its selection, and the backup role. Apply → empty plan; the plan's
//! retention changed out of band is exactly that drift and apply repairs it; a deleted selection
//! is a create; destroy deletes selection, plan and vault; a same-named vault without our tags
//! is never touched. Every check goes through AWS Backup's and IAM's own APIs (the SDK).

use std::collections::BTreeMap;

use crate::emulator::Emulator;
use crate::support::*;

const SECTIONS: &str = r#"
[docdb]
instance_class = "db.t3.medium"
instances = 1
backup_retention_days = 1
skip_final_snapshot = true
apply_immediately = true

[backup]
retention_days = 7
"#;

const NAME: &str = "rtech-dev-docdb";
const CLUSTER_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:rtech-dev-docdb";

/// Our plans (not deleted) by id: (name, vault, retention days).
async fn plans(bk: &aws_sdk_backup::Client) -> BTreeMap<String, (String, String, Option<i64>)> {
    let mut m = BTreeMap::new();
    for p in bk
        .list_backup_plans()
        .send()
        .await
        .unwrap()
        .backup_plans_list()
    {
        let id = p.backup_plan_id().unwrap().to_string();
        let got = bk
            .get_backup_plan()
            .backup_plan_id(&id)
            .send()
            .await
            .unwrap();
        let doc = got.backup_plan().unwrap();
        let rule = &doc.rules()[0];
        m.insert(
            id,
            (
                doc.backup_plan_name().to_string(),
                rule.target_backup_vault_name().to_string(),
                rule.lifecycle().and_then(|l| l.delete_after_days()),
            ),
        );
    }
    m
}

async fn tags(bk: &aws_sdk_backup::Client, arn: &str) -> BTreeMap<String, String> {
    bk.list_tags()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The plan's selections: (selection id, name, role, resources).
async fn selections(
    bk: &aws_sdk_backup::Client,
    plan_id: &str,
) -> Vec<(String, String, String, Vec<String>)> {
    let mut out = vec![];
    let list = bk
        .list_backup_selections()
        .backup_plan_id(plan_id)
        .send()
        .await
        .unwrap();
    for s in list.backup_selections_list() {
        let sid = s.selection_id().unwrap();
        let got = bk
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(sid)
            .send()
            .await
            .unwrap();
        let sel = got.backup_selection().unwrap();
        out.push((
            sid.to_string(),
            sel.selection_name().to_string(),
            sel.iam_role_arn().to_string(),
            sel.resources().to_vec(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn vault_plan_and_selection_apply_drift_repair_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", SECTIONS);
    let d = dir.path();
    let bk = backup(&emu).await;
    let iam = iam(&emu).await;

    apply_in(&emu, d, "dev", &[]);
    assert_plan_empty_in(&emu, d, "dev", &[]);

    // As AWS Backup has them.
    let vault = bk
        .describe_backup_vault()
        .backup_vault_name(NAME)
        .send()
        .await
        .unwrap();
    let vault_tags = tags(&bk, vault.backup_vault_arn().unwrap()).await;
    assert!(is_ours(&vault_tags, "dev"), "{vault_tags:?}");
    assert_eq!(vault_tags["rtech:id"], "backup_vault/docdb");
    let ps = plans(&bk).await;
    assert_eq!(ps.len(), 1, "{ps:?}");
    let (plan_id, (name, target, days)) = ps.iter().next().unwrap();
    assert_eq!(
        (name.as_str(), target.as_str(), *days),
        (NAME, NAME, Some(7))
    );
    let role = iam
        .get_role()
        .role_name("rtech-dev-backup")
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let attached = iam
        .list_attached_role_policies()
        .role_name("rtech-dev-backup")
        .send()
        .await
        .unwrap();
    assert!(attached
        .attached_policies()
        .iter()
        .any(|p| p.policy_name() == Some("AWSBackupServiceRolePolicyForBackup")));
    let sels = selections(&bk, plan_id).await;
    assert_eq!(sels.len(), 1, "{sels:?}");
    assert_eq!(sels[0].1, "rtech-dev-docdb-cluster");
    assert_eq!(sels[0].2, role_arn);
    assert_eq!(sels[0].3, [CLUSTER_ARN]);

    // The retention changed out of band: exactly that drift, repaired in place.
    let got = bk
        .get_backup_plan()
        .backup_plan_id(plan_id)
        .send()
        .await
        .unwrap();
    let doc = got.backup_plan().unwrap();
    let r = &doc.rules()[0];
    let changed = aws_sdk_backup::types::BackupPlanInput::builder()
        .backup_plan_name(doc.backup_plan_name())
        .rules(
            aws_sdk_backup::types::BackupRuleInput::builder()
                .rule_name(r.rule_name())
                .target_backup_vault_name(r.target_backup_vault_name())
                .set_schedule_expression(r.schedule_expression().map(str::to_string))
                .set_start_window_minutes(r.start_window_minutes())
                .set_completion_window_minutes(r.completion_window_minutes())
                .lifecycle(
                    aws_sdk_backup::types::Lifecycle::builder()
                        .delete_after_days(3)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    bk.update_backup_plan()
        .backup_plan_id(plan_id)
        .backup_plan(changed)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes_of_kinds(&p, &["backup_vault", "backup_plan", "backup_selection"]),
        vec![(
            "backup_plan/docdb".to_string(),
            "update".to_string(),
            vec!["rules.daily.delete_after_days".to_string()]
        )],
        "{p:#}"
    );
    assert_eq!(changes(&p).len(), 1, "{p:#}");
    apply_in(&emu, d, "dev", &[]);
    assert_plan_empty_in(&emu, d, "dev", &[]);
    assert_eq!(plans(&bk).await[plan_id].2, Some(7));

    // The selection deleted out of band: a create, and apply selects the cluster again.
    bk.delete_backup_selection()
        .backup_plan_id(plan_id)
        .selection_id(&sels[0].0)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, d, "dev", &[]);
    assert_eq!(
        changes(&p),
        vec![("backup_selection/docdb".to_string(), "create".to_string())],
        "{p:#}"
    );
    apply_in(&emu, d, "dev", &[]);
    assert_eq!(selections(&bk, plan_id).await.len(), 1);
    assert_plan_empty_in(&emu, d, "dev", &[]);

    // Destroy: selection, plan (AWS refuses it while it has selections), then vault.
    destroy_in(&emu, d, "dev");
    assert!(plans(&bk).await.is_empty());
    let vaults = bk.list_backup_vaults().send().await.unwrap();
    assert!(vaults.backup_vault_list().is_empty(), "{vaults:?}");
    assert!(iam
        .get_role()
        .role_name("rtech-dev-backup")
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_vault_without_our_tags_is_left_alone() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", SECTIONS);
    let d = dir.path();
    let bk = backup(&emu).await;
    bk.create_backup_vault()
        .backup_vault_name(NAME)
        .backup_vault_tags("team", "data")
        .send()
        .await
        .unwrap();
    let target = ["--target", "backup_vault/docdb"];
    assert_conflicts_left_alone_in(&emu, d, "dev", &["backup_vault/docdb"], &target);
    let v = bk
        .describe_backup_vault()
        .backup_vault_name(NAME)
        .send()
        .await
        .unwrap();
    let t = tags(&bk, v.backup_vault_arn().unwrap()).await;
    assert_eq!(t.get("team").map(String::as_str), Some("data"));
    assert!(!is_ours(&t, "dev"));
}

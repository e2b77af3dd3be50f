//! AWS Backup: the `[backup]` section, expansion, the normalisers, the diff and the requests.

use aws_sdk_backup::types::{BackupPlan, BackupRule, BackupSelection, Lifecycle};

use super::plan::{plan_input, PlanProps, RULE};
use super::selection::{selection_input, SelectionProps};
use super::vault::explain_delete_error;
use super::*;
use crate::aws::AwsError;
use crate::model::Value;
use crate::reconcile::kit::{from_props, to_props};
use crate::testutil::{diff_of, get, only_update, parse_as, DEV_2AZ};

const DOCDB: &str = r#"
[docdb]
instance_class = "db.t3.medium"
instances = 1
skip_final_snapshot = true
"#;

fn spec(sections: &str) -> Spec {
    parse_as("dev", &format!("{DEV_2AZ}{sections}"))
}

fn errors(sections: &str) -> Vec<crate::spec::SpecError> {
    crate::spec::parse("envs/dev.toml", &format!("{DEV_2AZ}{sections}"), "dev")
        .expect_err("invalid")
}

fn line_of(sections: &str, needle: &str) -> usize {
    format!("{DEV_2AZ}{sections}")
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn the_backup_section_defaults_to_a_daily_plan_kept_35_days() {
    let s = spec(&format!("{DOCDB}\n[backup]\n"));
    let b = s.backup.as_ref().unwrap();
    assert_eq!(b.retention_days, 35);
    assert_eq!(b.schedule, "cron(0 5 ? * * *)");
    let s = spec(&format!(
        "{DOCDB}\n[backup]\nretention_days = 7\nschedule = \"cron(30 2 ? * * *)\"\n"
    ));
    let b = s.backup.as_ref().unwrap();
    assert_eq!(
        (b.retention_days, b.schedule.as_str()),
        (7, "cron(30 2 ? * * *)")
    );
    assert!(spec(DOCDB).backup.is_none());
}

#[test]
fn bad_backup_settings_are_located() {
    let text = format!("{DOCDB}\n[backup]\nretention_days = 0\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].line, e[0].path.as_str()),
        (line_of(&text, "retention_days"), "backup.retention_days")
    );
    assert!(e[0].message.contains("out of range"), "{}", e[0].message);

    let text = format!("{DOCDB}\n[backup]\nschedule = \"daily\"\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].line, e[0].path.as_str()),
        (line_of(&text, "schedule"), "backup.schedule")
    );
    assert!(e[0]
        .to_string()
        .starts_with(&format!("envs/dev.toml:{}:", line_of(&text, "schedule"))));

    // AWS Backup here protects the DocumentDB cluster: no [docdb], no [backup].
    let text = "\n[backup]\nretention_days = 7\n";
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "backup");
    assert!(e[0].message.contains("[docdb]"), "{}", e[0].message);
}

#[test]
fn prod_backs_its_cluster_up_daily_for_35_days_and_the_others_do_not() {
    let prod = crate::testutil::env_spec("prod");
    let rs = crate::reconcile::expand(&prod);
    let vault = get(&rs, "backup_vault/docdb");
    assert_eq!(vault.name, "rtech-prod-docdb");
    let plan: PlanProps = from_props(&get(&rs, "backup_plan/docdb").props).unwrap();
    assert_eq!(plan.name, "rtech-prod-docdb");
    let rule = &plan.rules[RULE];
    assert_eq!(rule.target_vault, "rtech-prod-docdb");
    assert_eq!(rule.delete_after_days, Some(35));
    assert_eq!(rule.schedule.as_deref(), Some("cron(0 5 ? * * *)"));
    assert!(get(&rs, "backup_plan/docdb").deps.contains(&rid(VAULT)));
    let sel = get(&rs, "backup_selection/docdb");
    assert_eq!(sel.name, "rtech-prod-docdb-cluster");
    for dep in ["backup_plan/docdb", "iam_role/backup", "docdb_cluster/main"] {
        assert!(sel.deps.contains(&dep.parse().unwrap()), "{dep}");
    }
    let role = get(&rs, "iam_role/backup");
    assert_eq!(role.name, "rtech-prod-backup");
    let managed = role.props["managed_policy_arns"].to_json().to_string();
    assert!(
        managed.contains("AWSBackupServiceRolePolicyForBackup"),
        "{managed}"
    );
    let trust = role.props["assume_role_policy"].to_json().to_string();
    assert!(trust.contains("backup.amazonaws.com"), "{trust}");
    for env in ["dev", "staging"] {
        let rs = crate::reconcile::expand(&crate::testutil::env_spec(env));
        assert!(
            !rs.iter()
                .any(|r| r.id.kind.starts_with("backup_") || r.id.to_string() == "iam_role/backup"),
            "{env}"
        );
    }
}

fn live_plan(rs: &[Resource], retention: i64, extra_rule: bool) -> Observed {
    let p: PlanProps = from_props(&get(rs, "backup_plan/docdb").props).unwrap();
    let r = &p.rules[RULE];
    let rule = |name: &str, days: i64| {
        BackupRule::builder()
            .rule_name(name)
            .target_backup_vault_name(&r.target_vault)
            .set_schedule_expression(r.schedule.clone())
            .set_start_window_minutes(r.start_window_minutes)
            .set_completion_window_minutes(r.completion_window_minutes)
            .lifecycle(Lifecycle::builder().delete_after_days(days).build())
            .rule_id("rule-1")
            .build()
            .unwrap()
    };
    let mut doc = BackupPlan::builder()
        .backup_plan_name(&p.name)
        .rules(rule(RULE, retention));
    if extra_rule {
        doc = doc.rules(rule("hourly", 1));
    }
    plan::observed(
        rid(PLAN),
        "plan-1",
        "arn:aws:backup:us-east-1:1:backup-plan:plan-1",
        &doc.build().unwrap(),
        p.tags.clone(),
    )
}

fn live_all(rs: &[Resource], retention: i64, extra_rule: bool) -> Vec<Observed> {
    let v = get(rs, "backup_vault/docdb");
    let vt: super::vault::VaultProps = from_props(&v.props).unwrap();
    let mut out = vec![
        super::vault::observed(
            rid(VAULT),
            &vt.name,
            "arn:aws:backup:us-east-1:1:backup-vault:x",
            Some(0),
            vt.tags,
        ),
        live_plan(rs, retention, extra_rule),
    ];
    let sel = BackupSelection::builder()
        .selection_name("rtech-prod-docdb-cluster")
        .iam_role_arn("arn:aws:iam::1:role/rtech-prod-backup")
        .resources("arn:aws:rds:us-east-1:1:cluster:rtech-prod-docdb")
        .build()
        .unwrap();
    out.push(selection::observed(rid(SELECTION), "plan-1", "sel-1", &sel));
    // The resources the selection references, as live.
    let mut plan_attrs = Observed::new(
        "iam_role/backup".parse().unwrap(),
        "arn:aws:iam::1:role/rtech-prod-backup",
    );
    plan_attrs
        .attrs
        .insert("arn".into(), "arn:aws:iam::1:role/rtech-prod-backup".into());
    let mut cluster = Observed::new("docdb_cluster/main".parse().unwrap(), "rtech-prod-docdb");
    cluster.attrs.insert(
        "arn".into(),
        "arn:aws:rds:us-east-1:1:cluster:rtech-prod-docdb".into(),
    );
    out.push(plan_attrs);
    out.push(cluster);
    out
}

fn backup_desired() -> Vec<Resource> {
    expand(&crate::testutil::env_spec("prod"))
}

fn plan_of(observed: &[Observed]) -> crate::plan::Plan {
    let mut p = diff_of("prod", &backup_desired(), observed, false);
    p.changes.retain(|c| c.id.kind.starts_with("backup_"));
    p
}

#[test]
fn what_aws_answers_for_the_desired_plan_diffs_empty() {
    let rs = backup_desired();
    let p = plan_of(&live_all(&rs, 35, false));
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
}

#[test]
fn a_retention_or_rule_changed_out_of_band_is_exactly_that_drift() {
    let rs = backup_desired();
    let p = plan_of(&live_all(&rs, 7, false));
    assert_eq!(only_update(&p), ["rules"]);
    let field = &p.changes[0].fields;
    assert!(
        field
            .iter()
            .any(|f| f.path == "rules.daily.delete_after_days"),
        "{field:#?}"
    );
    let p = plan_of(&live_all(&rs, 35, true));
    assert_eq!(only_update(&p), ["rules"]);
    assert!(
        p.changes[0]
            .fields
            .iter()
            .any(|f| f.path.starts_with("rules.hourly")),
        "{:#?}",
        p.changes[0].fields
    );
}

#[test]
fn a_deleted_selection_is_a_create_and_another_cluster_a_replace() {
    let rs = backup_desired();
    let mut live = live_all(&rs, 35, false);
    live.retain(|o| o.id.kind != SELECTION);
    let p = plan_of(&live);
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, crate::plan::Action::Create);

    let mut live = live_all(&rs, 35, false);
    for o in live.iter_mut().filter(|o| o.id.kind == SELECTION) {
        o.props.insert(
            "resources".into(),
            Value::List(vec![Value::str("arn:aws:rds:us-east-1:1:cluster:other")]),
        );
    }
    let p = plan_of(&live);
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, crate::plan::Action::Replace);
}

#[test]
fn destroy_deletes_the_selection_then_the_plan_then_the_vault() {
    let rs = backup_desired();
    let live: Vec<Observed> = live_all(&rs, 35, false)
        .into_iter()
        .filter(|o| o.id.kind.starts_with("backup_"))
        .collect();
    let p = diff_of("prod", &[], &live, true);
    let order: Vec<String> = p.changes.iter().map(|c| c.id.to_string()).collect();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(
        pos("backup_selection/docdb") < pos("backup_plan/docdb"),
        "{order:?}"
    );
    assert!(
        pos("backup_plan/docdb") < pos("backup_vault/docdb"),
        "{order:?}"
    );
}

#[test]
fn requests_carry_the_rule_and_the_selection() {
    let rs = backup_desired();
    let p: PlanProps = from_props(&get(&rs, "backup_plan/docdb").props).unwrap();
    let doc = plan_input(&p, "backup:CreateBackupPlan").unwrap();
    assert_eq!(doc.backup_plan_name(), "rtech-prod-docdb");
    let r = &doc.rules()[0];
    assert_eq!(r.rule_name(), "daily");
    assert_eq!(r.target_backup_vault_name(), "rtech-prod-docdb");
    assert_eq!(r.schedule_expression(), Some("cron(0 5 ? * * *)"));
    assert_eq!(r.lifecycle().and_then(|l| l.delete_after_days()), Some(35));

    let mut s: SelectionProps = from_props(&get(&rs, "backup_selection/docdb").props).unwrap();
    // Unresolved references are an error, not an empty ARN.
    assert!(selection_input(&s).is_err());
    s.iam_role_arn = "arn:aws:iam::1:role/rtech-prod-backup".into();
    s.resources = vec!["arn:aws:rds:us-east-1:1:cluster:rtech-prod-docdb".into()];
    let sel = selection_input(&s).unwrap();
    assert_eq!(sel.selection_name(), "rtech-prod-docdb-cluster");
    assert_eq!(sel.iam_role_arn(), "arn:aws:iam::1:role/rtech-prod-backup");
    assert_eq!(
        sel.resources(),
        ["arn:aws:rds:us-east-1:1:cluster:rtech-prod-docdb"]
    );
}

#[test]
fn a_vault_with_recovery_points_says_what_to_do_and_keeps_the_code() {
    let e = AwsError::new(
        "backup:DeleteBackupVault",
        "InvalidRequestException",
        "Backup vault cannot be deleted because it contains recovery points",
    );
    let e = explain_delete_error("rtech-prod-docdb", e);
    assert!(e.is("InvalidRequestException"));
    let text = e.to_string();
    assert!(text.contains("rtech-prod-docdb"), "{text}");
    assert!(text.contains("delete-recovery-point"), "{text}");
    assert!(text.contains("InvalidRequestException"), "{text}");
    let other = AwsError::new("backup:DeleteBackupVault", "AccessDeniedException", "no");
    assert_eq!(explain_delete_error("v", other).message, "no");
}

#[test]
fn props_round_trip_through_their_structs() {
    let rs = backup_desired();
    for o in live_all(&rs, 35, false)
        .iter()
        .filter(|o| o.id.kind.starts_with("backup_"))
    {
        let back = match o.id.kind.as_str() {
            VAULT => to_props(&from_props::<super::vault::VaultProps>(&o.props).unwrap()),
            PLAN => to_props(&from_props::<PlanProps>(&o.props).unwrap()),
            _ => to_props(&from_props::<SelectionProps>(&o.props).unwrap()),
        };
        assert_eq!(back, o.props, "{}", o.id);
    }
}

#[test]
fn the_index_names_our_vault_and_our_plan_id_and_nothing_else() {
    use crate::reconcile::kit::tag_index::TagIndex;
    let tags = |p: &str, e: &str, id: &str| -> BTreeMap<String, String> {
        [
            ("rtech:project".to_string(), p.to_string()),
            ("rtech:env".to_string(), e.to_string()),
            ("rtech:id".to_string(), id.to_string()),
        ]
        .into()
    };
    let index = TagIndex::from_pairs([
        (
            "arn:aws:backup:us-east-1:1:backup-vault:rtech-prod-docdb".into(),
            tags("rtech", "prod", "backup_vault/docdb"),
        ),
        (
            "arn:aws:backup:us-east-1:1:backup-plan:abc-123".into(),
            tags("rtech", "prod", "backup_plan/docdb"),
        ),
        // Another region's plan and a resource claiming another kind: not ours here.
        (
            "arn:aws:backup:eu-west-1:1:backup-plan:zzz".into(),
            tags("rtech", "prod", "backup_plan/docdb"),
        ),
        (
            "arn:aws:backup:us-east-1:1:backup-vault:other".into(),
            tags("rtech", "prod", "x/y"),
        ),
    ]);
    let scope = ("rtech", "prod", "us-east-1");
    let (name, arn, _) = indexed(&index, scope, VAULT, "backup-vault:").unwrap();
    assert_eq!(name, "rtech-prod-docdb");
    assert_eq!(
        arn,
        "arn:aws:backup:us-east-1:1:backup-vault:rtech-prod-docdb"
    );
    let (id, _, t) = indexed(&index, scope, PLAN, "backup-plan:").unwrap();
    assert_eq!(id, "abc-123");
    assert_eq!(
        t.get("rtech:id").map(String::as_str),
        Some("backup_plan/docdb")
    );
    assert!(indexed(&index, ("rtech", "dev", "us-east-1"), PLAN, "backup-plan:").is_none());
    assert!(indexed(
        &index,
        ("rtech", "prod", "eu-west-2"),
        VAULT,
        "backup-vault:"
    )
    .is_none());
}

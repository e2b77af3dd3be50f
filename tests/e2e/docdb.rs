//! DocumentDB end to end against the emulator: the launcher's docdb shim, apply → empty plan,
//! drift shown exactly and repaired, a deleted instance recreated, the master password kept in
//! step with its secret, deletion protection (destroy refused, then allowed with a final
//! snapshot), and a same-named cluster that is not ours left alone.
//!
//! The specs live in a temp envs dir: network + docdb (+ secrets), no redis.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_docdb::types::{CloudwatchLogsExportConfiguration, Parameter, Tag};

use crate::emulator::Emulator;
use crate::support::*;

const DEV: &str = r#"project = "rtech"
env = "dev"
region = "us-east-1"

[tags]
Environment = "development"

[network]
cidr = "10.10.0.0/20"
az_count = 2
nat = "single"
public_subnets = ["10.10.0.0/24", "10.10.1.0/24"]
private_subnets = ["10.10.8.0/23", "10.10.10.0/23"]

[docdb]
instance_class = "db.t3.medium"
instances = 1
backup_retention_days = 1
skip_final_snapshot = true
apply_immediately = true

[secrets]
force_delete = true

# These specs exercise DocumentDB alone (no flow logs, no alarms): the policy reports.
[policy]
enforcement = "advisory"
"#;

const PROD: &str = r#"project = "rtech"
env = "prod"
region = "us-east-1"

[tags]
Environment = "production"

[network]
cidr = "10.0.0.0/16"
az_count = 3
nat = "one_per_az"

[docdb]
instance_class = "db.r6g.large"
instances = 2
backup_retention_days = 7
backup_window = "03:00-04:00"
maintenance_window = "sun:04:00-sun:05:00"
deletion_protection = true

[secrets]
force_delete = true

# These specs exercise DocumentDB alone (no flow logs, no alarms): the policy reports.
[policy]
enforcement = "advisory"
"#;

/// A temp envs dir holding the given specs.
struct Envs(tempfile::TempDir);

impl Envs {
    fn new(specs: &[(&str, &str)]) -> Envs {
        let dir = tempfile::tempdir().expect("temp dir");
        let envs = Envs(dir);
        for (env, text) in specs {
            envs.write(env, text);
        }
        envs
    }
    fn write(&self, env: &str, text: &str) {
        std::fs::write(self.0.path().join(format!("{env}.toml")), text).expect("write spec");
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// The one change's field diffs as (path, before, after).
fn fields(plan: &serde_json::Value) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let ch = plan["changes"].as_array().unwrap();
    assert_eq!(ch.len(), 1, "{plan:#}");
    ch[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["before"].clone(),
                f["after"].clone(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every DocumentDB resource tagged for the env, by kind, counted through DocumentDB itself.
async fn tagged_docdb(dd: &aws_sdk_docdb::Client, env: &str) -> BTreeMap<&'static str, usize> {
    let mut arns: Vec<(&'static str, String)> = vec![];
    for c in dd
        .describe_db_clusters()
        .send()
        .await
        .unwrap()
        .db_clusters()
    {
        arns.push(("cluster", c.db_cluster_arn().unwrap().to_string()));
    }
    for i in dd
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
    {
        arns.push(("instance", i.db_instance_arn().unwrap().to_string()));
    }
    for g in dd
        .describe_db_subnet_groups()
        .send()
        .await
        .unwrap()
        .db_subnet_groups()
    {
        arns.push(("subnet_group", g.db_subnet_group_arn().unwrap().to_string()));
    }
    for g in dd
        .describe_db_cluster_parameter_groups()
        .send()
        .await
        .unwrap()
        .db_cluster_parameter_groups()
    {
        arns.push((
            "param_group",
            g.db_cluster_parameter_group_arn().unwrap().to_string(),
        ));
    }
    let mut m: BTreeMap<&'static str, usize> =
        ["cluster", "instance", "subnet_group", "param_group"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    for (kind, arn) in arns {
        if is_ours(&docdb_tags(dd, &arn).await, env) {
            *m.get_mut(kind).unwrap() += 1;
        }
    }
    m
}

async fn cluster(dd: &aws_sdk_docdb::Client, id: &str) -> aws_sdk_docdb::types::DbCluster {
    dd.describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .unwrap()
        .db_clusters()[0]
        .clone()
}

async fn final_snapshots(dd: &aws_sdk_docdb::Client, cluster: &str) -> Vec<String> {
    dd.describe_db_cluster_snapshots()
        .send()
        .await
        .unwrap()
        .db_cluster_snapshots()
        .iter()
        .filter_map(|s| s.db_cluster_snapshot_identifier())
        .filter(|s| s.starts_with(&format!("{cluster}-final-")))
        .map(String::from)
        .collect()
}

fn counts(c: usize, i: usize, sg: usize, pg: usize) -> BTreeMap<&'static str, usize> {
    [
        ("cluster", c),
        ("instance", i),
        ("subnet_group", sg),
        ("param_group", pg),
    ]
    .into_iter()
    .collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_launcher_serves_the_documentdb_engine() {
    let emu = Emulator::start();
    let dd = docdb(&emu).await;
    let c = dd
        .create_db_cluster()
        .db_cluster_identifier("shim-check")
        .engine("docdb")
        .master_username("shimadmin")
        .master_user_password("not-a-real-password-1")
        .enable_cloudwatch_logs_exports("audit")
        .send()
        .await
        .expect("Engine=docdb is accepted")
        .db_cluster
        .unwrap();
    assert_eq!(c.engine(), Some("docdb"));
    assert_eq!(c.port(), Some(27017), "DocumentDB's port");
    assert_eq!(
        c.engine_version(),
        Some("5.0.0"),
        "DocumentDB's current engine"
    );
    let i = dd
        .create_db_instance()
        .db_instance_identifier("shim-check-1")
        .db_instance_class("db.t3.medium")
        .engine("docdb")
        .db_cluster_identifier("shim-check")
        .send()
        .await
        .expect("a docdb instance is accepted")
        .db_instance
        .unwrap();
    assert_eq!(i.endpoint().and_then(|e| e.port()), Some(27017));
    // The engine filter rtech's observe relies on.
    let found = dd
        .describe_db_clusters()
        .filters(
            aws_sdk_docdb::types::Filter::builder()
                .name("engine")
                .values("docdb")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(found.db_clusters().len(), 1);
    // Log exports change in place (the launcher passes the change on to moto's backend).
    let m = dd
        .modify_db_cluster()
        .db_cluster_identifier("shim-check")
        .cloudwatch_logs_export_configuration(
            CloudwatchLogsExportConfiguration::builder()
                .enable_log_types("profiler")
                .disable_log_types("audit")
                .build(),
        )
        .apply_immediately(true)
        .send()
        .await
        .unwrap()
        .db_cluster
        .unwrap();
    assert_eq!(m.enabled_cloudwatch_logs_exports(), ["profiler"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_applies_from_empty_to_an_empty_plan_and_destroys_to_nothing() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("dev", DEV)]);
    let dd = docdb(&emu).await;
    let ec2 = ec2(&emu).await;

    let first = plan_json_in(&emu, envs.path(), "dev", &[]);
    let mut docdb_changes: Vec<(String, String)> = changes(&first)
        .into_iter()
        .filter(|(id, _)| id.starts_with("docdb_"))
        .collect();
    docdb_changes.sort();
    assert_eq!(
        docdb_changes,
        pairs(&[
            ("docdb_cluster/main", "create"),
            // The env has an alerts topic: the cluster's and the instances' events go to it.
            ("docdb_event_sub/cluster", "create"),
            ("docdb_event_sub/instance", "create"),
            ("docdb_instance/1", "create"),
            ("docdb_param_group/main", "create"),
            ("docdb_subnet_group/main", "create"),
        ])
    );

    let a = apply_in(&emu, envs.path(), "dev", &[]);
    assert!(a.stdout.contains("Apply complete"), "{}", a.stdout);
    assert!(
        a.stderr
            .contains("docdb_cluster/main: created (rtech-dev-docdb)"),
        "{}",
        a.stderr
    );
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(1, 1, 1, 1));

    // What AWS has is what the spec says.
    let c = cluster(&dd, "rtech-dev-docdb").await;
    assert_eq!(c.engine(), Some("docdb"));
    assert_eq!(c.engine_version(), Some("5.0.0"));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.port(), Some(27017));
    assert_eq!(c.backup_retention_period(), Some(1));
    assert_eq!(c.master_username(), Some("rtechadmin"));
    assert_eq!(c.deletion_protection(), Some(false));
    assert_eq!(c.db_subnet_group(), Some("rtech-dev-docdb"));
    assert_eq!(c.db_cluster_parameter_group(), Some("rtech-dev-docdb5"));
    assert_eq!(c.enabled_cloudwatch_logs_exports(), ["audit", "profiler"]);
    let sg = physical(&ec2, "dev", "sg/docdb").await;
    assert_eq!(
        c.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        [sg.as_str()]
    );
    let t = docdb_tags(&dd, c.db_cluster_arn().unwrap()).await;
    assert_eq!(t["rtech:id"], "docdb_cluster/main");
    assert_eq!(t["rtech:final-snapshot"], "skip");
    assert_eq!(t["rtech:apply-immediately"], "true");
    let secret = secret_json(&emu, "rtech/dev/docdb").await;
    assert_eq!(
        t["rtech:password-id"],
        secret["generated_id"].as_str().unwrap(),
        "the cluster records which generated password it was given"
    );
    assert!(t["rtech:password-secret"].contains(":secret:rtech/dev/docdb"));
    // The connection details are written from the cluster's attributes.
    assert_eq!(secret["host"].as_str(), c.endpoint());
    assert_eq!(secret["port"], "27017");
    // The password itself is nowhere in what rtech printed.
    let password = secret["password"].as_str().unwrap();
    assert!(password.len() >= 20);
    assert!(!a.stdout.contains(password) && !a.stderr.contains(password));

    let subnets = dd
        .describe_db_subnet_groups()
        .db_subnet_group_name("rtech-dev-docdb")
        .send()
        .await
        .unwrap();
    let mut in_group: Vec<String> = subnets.db_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(String::from))
        .collect();
    in_group.sort();
    let mut private = vec![
        physical(&ec2, "dev", "subnet/private-a").await,
        physical(&ec2, "dev", "subnet/private-b").await,
    ];
    private.sort();
    assert_eq!(in_group, private);

    let params = dd
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name("rtech-dev-docdb5")
        .send()
        .await
        .unwrap();
    let p: BTreeMap<&str, &str> = params
        .parameters()
        .iter()
        .filter_map(|p| Some((p.parameter_name()?, p.parameter_value()?)))
        .collect();
    assert_eq!(p["tls"], "enabled");
    assert_eq!(p["audit_logs"], "enabled");
    assert_eq!(p["profiler"], "enabled");

    let i = dd
        .describe_db_instances()
        .db_instance_identifier("rtech-dev-docdb-1")
        .send()
        .await
        .unwrap();
    let i = &i.db_instances()[0];
    assert_eq!(i.db_cluster_identifier(), Some("rtech-dev-docdb"));
    assert_eq!(i.db_instance_class(), Some("db.t3.medium"));
    assert_eq!(i.availability_zone(), Some("us-east-1a"));

    destroy_in(&emu, envs.path(), "dev");
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(0, 0, 0, 0));
    assert!(
        final_snapshots(&dd, "rtech-dev-docdb").await.is_empty(),
        "skip_final_snapshot = true takes none"
    );
    assert!(tagged(&ec2, "dev").await.values().all(|n| *n == 0));
    let again = destroy_in(&emu, envs.path(), "dev");
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_shown_exactly_and_repaired() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("dev", DEV)]);
    let dd = docdb(&emu).await;
    apply_in(&emu, envs.path(), "dev", &[]);

    // 1. Backup retention changed out of band: that one field, then repaired.
    dd.modify_db_cluster()
        .db_cluster_identifier("rtech-dev-docdb")
        .backup_retention_period(5)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(changes(&p), pairs(&[("docdb_cluster/main", "update")]));
    assert_eq!(
        fields(&p),
        [(
            "backup_retention_period".to_string(),
            serde_json::json!(5),
            serde_json::json!(1)
        )]
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(
        cluster(&dd, "rtech-dev-docdb")
            .await
            .backup_retention_period(),
        Some(1)
    );

    // 2. A log export turned off out of band.
    dd.modify_db_cluster()
        .db_cluster_identifier("rtech-dev-docdb")
        .cloudwatch_logs_export_configuration(
            CloudwatchLogsExportConfiguration::builder()
                .disable_log_types("profiler")
                .build(),
        )
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(
        fields(&p),
        [(
            "enabled_cloudwatch_logs_exports".to_string(),
            serde_json::json!(["audit"]),
            serde_json::json!(["audit", "profiler"])
        )]
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);

    // 3. A parameter and a tag changed out of band.
    dd.modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name("rtech-dev-docdb5")
        .parameters(
            Parameter::builder()
                .parameter_name("tls")
                .parameter_value("disabled")
                .apply_method(aws_sdk_docdb::types::ApplyMethod::PendingReboot)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = cluster(&dd, "rtech-dev-docdb")
        .await
        .db_cluster_arn()
        .unwrap()
        .to_string();
    dd.add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("Environment").value("changed").build())
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    let mut got = changes(&p);
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("docdb_cluster/main", "update"),
            ("docdb_param_group/main", "update")
        ])
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(docdb_tags(&dd, &arn).await["Environment"], "development");

    // 4. The instance class changed out of band: an in-place update.
    dd.modify_db_instance()
        .db_instance_identifier("rtech-dev-docdb-1")
        .db_instance_class("db.r6g.large")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(changes(&p), pairs(&[("docdb_instance/1", "update")]));
    assert_eq!(fields(&p)[0].0, "instance_class");
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);

    // 5. The instance deleted out of band: created again.
    dd.delete_db_instance()
        .db_instance_identifier("rtech-dev-docdb-1")
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(changes(&p), pairs(&[("docdb_instance/1", "create")]));
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(1, 1, 1, 1));

    // 6. One more instance in the spec: added in the next AZ; and removed again.
    envs.write("dev", &DEV.replace("instances = 1", "instances = 2"));
    // The instances' event subscription names its sources: it gains and then loses the new one.
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(
        sorted(changes(&p)),
        pairs(&[
            ("docdb_event_sub/instance", "update"),
            ("docdb_instance/2", "create"),
        ])
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    let i2 = dd
        .describe_db_instances()
        .db_instance_identifier("rtech-dev-docdb-2")
        .send()
        .await
        .unwrap();
    assert_eq!(i2.db_instances()[0].availability_zone(), Some("us-east-1b"));
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    envs.write("dev", DEV);
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(
        sorted(changes(&p)),
        pairs(&[
            ("docdb_event_sub/instance", "update"),
            ("docdb_instance/2", "delete"),
        ])
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(1, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_secret_gives_the_cluster_its_new_password() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("dev", DEV)]);
    let dd = docdb(&emu).await;
    apply_in(&emu, envs.path(), "dev", &[]);
    let arn = cluster(&dd, "rtech-dev-docdb")
        .await
        .db_cluster_arn()
        .unwrap()
        .to_string();
    let before = docdb_tags(&dd, &arn).await["rtech:password-id"].clone();

    secretsmanager(&emu)
        .await
        .delete_secret()
        .secret_id("rtech/dev/docdb")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    let c = change_of(&p, "docdb_cluster/main").expect("the cluster follows its secret");
    assert_eq!(c["action"], "update");

    let a = apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    let secret = secret_json(&emu, "rtech/dev/docdb").await;
    let after = docdb_tags(&dd, &arn).await["rtech:password-id"].clone();
    assert_ne!(after, before);
    assert_eq!(after, secret["generated_id"].as_str().unwrap());
    let password = secret["password"].as_str().unwrap();
    assert!(!a.stdout.contains(password) && !a.stderr.contains(password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_cluster_is_not_destroyed_until_the_spec_turns_protection_off() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("prod", PROD)]);
    let dd = docdb(&emu).await;
    let ec2 = ec2(&emu).await;
    apply_in(&emu, envs.path(), "prod", &[]);
    assert_plan_empty_in(&emu, envs.path(), "prod", &[]);
    assert_eq!(tagged_docdb(&dd, "prod").await, counts(1, 2, 1, 1));
    let c = cluster(&dd, "rtech-prod-docdb").await;
    assert_eq!(c.deletion_protection(), Some(true));
    assert_eq!(c.backup_retention_period(), Some(7));
    assert_eq!(c.preferred_backup_window(), Some("03:00-04:00"));
    assert_eq!(
        c.preferred_maintenance_window(),
        Some("sun:04:00-sun:05:00")
    );
    for (n, az) in [(1, "us-east-1a"), (2, "us-east-1b")] {
        let i = dd
            .describe_db_instances()
            .db_instance_identifier(format!("rtech-prod-docdb-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(i.db_instances()[0].availability_zone(), Some(az));
        assert_eq!(
            i.db_instances()[0].db_instance_class(),
            Some("db.r6g.large")
        );
    }

    // Protection turned off out of band: shown, and turned back on.
    dd.modify_db_cluster()
        .db_cluster_identifier("rtech-prod-docdb")
        .deletion_protection(false)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, envs.path(), "prod", &[]);
    assert_eq!(
        fields(&p),
        [(
            "deletion_protection".to_string(),
            serde_json::json!(false),
            serde_json::json!(true)
        )]
    );
    apply_in(&emu, envs.path(), "prod", &[]);
    assert_plan_empty_in(&emu, envs.path(), "prod", &[]);
    assert_eq!(
        cluster(&dd, "rtech-prod-docdb").await.deletion_protection(),
        Some(true)
    );

    // Destroy is refused as a whole: nothing at all is deleted.
    let network_before = tagged(&ec2, "prod").await;
    let d = run_ok(
        rtech_in(&emu, envs.path()).args(["destroy", "--env", "prod", "--auto-approve"]),
        1,
    );
    let refusal = "refused: docdb_cluster/main (rtech-prod-docdb) has deletion protection on; set docdb.deletion_protection = false in the spec and apply, then destroy";
    assert!(
        d.stdout.contains(refusal) || d.stderr.contains(refusal),
        "{}\n{}",
        d.stdout,
        d.stderr
    );
    assert_eq!(tagged_docdb(&dd, "prod").await, counts(1, 2, 1, 1));
    assert_eq!(tagged(&ec2, "prod").await, network_before);
    assert_plan_empty_in(&emu, envs.path(), "prod", &[]);

    // The documented way out: protection off in the spec, apply, destroy.
    envs.write(
        "prod",
        &PROD.replace("deletion_protection = true", "deletion_protection = false"),
    );
    let p = plan_json_in(&emu, envs.path(), "prod", &[]);
    assert_eq!(changes(&p), pairs(&[("docdb_cluster/main", "update")]));
    apply_in(&emu, envs.path(), "prod", &[]);
    destroy_in(&emu, envs.path(), "prod");
    assert_eq!(tagged_docdb(&dd, "prod").await, counts(0, 0, 0, 0));
    assert!(tagged(&ec2, "prod").await.values().all(|n| *n == 0));
    let snaps = final_snapshots(&dd, "rtech-prod-docdb").await;
    assert_eq!(snaps.len(), 1, "one final snapshot: {snaps:?}");
    let stamp = snaps[0].trim_start_matches("rtech-prod-docdb-final-");
    assert!(
        stamp.len() == 14 && stamp.chars().all(|c| c.is_ascii_digit()),
        "{}",
        snaps[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_cluster_without_our_tags_is_a_conflict_and_never_touched() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("dev", DEV)]);
    let dd = docdb(&emu).await;
    dd.create_db_cluster()
        .db_cluster_identifier("rtech-dev-docdb")
        .engine("docdb")
        .master_username("someoneelse")
        .master_user_password("their-own-password-1")
        .backup_retention_period(3)
        .tags(Tag::builder().key("owner").value("another-team").build())
        .send()
        .await
        .unwrap();

    let p = run(rtech_in(&emu, envs.path()).args(["plan", "--env", "dev"]));
    assert_eq!(p.code, 1, "{}\n{}", p.stdout, p.stderr);
    assert!(
        p.stdout.contains("docdb_cluster/main") && p.stdout.contains("without rtech's tags"),
        "{}",
        p.stdout
    );
    let a = run(rtech_in(&emu, envs.path()).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_eq!(a.code, 1, "{}\n{}", a.stdout, a.stderr);
    assert!(a.stderr.contains("refusing to apply"), "{}", a.stderr);

    let d = destroy_in(&emu, envs.path(), "dev");
    assert!(d.stdout.contains("No changes."), "{}", d.stdout);

    let c = cluster(&dd, "rtech-dev-docdb").await;
    assert_eq!(c.backup_retention_period(), Some(3));
    assert_eq!(c.master_username(), Some("someoneelse"));
    let t = docdb_tags(&dd, c.db_cluster_arn().unwrap()).await;
    assert_eq!(
        t.into_iter().collect::<Vec<_>>(),
        [("owner".to_string(), "another-team".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_downgrade_replaces_the_cluster_and_an_upgrade_is_in_place() {
    let emu = Emulator::start();
    let envs = Envs::new(&[("dev", DEV)]);
    let dd = docdb(&emu).await;
    apply_in(&emu, envs.path(), "dev", &[]);

    let v4 = DEV.replace("instances = 1", "instances = 1\nengine_version = \"4.0.0\"");
    envs.write("dev", &v4);
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    let action = |id: &str| change_of(&p, id).map(|c| (c["action"].clone(), c["reason"].clone()));
    assert_eq!(
        action("docdb_cluster/main"),
        Some((
            serde_json::json!("replace"),
            serde_json::json!("engine_version_downgrade cannot change in place")
        ))
    );
    assert_eq!(action("docdb_instance/1").unwrap().0, "replace");
    assert_eq!(action("docdb_param_group/main").unwrap().0, "replace");
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    let c = cluster(&dd, "rtech-dev-docdb").await;
    assert_eq!(c.engine_version(), Some("4.0.0"));
    assert_eq!(c.db_cluster_parameter_group(), Some("rtech-dev-docdb4"));
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(1, 1, 1, 1));

    // Back to 5.0.0: the cluster stays (same ARN), only its engine and parameter group move.
    envs.write("dev", DEV);
    let p = plan_json_in(&emu, envs.path(), "dev", &[]);
    let mut got = changes(&p);
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("docdb_cluster/main", "update"),
            ("docdb_param_group/main", "replace")
        ])
    );
    apply_in(&emu, envs.path(), "dev", &[]);
    assert_plan_empty_in(&emu, envs.path(), "dev", &[]);
    let after = cluster(&dd, "rtech-dev-docdb").await;
    assert_eq!(after.engine_version(), Some("5.0.0"));
    assert_eq!(after.db_cluster_parameter_group(), Some("rtech-dev-docdb5"));
    assert_eq!(after.db_cluster_resource_id(), c.db_cluster_resource_id());
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(1, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repo_envs_apply_cleanly_and_prod_refuses_to_be_destroyed() {
    let emu = Emulator::start();
    let dd = docdb(&emu).await;
    apply(&emu, "dev");
    apply(&emu, "prod");
    assert_plan_empty(&emu, "dev");
    assert_plan_empty(&emu, "prod");
    assert_eq!(tagged_docdb(&dd, "prod").await, counts(1, 2, 1, 1));

    let d = run_ok(
        rtech(&emu).args(["destroy", "--env", "prod", "--auto-approve"]),
        1,
    );
    assert!(
        d.stderr.contains("has deletion protection on"),
        "{}",
        d.stderr
    );
    destroy(&emu, "dev");
    assert_eq!(tagged_docdb(&dd, "dev").await, counts(0, 0, 0, 0));
    assert_eq!(tagged_docdb(&dd, "prod").await, counts(1, 2, 1, 1));
    assert_plan_empty(&emu, "prod");
}

#[test]
fn the_launcher_fails_loudly_when_moto_changes_under_the_shim() {
    // Simulate a moto release without one of the names the shim patches.
    let root = crate::emulator::root();
    let out = std::process::Command::new(root.join(".venv/bin/python"))
        .current_dir(root.join("scripts"))
        .args([
            "-c",
            "import moto.rds.models as m\n\
             del m.DBCluster.default_port\n\
             import moto_server\n\
             try:\n    moto_server.apply_docdb_shim()\nexcept moto_server.ShimError as e:\n    print(e)\n    raise SystemExit(3)\n",
        ])
        .output()
        .expect("run the launcher's shim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("DBCluster.default_port is gone") && stdout.contains("moto_server.py"),
        "{stdout}"
    );
}

/// `v` in order, for plans whose changes AWS lets run in either order.
fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

//! The network layer end to end: apply → empty plan, drift, foreign resources, saved plans,
//! interrupted applies, destroy.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Stdio};

use aws_sdk_ec2::types::{IpPermission, IpRange, Tag};

use crate::emulator::Emulator;
use crate::support::*;

/// Everything envs/dev.toml expands to: 31 network, 4 secrets, 4 DocumentDB, 2 Redis, and the
/// container platform's 8 (ECR repository, log group, 2 IAM roles, target group, ECS cluster,
/// task definition, service).
const DEV_RESOURCES: u64 = 65;

const DEV_COUNTS: [(&str, usize); 8] = [
    ("eip", 1),
    // dev has no flow log (`flow_logs = "off"`).
    ("flow_log", 0),
    ("igw", 1),
    ("nat", 1),
    ("route_table", 3),
    ("sg", 4),
    ("subnet", 4),
    ("vpc", 1),
];

/// The container platform of envs/dev.toml, as `support::platform` counts it (no scaling).
const DEV_PLATFORM: [(&str, usize); 8] = [
    ("ecr_repository", 1),
    ("ecs_cluster", 1),
    ("ecs_service", 1),
    ("ecs_task_definition", 1),
    ("iam_role", 2),
    ("log_group", 1),
    ("scalable_target", 0),
    ("target_group", 1),
];

fn counts(v: &[(&'static str, usize)]) -> std::collections::BTreeMap<&'static str, usize> {
    v.iter().copied().collect()
}

/// `apply --env dev --auto-approve --parallelism N` in the background, its stderr read up to
/// the `n`th ": created (" progress line; the rest of its stderr is left to read.
fn apply_until_created(
    emu: &Emulator,
    parallelism: &str,
    n: usize,
) -> (Child, Lines<BufReader<ChildStderr>>) {
    let mut child = rtech_std(emu)
        .args([
            "apply",
            "--env",
            "dev",
            "--auto-approve",
            "--parallelism",
            parallelism,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut created = 0;
    for line in lines.by_ref() {
        if line.unwrap().contains(": created (") {
            created += 1;
            if created == n {
                break;
            }
        }
    }
    assert_eq!(created, n, "the apply ended before {n} creates");
    (child, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_apply_plan_empty_output_destroy_leaves_nothing() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    let default_vpcs_before = ec2
        .describe_vpcs()
        .filters(by_name("is-default", "true"))
        .send()
        .await
        .unwrap()
        .vpcs()
        .len();
    assert_eq!(default_vpcs_before, 1, "the emulator has a default VPC");

    // From empty, everything is a create, and what runs the app's image waits for its push
    // (docs/usage.md, "The first deploy").
    let first = plan_json(&emu, "dev");
    let blocked = first["blocked"].as_array().expect("blocked changes");
    assert_eq!(
        first["summary"]["add"].as_u64().unwrap() + blocked.len() as u64,
        DEV_RESOURCES
    );
    assert!(changes(&first).iter().all(|(_, a)| a == "create"));
    assert!(
        blocked.iter().all(|b| b["action"] == "create"),
        "{blocked:?}"
    );
    assert!(
        blocked.iter().any(|b| b["message"]
            .as_str()
            .unwrap()
            .contains("push it with rtech image push --env dev")),
        "{blocked:?}"
    );

    // The push makes the repository first (a targeted apply), so the apply adds the rest.
    push_app_image(&emu, None, "dev", &[]);
    let r = apply(&emu, "dev");
    assert!(
        r.stdout.contains(&format!(
            "Apply complete: {} added, 0 changed, 0 replaced, 0 destroyed.",
            DEV_RESOURCES - 1
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("vpc/main: created (vpc-"),
        "progress lines name the change: {}",
        r.stderr
    );
    assert_eq!(tagged(&ec2, "dev").await, counts(&DEV_COUNTS));
    assert_plan_empty(&emu, "dev");

    // Applying twice changes nothing.
    let again = apply(&emu, "dev");
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    let o = output_json(&emu, "dev");
    assert_eq!(o["vpc_id"].as_str().unwrap(), vpc_id(&ec2, "dev").await);
    // One output, bare for $(…): a string as is, a list one item per line; JSON otherwise.
    let one = |args: &[&str]| run_ok(rtech(&emu).args(["output", "--env", "dev"]).args(args), 0);
    assert_eq!(
        one(&["vpc_id", "--raw"]).stdout,
        format!("{}\n", o["vpc_id"].as_str().unwrap())
    );
    let subnets: Vec<&str> = o["public_subnet_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        one(&["public_subnet_ids", "--raw"]).stdout,
        format!("{}\n", subnets.join("\n"))
    );
    let groups: serde_json::Value =
        serde_json::from_str(&one(&["security_group_ids"]).stdout).unwrap();
    assert_eq!(groups, o["security_group_ids"]);
    // A map has no raw form; an output with no value (dev has no distribution) is an error.
    let r = run_ok(
        rtech(&emu).args(["output", "--env", "dev", "security_group_ids", "--raw"]),
        1,
    );
    assert!(r.stderr.contains("use --json"), "{}", r.stderr);
    let r = run_ok(
        rtech(&emu).args(["output", "--env", "dev", "cloudfront_distribution_id"]),
        1,
    );
    assert!(
        r.stderr
            .contains("output cloudfront_distribution_id has no value in env dev"),
        "{}",
        r.stderr
    );
    assert_eq!(o["vpc_cidr"], "10.10.0.0/20");
    assert_eq!(o["public_subnet_ids"].as_array().unwrap().len(), 2);
    assert_eq!(o["private_subnet_ids"].as_array().unwrap().len(), 2);
    assert!(o["security_group_ids"]["app"]
        .as_str()
        .unwrap()
        .starts_with("sg-"));

    // `plan --destroy` shows what destroy would delete, and deletes nothing.
    let before = tagged(&ec2, "dev").await;
    let r = run_ok(
        rtech(&emu).args([
            "plan",
            "--env",
            "dev",
            "--destroy",
            "--json",
            "--detailed-exitcode",
        ]),
        2,
    );
    let p: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(p["summary"]["destroy"], DEV_RESOURCES);
    assert!(changes(&p).iter().all(|(_, a)| a == "delete"), "{p}");
    assert_eq!(tagged(&ec2, "dev").await, before, "nothing was deleted");
    let r = run_ok(rtech(&emu).args(["plan", "--env", "dev", "--destroy"]), 0);
    assert!(
        r.stdout.contains(&format!("{DEV_RESOURCES} to destroy")),
        "{}",
        r.stdout
    );
    // A destroy plan deploys no image and replaces nothing (saved and targeted destroy plans:
    // the destroyplan module).
    for extra in [["--image-tag", "abc"], ["--replace", "vpc/main"]] {
        run_ok(
            rtech(&emu)
                .args(["plan", "--env", "dev", "--destroy"])
                .args(extra),
            1,
        );
    }

    let d = destroy(&emu, "dev");
    assert!(
        d.stdout.contains(&format!("{DEV_RESOURCES} destroyed")),
        "{}",
        d.stdout
    );
    assert!(
        tagged(&ec2, "dev").await.values().all(|n| *n == 0),
        "nothing tagged remains: {:?}",
        tagged(&ec2, "dev").await
    );
    let default_vpcs = ec2
        .describe_vpcs()
        .filters(by_name("is-default", "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(default_vpcs.vpcs().len(), 1, "the default VPC is untouched");
    // Destroying again is a no-op.
    let d2 = destroy(&emu, "dev");
    assert!(d2.stdout.contains("No changes."), "{}", d2.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envs_are_isolated_destroying_dev_leaves_prod_alone() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    apply(&emu, "dev");
    apply(&emu, "prod");
    let prod_before = tagged(&ec2, "prod").await;
    assert_eq!(prod_before["nat"], 3, "one NAT gateway per AZ in prod");
    assert_eq!(prod_before["subnet"], 6);
    destroy(&emu, "dev");
    assert_eq!(tagged(&ec2, "prod").await, prod_before);
    assert_plan_empty(&emu, "prod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_shown_exactly_and_repaired() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    apply(&emu, "dev");

    // 1. A tag changed out of band: one field of one resource.
    let vpc = vpc_id(&ec2, "dev").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(Tag::builder().key("Name").value("renamed").build())
        .send()
        .await
        .unwrap();
    let p = plan_json(&emu, "dev");
    assert_eq!(
        changes(&p),
        vec![("vpc/main".to_string(), "update".to_string())]
    );
    let f = &p["changes"][0]["fields"];
    assert_eq!(f.as_array().unwrap().len(), 1, "{f}");
    assert_eq!(f[0]["path"], "tags.Name");
    assert_eq!(f[0]["before"], "renamed");
    assert_eq!(f[0]["after"], "rtech-dev-vpc");
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");

    // 2. An ingress rule added out of band: shown as exactly that rule's removal.
    let app = physical(&ec2, "dev", "sg/app").await;
    ec2.authorize_security_group_ingress()
        .group_id(&app)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let p = plan_json(&emu, "dev");
    assert_eq!(
        changes(&p),
        vec![(
            "sg_rule/app-in-tcp-22-0.0.0.0_0".to_string(),
            "delete".to_string()
        )]
    );
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");

    // 3. The internet gateway detached: an update of its attachment.
    let igw = physical(&ec2, "dev", "igw/main").await;
    ec2.detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let p = plan_json(&emu, "dev");
    assert_eq!(
        changes(&p),
        vec![("igw/main".to_string(), "update".to_string())]
    );
    assert_eq!(p["changes"][0]["fields"][0]["path"], "vpc_id");
    assert_eq!(
        p["changes"][0]["fields"][0]["before"],
        serde_json::Value::Null
    );
    assert_eq!(p["changes"][0]["fields"][0]["after"], vpc.as_str());
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");

    // 4. A subnet deleted out of band: a create (and its route-table association with it).
    let subnet = physical(&ec2, "dev", "subnet/private-b").await;
    let rts = ec2
        .describe_route_tables()
        .filters(by_name("association.subnet-id", &subnet))
        .send()
        .await
        .unwrap();
    for rt in rts.route_tables() {
        for a in rt.associations() {
            if a.subnet_id() == Some(subnet.as_str()) {
                ec2.disassociate_route_table()
                    .association_id(a.route_table_association_id().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    ec2.delete_subnet().subnet_id(&subnet).send().await.unwrap();
    let p = plan_json(&emu, "dev");
    let mut c = changes(&p);
    c.sort();
    // The subnet and its association come back; the database subnet groups and the ECS
    // service that listed it are updated to the new subnet's id.
    assert_eq!(
        c,
        vec![
            ("cache_subnet_group/main".to_string(), "update".to_string()),
            ("docdb_subnet_group/main".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string()),
            ("rta/private-b".to_string(), "create".to_string()),
            ("subnet/private-b".to_string(), "create".to_string())
        ]
    );
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    assert_eq!(
        tagged(&ec2, "dev").await,
        counts(&DEV_COUNTS),
        "no duplicates after repairs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_security_group_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    // In another VPC (the default one): not a conflict, simply not ours.
    let other = ec2
        .create_security_group()
        .group_name("rtech-dev-app")
        .description("someone else's")
        .send()
        .await
        .unwrap();
    let other = other.group_id().unwrap().to_string();
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    destroy(&emu, "dev");
    let still = ec2
        .describe_security_groups()
        .group_ids(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.security_groups().len(),
        1,
        "the foreign group survives destroy"
    );
    assert_eq!(
        still.security_groups()[0].description(),
        Some("someone else's")
    );

    // In our VPC, under our name: a conflict that plan shows and apply refuses.
    apply(&emu, "dev");
    let redis = physical(&ec2, "dev", "sg/redis").await;
    let rules = ec2
        .describe_security_group_rules()
        .filters(by_name("group-id", &redis))
        .send()
        .await
        .unwrap();
    for r in rules.security_group_rules() {
        let id = r.security_group_rule_id().unwrap();
        if r.is_egress() == Some(true) {
            ec2.revoke_security_group_egress()
                .group_id(&redis)
                .security_group_rule_ids(id)
                .send()
                .await
                .unwrap();
        } else {
            ec2.revoke_security_group_ingress()
                .group_id(&redis)
                .security_group_rule_ids(id)
                .send()
                .await
                .unwrap();
        }
    }
    ec2.delete_security_group()
        .group_id(&redis)
        .send()
        .await
        .unwrap();
    let vpc = vpc_id(&ec2, "dev").await;
    let squatter = ec2
        .create_security_group()
        .group_name("rtech-dev-redis")
        .description("not rtech's")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let p = run_ok(rtech(&emu).args(["plan", "--env", "dev"]), 1);
    assert!(
        p.stdout.contains("sg/redis: conflict:") && p.stdout.contains(&squatter),
        "{}",
        p.stdout
    );
    assert!(p.stderr.contains("conflict"), "{}", p.stderr);
    let a = run_ok(
        rtech(&emu).args(["apply", "--env", "dev", "--auto-approve"]),
        1,
    );
    assert!(
        a.stderr.contains("refusing to apply") && a.stderr.contains("nothing was changed"),
        "{}",
        a.stderr
    );
    let g = ec2
        .describe_security_groups()
        .group_ids(&squatter)
        .send()
        .await
        .unwrap();
    assert_eq!(g.security_groups()[0].description(), Some("not rtech's"));
    assert!(
        tags(g.security_groups()[0].tags()).is_empty(),
        "apply did not tag or modify it"
    );
    let rules = ec2
        .describe_security_group_rules()
        .filters(by_name("group-id", &squatter))
        .send()
        .await
        .unwrap();
    assert!(
        rules
            .security_group_rules()
            .iter()
            .all(|r| r.is_egress() == Some(true)),
        "no rules were added to it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plans_apply_exactly_or_are_refused_when_stale() {
    let emu = Emulator::start();
    push_app_image(&emu, None, "dev", &[]);
    let ec2 = ec2(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let from_empty = dir.path().join("empty.plan");
    run_ok(
        rtech(&emu)
            .args(["plan", "--env", "dev", "--out"])
            .arg(&from_empty),
        0,
    );
    // Applying the plan made from an empty account twice must not work (absent is fingerprinted).
    run_ok(
        rtech(&emu).args(["apply", "--env", "dev"]).arg(&from_empty),
        0,
    );
    assert_plan_empty(&emu, "dev");
    let again = run_ok(
        rtech(&emu).args(["apply", "--env", "dev"]).arg(&from_empty),
        1,
    );
    assert!(
        again.stderr.contains("plan is stale:")
            && again.stderr.contains("changed since the plan was made"),
        "{}",
        again.stderr
    );
    assert_eq!(tagged(&ec2, "dev").await["vpc"], 1, "no second VPC");

    // A fresh plan of one drifted tag applies exactly that.
    let vpc = vpc_id(&ec2, "dev").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(Tag::builder().key("Environment").value("x").build())
        .send()
        .await
        .unwrap();
    let fresh = dir.path().join("fresh.plan");
    run_ok(
        rtech(&emu)
            .args(["plan", "--env", "dev", "--detailed-exitcode", "--out"])
            .arg(&fresh),
        2,
    );
    let shown = run_ok(rtech(&emu).args(["show", "--json"]).arg(&fresh), 0);
    let v: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(
        changes(&v),
        vec![("vpc/main".to_string(), "update".to_string())]
    );
    // Something else drifts after the plan was made: refused, naming it.
    let subnet = physical(&ec2, "dev", "subnet/public-a").await;
    ec2.create_tags()
        .resources(&subnet)
        .tags(Tag::builder().key("Owner").value("x").build())
        .send()
        .await
        .unwrap();
    let stale = run_ok(rtech(&emu).args(["apply", "--env", "dev"]).arg(&fresh), 1);
    assert!(
        stale
            .stderr
            .contains("plan is stale: subnet/public-a changed since the plan was made"),
        "{}",
        stale.stderr
    );
    // Put it back: the saved plan is fresh again and applies exactly its one change.
    ec2.delete_tags()
        .resources(&subnet)
        .tags(Tag::builder().key("Owner").build())
        .send()
        .await
        .unwrap();
    let ok = run_ok(rtech(&emu).args(["apply", "--env", "dev"]).arg(&fresh), 0);
    assert!(
        ok.stdout
            .contains("Apply complete: 0 added, 1 changed, 0 replaced, 0 destroyed."),
        "{}",
        ok.stdout
    );
    assert_plan_empty(&emu, "dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_part_way_converges_without_duplicates() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    let (mut child, _) = apply_until_created(&emu, "2", 5);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(unlock_after_kill(&emu, None, "dev"));
    // The first creates may be anything without dependencies (the VPC, ECR, IAM, the log
    // group, the cluster, secrets): count what exists, across services.
    let network = tagged(&ec2, "dev").await;
    let containers = platform(&emu, "dev").await;
    let live = network.values().sum::<usize>() + containers.values().sum::<usize>();
    assert!(
        live > 0 && (live as u64) < DEV_RESOURCES,
        "killed part-way: {network:?} {containers:?}"
    );

    // What is left: creates, plus updates for anything caught between its create and its
    // follow-up call (an IGW not yet attached, a subnet attribute not yet set). Never a delete.
    let p = plan_json(&emu, "dev");
    assert!(
        changes(&p)
            .iter()
            .all(|(_, a)| a == "create" || a == "update"),
        "what is left: {:?}",
        changes(&p)
    );
    assert!(p["summary"]["add"].as_u64().unwrap() < DEV_RESOURCES);
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    assert_eq!(
        tagged(&ec2, "dev").await,
        counts(&DEV_COUNTS),
        "no duplicate VPCs, subnets or gateways"
    );
    assert_eq!(
        platform(&emu, "dev").await,
        counts(&DEV_PLATFORM),
        "no duplicate repository, roles, target group, cluster, service or revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_plan_reports_a_small_batched_api_call_count() {
    let emu = Emulator::start();
    apply(&emu, "dev");
    let r = run_ok(rtech(&emu).args(["-v", "plan", "--env", "dev"]), 0);
    let o = observe_stats(&r.stderr);
    assert_eq!(o.resources as u64, DEV_RESOURCES, "{o:?}");
    assert_eq!(
        o.by_service.values().sum::<usize>(),
        o.calls,
        "the per-service counts add up: {o:?}"
    );
    // Per kind, not per resource. Today's dev: 65 = ec2 13 (network 11: 7 Describes, 2 VPC
    // attributes, rules, names; plus the subnets' ids for Redis and for the ECS service),
    // secretsmanager 3, docdb 9 (4 Describes, parameters, and 4 tag reads: its Describes carry
    // no tags), elasticache 5, ecr 4, cloudwatchlogs 2, iam 7 (GetRole per role, attached and
    // inline policies), elasticloadbalancingv2 7 (target groups 3; the load balancer by name,
    // its listeners, their tags, its attributes), ecs 4, applicationautoscaling 2, acm 3
    // (list, tags, describe), route53 3 (zone by name, its tags, its records), cloudfront 1
    // (list: dev has no distribution), s3 2 (one probe per log-bucket name); cloudwatchlogs 7
    // (one DescribeLogGroups per prefix: app, DocumentDB, Redis; one tag read per group),
    // cloudwatch 2 (the dashboard, the alarms by prefix), sns 1 (dev has no topic); the
    // identity call is not an observation and is not counted.
    // Since: ec2 14 with the flow logs' DescribeFlowLogs (destroy finds them without a spec, so
    // dev reads them with flow logs off), iam 8 with the flow-log role's GetRole; the tag index
    // lists DocumentDB's groups and the listeners, so their tag reads are gone (dev 65 calls).
    // Then cloudwatchlogs 5 and wafv2 1: the WAF log group's prefix and ListWebACLs, read in dev
    // too (destroy finds them without a spec): dev 67 calls.
    // Canary deployments add three, whatever the env's strategy (destroy has no spec and must
    // find what a canary env has): iam 9 with the GetRole of ECS's infrastructure role, and
    // elasticloadbalancingv2 9 with DescribeRules on the HTTPS listener and one
    // DescribeTargetGroups per colour (blue and green, by name) (dev 70 calls with both).
    // AWS Backup and events: docdb 6 with DescribeEventSubscriptions, backup 2 (ListBackupVaults,
    // ListBackupPlans: destroy finds a vault and plan without the spec), iam 9 with the backup
    // role's GetRole (probed in every env for the same reason): dev 74 calls with all three.
    // IAM reads every role of the account at once (GetAccountAuthorizationDetails and
    // ListRoles): iam 9 → 2, dev 74 → 67 calls.
    // docs/performance.md keeps the breakdown.
    assert!(
        o.calls <= 69,
        "observe is batched per kind, not per resource: {o:?}"
    );
    let bounds = [
        ("ec2", 14),
        ("docdb", 10),
        ("iam", 2),
        ("ecs", 5),
        ("ecr", 4),
        ("elasticloadbalancingv2", 9),
        ("cloudwatchlogs", 7),
    ];
    for (service, n) in &o.by_service {
        let max = bounds
            .iter()
            .find(|(s, _)| s == service)
            .map_or(5, |(_, m)| *m);
        assert!(
            *n <= max,
            "{service}: {n} calls (at most {max}), batched per kind: {o:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_or_auto_approve_refuses_and_changes_nothing() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    let r = run_ok(
        rtech(&emu).args(["apply", "--env", "dev"]).write_stdin(""),
        1,
    );
    assert!(
        r.stderr.contains("stdin is not a terminal") && r.stderr.contains("--auto-approve"),
        "{}",
        r.stderr
    );
    assert!(tagged(&ec2, "dev").await.values().all(|n| *n == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limits_the_plan_to_a_resource_and_its_dependencies() {
    let emu = Emulator::start();
    let r = run_ok(
        rtech(&emu).args([
            "plan",
            "--env",
            "dev",
            "--json",
            "--target",
            "subnet/private-a",
        ]),
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut ids: Vec<String> = changes(&v).into_iter().map(|(i, _)| i).collect();
    ids.sort();
    assert_eq!(ids, vec!["subnet/private-a", "vpc/main"]);
    let bad = run_ok(
        rtech(&emu).args(["plan", "--env", "dev", "--target", "subnet/nope"]),
        1,
    );
    assert!(
        bad.stderr
            .contains("--target subnet/nope: no such resource"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_new_work_waits_for_in_flight_and_the_next_apply_converges() {
    let emu = Emulator::start();
    let ec2 = ec2(&emu).await;
    let (mut child, lines) = apply_until_created(&emu, "1", 1);
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let rest = rest.join("\n");
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("Interrupted"), "{rest}");
    assert!(rest.contains("apply interrupted after"), "{rest}");
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    assert_eq!(tagged(&ec2, "dev").await, counts(&DEV_COUNTS));
    assert_eq!(platform(&emu, "dev").await, counts(&DEV_PLATFORM));
}

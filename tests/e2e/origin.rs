//! Only CloudFront reaches the load balancer, end to end on a temporary env with
//! `[edge.cloudfront]`, scoped to the distribution, the production listener rule and the ALB's
//! ingress rule (their dependencies come along). Every check goes through the service's own API
//! (the SDK), never through rtech; the origin header's value, read from Secrets Manager, must
//! appear in no output of rtech.

use crate::emulator::Emulator;
use crate::support::*;

const DOMAIN: &str = "origin-e2e.example.net";
const SECRET: &str = "rtech/dev/origin-header";
const LB_NAME: &str = "rtech-dev-alb";
const PL_RULE: &str = "sg_rule/alb-in-tcp-443-pl-origin-facing";
const TARGETS: [&str; 6] = [
    "--target",
    "distribution/main",
    "--target",
    "listener_rule/production",
    "--target",
    PL_RULE,
];

fn spec() -> String {
    edge_spec("origin", DOMAIN, "\n[edge.cloudfront]")
}

/// No output of rtech for the env (plan as text with -v and as JSON, output, policy) holds any
/// of `values`.
fn assert_no_output_holds(emu: &Emulator, d: &std::path::Path, values: &[&str]) {
    let mut all = String::new();
    let targets: &[&str] = &TARGETS;
    for (args, scoped) in [
        (vec!["-v", "plan", "--env", "dev"], true),
        (vec!["plan", "--env", "dev", "--json"], true),
        (vec!["output", "--env", "dev", "--json"], false),
        (vec!["policy", "--env", "dev", "--json"], false),
        (vec!["policy", "--env", "dev"], false),
    ] {
        let extra = if scoped { targets } else { &[] };
        let r = run(rtech_in(emu, d).args(&args).args(extra));
        all.push_str(&r.stdout);
        all.push_str(&r.stderr);
    }
    for v in values {
        assert!(!all.contains(v), "an output holds a value of {SECRET}");
    }
}

/// A temporary env with CloudFront, applied (scoped to the lock), and its envs dir.
fn applied() -> (Emulator, tempfile::TempDir) {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    apply_in(&emu, dir.path(), "dev", &TARGETS);
    (emu, dir)
}

/// The X-Origin-Verify values the production rule requires, as ELBv2 has them, and the HTTPS
/// listener's default action type and status code.
async fn rule_values(emu: &Emulator) -> (Vec<String>, String, Option<String>) {
    let (https, prod) = production_rule(&elbv2(emu).await, LB_NAME).await;
    let default = &https.default_actions()[0];
    (
        origin_header_values(&prod),
        default.r#type().unwrap().as_str().to_string(),
        default
            .fixed_response_config()
            .and_then(|f| f.status_code())
            .map(str::to_string),
    )
}

/// The X-Origin-Verify value CloudFront sends the origin, as CloudFront has it.
async fn distribution_header(emu: &Emulator) -> String {
    let cf = cloudfront(emu).await;
    let list = cf.list_distributions().send().await.unwrap();
    let items = list.distribution_list().unwrap().items();
    assert_eq!(items.len(), 1);
    let c = cf
        .get_distribution_config()
        .id(items[0].id())
        .send()
        .await
        .unwrap();
    let o = &c.distribution_config().unwrap().origins().unwrap().items()[0];
    let h = &o.custom_headers().unwrap().items()[0];
    assert_eq!(h.header_name(), ORIGIN_HEADER);
    h.header_value().to_string()
}

/// The ALB group's only ingress rule is 443 from CloudFront's origin-facing prefix list (found
/// by name), as EC2 has it: its group id and rule id.
async fn assert_only_cloudfront_ingress(emu: &Emulator) -> (String, String) {
    let ec2 = ec2(emu).await;
    let pl_id = origin_facing_prefix_list(&ec2).await;
    let sg = physical(&ec2, "dev", "sg/alb").await;
    let rules = ec2
        .describe_security_group_rules()
        .filters(by_name("group-id", &sg))
        .send()
        .await
        .unwrap();
    let ingress: Vec<_> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .collect();
    assert_eq!(ingress.len(), 1, "{ingress:?}");
    assert_eq!(ingress[0].prefix_list_id(), Some(pl_id.as_str()));
    assert_eq!(ingress[0].cidr_ipv4(), None);
    assert_eq!(
        (ingress[0].from_port(), ingress[0].to_port()),
        (Some(443), Some(443))
    );
    assert_eq!(ingress[0].description(), Some("HTTPS from CloudFront"));
    let rule = ingress[0].security_group_rule_id().unwrap().to_string();
    (sg, rule)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_cloudfront_reaches_the_load_balancer_and_the_header_never_shows() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();

    let r = run_ok(
        rtech_in(&emu, d)
            .args(["-v", "apply", "--env", "dev", "--auto-approve"])
            .args(TARGETS),
        0,
    );
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    let secret = secret_json(&emu, SECRET).await;
    let value = secret["value"]
        .as_str()
        .expect("a generated value")
        .to_string();
    assert_eq!(value.len(), 64);
    assert!(
        !r.stdout.contains(&value) && !r.stderr.contains(&value),
        "apply printed the value"
    );

    // The ALB's only ingress: 443 from CloudFront's origin-facing prefix list, found by name.
    assert_only_cloudfront_ingress(&emu).await;

    // CloudFront sends the secret's value; the rule requires it; anything else gets a 403.
    assert_eq!(distribution_header(&emu).await, value);
    let (values, default, status) = rule_values(&emu).await;
    assert_eq!(values, std::slice::from_ref(&value));
    assert_eq!(
        (default.as_str(), status.as_deref()),
        ("fixed-response", Some("403"))
    );

    // The next plan is empty, and no output holds the value.
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);
    assert_no_output_holds(&emu, d, &[&value]);

    destroy_in(&emu, d, "dev");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_accepts_both_values_until_cloudfront_sends_the_new_one() {
    let (emu, dir) = applied();
    let d = dir.path();
    let old = secret_json(&emu, SECRET).await["value"]
        .as_str()
        .unwrap()
        .to_string();

    // Not waiting for CloudFront: the rotation stays half-way, both values accepted.
    let mut args = vec!["--rotate", "origin-header", "--no-wait"];
    args.extend(TARGETS);
    let r = run_ok(
        rtech_in(&emu, d)
            .args(["-v", "apply", "--env", "dev", "--auto-approve"])
            .args(&args),
        0,
    );
    let secret = secret_json(&emu, SECRET).await;
    let new = secret["value"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(secret["previous"].as_str(), Some(old.as_str()));
    let mut both = vec![old.clone(), new.clone()];
    both.sort();
    assert_eq!(rule_values(&emu).await.0, both);
    assert_eq!(distribution_header(&emu).await, new);
    let shown = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !shown.contains(&old) && !shown.contains(&new),
        "apply printed a value"
    );
    assert!(
        shown.contains("sha256:"),
        "the plan shows the markers: {shown}"
    );

    // A second rotation while one rolls out is refused, naming the secret.
    let r = run(rtech_in(&emu, d)
        .args([
            "apply",
            "--env",
            "dev",
            "--auto-approve",
            "--rotate",
            "origin-header",
        ])
        .args(TARGETS));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("RotationInProgress") && r.stderr.contains("secret/origin-header"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&old) && !r.stderr.contains(&new));

    // The next apply finds the distribution Deployed with the new value: the old one goes.
    let r = apply_in(&emu, d, "dev", &TARGETS);
    assert!(
        r.stdout.contains("Finished rotating") || r.stderr.contains("Finished rotating"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(secret_json(&emu, SECRET).await.get("previous").is_none());
    assert_eq!(rule_values(&emu).await.0, std::slice::from_ref(&new));
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);

    // A rotation that waits finishes in one apply.
    let mut args = vec!["--rotate", "origin-header"];
    args.extend(TARGETS);
    let r = apply_in(&emu, d, "dev", &args);
    let newer = secret_json(&emu, SECRET).await["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(newer, new);
    assert_eq!(rule_values(&emu).await.0, std::slice::from_ref(&newer));
    assert_eq!(distribution_header(&emu).await, newer);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains(&newer));
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);
    assert_no_output_holds(&emu, d, &[&old, &new, &newer]);
    destroy_in(&emu, d, "dev");
}

/// The generated value the origin-header secret holds now, read through Secrets Manager.
async fn current_value(emu: &Emulator) -> String {
    secret_json(emu, SECRET).await["value"]
        .as_str()
        .expect("a generated value")
        .to_string()
}

/// The plan's only change is `id`'s `action` (its field paths are returned), and no output
/// holds any of `secrets`.
fn assert_only_change(
    emu: &Emulator,
    d: &std::path::Path,
    id: &str,
    action: &str,
    secrets: &[&str],
) -> Vec<String> {
    let plan = plan_json_in(emu, d, "dev", &TARGETS);
    assert_eq!(
        changes(&plan),
        [(id.to_string(), action.to_string())],
        "{plan:#}"
    );
    assert_no_output_holds(emu, d, secrets);
    fields_of(&plan, id)
}

/// Each part of the lock undone out of band with the SDK (the production rule's header
/// condition dropped, the prefix-list ingress rule revoked, the HTTPS default turned into a
/// forward) shows as exactly that drift, apply repairs it in place, and the next plan is
/// empty. Destroy then leaves no secret, listener rule or security group of ours, nor any
/// ingress rule from CloudFront's prefix list.
#[tokio::test(flavor = "multi_thread")]
async fn the_lock_undone_out_of_band_shows_as_drift_and_apply_restores_it() {
    use aws_sdk_elasticloadbalancingv2::types::{PathPatternConditionConfig, RuleCondition};
    let (emu, dir) = applied();
    let d = dir.path();
    let value = current_value(&emu).await;
    let elb = elbv2(&emu).await;

    // ModifyRule with the path condition alone: the header condition is gone.
    let (_, prod) = production_rule(&elb, LB_NAME).await;
    let rule_arn = prod.rule_arn().unwrap().to_string();
    elb.modify_rule()
        .rule_arn(&rule_arn)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(PathPatternConditionConfig::builder().values("/*").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        rule_values(&emu).await.0.is_empty(),
        "the condition is gone"
    );
    let fields = assert_only_change(&emu, d, "listener_rule/production", "update", &[&value]);
    assert_eq!(fields, ["origin_header"]);
    apply_in(&emu, d, "dev", &TARGETS);
    let (_, again) = production_rule(&elb, LB_NAME).await;
    assert_eq!(
        again.rule_arn(),
        Some(rule_arn.as_str()),
        "modified in place"
    );
    assert_eq!(origin_header_values(&again), std::slice::from_ref(&value));
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);

    // RevokeSecurityGroupIngress of the prefix-list rule: a create, and apply adds it again.
    let (sg, rule_id) = assert_only_cloudfront_ingress(&emu).await;
    ec2(&emu)
        .await
        .revoke_security_group_ingress()
        .group_id(&sg)
        .security_group_rule_ids(&rule_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        origin_lock_network(&ec2(&emu).await, "dev").await.1.len(),
        0
    );
    assert_only_change(&emu, d, PL_RULE, "create", &[&value]);
    apply_in(&emu, d, "dev", &TARGETS);
    assert_only_cloudfront_ingress(&emu).await;
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);

    // The HTTPS listener's default turned into a forward to blue: that drift, repaired.
    let (https, _) = production_rule(&elb, LB_NAME).await;
    let blue = elb
        .describe_target_groups()
        .names("rtech-dev-blue")
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    forward_by_default(&elb, https.listener_arn().unwrap(), &blue).await;
    assert_eq!(rule_values(&emu).await.1, "forward");
    let fields = assert_only_change(&emu, d, "listener/https", "update", &[&value]);
    assert_eq!(fields, ["default_actions"]);
    apply_in(&emu, d, "dev", &TARGETS);
    let (values, default, status) = rule_values(&emu).await;
    assert_eq!(
        (values, default.as_str(), status.as_deref()),
        (vec![value.clone()], "fixed-response", Some("403"))
    );
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);

    // Destroy leaves nothing of the lock with our tags.
    destroy_in(&emu, d, "dev");
    assert_eq!(leftovers(&emu, "dev").await["secret"], 0);
    assert!(our_listener_rules(&elb, "dev").await.is_empty());
    let (groups, pl_rules) = origin_lock_network(&ec2(&emu).await, "dev").await;
    assert!(
        groups.is_empty() && pl_rules.is_empty(),
        "{groups:?} {pl_rules:?}"
    );
}

/// The origin-header secret force-deleted out of band (no recovery: the value is lost): the plan
/// shows a create, and one apply generates a new value that CloudFront sends and the production
/// rule alone accepts; no output shows either value.
#[tokio::test(flavor = "multi_thread")]
async fn a_force_deleted_origin_header_is_regenerated_and_cloudfront_sends_the_new_value() {
    let (emu, dir) = applied();
    let d = dir.path();
    let old = current_value(&emu).await;
    secretsmanager(&emu)
        .await
        .delete_secret()
        .secret_id(SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();

    // The plan: the secret is created, and the rule and the distribution take its new value
    // (known at apply only: no marker yet).
    let plan = plan_json_in(&emu, d, "dev", &TARGETS);
    assert_eq!(
        changes(&plan),
        [
            ("secret/origin-header".to_string(), "create".to_string()),
            ("listener_rule/production".to_string(), "update".to_string()),
            ("distribution/main".to_string(), "update".to_string()),
        ],
        "{plan:#}"
    );
    assert_eq!(
        fields_of(&plan, "listener_rule/production"),
        ["origin_header"]
    );
    assert_eq!(
        fields_of(&plan, "distribution/main"),
        ["origins.alb.custom_headers.X-Origin-Verify"],
        "{plan:#}"
    );
    assert_no_output_holds(&emu, d, &[&old]);

    let r = apply_in(&emu, d, "dev", &TARGETS);
    let new = current_value(&emu).await;
    assert_ne!(new, old, "a new value (the old one is lost)");
    let shown = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !shown.contains(&new) && !shown.contains(&old),
        "apply printed a value"
    );
    assert_eq!(
        distribution_header(&emu).await,
        new,
        "CloudFront sends the new value"
    );
    let (values, default, _) = rule_values(&emu).await;
    assert_eq!(
        values,
        std::slice::from_ref(&new),
        "the rule accepts only the new value"
    );
    assert_eq!(default, "fixed-response");
    assert_plan_empty_in(&emu, d, "dev", &TARGETS);
    assert_no_output_holds(&emu, d, &[&new, &old]);
    destroy_in(&emu, d, "dev");
}

/// Someone else's secret under the origin header's name (not our tags) is a conflict: the plan
/// is blocked, apply refuses, destroy leaves it, and its value is what its owner put there.
#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_secret_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();
    let theirs = r#"{"value":"someone-elses"}"#;
    secretsmanager(&emu)
        .await
        .create_secret()
        .name(SECRET)
        .secret_string(theirs)
        .send()
        .await
        .unwrap();
    assert_conflicts_left_alone_in(&emu, d, "dev", &["secret/origin-header"], &TARGETS);
    let left = secretsmanager(&emu)
        .await
        .get_secret_value()
        .secret_id(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.secret_string(),
        Some(theirs),
        "left as its owner put it"
    );
    assert!(our_distributions(&cloudfront(&emu).await, "dev")
        .await
        .is_empty());
}

//! Only CloudFront reaches the load balancer (issue 19 §1), end to end on a temporary env with
//! `[edge.cloudfront]`, scoped to the distribution, the production listener rule and the ALB's
//! ingress rule (their dependencies come along). Every check goes through the service's own API
//! (the SDK), never through rtech; the origin header's value, read from Secrets Manager, must
//! appear in no output of rtech.

use crate::emulator::Emulator;
use crate::support::*;

const DOMAIN: &str = "origin-e2e.example.net";
const SECRET: &str = "rtech/dev/origin-header";
const PL_NAME: &str = "com.amazonaws.global.cloudfront.origin-facing";
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
    format!(
        r#"
[ecr]
repository = "rtech-e2e-origin"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "{DOMAIN}"
hosted_zone = "create"

[edge.cloudfront]
"#
    )
}

/// Every output of rtech for the env: plan (text, JSON, -v), output, policy.
fn all_outputs(emu: &Emulator, d: &std::path::Path) -> String {
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
    all
}

/// The X-Origin-Verify values the production rule requires, as ELBv2 has them, and the HTTPS
/// listener's default action type and status code.
async fn rule_values(emu: &Emulator) -> (Vec<String>, String, Option<String>) {
    let elb = elbv2(emu).await;
    let lb = load_balancer_named(emu, "rtech-dev-alb").await;
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("the HTTPS listener");
    let default = &https.default_actions()[0];
    let rules = elb
        .describe_rules()
        .listener_arn(https.listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let prod = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .expect("the production rule");
    let mut values: Vec<String> = prod
        .conditions()
        .iter()
        .find(|c| c.field() == Some("http-header"))
        .and_then(|c| c.http_header_config())
        .filter(|h| h.http_header_name() == Some("X-Origin-Verify"))
        .map(|h| h.values().to_vec())
        .unwrap_or_default();
    values.sort();
    (
        values,
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
    assert_eq!(h.header_name(), "X-Origin-Verify");
    h.header_value().to_string()
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
    let ec2 = ec2(&emu).await;
    let pl = ec2
        .describe_managed_prefix_lists()
        .filters(by_name("prefix-list-name", PL_NAME))
        .send()
        .await
        .unwrap();
    let pl_id = pl.prefix_lists()[0].prefix_list_id().unwrap().to_string();
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
    let all = all_outputs(&emu, d);
    assert!(
        !all.contains(&value),
        "an output holds the origin header's value"
    );

    destroy_in(&emu, d, "dev");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_accepts_both_values_until_cloudfront_sends_the_new_one() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &spec());
    let d = dir.path();
    apply_in(&emu, d, "dev", &TARGETS);
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
    let all = all_outputs(&emu, d);
    for v in [&old, &new, &newer] {
        assert!(
            !all.contains(v.as_str()),
            "an output holds an origin header value"
        );
    }
    destroy_in(&emu, d, "dev");
}

//! The public edge end to end (issue 5), on temporary env specs with `[ecr]`, `[app]` and
//! `[edge]`: today the load balancer and its HTTP :80 → HTTPS redirect listener. Applies and
//! plans are scoped with `--target listener/http` (which brings the load balancer, the public
//! subnets, the alb security group and the VPC along). Every check goes through AWS's own
//! APIs (the SDK), never through rtech.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, LoadBalancer, LoadBalancerAttribute,
};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const LB: &str = "load_balancer/main";
const HTTP: &str = "listener/http";
const LB_NAME: &str = "rtech-dev-alb";

const EDGE: &str = r#"
[ecr]
repository = "rtech-e2e-edge"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "rtech.example.com"

[edge.alb]
idle_timeout_seconds = 120
"#;

async fn load_balancer(elb: &aws_sdk_elasticloadbalancingv2::Client) -> Option<LoadBalancer> {
    elb.describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .iter()
        .find(|l| l.load_balancer_name() == Some(LB_NAME))
        .cloned()
}

async fn attributes(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> BTreeMap<String, String> {
    elb.describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .unwrap()
        .attributes()
        .iter()
        .filter_map(|a: &LoadBalancerAttribute| {
            Some((a.key()?.to_string(), a.value()?.to_string()))
        })
        .collect()
}

async fn listeners(elb: &aws_sdk_elasticloadbalancingv2::Client, arn: &str) -> Vec<Listener> {
    elb.describe_listeners()
        .load_balancer_arn(arn)
        .send()
        .await
        .unwrap()
        .listeners()
        .to_vec()
}

async fn elb_tags(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> BTreeMap<String, String> {
    elb.describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap()
        .tag_descriptions()
        .first()
        .map(|d| {
            d.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The changes of a plan limited to the edge's kinds, as (id, action, field paths).
fn edge_changes(plan: &J) -> Vec<(String, String, Vec<String>)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "load_balancer" || c["kind"] == "listener")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["path"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn alb_and_redirect_listener_apply_drift_and_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", EDGE);
    let d = dir.path();
    let elb = elbv2(&emu).await;
    let target = ["--target", HTTP];

    let r = apply_in(&emu, d, "dev", &target);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As AWS has it.
    let lb = load_balancer(&elb).await.expect("created");
    let arn = lb.load_balancer_arn().unwrap().to_string();
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.r#type().map(|s| s.as_str()), Some("application"));
    assert_eq!(lb.availability_zones().len(), 2);
    assert_eq!(lb.security_groups().len(), 1);
    let ec2 = ec2(&emu).await;
    assert_eq!(
        lb.security_groups()[0],
        physical(&ec2, "dev", "sg/alb").await
    );
    let mut subnets: Vec<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    subnets.sort();
    let mut want = vec![
        physical(&ec2, "dev", "subnet/public-a").await,
        physical(&ec2, "dev", "subnet/public-b").await,
    ];
    want.sort();
    assert_eq!(subnets, want);
    let a = attributes(&elb, &arn).await;
    assert_eq!(a["idle_timeout.timeout_seconds"], "120");
    assert_eq!(a["routing.http2.enabled"], "true");
    assert_eq!(a["routing.http.drop_invalid_header_fields.enabled"], "true");
    assert_eq!(a["deletion_protection.enabled"], "false");
    let t = elb_tags(&elb, &arn).await;
    assert_eq!(t["rtech:id"], LB);
    assert_eq!(t["Environment"], "test");
    let ls = listeners(&elb, &arn).await;
    assert_eq!(ls.len(), 1);
    let l = &ls[0];
    let larn = l.listener_arn().unwrap().to_string();
    assert_eq!(l.port(), Some(80));
    let rc = l.default_actions()[0].redirect_config().expect("redirect");
    assert_eq!(
        (
            rc.protocol(),
            rc.port(),
            rc.status_code().map(|s| s.as_str())
        ),
        (Some("HTTPS"), Some("443"), Some("HTTP_301"))
    );
    assert_eq!(elb_tags(&elb, &larn).await["rtech:id"], HTTP);
    let out = run_ok(
        rtech_in(&emu, d).args(["output", "--env", "dev", "--json"]),
        0,
    );
    let out: J = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out["alb_arn"], arn.as_str());
    assert_eq!(out["alb_dns_name"], lb.dns_name().unwrap());
    assert_eq!(out["alb_zone_id"], lb.canonical_hosted_zone_id().unwrap());

    // Out of band: listener 80 turned into a plain forward, and drop-invalid-headers off →
    // exactly those two drifts, repaired in place.
    let tg = elb
        .describe_target_groups()
        .names("rtech-dev-blue")
        .send()
        .await
        .map(|o| o.target_groups().to_vec())
        .unwrap_or_default();
    let tg_arn = match tg.first() {
        Some(g) => g.target_group_arn().unwrap().to_string(),
        None => {
            // --target listener/http does not bring the target group: make one.
            elb.create_target_group()
                .name("someone-elses")
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(80)
                .vpc_id(lb.vpc_id().unwrap())
                .send()
                .await
                .unwrap()
                .target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string()
        }
    };
    elb.modify_listener()
        .listener_arn(&larn)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .attributes(
            LoadBalancerAttribute::builder()
                .key("routing.http.drop_invalid_header_fields.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        edge_changes(&plan),
        [
            (
                LB.to_string(),
                "update".to_string(),
                vec!["drop_invalid_header_fields".to_string()]
            ),
            (
                HTTP.to_string(),
                "update".to_string(),
                vec!["default_actions".to_string()]
            ),
        ],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let l = &listeners(&elb, &arn).await[0];
    assert_eq!(l.listener_arn(), Some(larn.as_str()), "modified in place");
    assert_eq!(
        l.default_actions()[0].r#type(),
        Some(&ActionTypeEnum::Redirect)
    );
    assert_eq!(
        attributes(&elb, &arn).await["routing.http.drop_invalid_header_fields.enabled"],
        "true"
    );

    // Out of band: the listener deleted → a create.
    elb.delete_listener()
        .listener_arn(&larn)
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    let got: Vec<(String, String)> = edge_changes(&plan)
        .into_iter()
        .map(|(id, action, _)| (id, action))
        .collect();
    assert_eq!(got, [(HTTP.to_string(), "create".to_string())], "{plan:#}");
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // Destroy: no load balancer (nor its listeners) of ours is left.
    destroy_in(&emu, d, "dev");
    assert!(load_balancer(&elb).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_protection_blocks_destroy_until_turned_off() {
    let emu = Emulator::start();
    let protected = format!("{EDGE}deletion_protection = true\n");
    let dir = spec_dir("dev", &protected);
    let d = dir.path();
    let elb = elbv2(&emu).await;
    apply_in(&emu, d, "dev", &["--target", LB]);
    let lb = load_balancer(&elb).await.expect("created");
    assert_eq!(
        attributes(&elb, lb.load_balancer_arn().unwrap()).await["deletion_protection.enabled"],
        "true"
    );
    let r = run(rtech_in(&emu, d).args(["destroy", "--env", "dev", "--auto-approve"]));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let refusal = "refused: load_balancer/main (rtech-dev-alb) has deletion protection on";
    assert!(
        r.stdout.contains(refusal) || r.stderr.contains(refusal),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(load_balancer(&elb).await.is_some(), "left alone");

    // Turned off in the spec and applied: destroy goes through.
    std::fs::write(
        d.join("dev.toml"),
        format!("{}{EDGE}deletion_protection = false\n", spec_head("dev")),
    )
    .unwrap();
    apply_in(&emu, d, "dev", &["--target", LB]);
    destroy_in(&emu, d, "dev");
    assert!(load_balancer(&elb).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_load_balancer_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", EDGE);
    let d = dir.path();
    let elb = elbv2(&emu).await;
    let ec2 = ec2(&emu).await;

    // Our network first (before anything blocks the plan).
    apply_in(&emu, d, "dev", &["--target", "vpc/main"]);
    apply_in(&emu, d, "dev", &["--target", "subnet/public-a"]);
    apply_in(&emu, d, "dev", &["--target", "subnet/public-b"]);
    // Someone else's load balancer under our name.
    let theirs = elb
        .create_load_balancer()
        .name(LB_NAME)
        .subnets(physical(&ec2, "dev", "subnet/public-a").await)
        .subnets(physical(&ec2, "dev", "subnet/public-b").await)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    assert_conflicts_left_alone_in(&emu, d, "dev", &[LB], &["--target", LB]);
    let still = load_balancer(&elb).await.expect("left alone");
    assert_eq!(still.load_balancer_arn(), Some(theirs.as_str()));
}

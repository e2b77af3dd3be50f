//! Target groups: name shortening, expansion of the real env files, the normalisation observe
//! does (through the real diff), and the requests apply sends.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::target_group::*;
use super::*;
use crate::aws::AwsError;
use crate::model::{tags_of, Observed, Resource, ResourceId, Value, TAG_ENV, TAG_ID, TAG_PROJECT};
use crate::plan::{Action, Plan};
use crate::reconcile::kit::{from_props, is_ours};
use crate::testutil::{diff_of, env_spec, only_update, parse_as};

const VPC_ID: &str = "vpc-0123";
const ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-blue/abc";

fn spec_text(project: &str, env: &str, extra: &str) -> Spec {
    let text = format!(
        "project = \"{project}\"\nenv = \"{env}\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n{extra}"
    );
    parse_as(env, &text)
}

fn blue(rs: &[Resource]) -> &Resource {
    rs.iter()
        .find(|r| r.id == target_group_id("blue"))
        .expect("target_group/blue")
}

fn hc<'a>(r: &'a Resource, key: &str) -> &'a Value {
    &r.props["health_check"].as_map().unwrap()[key]
}

#[test]
fn short_names_are_kept_and_long_ones_shortened_stably() {
    assert_eq!(short_name("rtech-prod-blue"), "rtech-prod-blue");
    let exactly = "a".repeat(32);
    assert_eq!(short_name(&exactly), exactly);

    let long = "averyveryverylongproject-staging1-blue";
    let s = short_name(long);
    assert_eq!(s.len(), NAME_MAX, "{s}");
    assert_eq!(s, short_name(long), "stable");
    assert!(s.starts_with("averyveryverylongprojec"), "{s}");
    let (prefix, hash) = s.rsplit_once('-').unwrap();
    assert_eq!(hash.len(), 8);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(long.starts_with(prefix));
    // Two names that differ only past the cut stay apart.
    let other = short_name("averyveryverylongproject-staging1-green");
    assert_ne!(s, other);
    assert_eq!(s[..23], other[..23]);
}

#[test]
fn a_cut_right_after_a_hyphen_never_makes_a_double_hyphen() {
    // 23 characters kept: the 23rd is a hyphen here.
    let long = "abcdefghijklmnopqrstuv-wxyz-project-env-blue";
    let s = short_name(long);
    assert!(s.len() <= NAME_MAX);
    assert!(!s.contains("--"), "{s}");
    assert!(!s.ends_with('-') && !s.starts_with('-'), "{s}");
    assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
}

#[test]
fn the_longest_project_and_env_give_a_valid_target_group_name() {
    // project ≤ 20 and env ≤ 10 characters (spec validation): 36 characters before shortening.
    let s = spec_text("abcdefghijklmnopqrst", "abcdefghij", "\n[ecr]\n\n[app]\n");
    let r = blue(&expand(&s)).clone();
    let name = r.get_str("name").unwrap();
    assert_eq!(name.len(), NAME_MAX);
    assert_eq!(r.name, name);
    assert_eq!(
        name,
        target_group_name("abcdefghijklmnopqrst", "abcdefghij", "blue"),
        "observe derives the same name from the project and env"
    );
    assert_eq!(r.props["tags"].as_map().unwrap()["Name"], Value::str(name));
}

#[test]
fn no_app_means_no_target_group() {
    assert!(expand(&spec_text("rtech", "dev", "")).is_empty());
    assert!(expand(&spec_text("rtech", "dev", "\n[ecr]\n")).is_empty());
}

#[test]
fn dev_expands_to_the_blue_target_group_and_prods_canary_to_blue_green_and_the_rule() {
    for env in ["dev", "prod"] {
        let rs = expand(&env_spec(env));
        let ids: Vec<String> = rs.iter().map(|r| r.id.to_string()).collect();
        let mut want = vec![
            "target_group/blue",
            "load_balancer/main",
            "listener/http",
            "listener/https",
        ];
        if env == "prod" {
            want.insert(1, "target_group/green");
            want.push("listener_rule/production");
        }
        assert_eq!(ids, want, "{env}");
        let r = blue(&rs);
        assert_eq!(r.name, format!("rtech-{env}-blue"));
        assert_eq!(r.get_str("name"), Some(r.name.as_str()));
        assert_eq!(r.props["port"], Value::Int(3000));
        assert_eq!(r.get_str("protocol"), Some("HTTP"));
        assert_eq!(r.get_str("target_type"), Some("ip"));
        assert_eq!(
            r.props["vpc_id"],
            Value::reference(&ResourceId::new("vpc", "main"), "id")
        );
        assert!(r.deps.contains(&ResourceId::new("vpc", "main")));
        assert_eq!(hc(r, "path"), &Value::str("/api/health"));
        assert_eq!(hc(r, "protocol"), &Value::str("HTTP"));
        assert_eq!(hc(r, "port"), &Value::str("traffic-port"));
        assert_eq!(hc(r, "matcher"), &Value::str("200"));
        assert_eq!(hc(r, "healthy_threshold"), &Value::Int(2));
        assert_eq!(hc(r, "unhealthy_threshold"), &Value::Int(3));
        assert_eq!(hc(r, "interval_seconds"), &Value::Int(30));
        assert_eq!(hc(r, "timeout_seconds"), &Value::Int(5));
        assert_eq!(r.props["deregistration_delay_seconds"], Value::Int(30));
        let tags = tags_of(&r.props);
        assert_eq!(tags[TAG_ID], "target_group/blue");
        assert_eq!(tags[TAG_ENV], env);
        assert_eq!(tags[TAG_PROJECT], "rtech");
        assert_eq!(
            tags["Environment"],
            if env == "dev" {
                "development"
            } else {
                "production"
            }
        );
    }
}

#[test]
fn the_spec_steers_the_health_check_and_the_delay() {
    let s = spec_text(
        "rtech",
        "dev",
        "\n[ecr]\n\n[app]\n\n[app.target_group]\nhealth_check_path = \"/healthz\"\nmatcher = \"200-299\"\nderegistration_delay_seconds = 5\nhealthy_threshold = 3\nunhealthy_threshold = 4\ninterval_seconds = 15\ntimeout_seconds = 10\n",
    );
    let rs = expand(&s);
    let r = blue(&rs);
    assert_eq!(hc(r, "path"), &Value::str("/healthz"));
    assert_eq!(hc(r, "matcher"), &Value::str("200-299"));
    assert_eq!(hc(r, "healthy_threshold"), &Value::Int(3));
    assert_eq!(hc(r, "unhealthy_threshold"), &Value::Int(4));
    assert_eq!(hc(r, "interval_seconds"), &Value::Int(15));
    assert_eq!(hc(r, "timeout_seconds"), &Value::Int(10));
    assert_eq!(r.props["deregistration_delay_seconds"], Value::Int(5));
}

// ---------------------------------------------------------------------------------------------
// observe → diff

/// A target group as AWS describes the one `r` asks for.
fn live(
    r: &Resource,
) -> (
    TargetGroup,
    BTreeMap<String, String>,
    Vec<TargetGroupAttribute>,
) {
    let h = r.props["health_check"].as_map().unwrap();
    let i = |k: &str| h[k].as_int().unwrap() as i32;
    let tg = TargetGroup::builder()
        .target_group_arn(ARN)
        .target_group_name(r.get_str("name").unwrap())
        .protocol(ProtocolEnum::Http)
        .port(r.props["port"].as_int().unwrap() as i32)
        .vpc_id(VPC_ID)
        .target_type(TargetTypeEnum::Ip)
        .health_check_enabled(true)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_port("traffic-port")
        .health_check_path(h["path"].as_str().unwrap())
        .matcher(
            Matcher::builder()
                .http_code(h["matcher"].as_str().unwrap())
                .build(),
        )
        .health_check_interval_seconds(i("interval_seconds"))
        .health_check_timeout_seconds(i("timeout_seconds"))
        .healthy_threshold_count(i("healthy_threshold"))
        .unhealthy_threshold_count(i("unhealthy_threshold"))
        .protocol_version("HTTP1")
        .build();
    let mut tags = tags_of(&r.props);
    tags.insert("aws:cloudformation:stack-name".into(), "ignored".into());
    let attrs = vec![
        TargetGroupAttribute::builder()
            .key("stickiness.enabled")
            .value("false")
            .build(),
        TargetGroupAttribute::builder()
            .key(DEREGISTRATION_DELAY)
            .value(
                r.props["deregistration_delay_seconds"]
                    .as_int()
                    .unwrap()
                    .to_string(),
            )
            .build(),
    ];
    (tg, tag_map(&elb_tags(&tags)), attrs)
}

fn vpc_observed() -> Observed {
    Observed::new(ResourceId::new("vpc", "main"), VPC_ID)
}

fn plan_for(desired: &Resource, observed: Observed) -> Plan {
    let all = vec![vpc_observed(), observed];
    let mut plan = diff_of("dev", std::slice::from_ref(desired), &all, false);
    plan.changes.retain(|c| c.id.kind == TARGET_GROUP);
    plan
}

fn observed_of(r: &Resource) -> Observed {
    let (tg, tags, attrs) = live(r);
    observe_target_group(&r.id, &tg, &tags, &attrs)
}

#[test]
fn a_target_group_as_created_has_no_diff_and_the_attributes_dependants_need() {
    for env in ["dev", "prod"] {
        let r = blue(&expand(&env_spec(env))).clone();
        let o = observed_of(&r);
        assert!(!o.props["tags"]
            .as_map()
            .unwrap()
            .contains_key("aws:cloudformation:stack-name"));
        let plan = plan_for(&r, o.clone());
        assert!(plan.changes.is_empty(), "{env}: {:#?}", plan.changes);
        assert_eq!(o.attrs["arn"], ARN);
        assert_eq!(o.attrs["name"], format!("rtech-{env}-blue"));
        assert_eq!(o.physical_id, ARN);
        assert!(o.deps.contains(&ResourceId::new("vpc", "main")));
        assert!(is_ours(&tags_of(&o.props), "rtech", env, &r.id));
    }
}

#[test]
fn a_changed_health_check_path_is_exactly_that_update() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let (tg, tags, attrs) = live(&r);
    let tg = TargetGroup::builder()
        .set_target_group_arn(tg.target_group_arn().map(String::from))
        .set_target_group_name(tg.target_group_name().map(String::from))
        .set_protocol(tg.protocol().cloned())
        .set_port(tg.port())
        .set_vpc_id(tg.vpc_id().map(String::from))
        .set_target_type(tg.target_type().cloned())
        .set_health_check_enabled(tg.health_check_enabled())
        .set_health_check_protocol(tg.health_check_protocol().cloned())
        .set_health_check_port(tg.health_check_port().map(String::from))
        .health_check_path("/elsewhere")
        .set_matcher(tg.matcher().cloned())
        .set_health_check_interval_seconds(tg.health_check_interval_seconds())
        .set_health_check_timeout_seconds(tg.health_check_timeout_seconds())
        .set_healthy_threshold_count(tg.healthy_threshold_count())
        .set_unhealthy_threshold_count(tg.unhealthy_threshold_count())
        .build();
    let plan = plan_for(&r, observe_target_group(&r.id, &tg, &tags, &attrs));
    assert_eq!(plan.changes.len(), 1);
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Update);
    let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["health_check.path"]);
    assert_eq!(c.fields[0].before, Some(Value::str("/elsewhere")));
    assert_eq!(c.fields[0].after, Some(Value::str("/api/health")));
}

#[test]
fn a_changed_deregistration_delay_is_exactly_that_update() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let mut o = observed_of(&r);
    o.props
        .insert("deregistration_delay_seconds".into(), Value::Int(300));
    let plan = plan_for(&r, o);
    assert_eq!(only_update(&plan), ["deregistration_delay_seconds"]);
}

#[test]
fn port_protocol_type_and_vpc_changes_replace() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    for (key, v) in [
        ("port", Value::Int(80)),
        ("protocol", Value::str("HTTPS")),
        ("target_type", Value::str("instance")),
        ("vpc_id", Value::str("vpc-other")),
        ("name", Value::str("rtech-dev-old")),
    ] {
        let mut o = observed_of(&r);
        o.props.insert(key.into(), v);
        let plan = plan_for(&r, o);
        assert_eq!(plan.changes.len(), 1, "{key}");
        assert_eq!(plan.changes[0].action, Action::Replace, "{key}");
        assert_eq!(
            plan.changes[0].reason.as_deref(),
            Some(format!("{key} cannot change in place").as_str())
        );
    }
}

#[test]
fn a_same_named_target_group_without_our_tags_is_a_conflict() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let mut o = foreign(&r.id, ARN);
    o.props.insert("port".into(), Value::Int(1));
    let plan = plan_for(&r, o);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].physical_id, ARN);

    // Tags of another env, or of another id, are not ours either.
    let mut t = tags_of(&r.props);
    assert!(is_ours(&t, "rtech", "dev", &r.id));
    assert!(!is_ours(&t, "rtech", "prod", &r.id));
    assert!(!is_ours(&t, "rtech", "dev", &target_group_id("green")));
    t.remove(TAG_ID);
    assert!(!is_ours(&t, "rtech", "dev", &r.id));
}

#[test]
fn destroy_deletes_it_before_the_vpc() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let o = observed_of(&r);
    let mut vpc = vpc_observed();
    vpc.props
        .insert("cidr_block".into(), Value::str("10.0.0.0/16"));
    let plan = diff_of("dev", &[], &[vpc, o], true);
    let ids: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["target_group/blue", "vpc/main"]);
}

// ---------------------------------------------------------------------------------------------
// requests

fn client() -> Client {
    crate::offline_client!(aws_sdk_elasticloadbalancingv2)
}

fn props(r: &Resource) -> TargetGroupProps {
    from_props(&r.props).unwrap()
}

/// The desired target group with its references resolved, as apply gets it.
fn resolved(env: &str) -> Resource {
    let mut r = blue(&expand(&env_spec(env))).clone();
    r.props.insert("vpc_id".into(), Value::str(VPC_ID));
    r
}

#[test]
fn create_sends_every_field_and_the_tags() {
    let r = resolved("prod");
    let req = create_request(&client(), &props(&r)).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_name().as_deref(), Some("rtech-prod-blue"));
    assert_eq!(i.get_protocol(), &Some(ProtocolEnum::Http));
    assert_eq!(i.get_port(), &Some(3000));
    assert_eq!(i.get_vpc_id().as_deref(), Some(VPC_ID));
    assert_eq!(i.get_target_type(), &Some(TargetTypeEnum::Ip));
    assert_eq!(i.get_health_check_protocol(), &Some(ProtocolEnum::Http));
    assert_eq!(i.get_health_check_port().as_deref(), Some("traffic-port"));
    assert_eq!(i.get_health_check_path().as_deref(), Some("/api/health"));
    assert_eq!(i.get_health_check_enabled(), &Some(true));
    assert_eq!(
        i.get_matcher().as_ref().and_then(|m| m.http_code()),
        Some("200")
    );
    assert_eq!(i.get_health_check_interval_seconds(), &Some(30));
    assert_eq!(i.get_health_check_timeout_seconds(), &Some(5));
    assert_eq!(i.get_healthy_threshold_count(), &Some(2));
    assert_eq!(i.get_unhealthy_threshold_count(), &Some(3));
    let tags = tag_map(i.get_tags().as_deref().unwrap());
    assert_eq!(tags, tags_of(&r.props));
}

#[test]
fn an_update_sends_the_whole_health_check_and_the_delay_attribute() {
    let r = resolved("dev");
    let req = modify_health_check_request(&client(), ARN, &props(&r));
    let i = req.as_input();
    assert_eq!(i.get_target_group_arn().as_deref(), Some(ARN));
    assert_eq!(i.get_health_check_path().as_deref(), Some("/api/health"));
    assert_eq!(i.get_health_check_port().as_deref(), Some("traffic-port"));
    assert_eq!(i.get_healthy_threshold_count(), &Some(2));
    assert_eq!(i.get_unhealthy_threshold_count(), &Some(3));
    assert_eq!(
        i.get_matcher().as_ref().and_then(|m| m.http_code()),
        Some("200")
    );

    let req = attributes_request(&client(), ARN, &props(&r)).unwrap();
    let a = req.as_input().get_attributes().clone().unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].key(), Some(DEREGISTRATION_DELAY));
    assert_eq!(a[0].value(), Some("30"));
}

#[test]
fn a_delete_waits_for_the_drain_and_then_some() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let o = observed_of(&r);
    assert_eq!(in_use_timeout(&o), Duration::from_secs(30 + 300));
    let bare = Observed::new(r.id.clone(), ARN);
    assert_eq!(in_use_timeout(&bare), Duration::from_secs(300 + 300));
}

#[test]
fn a_target_group_still_in_use_fails_with_a_clear_error() {
    let r = blue(&expand(&env_spec("dev"))).clone();
    let o = observed_of(&r);
    let aws = AwsError::new(
        "elbv2:DeleteTargetGroup",
        "ResourceInUse",
        "Target group is currently in use by a listener or a rule",
    );
    let e = still_in_use(&o, in_use_timeout(&o), &aws);
    assert_eq!(e.code, "ResourceInUse");
    assert_eq!(e.op, "elbv2:DeleteTargetGroup");
    let text = e.to_string();
    assert!(
        text.contains(
            "rtech-dev-blue is still used by a listener, rule or ECS service after 330 s"
        ),
        "{text}"
    );
    assert!(text.contains("currently in use by a listener"), "{text}");
}

#[test]
fn arn_suffixes_are_cloudwatch_dimensions() {
    assert_eq!(
        arn_suffix(
            "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/rtech-dev-alb/50dc",
            "loadbalancer/"
        ),
        "app/rtech-dev-alb/50dc"
    );
    assert_eq!(
        arn_suffix(
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/rtech-dev-blue/abc",
            "targetgroup/"
        ),
        "targetgroup/rtech-dev-blue/abc"
    );
}

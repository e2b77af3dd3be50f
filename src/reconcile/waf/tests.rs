//! WAFv2: expansion from the three envs, the normalisation observe does (through the real diff,
//! with SDK types built from the request builders, as AWS echoes them), the requests apply
//! sends, and a changed rate limit shown as one field.

use aws_sdk_wafv2::types::{LoggingConfiguration, WebAcl as AwsWebAcl};

use super::web_acl::*;
use super::*;
use crate::model::{tags_of, Value, TAG_ID};
use crate::plan::Action;
use crate::testutil::{diff_of, env_spec, parse_as, resolved_with};

const ARN: &str = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/rtech-prod-edge/abc";
const GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-rtech-prod";

fn desired(env: &str) -> Vec<Resource> {
    web_acl::expand(&env_spec(env))
}

fn props(r: &Resource) -> WebAclProps {
    kit::from_props(&r.props).unwrap()
}

/// The ACL as GetWebACL returns what the create request sent.
fn live(p: &WebAclProps) -> AwsWebAcl {
    AwsWebAcl::builder()
        .name(&p.name)
        .id("abc")
        .arn(ARN)
        .description(&p.description)
        .default_action(sdk_default_action(&p.default_action))
        .visibility_config(sdk_visibility(&p.visibility).unwrap())
        .set_rules(Some(sdk_rules(p).unwrap()))
        .build()
        .unwrap()
}

fn logging() -> LoggingConfiguration {
    logging_configuration(ARN, GROUP).unwrap()
}

#[test]
fn prod_and_staging_have_the_acl_and_dev_does_not() {
    assert!(desired("dev").is_empty());
    for env in ["prod", "staging"] {
        let rs = desired(env);
        assert_eq!(rs.len(), 1, "{env}");
        let r = &rs[0];
        assert_eq!(r.id, web_acl_id());
        let p = props(r);
        assert_eq!(p.name, format!("rtech-{env}-edge"));
        assert_eq!(p.default_action, "allow");
        assert!(p.visibility.cloudwatch_metrics && p.visibility.sampled_requests);
        let names: Vec<&str> = p.rules.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "aws-common",
                "aws-ip-reputation",
                "aws-known-bad-inputs",
                "rate-limit"
            ]
        );
        let rate = &p.rules["rate-limit"];
        assert_eq!(rate.limit, Some(2000));
        assert_eq!(rate.window_seconds, Some(300));
        assert_eq!((rate.priority, rate.action.as_str()), (0, "block"));
        assert_eq!(
            p.rules["aws-common"].statement,
            "managed AWS/AWSManagedRulesCommonRuleSet"
        );
        for r in p.rules.values() {
            assert!(r.visibility.cloudwatch_metrics && r.visibility.sampled_requests);
            assert!(r
                .visibility
                .metric_name
                .starts_with(&format!("rtech-{env}-")));
        }
        // Logging to the logs service's group: a dependency.
        assert!(r.deps.contains(&waf_logs_id()), "{:?}", r.deps);
        assert_eq!(tags_of(&r.props)[TAG_ID], "web_acl/main");
    }
}

#[test]
fn the_distribution_and_the_log_group_follow_the_acl() {
    for (env, with) in [("prod", true), ("staging", true), ("dev", false)] {
        let all = crate::reconcile::expand(&env_spec(env));
        let group = all.iter().find(|r| r.id == waf_logs_id());
        assert_eq!(group.is_some(), with, "{env}");
        if let Some(g) = group {
            assert_eq!(
                g.get_str("name"),
                Some(format!("aws-waf-logs-rtech-{env}").as_str())
            );
            let days = if env == "prod" { 90 } else { 30 };
            assert_eq!(g.props["retention_in_days"], Value::Int(days));
        }
        if let Some(d) = all.iter().find(|r| r.id.to_string() == "distribution/main") {
            assert_eq!(d.deps.contains(&web_acl_id()), with, "{env}");
            assert_eq!(d.props.contains_key("web_acl_id"), with, "{env}");
        }
    }
}

#[test]
fn apply_then_plan_is_empty_and_a_changed_rate_limit_is_one_field() {
    let want = desired("prod");
    let p = props(&want[0]);
    let lookup = |_: &crate::model::Ref| Some(GROUP.to_string());
    let resolved = props(&resolved_with(&want[0], &lookup));
    let same = web_acl::observed(&live(&resolved), Some(&logging()), &p.tags);
    // The log group's ARN is known once it exists.
    let group = crate::model::Observed::new(waf_logs_id(), "aws-waf-logs-rtech-prod");
    let mut group = group;
    group.attrs.insert("arn".into(), GROUP.into());
    let mut wanted = want.clone();
    wanted.extend(
        crate::reconcile::logs::expand(&env_spec("prod"))
            .into_iter()
            .filter(|r| r.id == waf_logs_id()),
    );
    let group_props = wanted.last().unwrap().props.clone();
    group.props = group_props;
    let plan = diff_of("prod", &wanted, &[same, group.clone()], false);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);

    let mut drifted = resolved.clone();
    drifted.rules.get_mut("rate-limit").unwrap().limit = Some(100);
    let o = web_acl::observed(&live(&drifted), Some(&logging()), &p.tags);
    let plan = diff_of("prod", &wanted, &[o, group.clone()], false);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Update);
    let f = &plan.changes[0].fields;
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].path, "rules.rate-limit.limit");
    assert_eq!(f[0].before, Some(Value::Int(100)));
    assert_eq!(f[0].after, Some(Value::Int(2000)));

    // No logging configuration: the logging field alone.
    let o = web_acl::observed(&live(&resolved), None, &p.tags);
    let plan = diff_of("prod", &wanted, &[o, group], false);
    assert_eq!(plan.changes.len(), 1);
    let paths: Vec<&str> = plan.changes[0]
        .fields
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["logging"]);
}

#[test]
fn the_requests_carry_every_rule_in_priority_order() {
    let lookup = |_: &crate::model::Ref| Some(GROUP.to_string());
    let p = props(&resolved_with(&desired("prod")[0], &lookup));
    let rules = sdk_rules(&p).unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "rate-limit",
            "aws-ip-reputation",
            "aws-known-bad-inputs",
            "aws-common"
        ]
    );
    let rate = rules[0]
        .statement()
        .unwrap()
        .rate_based_statement()
        .unwrap();
    assert_eq!(rate.limit(), 2000);
    assert_eq!(rate.evaluation_window_sec(), 300);
    assert_eq!(rate.aggregate_key_type().as_str(), "IP");
    assert!(rules[0].action().unwrap().block().is_some());
    assert!(rules[0].override_action().is_none());
    for r in &rules[1..] {
        let m = r
            .statement()
            .unwrap()
            .managed_rule_group_statement()
            .unwrap();
        assert_eq!(m.vendor_name(), "AWS");
        assert!(r.override_action().unwrap().none().is_some());
        assert!(r.action().is_none());
    }
    let v = rules[3].visibility_config().unwrap();
    assert!(v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled());
    assert_eq!(v.metric_name(), "rtech-prod-aws-common");

    let c = crate::offline_client!(aws_sdk_wafv2);
    let create = create_request(&c, &p).unwrap();
    assert_eq!(
        create.get_scope(),
        &Some(aws_sdk_wafv2::types::Scope::Cloudfront)
    );
    assert_eq!(create.get_name().as_deref(), Some("rtech-prod-edge"));
    assert_eq!(create.get_rules().as_ref().map(Vec::len), Some(4));
    let tags = create.get_tags().as_ref().unwrap();
    assert!(tags
        .iter()
        .any(|t| t.key() == TAG_ID && t.value() == "web_acl/main"));
    let update = update_request(&c, "abc", "token-1", &p).unwrap();
    assert_eq!(update.get_lock_token().as_deref(), Some("token-1"));
    assert_eq!(update.get_id().as_deref(), Some("abc"));
    assert_eq!(update.get_rules().as_ref().map(Vec::len), Some(4));
    let l = logging();
    assert_eq!(l.resource_arn(), ARN);
    assert_eq!(l.log_destination_configs(), [GROUP]);
}

#[test]
fn a_rule_rtech_does_not_write_is_drift_and_refused_as_a_request() {
    let lookup = |_: &crate::model::Ref| Some(GROUP.to_string());
    let mut p = props(&resolved_with(&desired("prod")[0], &lookup));
    let geo = RuleProps {
        priority: 9,
        statement: "other".into(),
        limit: None,
        window_seconds: None,
        action: "block".into(),
        visibility: p.visibility.clone(),
    };
    p.rules.insert("geo".into(), geo.clone());
    let e = sdk_rule("geo", &geo).unwrap_err();
    assert!(
        e.message
            .contains("managed rule groups and rate-based rules only"),
        "{e}"
    );
}

#[test]
fn spec_errors_are_located() {
    let base = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\naz_count = 2\n\n[ecr]\n[app]\n[edge]\n";
    let parse = |t: &str| crate::spec::parse("envs/dev.toml", t, "dev");
    // Line 12: [edge.waf] without [edge.cloudfront].
    let e = parse(&format!("{base}[edge.waf]\nrate_limit_per_5min = 2000\n")).unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].path.as_str(), e[0].line), ("edge.waf", 12));
    assert!(
        e[0].message.contains("[edge.cloudfront]"),
        "{}",
        e[0].message
    );
    let e = parse(&format!(
        "{base}[edge.cloudfront]\n[edge.waf]\nrate_limit_per_5min = 5\nlog_retention_days = 31\n"
    ))
    .unwrap_err();
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        (e[0].path.as_str(), e[0].line, e[0].col),
        ("edge.waf.rate_limit_per_5min", 14, 23)
    );
    assert!(
        e[0].message.contains("10 to 2000000000"),
        "{}",
        e[0].message
    );
    assert_eq!(
        (e[1].path.as_str(), e[1].line),
        ("edge.waf.log_retention_days", 15)
    );
    // Another region: the log group would have to be in us-east-1.
    let other = base.replace("us-east-1", "eu-west-1");
    let e = parse(&format!("{other}[edge.cloudfront]\n[edge.waf]\n")).unwrap_err();
    assert_eq!(e[0].path, "edge.waf");
    assert!(e[0].message.contains("us-east-1"), "{}", e[0].message);
    // Defaults.
    let s = parse_as("dev", &format!("{base}[edge.cloudfront]\n[edge.waf]\n"));
    let w = s.edge.unwrap().waf.unwrap();
    assert_eq!((w.rate_limit_per_5min, w.log_retention_days), (2000, 30));
}

#[test]
fn the_props_round_trip_and_metric_names_are_clean() {
    let r = &desired("prod")[0];
    assert_eq!(kit::round_trip::<WebAclProps>(&r.props).unwrap(), r.props);
    assert_eq!(
        metric_name("rtech", "prod", "rate limit"),
        "rtech-prod-rate-limit"
    );
}

#[test]
fn a_web_acl_arn_names_its_region_name_and_id() {
    assert_eq!(
        acl_of_arn("arn:aws:wafv2:us-east-1:123456789012:global/webacl/rtech-prod-edge/a1b2-c3"),
        Some(("us-east-1", "rtech-prod-edge", "a1b2-c3"))
    );
    for other in [
        // A regional ACL, a rule group, another service, a cut ARN.
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/rtech-prod-edge/a1b2",
        "arn:aws:wafv2:us-east-1:123456789012:global/rulegroup/rtech-prod-edge/a1b2",
        "arn:aws:cloudfront::123456789012:distribution/E123",
        "arn:aws:wafv2:us-east-1:123456789012:global/webacl/rtech-prod-edge",
    ] {
        assert_eq!(acl_of_arn(other), None, "{other}");
    }
}

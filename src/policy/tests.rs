//! The policy: each rule refuses a model that breaks it, naming the rule and the resource; a
//! waiver lets it through, an expired one does not; the JSON lists it; the shipped envs pass;
//! waivers are checked as spec errors; the plan shows violations beside their change.

use super::*;
use crate::model::{Observed, Resource, Value};
use crate::plan::render;
use crate::spec::policy::Loc;
use crate::testutil::{env_spec, parse_as, try_diff};

/// The day the tests judge on.
const TODAY: &str = "2026-12-02";

fn rid(s: &str) -> ResourceId {
    s.parse().unwrap()
}

fn waiver(rule: &str, resource: &str, expires: Option<&str>) -> Waiver {
    Waiver {
        rule: rule.into(),
        resource: rid(resource),
        reason: "test waiver".into(),
        expires: expires.map(str::to_string),
        path: "policy.waivers[0]".into(),
        rule_at: Loc { line: 1, col: 1 },
        resource_at: Loc { line: 1, col: 1 },
    }
}

/// prod's only ALB ingress rule: 443 from CloudFront's origin-facing prefix list.
const PL_RULE: &str = "sg_rule/alb-in-tcp-443-pl-origin-facing";

/// prod's ALB rule opened to anywhere on `port`.
fn open_to_anywhere(d: &mut [Resource], port: i64) {
    set(d, PL_RULE, "cidr_ipv4", s("0.0.0.0/0"));
    set(d, PL_RULE, "from_port", Value::Int(port));
    set(d, PL_RULE, "to_port", Value::Int(port));
}

/// Set the value at a dotted path of a resource's props.
fn set(desired: &mut [Resource], id: &str, path: &str, v: Value) {
    let r = desired
        .iter_mut()
        .find(|r| r.id == rid(id))
        .unwrap_or_else(|| panic!("no {id}"));
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut m = &mut r.props;
    for p in parts {
        m = match m.get_mut(p) {
            Some(Value::Map(x)) => x,
            other => panic!("{id}: {p} is {other:?}"),
        };
    }
    m.insert(last.to_string(), v);
}

fn s(x: &str) -> Value {
    Value::str(x)
}

/// Each rule, a change to prod's model that breaks it, and the resource it must name.
type Case = (&'static str, &'static str, fn(&mut Vec<Resource>));

const CASES: &[Case] = &[
    ("ECR.1", "ecr_repository/app", |d| {
        set(d, "ecr_repository/app", "scan_on_push", Value::Bool(false))
    }),
    ("ECR.2", "ecr_repository/app", |d| {
        set(
            d,
            "ecr_repository/app",
            "image_tag_mutability",
            s("MUTABLE"),
        )
    }),
    ("ECR.3", "ecr_repository/app", |d| {
        set(d, "ecr_repository/app", "lifecycle_policy", Value::Null)
    }),
    ("ECS.2", "ecs_service/app", |d| {
        set(d, "ecs_service/app", "assign_public_ip", s("ENABLED"))
    }),
    ("ECS.4", "ecs_task_definition/app", |d| {
        set(
            d,
            "ecs_task_definition/app",
            "extras",
            Value::List(vec![s("privileged")]),
        )
    }),
    ("ECS.5", "ecs_task_definition/app", |d| {
        set(
            d,
            "ecs_task_definition/app",
            "readonly_root_filesystem",
            Value::Bool(false),
        )
    }),
    ("ECS.8", "ecs_task_definition/app", |d| {
        set(
            d,
            "ecs_task_definition/app",
            "environment.AWS_SECRET_ACCESS_KEY",
            s("hunter2-in-plain-sight"),
        )
    }),
    ("DocumentDB.1", "docdb_cluster/main", |d| {
        set(
            d,
            "docdb_cluster/main",
            "storage_encrypted",
            Value::Bool(false),
        )
    }),
    ("DocumentDB.2", "docdb_cluster/main", |d| {
        set(
            d,
            "docdb_cluster/main",
            "backup_retention_period",
            Value::Int(1),
        )
    }),
    ("DocumentDB.4", "docdb_cluster/main", |d| {
        set(
            d,
            "docdb_cluster/main",
            "enabled_cloudwatch_logs_exports",
            Value::List(vec![s("profiler")]),
        )
    }),
    ("DocumentDB.5", "docdb_cluster/main", |d| {
        set(
            d,
            "docdb_cluster/main",
            "deletion_protection",
            Value::Bool(false),
        )
    }),
    ("ElastiCache.1", "redis/main", |d| {
        set(d, "redis/main", "snapshot_retention_limit", Value::Int(0))
    }),
    ("ElastiCache.3", "redis/main", |d| {
        set(d, "redis/main", "automatic_failover", Value::Bool(false))
    }),
    ("ElastiCache.4", "redis/main", |d| {
        set(d, "redis/main", "at_rest_encryption", Value::Bool(false))
    }),
    ("ElastiCache.5", "redis/main", |d| {
        set(d, "redis/main", "transit_encryption", Value::Bool(false))
    }),
    ("ELB.1", "listener/http", |d| {
        let mut fwd = BTreeMap::new();
        fwd.insert("type".to_string(), s("forward"));
        set(
            d,
            "listener/http",
            "default_actions",
            Value::List(vec![Value::Map(fwd)]),
        )
    }),
    ("ELB.4", "load_balancer/main", |d| {
        set(
            d,
            "load_balancer/main",
            "drop_invalid_header_fields",
            Value::Bool(false),
        )
    }),
    ("ELB.5", "load_balancer/main", |d| {
        set(d, "load_balancer/main", "access_logs", Value::Bool(false))
    }),
    ("ELB.6", "load_balancer/main", |d| {
        set(
            d,
            "load_balancer/main",
            "deletion_protection",
            Value::Bool(false),
        )
    }),
    ("ELB.17", "listener/https", |d| {
        set(
            d,
            "listener/https",
            "ssl_policy",
            s("ELBSecurityPolicy-2016-08"),
        )
    }),
    // prod's distribution has no default root object (prod.toml waives it).
    ("CloudFront.1", "distribution/main", |_| {}),
    ("CloudFront.3", "distribution/main", |d| {
        set(
            d,
            "distribution/main",
            "default_behavior.viewer_protocol_policy",
            s("allow-all"),
        )
    }),
    ("CloudFront.9", "distribution/main", |d| {
        set(
            d,
            "distribution/main",
            "origins.alb.protocol_policy",
            s("http-only"),
        )
    }),
    ("CloudFront.15", "distribution/main", |d| {
        set(
            d,
            "distribution/main",
            "viewer_certificate.minimum_protocol_version",
            s("TLSv1"),
        )
    }),
    ("EC2.6", "vpc/main", |d| {
        set(d, "flow_log/main", "traffic_type", s("ACCEPT"))
    }),
    ("EC2.18", PL_RULE, |d| open_to_anywhere(d, 8443)),
    ("EC2.19", PL_RULE, |d| open_to_anywhere(d, 22)),
    ("SNS.1", "sns_topic/alerts", |d| {
        set(d, "sns_topic/alerts", "kms_master_key_id", Value::Null)
    }),
    ("rtech.alarms", "ecs_service/app", |d| {
        d.retain(|r| r.id != rid("alarm/ecs-cpu"))
    }),
    ("rtech.backups", "redis/main", |d| {
        set(d, "redis/main", "snapshot_retention_limit", Value::Int(3))
    }),
    ("rtech.alb_via_cloudfront", PL_RULE, |d| {
        open_to_anywhere(d, 443);
        set(d, PL_RULE, "prefix_list_name", Value::Null);
    }),
    ("rtech.waf", "distribution/main", |d| {
        set(d, "distribution/main", "web_acl_id", Value::Null)
    }),
];

fn prod_plan(mutate: fn(&mut Vec<Resource>)) -> Plan {
    let mut desired = crate::reconcile::expand(&env_spec("prod"));
    mutate(&mut desired);
    try_diff("prod", &desired, &[], false).expect("plan")
}

fn fails(r: &Report, rule: &str, resource: &str) -> bool {
    r.violations()
        .any(|v| v.rule.rule == rule && v.finding.resource == rid(resource))
}

#[test]
fn every_rule_has_a_case_and_a_unique_id() {
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let cased: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    assert_eq!(ids, cased, "one case per rule, in the table's order");
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn a_model_breaking_a_rule_is_refused_naming_the_rule_and_the_resource() {
    let clean = evaluate(&prod_plan(|_| {}), &[], &[], TODAY).unwrap();
    for (rule, resource, mutate) in CASES {
        let plan = prod_plan(*mutate);
        let r = evaluate(&plan, &[], &[], TODAY).unwrap();
        assert!(
            fails(&r, rule, resource),
            "{rule} does not fail on {resource}"
        );
        if *rule != "CloudFront.1" {
            assert!(
                !fails(&clean, rule, resource),
                "{rule} fails on prod's model as shipped"
            );
        }
        let v = r
            .violations()
            .find(|v| v.rule.rule == *rule)
            .expect("violation");
        assert!(v.line().starts_with(&format!("{rule} (")), "{}", v.line());
        assert!(v.line().contains(resource), "{}", v.line());
        assert_eq!(
            v.finding.source,
            Source::Change,
            "{rule}: a create is a change"
        );
        // The plan JSON lists it; `rtech policy --json` reports the rule as failing.
        let j = r.plan_json();
        let listed = j["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule"] == *rule && x["resource"] == *resource);
        assert!(listed, "{rule}: not in the plan JSON: {j}");
        let full = r.json();
        let res = full["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == *rule)
            .unwrap();
        assert_eq!(res["status"], "fail", "{rule}");
    }
}

#[test]
fn a_waiver_lets_a_violation_through_and_an_expired_one_does_not() {
    for (rule, resource, mutate) in CASES {
        let plan = prod_plan(*mutate);
        let ok = evaluate(
            &plan,
            &[],
            &[waiver(rule, resource, Some("2027-06-30"))],
            TODAY,
        )
        .unwrap();
        assert!(
            !fails(&ok, rule, resource),
            "{rule}: the waiver does not count"
        );
        let res = ok.results.iter().find(|r| r.rule == *rule).unwrap();
        assert_eq!(res.status, Status::Waived, "{rule}");
        assert!(ok.waived_count() >= 1);
        let waived = &ok.plan_json()["waived"];
        assert!(
            waived
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["rule"] == *rule && x["note"] == "test waiver"),
            "{rule}: {waived}"
        );
        // Through its expiry day the waiver counts; the day after, it does not.
        let last_day = evaluate(&plan, &[], &[waiver(rule, resource, Some(TODAY))], TODAY).unwrap();
        assert!(!fails(&last_day, rule, resource), "{rule}");
        let expired = evaluate(
            &plan,
            &[],
            &[waiver(rule, resource, Some("2026-12-01"))],
            TODAY,
        )
        .unwrap();
        assert!(
            fails(&expired, rule, resource),
            "{rule}: an expired waiver counts"
        );
        let v = expired.violations().find(|v| v.rule.rule == *rule).unwrap();
        assert!(
            v.line().contains("waiver expired on 2026-12-01"),
            "{}",
            v.line()
        );
        // A waiver of another resource does not cover this one.
        let elsewhere = evaluate(&plan, &[], &[waiver(rule, "vpc/other", None)], TODAY).unwrap();
        assert!(fails(&elsewhere, rule, resource), "{rule}");
    }
}

#[test]
fn the_shipped_envs_pass_with_their_waivers() {
    for env in ["dev", "staging", "prod"] {
        let spec = env_spec(env);
        let desired = crate::reconcile::expand(&spec);
        check_waivers(&spec, &desired).unwrap_or_else(|e| panic!("{env}: {e:?}"));
        let plan = try_diff(env, &desired, &[], false).unwrap();
        let r = evaluate(&plan, &[], &spec.policy.waivers, TODAY).unwrap();
        let v: Vec<String> = r.violations().map(|v| v.line()).collect();
        assert!(v.is_empty(), "{env}: {v:#?}");
        // Every waiver is used: none waives what passes.
        for w in &spec.policy.waivers {
            let used = r.results.iter().any(|res| {
                res.rule == w.rule
                    && res
                        .findings
                        .iter()
                        .any(|f| f.resource == w.resource && f.status == Status::Waived)
            });
            assert!(used, "{env}: {} on {} waives nothing", w.rule, w.resource);
        }
    }
}

#[test]
fn a_destroy_plan_is_not_judged() {
    let plan = try_diff("prod", &[], &[], true).unwrap();
    assert!(evaluate(&plan, &[], &[], TODAY).is_none());
}

/// A live resource the plan leaves as it is (a targeted plan) is judged by its live props,
/// and its violation is shown as the live state's, not beside a change.
#[test]
fn a_live_violation_the_plan_leaves_is_reported_as_live() {
    let spec = env_spec("prod");
    let desired = crate::reconcile::expand(&spec);
    let td = desired
        .iter()
        .find(|r| r.id == rid("ecs_task_definition/app"))
        .unwrap();
    let mut live = Observed::new(td.id.clone(), "arn:td:1").with_props(td.props.clone());
    live.props
        .insert("extras".into(), Value::List(vec![s("privileged")]));
    // Target another resource: the task definition's repair is not in this plan.
    let targets = [rid("vpc/main")];
    let input = crate::testutil::diff_input(
        "prod",
        &desired,
        std::slice::from_ref(&live),
        &targets,
        false,
    );
    let mut plan = crate::plan::diff(&input).unwrap();
    assert!(!plan.changes.iter().any(|c| c.id == td.id));
    plan.policy = evaluate(
        &plan,
        std::slice::from_ref(&live),
        &spec.policy.waivers,
        TODAY,
    );
    let r = plan.policy.as_ref().unwrap();
    let v = r
        .violations()
        .find(|v| v.rule.rule == "ECS.4")
        .expect("ECS.4");
    assert_eq!(v.finding.source, Source::Live);
    assert_eq!(v.finding.value, "true");
    let text = render::text(&plan, render::Style { color: false }, "envs/prod.toml");
    let live_at = text
        .find("Policy violations in the live state")
        .expect("a live section");
    assert!(text[live_at..].contains("ECS.4"), "{text}");
    // The targeted plan makes the VPC without its flow log: EC2.6, beside the VPC's create.
    assert!(
        text.trim_end().ends_with(&format!(
            "Policy: {} rules, 2 violations, 0 waived",
            rules::RULES.len()
        )),
        "{text}"
    );
}

#[test]
fn secret_values_never_reach_the_evidence() {
    let plan = prod_plan(CASES.iter().find(|c| c.0 == "ECS.8").unwrap().2);
    let r = evaluate(&plan, &[], &[], TODAY).unwrap();
    let all = format!("{}{}{}", r.json(), r.plan_json(), text(&r, "prod"));
    assert!(!all.contains("hunter2"), "a secret value leaked");
    assert!(all.contains("AWS_SECRET_ACCESS_KEY"));
    assert!(rules::secret_named("db_password"));
    assert!(!rules::secret_named("NODE_ENV"));
}

#[test]
fn security_group_rules_judge_only_ingress_from_anywhere() {
    let plan = prod_plan(|_| {});
    let r = evaluate(&plan, &[], &[], TODAY).unwrap();
    let ec2_18 = r.results.iter().find(|r| r.rule == "EC2.18").unwrap();
    // The ALB admits only CloudFront's prefix list; egress, group- and prefix-list-referenced
    // rules are not judged.
    assert_eq!(ec2_18.findings.len(), 0, "{:?}", ec2_18.findings);
    // The same rule from anywhere on 443 passes EC2.18; all traffic from anywhere breaks both.
    let plan = prod_plan(|d| open_to_anywhere(d, 443));
    let r = evaluate(&plan, &[], &[], TODAY).unwrap();
    let ec2_18 = r.results.iter().find(|r| r.rule == "EC2.18").unwrap();
    assert_eq!(ec2_18.findings.len(), 1, "{:?}", ec2_18.findings);
    assert_eq!(ec2_18.status, Status::Pass);
    let plan = prod_plan(|d| {
        open_to_anywhere(d, 443);
        set(d, PL_RULE, "protocol", s("-1"));
    });
    let r = evaluate(&plan, &[], &[], TODAY).unwrap();
    assert!(fails(&r, "EC2.18", PL_RULE));
    let v = r.violations().find(|v| v.rule.rule == "EC2.19").unwrap();
    assert!(v
        .finding
        .value
        .starts_with("all ports from 0.0.0.0/0 (high-risk: 20, 21, 22"));
}

#[test]
fn rules_that_find_nothing_are_not_applicable() {
    // dev has no CloudFront distribution, no SNS topic, and is not prod.
    let spec = env_spec("dev");
    let plan = try_diff("dev", &crate::reconcile::expand(&spec), &[], false).unwrap();
    let r = evaluate(&plan, &[], &spec.policy.waivers, TODAY).unwrap();
    for rule in ["CloudFront.1", "CloudFront.15", "SNS.1", "rtech.backups"] {
        let res = r.results.iter().find(|x| x.rule == rule).unwrap();
        assert_eq!(res.status, Status::NotApplicable, "{rule}");
    }
}

// --- waivers in the spec ------------------------------------------------------------------------

fn prod_with(waivers: &str) -> Result<(), String> {
    let text = format!(
        "{}\n{waivers}",
        std::fs::read_to_string(format!("{}/envs/prod.toml", env!("CARGO_MANIFEST_DIR"))).unwrap()
    );
    let spec = crate::spec::parse("envs/prod.toml", &text, "prod").map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    check_waivers(&spec, &crate::reconcile::expand(&spec)).map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn prod_lines() -> usize {
    std::fs::read_to_string(format!("{}/envs/prod.toml", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_waiver_without_a_reason_is_a_spec_error_at_its_line() {
    let e = prod_with("[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"listener/http\"\n")
        .unwrap_err();
    // The prod file's own waiver is policy.waivers[0]; this one is [1], on the next line.
    let line = prod_lines() + 2;
    assert!(
        e.starts_with(&format!(
            "envs/prod.toml:{line}:1: policy.waivers[1].reason: missing"
        )),
        "{e}"
    );
    let e = prod_with(
        "[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"listener/http\"\nreason = \"  \"\n",
    )
    .unwrap_err();
    assert!(e.contains("policy.waivers[1].reason: must say why"), "{e}");
}

#[test]
fn an_unknown_rule_or_resource_is_a_spec_error() {
    let e = prod_with(
        "[[policy.waivers]]\nrule = \"ELB.99\"\nresource = \"listener/http\"\nreason = \"r\"\n",
    )
    .unwrap_err();
    let line = prod_lines() + 3;
    assert!(
        e.starts_with(&format!(
            "envs/prod.toml:{line}:8: policy.waivers[1].rule: unknown rule \"ELB.99\""
        )),
        "{e}"
    );
    let e = prod_with(
        "[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"listener/ftp\"\nreason = \"r\"\n",
    )
    .unwrap_err();
    let line = prod_lines() + 4;
    assert!(
        e.starts_with(&format!(
            "envs/prod.toml:{line}:12: policy.waivers[1].resource: unknown resource listener/ftp"
        )),
        "{e}"
    );
    let e =
        prod_with("[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"http\"\nreason = \"r\"\n")
            .unwrap_err();
    assert!(
        e.contains("policy.waivers[1].resource: \"http\" is not a resource id"),
        "{e}"
    );
    let e = prod_with(
        "[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"listener/http\"\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
    )
    .unwrap_err();
    assert!(
        e.contains("policy.waivers[1].expires: \"2027-02-30\" is not a date"),
        "{e}"
    );
    let e = prod_with(
        "[[policy.waivers]]\nrule = \"CloudFront.1\"\nresource = \"distribution/main\"\nreason = \"again\"\n",
    )
    .unwrap_err();
    assert!(e.contains("already waived by policy.waivers[0]"), "{e}");
}

#[test]
fn dev_may_waive_what_prod_may_not() {
    let w =
        "[[policy.waivers]]\nrule = \"ELB.6\"\nresource = \"load_balancer/main\"\nreason = \"r\"\n";
    let e = prod_with(w).unwrap_err();
    assert!(
        e.contains("policy.waivers[1].rule: ELB.6 (Load balancers have deletion protection enabled) may not be waived in prod"),
        "{e}"
    );
    // dev.toml waives ELB.6 itself.
    let dev = env_spec("dev");
    assert!(dev.policy.waivers.iter().any(|w| w.rule == "ELB.6"));
    check_waivers(&dev, &crate::reconcile::expand(&dev)).unwrap();
    // A waivable rule is fine in prod.
    prod_with("[[policy.waivers]]\nrule = \"ELB.1\"\nresource = \"listener/http\"\nreason = \"r\"\nexpires = \"2027-06-30\"\n").unwrap();
}

#[test]
fn waivers_parse_with_their_optional_expiry() {
    let spec = parse_as(
        "dev",
        &format!(
            "{}\n[[policy.waivers]]\nrule = \"ELB.6\"\nresource = \"load_balancer/main\"\nreason = \"why\"\nexpires = \"2027-06-30\"\n",
            crate::testutil::HEAD
        ),
    );
    assert_eq!(spec.policy.waivers.len(), 1);
    let w = &spec.policy.waivers[0];
    assert_eq!(
        (w.rule.as_str(), w.resource.to_string(), w.reason.as_str()),
        ("ELB.6", "load_balancer/main".to_string(), "why")
    );
    assert_eq!(w.expires.as_deref(), Some("2027-06-30"));
    assert!(crate::spec::policy::is_date("2028-02-29"));
    assert!(!crate::spec::policy::is_date("2027-02-29"));
    assert!(!crate::spec::policy::is_date("2027-6-30"));
}

// --- snapshots ----------------------------------------------------------------------------------

/// `rtech policy` for prod, as the plan from empty leaves it.
#[test]
fn prod_policy_text_is_pinned() {
    let spec = env_spec("prod");
    let plan = try_diff("prod", &crate::reconcile::expand(&spec), &[], false).unwrap();
    let r = evaluate(&plan, &[], &spec.policy.waivers, TODAY).unwrap();
    insta::assert_snapshot!("prod_policy_text", text(&r, "prod"));
}

/// The plan's policy line, and a violation beside the change that causes it.
#[test]
fn plan_text_shows_violations_beside_their_change_and_the_policy_line() {
    let spec = env_spec("prod");
    let mut desired = crate::reconcile::expand(&spec);
    set(
        &mut desired,
        "load_balancer/main",
        "deletion_protection",
        Value::Bool(false),
    );
    let mut plan = try_diff("prod", &desired, &[], false).unwrap();
    plan.policy = evaluate(&plan, &[], &spec.policy.waivers, TODAY);
    let text = render::text(&plan, render::Style { color: false }, "envs/prod.toml");
    let lb = text.find("+ load_balancer/main").expect("the ALB's change");
    let block = &text[lb..text[lb..].find("\n\n").map(|e| lb + e).unwrap()];
    insta::assert_snapshot!("plan_alb_violation_block", block);
    let tail: Vec<&str> = text.trim_end().lines().rev().take(3).collect();
    insta::assert_snapshot!(
        "plan_policy_end",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

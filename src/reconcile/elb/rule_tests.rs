//! The production listener rule of a canary or blue/green env: expansion, the weights ECS owns
//! (observed, never drift), a changed condition (drift), ownership, and the requests.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, PathPatternConditionConfig, Rule, RuleCondition,
    TargetGroupTuple,
};

use super::listener::{listener_id, ListenerProps, WeightedGroup};
use super::listener_rule::*;
use super::{classify, expand, target_group_id, COLOURS};
use crate::model::{Observed, Ownership, Resource, Value, TAG_ID};
use crate::plan::Action as PlanAction;
use crate::reconcile::kit::{from_props, Link};
use crate::spec::Spec;
use crate::testutil::{only_update, parse_as, try_diff};

const BLUE: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-blue/b1";
const GREEN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-green/g1";
const L443: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/rtech-dev-alb/50dc/0443";
const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/rtech-dev-alb/50dc/0443/r1";

fn spec(deploy: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[ecr]\n[app]\n{deploy}\n[edge]\n"
    );
    parse_as("dev", &text)
}

fn canary() -> Spec {
    spec("[app.deploy]\nstrategy = \"canary\"\n")
}

fn rule(rs: &[Resource]) -> Resource {
    rs.iter()
        .find(|r| r.id == production_rule_id())
        .expect("the production rule")
        .clone()
}

/// A live rule as AWS reports it: path conditions, a weighted forward (blue, green), tags.
fn live_rule(paths: &[&str], blue: i32, green: i32) -> Rule {
    Rule::builder()
        .rule_arn(RULE)
        .priority(PRODUCTION_PRIORITY.to_string())
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .set_values(Some(paths.iter().map(|p| p.to_string()).collect()))
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(paths.iter().map(|p| p.to_string()).collect()))
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(1)
                .forward_config(
                    ForwardActionConfig::builder()
                        // AWS lists them in its own order.
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(GREEN)
                                .weight(green)
                                .build(),
                        )
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(BLUE)
                                .weight(blue)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .is_default(false)
        .build()
}

fn neighbours() -> Vec<Observed> {
    [
        (target_group_id("blue"), BLUE),
        (target_group_id("green"), GREEN),
        (listener_id("https"), L443),
    ]
    .into_iter()
    .map(|(id, arn)| Observed::new(id, arn).attr("arn", arn))
    .collect()
}

fn tg_names() -> Vec<String> {
    COLOURS.iter().map(|c| format!("rtech-dev-{c}")).collect()
}

fn observed(r: &Resource, live: &Rule) -> Observed {
    let tags = crate::model::tags_of(&r.props);
    observe_rule(&production_rule_id(), live, &tags, &tg_names())
}

/// The plan's changes to the rule given the live rule.
fn plan(r: &Resource, live: Option<&Rule>) -> Vec<crate::plan::Change> {
    let mut obs = neighbours();
    if let Some(l) = live {
        obs.push(observed(r, l));
    }
    let p = try_diff("dev", std::slice::from_ref(r), &obs, false).unwrap();
    p.changes
        .into_iter()
        .filter(|c| c.id == production_rule_id())
        .collect()
}

/// The target groups and weights of a request's first action (a forward).
fn forward_weights(
    actions: &Option<Vec<aws_sdk_elasticloadbalancingv2::types::Action>>,
) -> Vec<(String, i32)> {
    let forward = actions.as_ref().unwrap()[0].forward_config().unwrap();
    let weight = |t: &aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple| {
        (
            t.target_group_arn().unwrap().to_string(),
            t.weight().unwrap(),
        )
    };
    forward.target_groups().iter().map(weight).collect()
}

#[test]
fn only_a_traffic_shifting_strategy_gets_green_and_the_production_rule() {
    let rolling = expand(&spec(""));
    assert!(rolling.iter().all(|r| r.id != target_group_id("green")));
    assert!(rolling.iter().all(|r| r.id.kind != LISTENER_RULE));

    for deploy in [
        "[app.deploy]\nstrategy = \"canary\"\n",
        "[app.deploy]\nstrategy = \"blue_green\"\n",
    ] {
        let rs = expand(&spec(deploy));
        assert!(
            rs.iter().any(|r| r.id == target_group_id("green")),
            "{deploy}"
        );
        let r = rule(&rs);
        assert_eq!(r.name, "rtech-dev-alb:443/production");
        let p: ListenerRuleProps = from_props(&r.props).unwrap();
        assert_eq!(p.priority, PRODUCTION_PRIORITY);
        assert_eq!(
            p.conditions,
            [Condition {
                field: "path-pattern".into(),
                values: vec!["/*".into()]
            }]
        );
        assert_eq!(
            p.target_groups,
            [
                Link::to(&target_group_id("blue"), "arn"),
                Link::to(&target_group_id("green"), "arn")
            ]
        );
        // The weights are not expand's: late-initialised, [edge.weights] when created.
        assert_eq!(p.weights, None);
        let late = &r.late_init["weights"].default;
        let Value::List(groups) = late else {
            panic!("{late:?}")
        };
        let weights: Vec<i64> = groups
            .iter()
            .map(|g| g.as_map().unwrap()["weight"].as_int().unwrap())
            .collect();
        assert_eq!(weights, [100, 0]);
        for d in [
            listener_id("https"),
            target_group_id("blue"),
            target_group_id("green"),
        ] {
            assert!(r.deps.contains(&d), "{d}");
        }
        assert_eq!(
            crate::model::tags_of(&r.props)[TAG_ID],
            "listener_rule/production"
        );
        // The listener's default action stays on blue alone.
        let https = rs.iter().find(|r| r.id == listener_id("https")).unwrap();
        let l: ListenerProps = from_props(&https.props).unwrap();
        let f = l.default_actions[0].forward.as_ref().unwrap();
        assert_eq!(f.target_groups.len(), 1);
        assert_eq!(f.target_groups[0].weight, 100);
    }
}

#[test]
fn edge_weights_are_the_rules_initial_weights() {
    let s =
        spec("[app.deploy]\nstrategy = \"blue_green\"\n[edge.weights]\nblue = 0\ngreen = 100\n");
    let r = rule(&expand(&s));
    let p = try_diff("dev", std::slice::from_ref(&r), &neighbours(), false).unwrap();
    let c = p
        .changes
        .iter()
        .find(|c| c.id == production_rule_id())
        .unwrap();
    assert_eq!(c.action, PlanAction::Create);
    let d = c.desired.as_ref().expect("a create carries its resource");
    let Some(Value::List(groups)) = d.props.get("weights") else {
        panic!("{:?}", d.props.get("weights"))
    };
    let w: Vec<i64> = groups
        .iter()
        .map(|g| g.as_map().unwrap()["weight"].as_int().unwrap())
        .collect();
    assert_eq!(w, [0, 100]);
}

#[test]
fn the_rule_as_created_plans_nothing_and_weights_moved_by_ecs_are_not_drift() {
    let r = rule(&expand(&canary()));
    assert!(plan(&r, Some(&live_rule(&["/*"], 100, 0))).is_empty());
    // ECS mid-canary, after a deployment, and after a rollback: never drift, never reset.
    for (b, g) in [(90, 10), (0, 100), (100, 0)] {
        assert!(
            plan(&r, Some(&live_rule(&["/*"], b, g))).is_empty(),
            "{b}/{g}"
        );
    }
    // The weights are observed all the same, in colour order.
    let o = observed(&r, &live_rule(&["/*"], 90, 10));
    let p: ListenerRuleProps = from_props(&o.props).unwrap();
    assert_eq!(
        p.weights.unwrap(),
        [
            WeightedGroup {
                arn: Link::from(BLUE),
                weight: 90
            },
            WeightedGroup {
                arn: Link::from(GREEN),
                weight: 10
            }
        ]
    );
}

#[test]
fn a_changed_condition_is_drift_repaired_by_modify_rule_keeping_the_weights() {
    let r = rule(&expand(&canary()));
    let mut obs = neighbours();
    obs.push(observed(&r, &live_rule(&["/api/*"], 90, 10)));
    let p = try_diff("dev", std::slice::from_ref(&r), &obs, false).unwrap();
    let mut p = p;
    p.changes.retain(|c| c.id == production_rule_id());
    assert_eq!(only_update(&p), ["conditions"]);
    // What apply sends: the spec's condition, the live weights.
    let filled = crate::plan::late_initialise(std::slice::from_ref(&r), &obs);
    let resolved = crate::testutil::resolved_with(&filled[0], &|rf| {
        obs.iter()
            .find(|o| o.id == rf.resource)
            .and_then(|o| o.attrs.get(&rf.attr).cloned())
    });
    let props: ListenerRuleProps = from_props(&resolved.props).unwrap();
    let c = crate::offline_client!(aws_sdk_elasticloadbalancingv2);
    let req = modify_request(&c, RULE, &props, &[]).unwrap();
    let input = req.as_input();
    assert_eq!(input.get_rule_arn().as_deref(), Some(RULE));
    let cond = &input.get_conditions().as_ref().unwrap()[0];
    assert_eq!(
        cond.path_pattern_config().unwrap().values(),
        ["/*".to_string()]
    );
    let groups = forward_weights(input.get_actions());
    assert_eq!(groups, [(BLUE.to_string(), 90), (GREEN.to_string(), 10)]);
}

#[test]
fn a_missing_rule_is_a_create_with_the_initial_weights() {
    let r = rule(&expand(&canary()));
    let changes = plan(&r, None);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, PlanAction::Create);
    let filled = crate::plan::late_initialise(std::slice::from_ref(&r), &neighbours());
    let obs = neighbours();
    let resolved = crate::testutil::resolved_with(&filled[0], &|rf| {
        obs.iter()
            .find(|o| o.id == rf.resource)
            .and_then(|o| o.attrs.get(&rf.attr).cloned())
    });
    let p: ListenerRuleProps = from_props(&resolved.props).unwrap();
    let c = crate::offline_client!(aws_sdk_elasticloadbalancingv2);
    let req = create_request(&c, &p, &[]).unwrap();
    let input = req.as_input();
    assert_eq!(input.get_listener_arn().as_deref(), Some(L443));
    assert_eq!(*input.get_priority(), Some(PRODUCTION_PRIORITY as i32));
    let groups = forward_weights(input.get_actions());
    assert_eq!(groups, [(BLUE.to_string(), 100), (GREEN.to_string(), 0)]);
    let tags: BTreeMap<String, String> = super::tag_map(input.get_tags().as_deref().unwrap());
    assert_eq!(tags[TAG_ID], "listener_rule/production");
}

#[test]
fn modify_keeps_live_weights_and_never_leaves_the_rule_forwarding_nowhere() {
    let live = [
        WeightedGroup {
            arn: Link::from(BLUE),
            weight: 90,
        },
        WeightedGroup {
            arn: Link::from(GREEN),
            weight: 10,
        },
    ];
    let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        weights_for(&t(&[BLUE, GREEN]), &live),
        [(BLUE.to_string(), 90), (GREEN.to_string(), 10)]
    );
    // A replaced green group (new ARN) gets 0; blue keeps its share.
    assert_eq!(
        weights_for(&t(&[BLUE, "arn:new-green"]), &live),
        [(BLUE.to_string(), 90), ("arn:new-green".to_string(), 0)]
    );
    // Nothing known: everything on the first (blue).
    assert_eq!(
        weights_for(&t(&["arn:b", "arn:g"]), &live),
        [("arn:b".to_string(), 100), ("arn:g".to_string(), 0)]
    );
}

#[test]
fn a_rule_at_our_priority_without_our_tags_is_foreign_and_other_rules_are_ignored() {
    use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer};
    let lb_arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rtech-dev-alb/50dc";
    let lb = LoadBalancer::builder()
        .load_balancer_arn(lb_arn)
        .load_balancer_name("rtech-dev-alb")
        .build();
    let l = Listener::builder().listener_arn(L443).port(443).build();
    let mut tags = BTreeMap::new();
    tags.insert(
        lb_arn.to_string(),
        BTreeMap::from([
            ("rtech:project".to_string(), "rtech".to_string()),
            ("rtech:env".to_string(), "dev".to_string()),
            (TAG_ID.to_string(), "load_balancer/main".to_string()),
        ]),
    );
    let other = Rule::builder()
        .rule_arn(format!("{RULE}-other"))
        .priority("50")
        .is_default(false)
        .build();
    let out = classify(
        "rtech",
        "dev",
        Some(&lb),
        &[l],
        &tags,
        &[],
        &[live_rule(&["/*"], 100, 0), other],
        None,
    );
    let rules: Vec<&Observed> = out.iter().filter(|o| o.id.kind == LISTENER_RULE).collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].ownership, Ownership::Foreign);
    assert_eq!(rules[0].physical_id, RULE);
}

#[test]
fn a_rule_arn_names_its_listener() {
    assert_eq!(listener_of(RULE), L443);
}

// --- only CloudFront reaches the app -------------------------------------------------------

const ORIGIN_VALUE: &str = "Zq7origin0header0value0that0must0never0be0printed";
const OLD_VALUE: &str = "Yp6the0previous0origin0header0value0still0accepted";

fn with_cloudfront(deploy: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n\n[ecr]\n[app]\n{deploy}\n[edge]\n[edge.cloudfront]\n"
    );
    parse_as("dev", &text)
}

/// The live rule with the origin header condition holding `values`.
fn live_with_header(values: &[&str]) -> Rule {
    let mut r = live_rule(&["/*"], 100, 0);
    r.conditions.get_or_insert_with(Vec::new).push(
        RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                aws_sdk_elasticloadbalancingv2::types::HttpHeaderConditionConfig::builder()
                    .http_header_name("X-Origin-Verify")
                    .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                    .build(),
            )
            .build(),
    );
    r
}

fn secret_neighbour(accepted: &str) -> Observed {
    Observed::new("secret/origin-header".parse().unwrap(), "arn:secret")
        .attr("accepted_ids", accepted)
}

#[test]
fn with_cloudfront_the_rule_requires_the_origin_header_by_marker_and_the_default_is_403() {
    use crate::reconcile::secrets::{accepted_markers, marker};
    // A rolling env gets the rule too, forwarding to blue alone.
    let rs = expand(&with_cloudfront(""));
    let r = rule(&rs);
    let p: ListenerRuleProps = from_props(&r.props).unwrap();
    assert_eq!(p.target_groups.len(), 1);
    assert_eq!(
        r.props["origin_header"],
        Value::reference(&"secret/origin-header".parse().unwrap(), "accepted_ids")
    );
    let https = rs.iter().find(|x| x.id == listener_id("https")).unwrap();
    let lp: ListenerProps = from_props(&https.props).unwrap();
    assert_eq!(lp.default_actions.len(), 1);
    assert_eq!(lp.default_actions[0].action_type, "fixed-response");
    let fixed = lp.default_actions[0].fixed_response.as_ref().unwrap();
    assert_eq!(fixed.status_code.as_deref(), Some("403"));
    let sdk = super::listener::sdk_action(&lp.default_actions[0], 1).unwrap();
    assert_eq!(
        sdk.fixed_response_config().unwrap().status_code(),
        Some("403")
    );

    // Observed: the live values become markers, and the next plan is empty.
    let r = rule(&expand(&with_cloudfront(
        "[app.deploy]\nstrategy = \"canary\"\n",
    )));
    let live = live_with_header(&[ORIGIN_VALUE]);
    let o = observed(&r, &live);
    let shown = format!("{:?}", o.props);
    assert!(
        !shown.contains(ORIGIN_VALUE),
        "the header value leaked: {shown}"
    );
    assert_eq!(o.props["origin_header"], Value::str(marker(ORIGIN_VALUE)));
    let mut obs = neighbours();
    obs.push(secret_neighbour(&accepted_markers(ORIGIN_VALUE, None)));
    obs.push(o);
    let mut plan = try_diff("dev", std::slice::from_ref(&r), &obs, false).unwrap();
    plan.changes.retain(|c| c.id == production_rule_id());
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);

    // While a rotation rolls out the secret accepts both: one update, showing markers only.
    let mut obs = neighbours();
    obs.push(secret_neighbour(&accepted_markers(
        ORIGIN_VALUE,
        Some(OLD_VALUE),
    )));
    obs.push(observed(&r, &live));
    let mut plan = try_diff("dev", std::slice::from_ref(&r), &obs, false).unwrap();
    plan.changes.retain(|c| c.id == production_rule_id());
    assert_eq!(only_update(&plan), ["origin_header"]);
    let text = format!("{:?}", plan.changes);
    assert!(!text.contains(ORIGIN_VALUE) && !text.contains(OLD_VALUE));

    // The requests carry the values, given at apply time.
    let c = crate::offline_client!(aws_sdk_elasticloadbalancingv2);
    let filled = crate::plan::late_initialise(std::slice::from_ref(&r), &obs);
    let resolved = crate::testutil::resolved_with(&filled[0], &|rf| {
        obs.iter()
            .find(|o| o.id == rf.resource)
            .and_then(|o| o.attrs.get(&rf.attr).cloned())
    });
    let p: ListenerRuleProps = from_props(&resolved.props).unwrap();
    let values = [ORIGIN_VALUE.to_string(), OLD_VALUE.to_string()];
    let req = modify_request(&c, RULE, &p, &values).unwrap();
    let conds = req.as_input().get_conditions().clone().unwrap();
    let h = conds
        .iter()
        .find(|c| c.field() == Some("http-header"))
        .unwrap()
        .http_header_config()
        .unwrap();
    assert_eq!(h.http_header_name(), Some("X-Origin-Verify"));
    assert_eq!(h.values(), values);
    assert!(conds.iter().any(|c| c.field() == Some("path-pattern")));
}

//! The load balancer and its listeners: expansion, the normalisation observe does (through the
//! real diff), ownership, the deletion-protection guard, and the requests apply sends.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AvailabilityZone, Certificate, ForwardActionConfig, IpAddressType,
    Listener, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupStickinessConfig,
    TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::listener::*;
use super::load_balancer::*;
use super::target_group::TARGET_GROUP;
use super::{classify, elb_tags, tag_map, target_group_id, NAME_MAX};
use crate::model::{
    tags_of, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV, TAG_ID, TAG_PROJECT,
};
use crate::plan::Action as PlanAction;
use crate::plan::{Plan, PlanError};
use crate::reconcile::kit::{from_props, to_props};
use crate::spec::Spec;
use crate::testutil::{only_update, parse_as, try_diff};

const LB_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rtech-dev-alb/50dc6c495c0c9188";
const L_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/rtech-dev-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
const TG_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rtech-dev-blue/abc";
const SG_ID: &str = "sg-0a1b";
const L443_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/rtech-dev-alb/50dc6c495c0c9188/0443";
const CERT_ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/1234";

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A listener action in the generic shape the plan shows.
fn as_value(a: &ListenerAction) -> Value {
    Value::Map(to_props(a))
}

/// A live action as the plan shows it.
fn action_value(a: &Action) -> Value {
    as_value(&action_props(a))
}

/// A plan-shaped action as the SDK's.
fn sdk_action_of(v: &Value) -> Action {
    sdk_action(&from_props(v.as_map().unwrap()).unwrap(), 1).unwrap()
}

fn lb_props(r: &Resource) -> LoadBalancerProps {
    from_props(&r.props).unwrap()
}

fn listener_props(r: &Resource) -> ListenerProps {
    from_props(&r.props).unwrap()
}

fn spec_with(edge: &str) -> Spec {
    let text = format!(
        "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\naz_count = 3\n\n[ecr]\n[app]\n{edge}"
    );
    parse_as("dev", &text)
}

fn edge_spec() -> Spec {
    spec_with("[edge]\n[edge.alb]\nidle_timeout_seconds = 120\n")
}

fn find<'a>(rs: &'a [Resource], id: &ResourceId) -> &'a Resource {
    rs.iter().find(|r| &r.id == id).expect("resource")
}

fn lb(rs: &[Resource]) -> Resource {
    find(rs, &load_balancer_id()).clone()
}

fn http(rs: &[Resource]) -> Resource {
    find(rs, &listener_id("http")).clone()
}

fn https(rs: &[Resource]) -> Resource {
    find(rs, &listener_id("https")).clone()
}

fn subnet_id(letter: &str) -> String {
    format!("subnet-{letter}{letter}{letter}")
}

/// A weighted forward to target groups, as the HTTPS listener will have it.
fn forward(target_groups: Vec<(Value, i64)>) -> Value {
    map([
        ("type", Value::str("forward")),
        (
            "forward",
            map([
                (
                    "target_groups",
                    Value::List(
                        target_groups
                            .into_iter()
                            .map(|(arn, w)| map([("arn", arn), ("weight", Value::Int(w))]))
                            .collect(),
                    ),
                ),
                ("stickiness", Value::Bool(false)),
            ]),
        ),
    ])
}

/// The load balancer as AWS describes the one `r` asks for; its zones in reverse order.
fn live_lb(
    r: &Resource,
) -> (
    LoadBalancer,
    BTreeMap<String, String>,
    Vec<LoadBalancerAttribute>,
) {
    let mut b = LoadBalancer::builder()
        .load_balancer_arn(LB_ARN)
        .load_balancer_name(r.get_str("name").unwrap())
        .dns_name("rtech-dev-alb-1.us-east-1.elb.amazonaws.com")
        .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .r#type(LoadBalancerTypeEnum::Application)
        .ip_address_type(IpAddressType::Ipv4)
        .vpc_id("vpc-1")
        .security_groups(SG_ID);
    for l in ["c", "b", "a"] {
        b = b.availability_zones(
            AvailabilityZone::builder()
                .zone_name(format!("us-east-1{l}"))
                .subnet_id(subnet_id(l))
                .build(),
        );
    }
    let p = |k: &str| r.props[k].to_string().trim_matches('"').to_string();
    let attr = |k: &str, v: String| LoadBalancerAttribute::builder().key(k).value(v).build();
    let attrs = vec![
        attr(ATTR_IDLE_TIMEOUT, p("idle_timeout_seconds")),
        attr(ATTR_HTTP2, p("http2")),
        attr(ATTR_DROP_INVALID, p("drop_invalid_header_fields")),
        attr(ATTR_DELETION_PROTECTION, p("deletion_protection")),
        attr(ATTR_ACCESS_LOGS, p("access_logs")),
        attr(ATTR_ACCESS_LOGS_BUCKET, String::new()),
        attr("waf.fail_open.enabled", "false".into()),
    ];
    let mut tags = tags_of(&r.props);
    tags.insert("aws:cloudformation:stack-name".into(), "ignored".into());
    (b.build(), tag_map(&elb_tags(&tags)), attrs)
}

/// The listener as AWS describes `r` (a redirect, as created).
fn live_listener(r: &Resource) -> (Listener, BTreeMap<String, String>) {
    let l = Listener::builder()
        .listener_arn(L_ARN)
        .load_balancer_arn(LB_ARN)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .order(1)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .host("#{host}")
                        .path("/#{path}")
                        .query("#{query}")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build(),
        )
        .build();
    (l, tags_of(&r.props))
}

/// The HTTPS listener as AWS describes the one created from `r`: AWS echoes a weighted
/// forward in ForwardConfig (and the single group as TargetGroupArn too).
fn live_https(r: &Resource) -> (Listener, BTreeMap<String, String>) {
    let l = Listener::builder()
        .listener_arn(L443_ARN)
        .load_balancer_arn(LB_ARN)
        .port(443)
        .protocol(ProtocolEnum::Https)
        .ssl_policy(r.get_str("ssl_policy").unwrap())
        .certificates(Certificate::builder().certificate_arn(CERT_ARN).build())
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(1)
                .target_group_arn(TG_ARN)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(TG_ARN)
                                .weight(100)
                                .build(),
                        )
                        .target_group_stickiness_config(
                            TargetGroupStickinessConfig::builder()
                                .enabled(false)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    (l, tags_of(&r.props))
}

/// What the rest of the env looks like: the public subnets and the alb group.
fn neighbours() -> Vec<Observed> {
    let mut v: Vec<Observed> = ["a", "b", "c"]
        .iter()
        .map(|l| {
            Observed::new(
                ResourceId::new("subnet", format!("public-{l}")),
                subnet_id(l),
            )
        })
        .collect();
    v.push(Observed::new(ResourceId::new("sg", "alb"), SG_ID));
    let mut tg = Observed::new(ResourceId::new("target_group", "blue"), TG_ARN);
    tg.attrs.insert("arn".into(), TG_ARN.into());
    v.push(tg);
    let mut cert = Observed::new(certificate_validation_id(), CERT_ARN);
    cert.attrs.insert("arn".into(), CERT_ARN.into());
    v.push(cert);
    v
}

fn observed_all(rs: &[Resource]) -> Vec<Observed> {
    let lb_r = lb(rs);
    let (l, lt, la) = live_lb(&lb_r);
    let (ls, ls_tags) = live_listener(&http(rs));
    let (l443, l443_tags) = live_https(&https(rs));
    let mut tags = BTreeMap::new();
    tags.insert(LB_ARN.to_string(), lt);
    tags.insert(L_ARN.to_string(), ls_tags);
    tags.insert(L443_ARN.to_string(), l443_tags);
    classify(
        "rtech",
        "dev",
        Some(&l),
        &[ls, l443],
        &tags,
        &la,
        &[],
        Some(&lb_r),
    )
}

fn plan_of(
    desired: &[Resource],
    observed: Vec<Observed>,
    destroy: bool,
) -> Result<Plan, PlanError> {
    let mut all = neighbours();
    all.extend(observed);
    let mut plan = try_diff("dev", desired, &all, destroy)?;
    plan.changes
        .retain(|c| c.id.kind == LOAD_BALANCER || c.id.kind == LISTENER || destroy);
    Ok(plan)
}

fn plan_for(desired: &[Resource], observed: Vec<Observed>) -> Plan {
    plan_of(desired, observed, false).unwrap()
}

fn set_prop(obs: &mut [Observed], id: &ResourceId, key: &str, v: Value) {
    let o = obs.iter_mut().find(|o| &o.id == id).unwrap();
    o.props.insert(key.into(), v);
}

/// The plan after `key` of `id` drifted to `v` out of band: exactly one update, of `id`, that
/// changes `key` alone.
fn one_drift(rs: &[Resource], id: &ResourceId, key: &str, v: Value) -> crate::plan::Change {
    let mut obs = observed_all(rs);
    set_prop(&mut obs, id, key, v);
    let plan = plan_for(rs, obs);
    assert_eq!(only_update(&plan), [key]);
    let c = plan.changes.into_iter().next().unwrap();
    assert_eq!(&c.id, id);
    c
}

// --- expand ------------------------------------------------------------------------------------

#[test]
fn no_edge_means_no_load_balancer() {
    let s = spec_with("");
    assert!(expand(&s).is_empty());
    assert!(super::expand(&s).iter().all(|r| r.id.kind == TARGET_GROUP));
}

#[test]
fn the_load_balancer_sits_on_the_public_subnets_with_the_alb_group() {
    let rs = expand(&edge_spec());
    let r = lb(&rs);
    assert_eq!(r.get_str("name"), Some("rtech-dev-alb"));
    assert_eq!(r.get_str("scheme"), Some("internet-facing"));
    assert_eq!(r.get_str("type"), Some("application"));
    let subnets: Vec<String> = match &r.props["subnets"] {
        Value::List(l) => l
            .iter()
            .map(|v| match v {
                Value::Ref(x) => x.resource.to_string(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        subnets,
        ["subnet/public-a", "subnet/public-b", "subnet/public-c"]
    );
    assert!(r.deps.contains(&ResourceId::new("sg", "alb")));
    assert_eq!(r.props["idle_timeout_seconds"], Value::Int(120));
    assert_eq!(r.props["http2"], Value::Bool(true));
    assert_eq!(r.props["drop_invalid_header_fields"], Value::Bool(true));
    assert_eq!(r.props["deletion_protection"], Value::Bool(false));
    assert_eq!(r.props["access_logs"], Value::Bool(false));
    assert!(!r.props.contains_key("access_logs_bucket"));
    let t = tags_of(&r.props);
    assert_eq!(t[TAG_ID], "load_balancer/main");
    assert_eq!(
        (t[TAG_PROJECT].as_str(), t[TAG_ENV].as_str()),
        ("rtech", "dev")
    );

    let l = http(&rs);
    assert_eq!(l.name, "rtech-dev-alb:80");
    assert!(l.deps.contains(&load_balancer_id()));
    assert_eq!(l.props["port"], Value::Int(80));
    assert_eq!(
        l.props["default_actions"],
        Value::List(vec![as_value(&redirect_to_https())])
    );
    assert_eq!(tags_of(&l.props)[TAG_ID], "listener/http");
}

#[test]
fn the_longest_names_fit_elb() {
    let n = load_balancer_name("abcdefghijklmnopqrst", "abcdefghij");
    assert_eq!(n.len(), NAME_MAX);
    assert_eq!(n, load_balancer_name("abcdefghijklmnopqrst", "abcdefghij"));
    assert_eq!(load_balancer_name("rtech", "prod"), "rtech-prod-alb");
}

#[test]
fn access_logs_need_the_log_bucket() {
    let rs = expand(&spec_with("[edge]\n[edge.alb]\naccess_logs = true\n"));
    let r = lb(&rs);
    assert!(r.deps.contains(&access_log_bucket_id()));
    // The whole spec has the bucket; the load balancer's part alone misses it.
    let all = crate::reconcile::expand(&spec_with("[edge]\n[edge.alb]\naccess_logs = true\n"));
    assert!(all.iter().any(|r| r.id == access_log_bucket_id()));
    let e = plan_of(&rs, vec![], false).unwrap_err();
    assert_eq!(
        e,
        PlanError::MissingDep(load_balancer_id(), access_log_bucket_id())
    );
}

// --- observe + diff ----------------------------------------------------------------------------

#[test]
fn as_created_there_is_no_diff_and_dependants_get_the_dns_name() {
    let rs = expand(&edge_spec());
    let obs = observed_all(&rs);
    assert_eq!(obs.len(), 3);
    let o = &obs[0];
    assert_eq!(o.id, load_balancer_id());
    // Listed in the spec's AZ order, though AWS gave them in reverse.
    assert_eq!(
        o.props["subnets"],
        Value::List(
            ["a", "b", "c"]
                .iter()
                .map(|l| Value::str(subnet_id(l)))
                .collect()
        )
    );
    assert!(!tags_of(&o.props).contains_key("aws:cloudformation:stack-name"));
    assert_eq!(o.attrs["arn"], LB_ARN);
    assert_eq!(
        o.attrs["dns_name"],
        "rtech-dev-alb-1.us-east-1.elb.amazonaws.com"
    );
    assert_eq!(o.attrs["zone_id"], "Z35SXDOTRQ7X7K");
    for d in ["subnet/public-a", "subnet/public-c", "sg/alb"] {
        assert!(o.deps.contains(&d.parse().unwrap()), "{d}");
    }
    assert_eq!(obs[1].id, listener_id("http"));
    assert!(obs[1].deps.contains(&load_balancer_id()));
    let plan = plan_for(&rs, obs);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.conflicts.is_empty());
}

#[test]
fn listener_80_turned_into_a_plain_forward_is_shown_and_repaired_by_modify_listener() {
    let rs = expand(&edge_spec());
    // What `aws elbv2 modify-listener --default-actions Type=forward,TargetGroupArn=…` leaves.
    let a = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(TG_ARN)
        .order(1)
        .build();
    one_drift(
        &rs,
        &listener_id("http"),
        "default_actions",
        Value::List(vec![action_value(&a)]),
    );
    let req = modify_listener_request(&client(), L_ARN, &listener_props(&http(&rs))).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_listener_arn().as_deref(), Some(L_ARN));
    let acts = i.get_default_actions().clone().unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].r#type(), Some(&ActionTypeEnum::Redirect));
    assert_eq!(
        acts[0].redirect_config().unwrap().status_code(),
        Some(&RedirectActionStatusCodeEnum::Http301)
    );
}

#[test]
fn drop_invalid_headers_turned_off_is_exactly_that_update() {
    let rs = expand(&edge_spec());
    let c = one_drift(
        &rs,
        &load_balancer_id(),
        "drop_invalid_header_fields",
        Value::Bool(false),
    );
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].path, "drop_invalid_header_fields");
    assert_eq!(c.fields[0].before, Some(Value::Bool(false)));
    assert_eq!(c.fields[0].after, Some(Value::Bool(true)));
}

#[test]
fn a_moved_subnet_is_an_update_and_name_or_scheme_replace() {
    let rs = expand(&edge_spec());
    let mut obs = observed_all(&rs);
    set_prop(
        &mut obs,
        &load_balancer_id(),
        "subnets",
        Value::List(vec![Value::str(subnet_id("a")), Value::str(subnet_id("b"))]),
    );
    let plan = plan_for(&rs, obs);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, PlanAction::Update);
    for (key, v) in [
        ("name", Value::str("rtech-dev-old")),
        ("scheme", Value::str("internal")),
    ] {
        let mut obs = observed_all(&rs);
        set_prop(&mut obs, &load_balancer_id(), key, v);
        let plan = plan_for(&rs, obs);
        let c = plan
            .changes
            .iter()
            .find(|c| c.id == load_balancer_id())
            .unwrap();
        assert_eq!(c.action, PlanAction::Replace, "{key}");
        assert_eq!(
            c.reason.as_deref(),
            Some(format!("{key} cannot change in place").as_str())
        );
    }
}

#[test]
fn a_load_balancer_or_listener_without_our_tags_is_a_conflict_and_left_alone() {
    let rs = expand(&edge_spec());
    let lb_r = lb(&rs);
    let (l, _, la) = live_lb(&lb_r);
    let (ls, ls_tags) = live_listener(&http(&rs));
    // A foreign load balancer under our name: its listeners are not even looked at.
    let mut tags = BTreeMap::new();
    tags.insert(LB_ARN.to_string(), BTreeMap::new());
    tags.insert(L_ARN.to_string(), ls_tags);
    let obs = classify(
        "rtech",
        "dev",
        Some(&l),
        std::slice::from_ref(&ls),
        &tags,
        &la,
        &[],
        None,
    );
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].ownership, Ownership::Foreign);
    let plan = plan_for(&rs, obs);
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].physical_id, LB_ARN);

    // Our load balancer with an untagged listener on port 80.
    let (_, lt, _) = live_lb(&lb_r);
    let mut tags = BTreeMap::new();
    tags.insert(LB_ARN.to_string(), lt);
    let obs = classify(
        "rtech",
        "dev",
        Some(&l),
        &[ls],
        &tags,
        &la,
        &[],
        Some(&lb_r),
    );
    assert_eq!(obs[1].id, listener_id("http"));
    assert_eq!(obs[1].ownership, Ownership::Foreign);
    let plan = plan_for(&rs, obs);
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].physical_id, L_ARN);

    // Someone's listener on another port of our load balancer: ignored.
    let other = Listener::builder()
        .listener_arn("arn:other")
        .load_balancer_arn(LB_ARN)
        .port(8080)
        .build();
    let (_, lt, _) = live_lb(&lb_r);
    let tags = BTreeMap::from([(LB_ARN.to_string(), lt)]);
    let obs = classify(
        "rtech",
        "dev",
        Some(&l),
        &[other],
        &tags,
        &la,
        &[],
        Some(&lb_r),
    );
    assert_eq!(obs.len(), 1);
}

#[test]
fn destroy_deletes_the_listener_then_the_load_balancer_then_the_network() {
    let rs = expand(&edge_spec());
    let obs = observed_all(&rs);
    let plan = plan_of(&[], obs, true).unwrap();
    let ids: Vec<String> = plan.changes.iter().map(|c| c.id.to_string()).collect();
    let pos = |id: &str| ids.iter().position(|x| x == id).unwrap_or(usize::MAX);
    assert!(pos("listener/http") < pos("load_balancer/main"), "{ids:?}");
    // The HTTPS listener lets go of its certificate and target group before they go.
    for later in [
        "load_balancer/main",
        "certificate_validation/main",
        "target_group/blue",
    ] {
        assert!(pos("listener/https") < pos(later), "{later}: {ids:?}");
    }
    for later in ["subnet/public-a", "sg/alb"] {
        if pos(later) != usize::MAX {
            assert!(pos("load_balancer/main") < pos(later), "{ids:?}");
        }
    }
}

#[test]
fn deletion_protection_refuses_delete_and_replace() {
    let rs = expand(&spec_with(
        "[edge]\n[edge.alb]\ndeletion_protection = true\n",
    ));
    let obs = observed_all(&rs);
    let plan = plan_of(&[], obs.clone(), true).unwrap();
    let c = plan
        .changes
        .iter()
        .find(|c| c.id == load_balancer_id())
        .unwrap();
    assert_eq!(
        guard(c).as_deref(),
        Some("refused: load_balancer/main (rtech-dev-alb) has deletion protection on; set edge.alb.deletion_protection = false in the spec and apply, then destroy")
    );
    // The listener's delete and an update are not refused.
    let l = plan.changes.iter().find(|c| c.id.kind == LISTENER).unwrap();
    assert_eq!(guard(l), None);
    let mut obs2 = obs;
    set_prop(&mut obs2, &load_balancer_id(), "http2", Value::Bool(false));
    let plan = plan_for(&rs, obs2);
    assert_eq!(guard(&plan.changes[0]), None);
    // Without protection the delete goes ahead.
    let plan = plan_of(&[], observed_all(&expand(&edge_spec())), true).unwrap();
    let c = plan
        .changes
        .iter()
        .find(|c| c.id == load_balancer_id())
        .unwrap();
    assert_eq!(guard(c), None);
}

// --- actions -------------------------------------------------------------------------------------

#[test]
fn actions_round_trip_through_the_sdk_shape() {
    let r = as_value(&redirect_to_https());
    assert_eq!(action_value(&sdk_action_of(&r)), r);
    let w = forward(vec![(Value::str("arn:b"), 10), (Value::str("arn:a"), 90)]);
    let back = action_value(&sdk_action_of(&w));
    // Compared as a set: sorted by ARN.
    assert_eq!(
        back,
        forward(vec![(Value::str("arn:a"), 90), (Value::str("arn:b"), 10)])
    );
    // A plain forward and the same echoed in ForwardConfig read the same.
    let plain = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(TG_ARN)
        .build();
    let echoed = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(TG_ARN)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(TG_ARN)
                        .weight(1)
                        .build(),
                )
                .build(),
        )
        .build();
    assert_eq!(action_value(&plain), action_value(&echoed));
    assert_eq!(action_value(&plain), forward(vec![(Value::str(TG_ARN), 1)]));
}

// --- requests ----------------------------------------------------------------------------------

fn client() -> Client {
    crate::offline_client!(aws_sdk_elasticloadbalancingv2)
}

/// `r` with its references resolved, as apply gets it.
fn resolve(r: &Resource) -> Resource {
    let mut r = r.clone();
    let ids: BTreeMap<String, String> = neighbours()
        .into_iter()
        .map(|o| (o.id.to_string(), o.physical_id))
        .chain([("load_balancer/main".to_string(), LB_ARN.to_string())])
        .collect();
    r.props = r
        .props
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.resolve(&|x| ids.get(&x.resource.to_string()).cloned()),
            )
        })
        .collect();
    r
}

#[test]
fn create_load_balancer_sends_subnets_group_scheme_and_tags() {
    let r = resolve(&lb(&expand(&edge_spec())));
    let req = create_load_balancer_request(&client(), &lb_props(&r)).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_name().as_deref(), Some("rtech-dev-alb"));
    assert_eq!(
        i.get_subnets().clone().unwrap(),
        ["subnet-aaa", "subnet-bbb", "subnet-ccc"]
    );
    assert_eq!(i.get_security_groups().clone().unwrap(), [SG_ID]);
    assert_eq!(
        i.get_scheme(),
        &Some(LoadBalancerSchemeEnum::InternetFacing)
    );
    assert_eq!(i.get_type(), &Some(LoadBalancerTypeEnum::Application));
    assert_eq!(i.get_ip_address_type(), &Some(IpAddressType::Ipv4));
    let tags = tag_map(i.get_tags().as_deref().unwrap());
    assert_eq!(tags, tags_of(&r.props));
}

#[test]
fn the_attributes_are_sent_all_at_once() {
    let r = resolve(&lb(&expand(&edge_spec())));
    let req = attributes_request(&client(), LB_ARN, &lb_props(&r)).unwrap();
    let a: BTreeMap<String, String> = req
        .as_input()
        .get_attributes()
        .clone()
        .unwrap()
        .iter()
        .map(|a| (a.key().unwrap().to_string(), a.value().unwrap().to_string()))
        .collect();
    let want: BTreeMap<String, String> = [
        (ATTR_IDLE_TIMEOUT, "120"),
        (ATTR_HTTP2, "true"),
        (ATTR_DROP_INVALID, "true"),
        (ATTR_DELETION_PROTECTION, "false"),
        (ATTR_ACCESS_LOGS, "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(a, want);
    // With access logs, the bucket goes with them.
    let mut r2 = r.clone();
    r2.props.insert("access_logs".into(), Value::Bool(true));
    r2.props.insert(
        "access_logs_bucket".into(),
        Value::str("rtech-dev-alb-logs"),
    );
    let req = attributes_request(&client(), LB_ARN, &lb_props(&r2)).unwrap();
    let a = req.as_input().get_attributes().clone().unwrap();
    assert!(a.iter().any(
        |x| x.key() == Some(ATTR_ACCESS_LOGS_BUCKET) && x.value() == Some("rtech-dev-alb-logs")
    ));
}

#[test]
fn create_listener_sends_the_301_redirect_to_https() {
    let r = resolve(&http(&expand(&edge_spec())));
    let req = create_listener_request(&client(), &listener_props(&r)).unwrap();
    let i = req.as_input();
    assert_eq!(i.get_load_balancer_arn().as_deref(), Some(LB_ARN));
    assert_eq!(i.get_port(), &Some(80));
    assert_eq!(i.get_protocol(), &Some(ProtocolEnum::Http));
    assert_eq!(i.get_ssl_policy(), &None);
    let acts = i.get_default_actions().clone().unwrap();
    assert_eq!(acts.len(), 1);
    let rc = acts[0].redirect_config().unwrap();
    assert_eq!(
        (rc.protocol(), rc.port(), rc.status_code()),
        (
            Some("HTTPS"),
            Some("443"),
            Some(&RedirectActionStatusCodeEnum::Http301)
        )
    );
    assert_eq!(acts[0].order(), Some(1));
    let tags = tag_map(i.get_tags().as_deref().unwrap());
    assert_eq!(tags["Name"], "rtech-dev-alb:80");
    assert_eq!(tags[TAG_ID], "listener/http");
}

// --- the HTTPS listener --------------------------------------------------------------------------

#[test]
fn the_https_listener_serves_the_issued_certificate_with_the_spec_policy_and_weights() {
    let rs = expand(&edge_spec());
    let l = https(&rs);
    assert_eq!(l.name, "rtech-dev-alb:443");
    assert_eq!(l.props["port"], Value::Int(443));
    assert_eq!(l.props["protocol"], Value::str("HTTPS"));
    assert_eq!(
        l.props["ssl_policy"],
        Value::str(crate::spec::edge::DEFAULT_SSL_POLICY)
    );
    // The certificate once ACM has issued it, so the listener waits for the validation.
    assert_eq!(
        l.props["certificate_arn"],
        Value::reference(&certificate_validation_id(), "arn")
    );
    assert_eq!(
        l.props["default_actions"],
        Value::List(vec![forward(vec![(
            Value::reference(&target_group_id("blue"), "arn"),
            100
        )])])
    );
    for d in [
        load_balancer_id(),
        certificate_validation_id(),
        target_group_id("blue"),
    ] {
        assert!(l.deps.contains(&d), "{d}");
    }
    assert_eq!(tags_of(&l.props)[TAG_ID], "listener/https");

    let s = spec_with(
        "[edge]\nssl_policy = \"ELBSecurityPolicy-TLS-1-2-2017-01\"\n[edge.weights]\nblue = 100\n",
    );
    assert_eq!(
        https(&expand(&s)).props["ssl_policy"],
        Value::str("ELBSecurityPolicy-TLS-1-2-2017-01")
    );
}

#[test]
fn a_weighted_forward_lists_every_colour_with_its_weight() {
    let w: BTreeMap<String, i64> = [("blue".to_string(), 90), ("green".to_string(), 10)].into();
    let v = as_value(&weighted_forward(&w));
    let groups = &v.as_map().unwrap()["forward"].as_map().unwrap()["target_groups"];
    let Value::List(groups) = groups else {
        panic!("{groups:?}")
    };
    let got: Vec<(String, i64)> = groups
        .iter()
        .map(|g| {
            let g = g.as_map().unwrap();
            let Value::Ref(r) = &g["arn"] else {
                panic!("{g:?}")
            };
            (r.resource.to_string(), g["weight"].as_int().unwrap())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("target_group/blue".to_string(), 90),
            ("target_group/green".to_string(), 10)
        ]
    );
}

#[test]
fn an_ssl_policy_downgraded_out_of_band_is_exactly_that_update_and_modify_sends_it_back() {
    let rs = expand(&edge_spec());
    one_drift(
        &rs,
        &listener_id("https"),
        "ssl_policy",
        Value::str("ELBSecurityPolicy-2016-08"),
    );
    let req = modify_listener_request(&client(), L443_ARN, &listener_props(&resolve(&https(&rs))))
        .unwrap();
    let i = req.as_input();
    assert_eq!(
        i.get_ssl_policy().as_deref(),
        Some(crate::spec::edge::DEFAULT_SSL_POLICY)
    );
    let certs = i.get_certificates().clone().unwrap();
    assert_eq!(certs[0].certificate_arn(), Some(CERT_ARN));
}

#[test]
fn create_https_listener_sends_certificate_policy_and_the_weighted_forward() {
    let r = resolve(&https(&expand(&edge_spec())));
    let i = create_listener_request(&client(), &listener_props(&r))
        .unwrap()
        .as_input()
        .clone();
    assert_eq!(i.get_port(), &Some(443));
    assert_eq!(i.get_protocol(), &Some(ProtocolEnum::Https));
    assert_eq!(
        i.get_certificates().clone().unwrap()[0].certificate_arn(),
        Some(CERT_ARN)
    );
    let acts = i.get_default_actions().clone().unwrap();
    let groups = acts[0].forward_config().unwrap().target_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (groups[0].target_group_arn(), groups[0].weight()),
        (Some(TG_ARN), Some(100))
    );
    // What AWS then reports reads back as exactly what the spec asked for.
    let (live, _) = live_https(&https(&expand(&edge_spec())));
    assert_eq!(
        action_value(&live.default_actions()[0]),
        action_value(&acts[0]).clone()
    );
}

#[test]
fn a_changed_certificate_is_an_in_place_update() {
    let rs = expand(&edge_spec());
    one_drift(
        &rs,
        &listener_id("https"),
        "certificate_arn",
        Value::str("arn:aws:acm:us-east-1:123456789012:certificate/old"),
    );
}

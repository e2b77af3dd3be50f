//! The Application Load Balancer and its listeners (issue 5, seed 3.2 and 5.2).
//!
//! `load_balancer/main`: name `{project}-{env}-alb` ([`short_name`]d), internet-facing,
//! type application, IPv4, on the public subnets (`subnet/public-*`) with `sg/alb`.
//! - replaced: name, scheme, type.
//! - updated in place: subnets (SetSubnets), security_groups (SetSecurityGroups),
//!   ip_address_type (SetIpAddressType), the attributes
//!   `idle_timeout_seconds`, `http2`, `drop_invalid_header_fields`, `deletion_protection`,
//!   `access_logs` (+ `access_logs_bucket`) (ModifyLoadBalancerAttributes, all at once), tags.
//! - created, then its attributes set, then waited for until `active`; deleted, then waited for
//!   until gone (its network interfaces hold the subnets and the security group until then).
//! - a load balancer with deletion protection on is never deleted or replaced: the plan says
//!   so ([`guard`]) and apply refuses.
//! - with `access_logs` on it references the log bucket `s3_bucket/alb-logs` (`reconcile::s3`),
//!   and destroy deletes it before that bucket.
//!
//! `listener/http`: port 80, HTTP, default action redirect to HTTPS :443 with status 301
//! (seed 5.2). Found through the load balancer (DescribeListeners on our ARN), ownership by its
//! tags. Replaced when its load balancer is; everything else is one ModifyListener.
//! `listener/https`: port 443, HTTPS, the env's ACM certificate once issued
//! (`certificate_validation/main`'s `arn`), the spec's SSL policy, default action a weighted
//! forward to the app's target groups by colour (`edge.weights`; stickiness off). Policy,
//! certificate and actions are changed in place (ModifyListener). The ECS service depends on
//! it: AWS refuses a service whose target group no listener forwards to.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::operation::create_listener::builders::CreateListenerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::builders::CreateLoadBalancerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::builders::ModifyListenerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_load_balancer_attributes::builders::ModifyLoadBalancerAttributesFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ForwardActionConfig, IpAddressType, Listener,
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupStickinessConfig,
    TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::{elb_tags, owned, short_name, sync_tags, tags_by_arn};
use crate::aws::waited;
use crate::aws::{all_pages, aws, AwsError, Required};
use crate::model::{tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value};
use crate::plan::{Action as PlanAction, Change};
use crate::progress::Task;
use crate::reconcile::Ctx;
use crate::spec::network::Network as NetSpec;
use crate::spec::Spec;

pub const LOAD_BALANCER: &str = "load_balancer";
pub const LISTENER: &str = "listener";

/// How long apply waits for a load balancer to become active or to be deleted.
const WAIT: Duration = Duration::from_secs(15 * 60);

/// The load balancer attributes rtech manages, by property.
const ATTR_IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const ATTR_HTTP2: &str = "routing.http2.enabled";
const ATTR_DROP_INVALID: &str = "routing.http.drop_invalid_header_fields.enabled";
const ATTR_DELETION_PROTECTION: &str = "deletion_protection.enabled";
const ATTR_ACCESS_LOGS: &str = "access_logs.s3.enabled";
const ATTR_ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";

/// Properties that are load balancer attributes.
pub const ATTRIBUTE_PROPS: &[&str] = &[
    "idle_timeout_seconds",
    "http2",
    "drop_invalid_header_fields",
    "deletion_protection",
    "access_logs",
    "access_logs_bucket",
];

/// The listeners rtech manages, by resource name and port. Observe maps a listener on our
/// load balancer to its id by port.
pub const LISTENERS: &[(&str, i32)] = &[("http", 80), ("https", 443)];

/// The certificate the HTTPS listener serves: the env's, once ACM has issued it.
pub fn certificate_validation_id() -> ResourceId {
    ResourceId::new("certificate_validation", "main")
}

pub fn load_balancer_id() -> ResourceId {
    ResourceId::new(LOAD_BALANCER, "main")
}

pub fn listener_id(name: &str) -> ResourceId {
    ResourceId::new(LISTENER, name)
}

/// `{project}-{env}-alb`, shortened to fit ELB's 32 characters.
pub fn load_balancer_name(project: &str, env: &str) -> String {
    short_name(&format!("{project}-{env}-alb"))
}

/// The access-log bucket (`reconcile::s3`).
pub fn access_log_bucket_id() -> ResourceId {
    ResourceId::new("s3_bucket", "alb-logs")
}

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

// ---------------------------------------------------------------------------------------------
// expand

/// Spec → Desired (pure): the load balancer and its listeners, only with `[edge]`.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(edge) = &spec.edge else {
        return vec![];
    };
    let id = load_balancer_id();
    let name = load_balancer_name(&spec.project, &spec.env);
    let tags = tags_for(&spec.project, &spec.env, &id, &name, &spec.tags);
    let subnets = spec
        .network
        .azs
        .iter()
        .map(|az| {
            let s = ResourceId::new("subnet", format!("public-{}", NetSpec::az_suffix(az)));
            Value::reference(&s, "id")
        })
        .collect();
    let alb = &edge.alb;
    let mut lb = Resource::new(id.clone(), &name)
        .prop("name", Value::str(&name))
        .prop("scheme", Value::str("internet-facing"))
        .prop("type", Value::str("application"))
        .prop("ip_address_type", Value::str("ipv4"))
        .prop("subnets", Value::List(subnets))
        .prop(
            "security_groups",
            Value::List(vec![Value::reference(&ResourceId::new("sg", "alb"), "id")]),
        )
        .prop("idle_timeout_seconds", Value::Int(alb.idle_timeout_seconds))
        .prop("http2", Value::Bool(alb.http2))
        .prop(
            "drop_invalid_header_fields",
            Value::Bool(alb.drop_invalid_header_fields),
        )
        .prop("deletion_protection", Value::Bool(alb.deletion_protection))
        .prop("access_logs", Value::Bool(alb.access_logs))
        .prop("tags", Value::string_map(&tags));
    if alb.access_logs {
        lb = lb.prop(
            "access_logs_bucket",
            Value::reference(&access_log_bucket_id(), "name"),
        );
    }
    let http = listener_id("http");
    let http_name = format!("{name}:80");
    let http_tags = tags_for(&spec.project, &spec.env, &http, &http_name, &spec.tags);
    let listener = Resource::new(http, &http_name)
        .prop("load_balancer_arn", Value::reference(&id, "arn"))
        .prop("port", Value::Int(80))
        .prop("protocol", Value::str("HTTP"))
        .prop("default_actions", Value::List(vec![redirect_to_https()]))
        .prop("tags", Value::string_map(&http_tags));
    let https = listener_id("https");
    let https_name = format!("{name}:443");
    let https_tags = tags_for(&spec.project, &spec.env, &https, &https_name, &spec.tags);
    let secure = Resource::new(https, &https_name)
        .prop("load_balancer_arn", Value::reference(&id, "arn"))
        .prop("port", Value::Int(443))
        .prop("protocol", Value::str("HTTPS"))
        .prop("ssl_policy", Value::str(&edge.ssl_policy))
        .prop(
            "certificate_arn",
            Value::reference(&certificate_validation_id(), "arn"),
        )
        .prop(
            "default_actions",
            Value::List(vec![weighted_forward(&edge.weights)]),
        )
        .prop("tags", Value::string_map(&https_tags));
    vec![lb, listener, secure]
}

/// Forward to the app's target groups by colour with the spec's weights (seed 5.2: one
/// colour at 100 today; two for a canary). Groups are listed in colour order.
pub fn weighted_forward(weights: &BTreeMap<String, i64>) -> Value {
    let groups = weights
        .iter()
        .map(|(colour, w)| {
            map([
                (
                    "arn",
                    Value::reference(&super::target_group_id(colour), "arn"),
                ),
                ("weight", Value::Int(*w)),
            ])
        })
        .collect();
    map([
        ("type", Value::str("forward")),
        (
            "forward",
            map([
                ("target_groups", Value::List(groups)),
                ("stickiness", Value::Bool(false)),
            ]),
        ),
    ])
}

/// Seed 5.2: HTTP → HTTPS :443, 301, keeping host, path and query (AWS's defaults, written
/// out so that they compare equal to what AWS reports).
pub fn redirect_to_https() -> Value {
    map([
        ("type", Value::str("redirect")),
        (
            "redirect",
            map([
                ("protocol", Value::str("HTTPS")),
                ("port", Value::str("443")),
                ("host", Value::str("#{host}")),
                ("path", Value::str("/#{path}")),
                ("query", Value::str("#{query}")),
                ("status_code", Value::str("HTTP_301")),
            ]),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

fn attribute<'a>(attrs: &'a [LoadBalancerAttribute], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.key() == Some(key))
        .and_then(|a| a.value())
}

fn bool_attr(attrs: &[LoadBalancerAttribute], key: &str) -> Value {
    match attribute(attrs, key) {
        Some("true") => Value::Bool(true),
        Some("false") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// The desired resource's subnet references, in order.
fn subnet_order(desired: Option<&Resource>) -> Vec<ResourceId> {
    match desired.and_then(|d| d.props.get("subnets")) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Ref(r) => Some(r.resource.clone()),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// A live load balancer → `Observed` in the desired shape (pure). Its subnets are listed in
/// the spec's AZ order (`subnet/public-<az letter>`; AWS promises no order).
pub fn observe_load_balancer(
    lb: &LoadBalancer,
    tags: &BTreeMap<String, String>,
    attributes: &[LoadBalancerAttribute],
    desired: Option<&Resource>,
) -> Observed {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let name = lb.load_balancer_name().unwrap_or_default();
    let order = subnet_order(desired);
    let mut zones: Vec<(ResourceId, String)> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| {
            let suffix = NetSpec::az_suffix(z.zone_name().unwrap_or_default());
            Some((
                ResourceId::new("subnet", format!("public-{suffix}")),
                z.subnet_id()?.to_string(),
            ))
        })
        .collect();
    zones.sort_by_key(|(rid, sid)| {
        (
            order.iter().position(|x| x == rid).unwrap_or(usize::MAX),
            sid.clone(),
        )
    });
    let mut sgs: Vec<&str> = lb.security_groups().iter().map(String::as_str).collect();
    sgs.sort();
    let access_logs = bool_attr(attributes, ATTR_ACCESS_LOGS);
    let mut o = Observed::new(load_balancer_id(), arn)
        .prop("name", Value::str(name))
        .prop(
            "scheme",
            Value::opt_str(lb.scheme().map(LoadBalancerSchemeEnum::as_str)),
        )
        .prop(
            "type",
            Value::opt_str(lb.r#type().map(LoadBalancerTypeEnum::as_str)),
        )
        .prop(
            "ip_address_type",
            Value::opt_str(lb.ip_address_type().map(IpAddressType::as_str)),
        )
        .prop(
            "subnets",
            Value::List(zones.iter().map(|(_, s)| Value::str(s)).collect()),
        )
        .prop(
            "security_groups",
            Value::List(sgs.into_iter().map(Value::str).collect()),
        )
        .prop(
            "idle_timeout_seconds",
            attribute(attributes, ATTR_IDLE_TIMEOUT)
                .and_then(|v| v.parse::<i64>().ok())
                .map(Value::Int)
                .unwrap_or(Value::Null),
        )
        .prop("http2", bool_attr(attributes, ATTR_HTTP2))
        .prop(
            "drop_invalid_header_fields",
            bool_attr(attributes, ATTR_DROP_INVALID),
        )
        .prop(
            "deletion_protection",
            bool_attr(attributes, ATTR_DELETION_PROTECTION),
        )
        .prop("tags", Value::string_map(tags))
        // Deleted before the subnets and the security group its interfaces use.
        .dep(&ResourceId::new("sg", "alb"));
    if access_logs == Value::Bool(true) {
        // Destroy deletes the load balancer before the bucket it writes to.
        o = o.dep(&access_log_bucket_id()).prop(
            "access_logs_bucket",
            Value::opt_str(
                attribute(attributes, ATTR_ACCESS_LOGS_BUCKET).filter(|b| !b.is_empty()),
            ),
        );
    }
    o = o.prop("access_logs", access_logs);
    for (rid, _) in &zones {
        o.deps.insert(rid.clone());
    }
    o.attrs = load_balancer_attrs(lb);
    o
}

/// What dependants reference: the ARN (listeners), the DNS name and hosted zone id (Route 53
/// aliases, the CloudFront origin).
pub fn load_balancer_attrs(lb: &LoadBalancer) -> Attrs {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    // CloudWatch's `LoadBalancer` dimension: `app/<name>/<id>`.
    a.insert("arn_suffix".into(), super::arn_suffix(arn, "loadbalancer/"));
    a.insert(
        "name".into(),
        lb.load_balancer_name().unwrap_or_default().to_string(),
    );
    a.insert(
        "dns_name".into(),
        lb.dns_name().unwrap_or_default().to_string(),
    );
    a.insert(
        "zone_id".into(),
        lb.canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
    );
    a
}

/// One listener action in the desired shape. A forward is read from its ForwardConfig when
/// AWS gives one (it does for weighted forwards, and echoes single ones there too), else from
/// the plain TargetGroupArn (weight 1).
pub fn action_value(a: &Action) -> Value {
    let kind = a.r#type().map(ActionTypeEnum::as_str).unwrap_or_default();
    let mut m = BTreeMap::new();
    m.insert("type".to_string(), Value::str(kind));
    if let Some(r) = a.redirect_config() {
        m.insert(
            "redirect".into(),
            map([
                ("protocol", Value::opt_str(r.protocol())),
                ("port", Value::opt_str(r.port())),
                ("host", Value::opt_str(r.host())),
                ("path", Value::opt_str(r.path())),
                ("query", Value::opt_str(r.query())),
                (
                    "status_code",
                    Value::opt_str(r.status_code().map(RedirectActionStatusCodeEnum::as_str)),
                ),
            ]),
        );
    }
    if kind == "forward" {
        let mut groups: Vec<(String, i64)> = match a.forward_config() {
            Some(f) if !f.target_groups().is_empty() => f
                .target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        t.weight().unwrap_or(1) as i64,
                    )
                })
                .collect(),
            _ => a
                .target_group_arn()
                .map(|arn| vec![(arn.to_string(), 1)])
                .unwrap_or_default(),
        };
        groups.sort();
        let stickiness = a
            .forward_config()
            .and_then(ForwardActionConfig::target_group_stickiness_config)
            .and_then(TargetGroupStickinessConfig::enabled)
            .unwrap_or(false);
        m.insert(
            "forward".into(),
            map([
                (
                    "target_groups",
                    Value::List(
                        groups
                            .into_iter()
                            .map(|(arn, w)| {
                                map([("arn", Value::Str(arn)), ("weight", Value::Int(w))])
                            })
                            .collect(),
                    ),
                ),
                ("stickiness", Value::Bool(stickiness)),
            ]),
        );
    }
    if let Some(f) = a.fixed_response_config() {
        m.insert(
            "fixed_response".into(),
            map([
                ("status_code", Value::opt_str(f.status_code())),
                ("content_type", Value::opt_str(f.content_type())),
                ("message_body", Value::opt_str(f.message_body())),
            ]),
        );
    }
    Value::Map(m)
}

/// A live listener → `Observed` (pure).
pub fn observe_listener(
    id: &ResourceId,
    l: &Listener,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let arn = l.listener_arn().unwrap_or_default();
    let mut actions: Vec<&Action> = l.default_actions().iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    let mut o = Observed::new(id.clone(), arn)
        .prop("load_balancer_arn", Value::opt_str(l.load_balancer_arn()))
        .prop(
            "port",
            l.port()
                .map(|p| Value::Int(p as i64))
                .unwrap_or(Value::Null),
        )
        .prop(
            "protocol",
            Value::opt_str(l.protocol().map(ProtocolEnum::as_str)),
        )
        .prop(
            "default_actions",
            Value::List(actions.into_iter().map(action_value).collect()),
        )
        .prop("tags", Value::string_map(tags))
        .dep(&load_balancer_id());
    if let Some(p) = l.ssl_policy() {
        o = o.prop("ssl_policy", Value::str(p));
    }
    // The default certificate (AWS lists only that one here). Destroy deletes the listener
    // before its certificate and the target groups it forwards to.
    if let Some(c) = l.certificates().iter().find_map(|c| c.certificate_arn()) {
        o = o
            .prop("certificate_arn", Value::str(c))
            .dep(&certificate_validation_id())
            .dep(&ResourceId::new("certificate", "main"));
    }
    for colour in super::COLOURS {
        o = o.dep(&super::target_group_id(colour));
    }
    o.attrs.insert("arn".into(), arn.to_string());
    o
}

fn foreign(id: &ResourceId, physical: &str) -> Observed {
    let mut o = Observed::new(id.clone(), physical);
    o.ownership = Ownership::Foreign;
    o
}

/// Sort what observe read into ours and foreign (pure). `lb` is the load balancer under our
/// name (if any), `listeners` its listeners, `tags` by ARN.
pub fn classify(
    project: &str,
    env: &str,
    lb: Option<&LoadBalancer>,
    listeners: &[Listener],
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    attributes: &[LoadBalancerAttribute],
    desired: Option<&Resource>,
) -> Vec<Observed> {
    let Some(lb) = lb else {
        return vec![];
    };
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let id = load_balancer_id();
    let t = tags.get(arn).cloned().unwrap_or_default();
    if !owned(project, env, &id, &t) {
        // Not ours: neither it nor its listeners are ever touched.
        return vec![foreign(&id, arn)];
    }
    let mut out = vec![observe_load_balancer(lb, &t, attributes, desired)];
    for l in listeners {
        let larn = l.listener_arn().unwrap_or_default();
        let lt = tags.get(larn).cloned().unwrap_or_default();
        let by_port = LISTENERS
            .iter()
            .find(|(_, p)| Some(*p) == l.port())
            .map(|(n, _)| listener_id(n));
        let by_tag = lt
            .get(crate::model::TAG_ID)
            .and_then(|s| s.parse::<ResourceId>().ok())
            .filter(|i| i.kind == LISTENER);
        match (by_tag, by_port) {
            (Some(tid), _) if owned(project, env, &tid, &lt) => {
                out.push(observe_listener(&tid, l, &lt))
            }
            // A listener on a port we want, without our tags: foreign.
            (_, Some(pid)) => out.push(foreign(&pid, larn)),
            // Someone else's listener on another port of our load balancer: not ours.
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// observe: the calls

/// The load balancer under our name, its listeners, their tags and its attributes: four calls
/// (one when there is none).
pub async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let c = &ctx.clients.elbv2;
    let name = desired
        .iter()
        .find(|r| r.id.kind == LOAD_BALANCER)
        .and_then(|r| r.get_str("name"))
        .map(str::to_string)
        .unwrap_or_else(|| load_balancer_name(&ctx.project, &ctx.env));
    let lbs = match all_pages!(
        c.describe_load_balancers().names(&name),
        "elbv2:DescribeLoadBalancers"
    ) {
        Ok(v) => v,
        Err(e) if e.is_not_found() => vec![],
        Err(e) => return Err(e),
    };
    let Some(lb) = lbs
        .iter()
        .find(|l| l.load_balancer_name() == Some(name.as_str()))
    else {
        return Ok(vec![]);
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let listeners = all_pages!(
        c.describe_listeners().load_balancer_arn(&arn),
        "elbv2:DescribeListeners"
    )?;
    let mut arns = vec![arn.clone()];
    arns.extend(
        listeners
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string)),
    );
    let tags = tags_by_arn(c, &arns).await?;
    let lb_tags = tags.get(&arn).cloned().unwrap_or_default();
    let attributes = if owned(&ctx.project, &ctx.env, &load_balancer_id(), &lb_tags) {
        c.describe_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .send()
            .await
            .map_err(aws("elbv2:DescribeLoadBalancerAttributes"))?
            .attributes()
            .to_vec()
    } else {
        vec![]
    };
    let desired_lb = desired.iter().find(|r| r.id.kind == LOAD_BALANCER);
    Ok(classify(
        &ctx.project,
        &ctx.env,
        Some(lb),
        &listeners,
        &tags,
        &attributes,
        desired_lb,
    ))
}

// ---------------------------------------------------------------------------------------------
// guard

/// A load balancer with deletion protection on is never deleted or replaced: AWS would refuse
/// the delete halfway through an apply; the plan says so up front.
pub fn guard(change: &Change) -> Option<String> {
    if change.id.kind != LOAD_BALANCER
        || !matches!(change.action, PlanAction::Delete | PlanAction::Replace)
    {
        return None;
    }
    let prior = change.prior.as_ref()?;
    if prior.props.get("deletion_protection") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(format!(
        "refused: {} ({}) has deletion protection on; set edge.alb.deletion_protection = false in the spec and apply, then destroy",
        change.id,
        prior.get_str("name").unwrap_or(&prior.physical_id)
    ))
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

pub fn create_load_balancer_request(c: &Client, r: &Resource) -> CreateLoadBalancerFluentBuilder {
    c.create_load_balancer()
        .name(r.get_str("name").unwrap_or_default())
        .set_subnets(Some(strings(r.props.get("subnets"))))
        .set_security_groups(Some(strings(r.props.get("security_groups"))))
        .scheme(LoadBalancerSchemeEnum::from(
            r.get_str("scheme").unwrap_or("internet-facing"),
        ))
        .r#type(LoadBalancerTypeEnum::from(
            r.get_str("type").unwrap_or("application"),
        ))
        .ip_address_type(IpAddressType::from(
            r.get_str("ip_address_type").unwrap_or("ipv4"),
        ))
        .set_tags(Some(elb_tags(&tags_of(&r.props))))
}

/// Every managed attribute at once (ModifyLoadBalancerAttributes leaves others alone).
pub fn attributes_request(
    c: &Client,
    arn: &str,
    r: &Resource,
) -> ModifyLoadBalancerAttributesFluentBuilder {
    let b = |k: &str| {
        r.props
            .get(k)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string()
    };
    let attr = |k: &str, v: String| LoadBalancerAttribute::builder().key(k).value(v).build();
    let mut req = c
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .attributes(attr(
            ATTR_IDLE_TIMEOUT,
            r.props
                .get("idle_timeout_seconds")
                .and_then(Value::as_int)
                .unwrap_or(60)
                .to_string(),
        ))
        .attributes(attr(ATTR_HTTP2, b("http2")))
        .attributes(attr(ATTR_DROP_INVALID, b("drop_invalid_header_fields")))
        .attributes(attr(ATTR_DELETION_PROTECTION, b("deletion_protection")))
        .attributes(attr(ATTR_ACCESS_LOGS, b("access_logs")));
    if let Some(bucket) = r.get_str("access_logs_bucket") {
        req = req.attributes(attr(ATTR_ACCESS_LOGS_BUCKET, bucket.to_string()));
    }
    req
}

/// A desired action (the `default_actions` shape) → the SDK's.
pub fn sdk_action(v: &Value, order: i32) -> Action {
    let m = v.as_map().cloned().unwrap_or_default();
    let s =
        |m: &BTreeMap<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let kind = s(&m, "type").unwrap_or_default();
    let mut a = Action::builder()
        .r#type(ActionTypeEnum::from(kind.as_str()))
        .order(order);
    if let Some(r) = m.get("redirect").and_then(Value::as_map) {
        a = a.redirect_config(
            RedirectActionConfig::builder()
                .set_protocol(s(r, "protocol"))
                .set_port(s(r, "port"))
                .set_host(s(r, "host"))
                .set_path(s(r, "path"))
                .set_query(s(r, "query"))
                .set_status_code(
                    s(r, "status_code").map(|c| RedirectActionStatusCodeEnum::from(c.as_str())),
                )
                .build(),
        );
    }
    if let Some(f) = m.get("forward").and_then(Value::as_map) {
        let groups = match f.get("target_groups") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(Value::as_map)
                .map(|g| {
                    TargetGroupTuple::builder()
                        .set_target_group_arn(s(g, "arn"))
                        .set_weight(g.get("weight").and_then(Value::as_int).map(|w| w as i32))
                        .build()
                })
                .collect(),
            _ => vec![],
        };
        a = a.forward_config(
            ForwardActionConfig::builder()
                .set_target_groups(Some(groups))
                .target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(
                            f.get("stickiness")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        )
                        .build(),
                )
                .build(),
        );
    }
    a.build()
}

fn sdk_actions(r: &Resource) -> Vec<Action> {
    match r.props.get("default_actions") {
        Some(Value::List(l)) => l
            .iter()
            .enumerate()
            .map(|(i, v)| sdk_action(v, i as i32 + 1))
            .collect(),
        _ => vec![],
    }
}

fn port(r: &Resource) -> Option<i32> {
    r.props
        .get("port")
        .and_then(Value::as_int)
        .map(|p| p as i32)
}

pub fn create_listener_request(c: &Client, r: &Resource) -> CreateListenerFluentBuilder {
    c.create_listener()
        .set_load_balancer_arn(r.get_str("load_balancer_arn").map(str::to_string))
        .set_port(port(r))
        .protocol(ProtocolEnum::from(r.get_str("protocol").unwrap_or("HTTP")))
        .set_ssl_policy(r.get_str("ssl_policy").map(str::to_string))
        .set_certificates(certificates(r))
        .set_default_actions(Some(sdk_actions(r)))
        .set_tags(Some(elb_tags(&tags_of(&r.props))))
}

fn certificates(r: &Resource) -> Option<Vec<Certificate>> {
    r.get_str("certificate_arn")
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Port, protocol and default actions at once.
pub fn modify_listener_request(c: &Client, arn: &str, r: &Resource) -> ModifyListenerFluentBuilder {
    c.modify_listener()
        .listener_arn(arn)
        .set_port(port(r))
        .protocol(ProtocolEnum::from(r.get_str("protocol").unwrap_or("HTTP")))
        .set_ssl_policy(r.get_str("ssl_policy").map(str::to_string))
        .set_certificates(certificates(r))
        .set_default_actions(Some(sdk_actions(r)))
}

// ---------------------------------------------------------------------------------------------
// apply

pub async fn create_load_balancer(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.elbv2;
    let name = r.get_str("name").unwrap_or_default();
    task.status(&format!("creating load balancer {name}"));
    let out = create_load_balancer_request(c, r)
        .send()
        .await
        .map_err(aws("elbv2:CreateLoadBalancer"))?;
    let arn = out
        .load_balancers()
        .first()
        .and_then(LoadBalancer::load_balancer_arn)
        .required(
            "elbv2:CreateLoadBalancer",
            format!("no load balancer ARN returned for {name}"),
        )?
        .to_string();
    attributes_request(c, &arn, r)
        .send()
        .await
        .map_err(aws("elbv2:ModifyLoadBalancerAttributes"))?;
    wait_active(ctx, &arn, name, task).await
}

/// Wait until the load balancer is `active`; return its fresh attributes.
async fn wait_active(ctx: &Ctx, arn: &str, name: &str, task: &Task) -> Result<Attrs, AwsError> {
    task.status(&format!(
        "waiting for load balancer {name} to become active (minutes on AWS)"
    ));
    let done = ctx
        .clients
        .elbv2
        .wait_until_load_balancer_available()
        .load_balancer_arns(arn)
        .wait(WAIT)
        .await
        .map_err(waited(
            "elbv2:DescribeLoadBalancers",
            format!("{name} to become active"),
        ))?;
    let out = done
        .into_result()
        .map_err(aws("elbv2:DescribeLoadBalancers"))?;
    out.load_balancers()
        .first()
        .map(load_balancer_attrs)
        .ok_or_else(|| {
            AwsError::new(
                "elbv2:DescribeLoadBalancers",
                "LoadBalancerNotFound",
                format!("{name} vanished while rtech waited for it"),
            )
        })
}

pub async fn update_load_balancer(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.elbv2;
    let arn = prior.physical_id.as_str();
    if changed.contains("subnets") {
        task.status("setting the subnets");
        c.set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(strings(r.props.get("subnets"))))
            .send()
            .await
            .map_err(aws("elbv2:SetSubnets"))?;
    }
    if changed.contains("ip_address_type") {
        task.status("setting the IP address type");
        c.set_ip_address_type()
            .load_balancer_arn(arn)
            .ip_address_type(IpAddressType::from(
                r.get_str("ip_address_type").unwrap_or("ipv4"),
            ))
            .send()
            .await
            .map_err(aws("elbv2:SetIpAddressType"))?;
    }
    if changed.contains("security_groups") {
        task.status("setting the security groups");
        c.set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(strings(r.props.get("security_groups"))))
            .send()
            .await
            .map_err(aws("elbv2:SetSecurityGroups"))?;
    }
    if ATTRIBUTE_PROPS.iter().any(|p| changed.contains(*p)) {
        task.status("modifying the attributes");
        attributes_request(c, arn, r)
            .send()
            .await
            .map_err(aws("elbv2:ModifyLoadBalancerAttributes"))?;
    }
    if changed.contains("tags") {
        sync_tags(c, arn, prior, r).await?;
    }
    let mut a = prior.attrs.clone();
    if ["subnets", "security_groups", "ip_address_type"]
        .iter()
        .any(|p| changed.contains(*p))
    {
        a = wait_active(ctx, arn, prior.get_str("name").unwrap_or_default(), task).await?;
    }
    Ok(a)
}

pub async fn delete_load_balancer(ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
    let c = &ctx.clients.elbv2;
    let arn = o.physical_id.as_str();
    let name = o.get_str("name").unwrap_or(arn).to_string();
    match c
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(aws("elbv2:DeleteLoadBalancer"))
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    }
    task.status(&format!(
        "waiting for load balancer {name} to be deleted (its network interfaces go with it)"
    ));
    c.wait_until_load_balancers_deleted()
        .load_balancer_arns(arn)
        .wait(WAIT)
        .await
        .map(|_| ())
        .map_err(waited(
            "elbv2:DescribeLoadBalancers",
            format!("{name} to be deleted"),
        ))
}

fn listener_attrs(arn: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a
}

pub async fn create_listener(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    task.status(&format!("creating listener {}", r.name));
    let out = create_listener_request(&ctx.clients.elbv2, r)
        .send()
        .await
        .map_err(aws("elbv2:CreateListener"))?;
    let arn = out
        .listeners()
        .first()
        .and_then(Listener::listener_arn)
        .required(
            "elbv2:CreateListener",
            format!("no listener ARN returned for {}", r.name),
        )?;
    Ok(listener_attrs(arn))
}

pub async fn update_listener(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let c = &ctx.clients.elbv2;
    let arn = prior.physical_id.as_str();
    if changed.iter().any(|p| p != "tags") {
        task.status("modifying the listener");
        modify_listener_request(c, arn, r)
            .send()
            .await
            .map_err(aws("elbv2:ModifyListener"))?;
    }
    if changed.contains("tags") {
        sync_tags(c, arn, prior, r).await?;
    }
    Ok(listener_attrs(arn))
}

pub async fn delete_listener(ctx: &Ctx, o: &Observed) -> Result<(), AwsError> {
    match ctx
        .clients
        .elbv2
        .delete_listener()
        .listener_arn(&o.physical_id)
        .send()
        .await
        .map_err(aws("elbv2:DeleteListener"))
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
#[path = "alb_tests.rs"]
mod tests;

//! The load balancer's listeners, only with `[edge]`.
//!
//! `listener/http`: port 80, HTTP, default action a redirect to HTTPS :443 with status 301,
//! keeping host, path and query. Found through the load balancer (DescribeListeners on our
//! ARN, in `load_balancer::observe`), ownership by its tags. Replaced when its load balancer
//! is; everything else is one ModifyListener.
//! `listener/https`: port 443, HTTPS, the env's ACM certificate once issued
//! (`certificate_validation/main`'s `arn`), the spec's SSL policy, default action a weighted
//! forward to the app's target groups by colour (`edge.weights`; stickiness off). Policy,
//! certificate and actions are changed in place (ModifyListener). The ECS service depends on
//! it: AWS refuses a service whose target group no listener forwards to.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::operation::create_listener::builders::CreateListenerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::builders::ModifyListenerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ForwardActionConfig,
    Listener as SdkListener, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
    TargetGroupStickinessConfig, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde::{Deserialize, Serialize};

use super::load_balancer::{certificate_validation_id, load_balancer_id};
use super::{elb_tags, existing_at, target_group_id, ElbTags, COLOURS};
use crate::aws::{aws, AwsError, Required};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, sync_tags, to_props, Existing, Link, PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::edge::Edge;
use crate::spec::Spec;

pub const LISTENER: &str = "listener";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(LISTENER, &["load_balancer_arn"]);

/// The listeners rtech manages, by resource name and port. Observe maps a listener on our
/// load balancer to its id by port.
pub const LISTENERS: &[(&str, i32)] = &[("http", 80), ("https", 443)];

/// A listener's properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerProps {
    pub load_balancer_arn: Option<Link>,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    /// HTTPS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// HTTPS only: the default certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Link>,
    /// In order (the first is action 1).
    pub default_actions: Vec<ListenerAction>,
    pub tags: BTreeMap<String, String>,
}

/// One listener action; the config of its type alone is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerAction {
    #[serde(rename = "type")]
    pub action_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_response: Option<FixedResponse>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    pub protocol: Option<String>,
    pub port: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub status_code: Option<String>,
}

/// A forward to target groups with weights, compared as a set (sorted by ARN when observed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    pub target_groups: Vec<WeightedGroup>,
    pub stickiness: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedGroup {
    pub arn: Link,
    pub weight: i64,
}

/// A fixed response: the HTTPS listener's default with CloudFront (403: the request did not
/// come through CloudFront; the production rule forwards those that did).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedResponse {
    pub status_code: Option<String>,
    pub content_type: Option<String>,
    pub message_body: Option<String>,
}

pub fn listener_id(name: &str) -> ResourceId {
    ResourceId::new(LISTENER, name)
}

// ---------------------------------------------------------------------------------------------
// expand

/// The HTTP and HTTPS listeners of the load balancer named `lb_name` (pure).
pub fn expand_listeners(spec: &Spec, edge: &Edge, lb_name: &str) -> Vec<Resource> {
    let lb = load_balancer_id();
    let listener = |name: &str, port: i64, props: ListenerProps| {
        let id = listener_id(name);
        let full = format!("{lb_name}:{port}");
        let props = ListenerProps {
            tags: tags_for(&spec.project, &spec.env, &id, &full, &spec.tags),
            ..props
        };
        to_props(&props)
            .into_iter()
            .fold(Resource::new(id, &full), |r, (k, v)| r.prop(&k, v))
    };
    let http = ListenerProps {
        load_balancer_arn: Some(Link::to(&lb, "arn")),
        port: Some(80),
        protocol: Some("HTTP".into()),
        ssl_policy: None,
        certificate_arn: None,
        default_actions: vec![redirect_to_https()],
        tags: BTreeMap::new(),
    };
    let https = ListenerProps {
        port: Some(443),
        protocol: Some("HTTPS".into()),
        ssl_policy: Some(edge.ssl_policy.clone()),
        certificate_arn: Some(Link::to(&certificate_validation_id(), "arn")),
        default_actions: vec![if edge.cloudfront.is_some() {
            forbidden()
        } else {
            weighted_forward(&default_weights(spec, edge))
        }],
        ..http.clone()
    };
    vec![listener("http", 80, http), listener("https", 443, https)]
}

/// The default action's weights: the spec's with a rolling deployment; blue alone when ECS
/// shifts traffic on the production rule (`listener_rule`), which catches every path first.
pub fn default_weights(spec: &Spec, edge: &Edge) -> BTreeMap<String, i64> {
    let shifts = spec
        .app
        .as_ref()
        .is_some_and(|a| a.deploy.strategy.shifts_traffic());
    if shifts {
        BTreeMap::from([(COLOURS[0].to_string(), 100)])
    } else {
        edge.weights.clone()
    }
}

/// Forward to the app's target groups by colour with the spec's weights (one colour at 100
/// today; two for a canary). Groups are listed in colour order.
pub fn weighted_forward(weights: &BTreeMap<String, i64>) -> ListenerAction {
    ListenerAction {
        action_type: "forward".into(),
        redirect: None,
        forward: Some(Forward {
            target_groups: weights
                .iter()
                .map(|(colour, w)| WeightedGroup {
                    arn: Link::to(&target_group_id(colour), "arn"),
                    weight: *w,
                })
                .collect(),
            stickiness: false,
        }),
        fixed_response: None,
    }
}

/// 403 with a plain-text body: what a request that did not come through CloudFront gets.
pub fn forbidden() -> ListenerAction {
    ListenerAction {
        action_type: "fixed-response".into(),
        redirect: None,
        forward: None,
        fixed_response: Some(FixedResponse {
            status_code: Some("403".into()),
            content_type: Some("text/plain".into()),
            message_body: Some("Forbidden".into()),
        }),
    }
}

/// HTTP → HTTPS :443, 301, keeping host, path and query (AWS's defaults, written out so that
/// they compare equal to what AWS reports).
pub fn redirect_to_https() -> ListenerAction {
    let s = |v: &str| Some(v.to_string());
    ListenerAction {
        action_type: "redirect".into(),
        redirect: Some(Redirect {
            protocol: s("HTTPS"),
            port: s("443"),
            host: s("#{host}"),
            path: s("/#{path}"),
            query: s("#{query}"),
            status_code: s("HTTP_301"),
        }),
        forward: None,
        fixed_response: None,
    }
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

/// One listener action in the desired shape. A forward is read from its ForwardConfig when
/// AWS gives one (it does for weighted forwards, and echoes single ones there too), else from
/// the plain TargetGroupArn (weight 1).
pub fn action_props(a: &Action) -> ListenerAction {
    let kind = a.r#type().map(ActionTypeEnum::as_str).unwrap_or_default();
    let s = |v: Option<&str>| v.map(str::to_string);
    let redirect = a.redirect_config().map(|r| Redirect {
        protocol: s(r.protocol()),
        port: s(r.port()),
        host: s(r.host()),
        path: s(r.path()),
        query: s(r.query()),
        status_code: s(r.status_code().map(RedirectActionStatusCodeEnum::as_str)),
    });
    let forward = (kind == "forward").then(|| {
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
        Forward {
            target_groups: groups
                .into_iter()
                .map(|(arn, weight)| WeightedGroup {
                    arn: Link::Known(arn),
                    weight,
                })
                .collect(),
            stickiness: a
                .forward_config()
                .and_then(ForwardActionConfig::target_group_stickiness_config)
                .and_then(TargetGroupStickinessConfig::enabled)
                .unwrap_or(false),
        }
    });
    let fixed_response = a.fixed_response_config().map(|f| FixedResponse {
        status_code: s(f.status_code()),
        content_type: s(f.content_type()),
        message_body: s(f.message_body()),
    });
    ListenerAction {
        action_type: kind.to_string(),
        redirect,
        forward,
        fixed_response,
    }
}

/// A live listener → `Observed` (pure).
pub fn observe_listener(
    id: &ResourceId,
    l: &SdkListener,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let arn = l.listener_arn().unwrap_or_default();
    let mut actions: Vec<&Action> = l.default_actions().iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    // The default certificate (AWS lists only that one here).
    let certificate = l.certificates().iter().find_map(|c| c.certificate_arn());
    let props = ListenerProps {
        load_balancer_arn: l.load_balancer_arn().map(Link::from),
        port: l.port().map(i64::from),
        protocol: l.protocol().map(|p| p.as_str().to_string()),
        ssl_policy: l.ssl_policy().map(str::to_string),
        certificate_arn: certificate.map(Link::from),
        default_actions: actions.into_iter().map(action_props).collect(),
        tags: tags.clone(),
    };
    let mut o = Observed::new(id.clone(), arn).dep(&load_balancer_id());
    if certificate.is_some() {
        // Destroy deletes the listener before its certificate.
        o = o
            .dep(&certificate_validation_id())
            .dep(&ResourceId::new("certificate", "main"));
    }
    // And before the target groups it forwards to.
    for colour in COLOURS {
        o = o.dep(&target_group_id(colour));
    }
    o.props = to_props(&props);
    o.attrs.insert("arn".into(), arn.to_string());
    o
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

/// A desired action → the SDK's.
pub fn sdk_action(a: &ListenerAction, order: i32) -> Result<Action, PropsError> {
    let mut b = Action::builder()
        .r#type(ActionTypeEnum::from(a.action_type.as_str()))
        .order(order);
    if let Some(r) = &a.redirect {
        b = b.redirect_config(
            RedirectActionConfig::builder()
                .set_protocol(r.protocol.clone())
                .set_port(r.port.clone())
                .set_host(r.host.clone())
                .set_path(r.path.clone())
                .set_query(r.query.clone())
                .set_status_code(
                    r.status_code
                        .as_deref()
                        .map(RedirectActionStatusCodeEnum::from),
                )
                .build(),
        );
    }
    if let Some(f) = &a.fixed_response {
        b = b.fixed_response_config(
            FixedResponseActionConfig::builder()
                .set_status_code(f.status_code.clone())
                .set_content_type(f.content_type.clone())
                .set_message_body(f.message_body.clone())
                .build(),
        );
    }
    if let Some(f) = &a.forward {
        let groups = f
            .target_groups
            .iter()
            .map(|g| {
                Ok(TargetGroupTuple::builder()
                    .target_group_arn(g.arn.require("default_actions.forward.arn")?)
                    .weight(g.weight as i32)
                    .build())
            })
            .collect::<Result<Vec<_>, PropsError>>()?;
        b = b.forward_config(
            ForwardActionConfig::builder()
                .set_target_groups(Some(groups))
                .target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(f.stickiness)
                        .build(),
                )
                .build(),
        );
    }
    Ok(b.build())
}

fn sdk_actions(p: &ListenerProps) -> Result<Vec<Action>, PropsError> {
    p.default_actions
        .iter()
        .enumerate()
        .map(|(i, a)| sdk_action(a, i as i32 + 1))
        .collect()
}

fn certificates(p: &ListenerProps) -> Result<Option<Vec<Certificate>>, PropsError> {
    match &p.certificate_arn {
        Some(l) => Ok(Some(vec![Certificate::builder()
            .certificate_arn(l.require("certificate_arn")?)
            .build()])),
        None => Ok(None),
    }
}

pub fn create_listener_request(
    c: &Client,
    p: &ListenerProps,
) -> Result<CreateListenerFluentBuilder, PropsError> {
    let lb = match &p.load_balancer_arn {
        Some(l) => Some(l.require("load_balancer_arn")?.to_string()),
        None => None,
    };
    Ok(c.create_listener()
        .set_load_balancer_arn(lb)
        .set_port(p.port.map(|n| n as i32))
        .set_protocol(p.protocol.as_deref().map(ProtocolEnum::from))
        .set_ssl_policy(p.ssl_policy.clone())
        .set_certificates(certificates(p)?)
        .set_default_actions(Some(sdk_actions(p)?))
        .set_tags(Some(elb_tags(&p.tags))))
}

/// Port, protocol, policy, certificate and default actions at once.
pub fn modify_listener_request(
    c: &Client,
    arn: &str,
    p: &ListenerProps,
) -> Result<ModifyListenerFluentBuilder, PropsError> {
    Ok(c.modify_listener()
        .listener_arn(arn)
        .set_port(p.port.map(|n| n as i32))
        .set_protocol(p.protocol.as_deref().map(ProtocolEnum::from))
        .set_ssl_policy(p.ssl_policy.clone())
        .set_certificates(certificates(p)?)
        .set_default_actions(Some(sdk_actions(p)?)))
}

fn listener_attrs(arn: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a
}

// ---------------------------------------------------------------------------------------------
// apply

pub struct Listener;

#[async_trait]
impl Kind for Listener {
    crate::typed_kind!(SCHEMA, ListenerProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        task.status(&format!("creating listener {}", r.name));
        let p: &ListenerProps = &from_props(&r.props)?;
        let c = &ctx.clients.elbv2;
        let create = async {
            let out = create_listener_request(c, p)?
                .send()
                .await
                .map_err(aws("elbv2:CreateListener"))?;
            Ok(out
                .listeners()
                .first()
                .and_then(SdkListener::listener_arn)
                .required(
                    "elbv2:CreateListener",
                    format!("no listener ARN returned for {}", r.name),
                )?
                .to_string())
        };
        // A port holds one listener (AWS answers a repeated create with identical settings
        // with the same listener; other settings are DuplicateListener): the one on our port
        // is adopted when it is ours, its settings then the next plan's update.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let lb = match &p.load_balancer_arn {
                Some(l) => l.require("load_balancer_arn")?.to_string(),
                None => return Ok(Existing::Missing),
            };
            let out = found(
                c.describe_listeners()
                    .load_balancer_arn(lb)
                    .send()
                    .await
                    .map_err(aws("elbv2:DescribeListeners")),
            )?;
            let on_port = out.and_then(|o| {
                o.listeners()
                    .iter()
                    .find(|l| l.port().map(i64::from) == p.port)
                    .cloned()
            });
            existing_at(ctx, r, on_port.as_ref().and_then(|l| l.listener_arn())).await
        })
        .await?;
        Ok(listener_attrs(&arn))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &ListenerProps = &from_props(&u.desired.props)?;
        let c = &ctx.clients.elbv2;
        let arn = prior.physical_id.as_str();
        if changed.iter().any(|k| k != "tags") {
            task.status("modifying the listener");
            modify_listener_request(c, arn, p)?
                .send()
                .await
                .map_err(aws("elbv2:ModifyListener"))?;
        }
        if changed.contains("tags") {
            let before = from_props::<ListenerProps>(&prior.props)?;
            sync_tags(&ElbTags(c), arn, &before.tags, &p.tags).await?;
        }
        Ok(listener_attrs(arn))
    }
    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .elbv2
                .delete_listener()
                .listener_arn(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("elbv2:DeleteListener")),
        )
    }
}

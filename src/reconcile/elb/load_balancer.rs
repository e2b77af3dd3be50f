//! `load_balancer/main`: the Application Load Balancer, only with `[edge]`. Name
//! `{project}-{env}-alb` ([`short_name`]d), internet-facing, type application, IPv4, on the
//! public subnets (`subnet/public-*`) with `sg/alb`.
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
//! - observed by name with its listeners (`elb::observe_edge`): the load balancer, its
//!   listeners, their tags and its attributes in four calls (one when there is none).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::builders::CreateLoadBalancerFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_load_balancer_attributes::builders::ModifyLoadBalancerAttributesFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as SdkLoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde::{Deserialize, Serialize};

use super::{elb_tags, existing_at, short_name, ElbTags};
use crate::aws::{aws, waited, AwsError, Required};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::{Action as PlanAction, Change, KindSchema};
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, refs_in, subnet_links, sync_tags, to_props, with_ticker,
    Link, PropsError,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::network::Network as NetSpec;
use crate::spec::Spec;

pub const LOAD_BALANCER: &str = "load_balancer";

pub static SCHEMA: KindSchema = KindSchema::replaced_on(LOAD_BALANCER, &["name", "scheme", "type"]);

/// How long apply waits for a load balancer to become active or to be deleted.
const WAIT: Duration = Duration::from_secs(15 * 60);

/// The load balancer attributes rtech manages, by property.
pub const ATTR_IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const ATTR_HTTP2: &str = "routing.http2.enabled";
pub const ATTR_DROP_INVALID: &str = "routing.http.drop_invalid_header_fields.enabled";
pub const ATTR_DELETION_PROTECTION: &str = "deletion_protection.enabled";
pub const ATTR_ACCESS_LOGS: &str = "access_logs.s3.enabled";
pub const ATTR_ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";

/// Properties that are load balancer attributes.
pub const ATTRIBUTE_PROPS: &[&str] = &[
    "idle_timeout_seconds",
    "http2",
    "drop_invalid_header_fields",
    "deletion_protection",
    "access_logs",
    "access_logs_bucket",
];

/// A load balancer's properties. Observe reports attributes AWS does not list as null.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerProps {
    pub name: String,
    pub scheme: Option<String>,
    #[serde(rename = "type")]
    pub lb_type: Option<String>,
    pub ip_address_type: Option<String>,
    /// In the spec's AZ order (AWS promises none).
    pub subnets: Vec<Link>,
    /// Sorted when observed.
    pub security_groups: Vec<Link>,
    pub idle_timeout_seconds: Option<i64>,
    pub http2: Option<bool>,
    pub drop_invalid_header_fields: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub access_logs: Option<bool>,
    /// Only with access logs on; observed as null when AWS names no bucket (a read of it
    /// gives `None`, which is how apply treats an absent bucket too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs_bucket: Option<Option<Link>>,
    pub tags: BTreeMap<String, String>,
}

/// The certificate the HTTPS listener serves: the env's, once ACM has issued it.
pub fn certificate_validation_id() -> ResourceId {
    ResourceId::new("certificate_validation", "main")
}

pub fn load_balancer_id() -> ResourceId {
    ResourceId::new(LOAD_BALANCER, "main")
}

/// `{project}-{env}-alb`, shortened to fit ELB's 32 characters.
pub fn load_balancer_name(project: &str, env: &str) -> String {
    short_name(&format!("{project}-{env}-alb"))
}

/// The access-log bucket (`reconcile::s3`).
pub fn access_log_bucket_id() -> ResourceId {
    ResourceId::new("s3_bucket", "alb-logs")
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
    let alb = &edge.alb;
    let props = LoadBalancerProps {
        name: name.clone(),
        scheme: Some("internet-facing".into()),
        lb_type: Some("application".into()),
        ip_address_type: Some("ipv4".into()),
        subnets: subnet_links(spec, "public")
            .into_iter()
            .map(|(_, l)| l)
            .collect(),
        security_groups: vec![Link::to(&ResourceId::new("sg", "alb"), "id")],
        idle_timeout_seconds: Some(alb.idle_timeout_seconds),
        http2: Some(alb.http2),
        drop_invalid_header_fields: Some(alb.drop_invalid_header_fields),
        deletion_protection: Some(alb.deletion_protection),
        access_logs: Some(alb.access_logs),
        access_logs_bucket: alb
            .access_logs
            .then(|| Some(Link::to(&access_log_bucket_id(), "name"))),
        tags: tags_for(&spec.project, &spec.env, &id, &name, &spec.tags),
    };
    let lb = to_props(&props)
        .into_iter()
        .fold(Resource::new(id, &name), |r, (k, v)| r.prop(&k, v));
    let mut out = vec![lb];
    out.extend(super::listener::expand_listeners(spec, edge, &name));
    out
}

// ---------------------------------------------------------------------------------------------
// observe: normalisation (pure)

fn attribute<'a>(attrs: &'a [LoadBalancerAttribute], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.key() == Some(key))
        .and_then(|a| a.value())
}

fn bool_attr(attrs: &[LoadBalancerAttribute], key: &str) -> Option<bool> {
    match attribute(attrs, key) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// A live load balancer → `Observed` in the desired shape (pure). Its subnets are listed in
/// the spec's AZ order (`subnet/public-<az letter>`; AWS promises no order).
pub fn observe_load_balancer(
    lb: &SdkLoadBalancer,
    tags: &BTreeMap<String, String>,
    attributes: &[LoadBalancerAttribute],
    desired: Option<&Resource>,
) -> Observed {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let order = refs_in(desired, "subnets");
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
    let props = LoadBalancerProps {
        name: lb.load_balancer_name().unwrap_or_default().to_string(),
        scheme: lb.scheme().map(|s| s.as_str().to_string()),
        lb_type: lb.r#type().map(|t| t.as_str().to_string()),
        ip_address_type: lb.ip_address_type().map(|t| t.as_str().to_string()),
        subnets: zones.iter().map(|(_, s)| Link::from(s.as_str())).collect(),
        security_groups: sgs.into_iter().map(Link::from).collect(),
        idle_timeout_seconds: attribute(attributes, ATTR_IDLE_TIMEOUT)
            .and_then(|v| v.parse::<i64>().ok()),
        http2: bool_attr(attributes, ATTR_HTTP2),
        drop_invalid_header_fields: bool_attr(attributes, ATTR_DROP_INVALID),
        deletion_protection: bool_attr(attributes, ATTR_DELETION_PROTECTION),
        access_logs,
        access_logs_bucket: (access_logs == Some(true)).then(|| {
            attribute(attributes, ATTR_ACCESS_LOGS_BUCKET)
                .filter(|b| !b.is_empty())
                .map(Link::from)
        }),
        tags: tags.clone(),
    };
    // Deleted before the subnets and the security group its interfaces use.
    let mut o = Observed::new(load_balancer_id(), arn).dep(&ResourceId::new("sg", "alb"));
    if access_logs == Some(true) {
        // Destroy deletes the load balancer before the bucket it writes to.
        o = o.dep(&access_log_bucket_id());
    }
    for (rid, _) in &zones {
        o.deps.insert(rid.clone());
    }
    o.props = to_props(&props);
    o.attrs = load_balancer_attrs(lb);
    o
}

/// What dependants reference: the ARN (listeners), the DNS name and hosted zone id (Route 53
/// aliases, the CloudFront origin).
pub fn load_balancer_attrs(lb: &SdkLoadBalancer) -> Attrs {
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
    let p = from_props::<LoadBalancerProps>(&prior.props).ok()?;
    if p.deletion_protection != Some(true) {
        return None;
    }
    Some(format!(
        "refused: {} ({}) has deletion protection on; set edge.alb.deletion_protection = false in the spec and apply, then destroy",
        change.id, p.name
    ))
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

/// The known values of a list of links (references are resolved before apply).
fn known(links: &[Link], field: &str) -> Result<Vec<String>, PropsError> {
    links
        .iter()
        .map(|l| l.require(field).map(str::to_string))
        .collect()
}

pub fn create_load_balancer_request(
    c: &Client,
    p: &LoadBalancerProps,
) -> Result<CreateLoadBalancerFluentBuilder, PropsError> {
    Ok(c.create_load_balancer()
        .name(&p.name)
        .set_subnets(Some(known(&p.subnets, "subnets")?))
        .set_security_groups(Some(known(&p.security_groups, "security_groups")?))
        .set_scheme(p.scheme.as_deref().map(LoadBalancerSchemeEnum::from))
        .set_type(p.lb_type.as_deref().map(LoadBalancerTypeEnum::from))
        .set_ip_address_type(p.ip_address_type.as_deref().map(IpAddressType::from))
        .set_tags(Some(elb_tags(&p.tags))))
}

/// Every managed attribute at once (ModifyLoadBalancerAttributes leaves others alone). An
/// attribute the props leave out gets AWS's default.
pub fn attributes_request(
    c: &Client,
    arn: &str,
    p: &LoadBalancerProps,
) -> Result<ModifyLoadBalancerAttributesFluentBuilder, PropsError> {
    let b = |v: Option<bool>| v.unwrap_or(false).to_string();
    let attr = |k: &str, v: String| LoadBalancerAttribute::builder().key(k).value(v).build();
    let mut req = c
        .modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .attributes(attr(
            ATTR_IDLE_TIMEOUT,
            p.idle_timeout_seconds.unwrap_or(60).to_string(),
        ))
        .attributes(attr(ATTR_HTTP2, b(p.http2)))
        .attributes(attr(ATTR_DROP_INVALID, b(p.drop_invalid_header_fields)))
        .attributes(attr(ATTR_DELETION_PROTECTION, b(p.deletion_protection)))
        .attributes(attr(ATTR_ACCESS_LOGS, b(p.access_logs)));
    if let Some(Some(bucket)) = &p.access_logs_bucket {
        req = req.attributes(attr(
            ATTR_ACCESS_LOGS_BUCKET,
            bucket.require("access_logs_bucket")?.to_string(),
        ));
    }
    Ok(req)
}

// ---------------------------------------------------------------------------------------------
// apply

pub struct LoadBalancer;

#[async_trait]
impl Kind for LoadBalancer {
    crate::typed_kind!(SCHEMA, LoadBalancerProps);
    fn guard(&self, change: &Change) -> Option<String> {
        guard(change)
    }

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: &LoadBalancerProps = &from_props(&r.props)?;
        let c = &ctx.clients.elbv2;
        task.status(&format!("creating load balancer {}", p.name));
        let create = async {
            let out = create_load_balancer_request(c, p)?
                .send()
                .await
                .map_err(aws("elbv2:CreateLoadBalancer"))?;
            Ok(out
                .load_balancers()
                .first()
                .and_then(SdkLoadBalancer::load_balancer_arn)
                .required(
                    "elbv2:CreateLoadBalancer",
                    format!("no load balancer ARN returned for {}", p.name),
                )?
                .to_string())
        };
        // The name is unique (AWS answers a repeated create with identical settings with the
        // same load balancer; other settings are DuplicateLoadBalancerName): one that is ours
        // is adopted, its settings then set below or by the next plan's update.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let out = found(
                c.describe_load_balancers()
                    .names(&p.name)
                    .send()
                    .await
                    .map_err(aws("elbv2:DescribeLoadBalancers")),
            )?;
            let lb = out.and_then(|o| o.load_balancers().first().cloned());
            existing_at(ctx, r, lb.as_ref().and_then(|l| l.load_balancer_arn())).await
        })
        .await?;
        attributes_request(c, &arn, p)?
            .send()
            .await
            .map_err(aws("elbv2:ModifyLoadBalancerAttributes"))?;
        wait_active(ctx, &arn, &p.name, task).await
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &LoadBalancerProps = &from_props(&u.desired.props)?;
        let c = &ctx.clients.elbv2;
        let arn = prior.physical_id.as_str();
        let before = from_props::<LoadBalancerProps>(&prior.props)?;
        if changed.contains("subnets") {
            task.status("setting the subnets");
            c.set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(known(&p.subnets, "subnets")?))
                .send()
                .await
                .map_err(aws("elbv2:SetSubnets"))?;
        }
        if changed.contains("ip_address_type") {
            task.status("setting the IP address type");
            c.set_ip_address_type()
                .load_balancer_arn(arn)
                .set_ip_address_type(p.ip_address_type.as_deref().map(IpAddressType::from))
                .send()
                .await
                .map_err(aws("elbv2:SetIpAddressType"))?;
        }
        if changed.contains("security_groups") {
            task.status("setting the security groups");
            c.set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(known(&p.security_groups, "security_groups")?))
                .send()
                .await
                .map_err(aws("elbv2:SetSecurityGroups"))?;
        }
        if ATTRIBUTE_PROPS.iter().any(|k| changed.contains(*k)) {
            task.status("modifying the attributes");
            attributes_request(c, arn, p)?
                .send()
                .await
                .map_err(aws("elbv2:ModifyLoadBalancerAttributes"))?;
        }
        if changed.contains("tags") {
            sync_tags(&ElbTags(c), arn, &before.tags, &p.tags).await?;
        }
        let mut a = prior.attrs.clone();
        if ["subnets", "security_groups", "ip_address_type"]
            .iter()
            .any(|k| changed.contains(*k))
        {
            a = wait_active(ctx, arn, &before.name, task).await?;
        }
        Ok(a)
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let c = &ctx.clients.elbv2;
        let arn = o.physical_id.as_str();
        let name = from_props::<LoadBalancerProps>(&o.props)
            .map(|p| p.name)
            .unwrap_or_else(|_| arn.to_string());
        let r = c
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(aws("elbv2:DeleteLoadBalancer"));
        if found(r)?.is_none() {
            return Ok(());
        }
        let what =
            format!("load balancer {name} to be deleted (its network interfaces go with it)");
        with_ticker(
            task,
            &what,
            c.wait_until_load_balancers_deleted()
                .load_balancer_arns(arn)
                .wait(WAIT),
        )
        .await
        .map(|_| ())
        .map_err(waited(
            "elbv2:DescribeLoadBalancers",
            format!("{name} to be deleted"),
        ))
    }
}

/// Wait until the load balancer is `active` (the SDK's waiter); return its fresh attributes.
async fn wait_active(ctx: &Ctx, arn: &str, name: &str, task: &Task) -> Result<Attrs, AwsError> {
    let what = format!("load balancer {name} to become active (minutes on AWS)");
    let done = with_ticker(
        task,
        &what,
        ctx.clients
            .elbv2
            .wait_until_load_balancer_available()
            .load_balancer_arns(arn)
            .wait(WAIT),
    )
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

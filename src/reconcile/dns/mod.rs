//! Route 53: the env's hosted zone and its records.
//!
//! `hosted_zone/main` ([`hosted_zone`]) exists only with `edge.hosted_zone = "create"`: the zone
//! named `edge.zone`, with a comment and our tags. With `edge.hosted_zone = "existing"` the zone
//! is found by name (ListHostedZonesByName), never created or deleted; a missing zone is an
//! observe error naming `edge.hosted_zone`.
//!
//! `record/<label>-<type>` ([`record`], and [`expand`] for which ones): compared are name,
//! type, zone and zone_id (replaced), ttl and values (CNAME, values sorted), alias
//! `{dns_name, zone_id, evaluate_target_health}` (A/AAAA; Route 53 has no TTL on aliases).
//! Names are normalised as Route 53 returns them: `\ooo` escapes decoded, lowercase, no
//! trailing dot.
//!
//! Ownership: beside each record a TXT `_rtech.<type lowercase>.<name>` holding
//! `"heritage=rtech,project=<p>,env=<e>,id=<record id>"`, written in the same change batch as
//! the record ([`rrset`]). A (name, type) we want that exists without our TXT (or whose TXT
//! names another project/env/id) is foreign: a conflict in the plan, never touched. Every
//! change waits until Route 53 reports it INSYNC. Observe: [`observe`].

pub mod hosted_zone;
mod iam;
pub mod observe;
pub mod record;
pub mod rrset;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::client::Waiters;
use aws_sdk_route53::types::{RrType, Tag, TagResourceType};

use crate::aws::{aws, waited, AwsError};
#[cfg(test)]
use crate::model::Value;
use crate::model::{tags_for, Observed, Props, Resource, ResourceId};
use crate::progress::Task;
use crate::reconcile::kit::{retry_while, to_props, with_ticker, Link};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::edge::{RecordStyle, ZoneMode};
use crate::spec::Spec;

#[cfg(test)]
pub use hosted_zone::zone_not_empty;
pub use hosted_zone::HostedZoneProps;
pub use observe::*;
#[cfg(test)]
pub use record::{conflict_message, desired_rrset};
pub use record::{AliasProps, RecordProps};
pub use rrset::*;

pub const HOSTED_ZONE: &str = "hosted_zone";
pub const RECORD: &str = "record";

/// CloudFront's fixed hosted zone id for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";
/// TTL of the CNAMEs and the ownership TXTs.
pub const TTL: i64 = 300;
/// The first label of every ownership TXT.
pub const OWNER_LABEL: &str = "_rtech";
/// How long apply waits for a change to be INSYNC (seconds on AWS, usually < 60).
const WAIT: Duration = Duration::from_secs(10 * 60);
/// How long apply retries while Route 53 is still busy with the zone's previous change.
const BUSY: Duration = Duration::from_secs(3 * 60);

const KINDS: &[&dyn Kind] = &[&hosted_zone::HostedZone, &record::Record];

pub fn zone_id() -> ResourceId {
    ResourceId::new(HOSTED_ZONE, "main")
}

/// `record/<label>-<type lowercase>`.
pub fn record_id(label: &str, rtype: &str) -> ResourceId {
    ResourceId::new(RECORD, format!("{label}-{}", rtype.to_ascii_lowercase()))
}

fn certificate() -> ResourceId {
    ResourceId::new("certificate", "main")
}

fn distribution() -> ResourceId {
    ResourceId::new("distribution", "main")
}

// ---------------------------------------------------------------------------------------------
// expand

/// The alias property as a plain value (the shape expand and observe produce).
#[cfg(test)]
pub fn alias_value(dns_name: Value, zone_id: Value) -> Value {
    Value::Map(
        [
            ("dns_name".to_string(), dns_name),
            ("zone_id".to_string(), zone_id),
            ("evaluate_target_health".to_string(), Value::Bool(false)),
        ]
        .into(),
    )
}

/// A desired resource with these props (each reference also becomes a dependency).
fn resource(id: ResourceId, display: impl Into<String>, props: Props) -> Resource {
    Resource::new(id, display).with_props(props)
}

/// Spec → Desired (pure): the zone when rtech creates it, and the records of the contract.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(edge) = &spec.edge else {
        return vec![];
    };
    let zone = edge.zone.clone();
    let domain = edge.domain.clone();
    let created = edge.hosted_zone == ZoneMode::Create;
    let cf = edge.cloudfront.is_some();
    let mut out = Vec::new();
    if created {
        let id = zone_id();
        let tags = tags_for(&spec.project, &spec.env, &id, &zone, &spec.tags);
        let props = HostedZoneProps {
            name: zone.clone(),
            comment: Some(zone_comment(&spec.project, &spec.env)),
            tags,
        };
        out.push(resource(id, &zone, to_props(&props)));
    }
    let record = |rtype: &str, name: Link| RecordProps {
        name,
        rtype: rtype.to_string(),
        zone: zone.clone(),
        zone_id: created.then(|| Link::to(&zone_id(), "id")),
        ttl: None,
        values: None,
        alias: None,
    };
    let cname = |p: RecordProps, value: Link| RecordProps {
        ttl: Some(TTL),
        values: Some(vec![value]),
        ..p
    };
    let lb = crate::reconcile::elb::alb::load_balancer_id();
    let alias = |dns_name: Link, zone_id: Link| AliasProps {
        dns_name,
        zone_id,
        evaluate_target_health: false,
    };
    let alb_alias = || alias(Link::to(&lb, "dns_name"), Link::to(&lb, "zone_id"));
    let site_alias = || {
        if cf {
            alias(
                Link::to(&distribution(), "domain_name"),
                Link::from(CLOUDFRONT_ZONE_ID),
            )
        } else {
            alb_alias()
        }
    };
    // ACM's DNS validation records, `record/validation-<label>` (their names and values come
    // from the certificate).
    for label in ["apex", "www", "api"] {
        let c = certificate();
        let id = ResourceId::new(RECORD, format!("validation-{label}"));
        let p = cname(
            record("CNAME", Link::to(&c, &format!("validation_name.{label}"))),
            Link::to(&c, &format!("validation_value.{label}")),
        );
        out.push(resource(
            id,
            format!("ACM validation CNAME ({label})"),
            to_props(&p),
        ));
    }
    // A names pointing at the site: A always, AAAA too when the target is CloudFront.
    let aliases = |label: &str, fqdn: &str, target: &dyn Fn() -> AliasProps, ipv6: bool| {
        let types: &[&str] = if ipv6 { &["A", "AAAA"] } else { &["A"] };
        types
            .iter()
            .map(|t| {
                let id = record_id(label, t);
                let p = RecordProps {
                    alias: Some(target()),
                    ..record(t, Link::from(fqdn))
                };
                resource(id, format!("{fqdn} {t}"), to_props(&p))
            })
            .collect::<Vec<_>>()
    };
    let cname_record = |label: &str, fqdn: &str, target: Link| {
        let id = record_id(label, "CNAME");
        let p = cname(record("CNAME", Link::from(fqdn)), target);
        resource(id, format!("{fqdn} CNAME"), to_props(&p))
    };
    out.extend(aliases("apex", &domain, &site_alias, cf));
    let www = format!("www.{domain}");
    match edge.www {
        RecordStyle::Cname => out.push(cname_record("www", &www, Link::from(domain.as_str()))),
        RecordStyle::Alias => out.extend(aliases("www", &www, &site_alias, cf)),
        RecordStyle::None => {}
    }
    // CloudFront's aliases do not include api: with CloudFront, api goes to the ALB.
    let api = format!("api.{domain}");
    match edge.api {
        RecordStyle::Cname => {
            let target = if cf {
                Link::to(&lb, "dns_name")
            } else {
                Link::from(domain.as_str())
            };
            out.push(cname_record("api", &api, target))
        }
        RecordStyle::Alias => out.extend(aliases("api", &api, &alb_alias, false)),
        RecordStyle::None => {}
    }
    out
}

pub fn zone_comment(project: &str, env: &str) -> String {
    format!("Managed by rtech ({project}/{env})")
}

/// The CallerReference prefix of zones rtech creates for an env.
pub fn caller_reference_prefix(project: &str, env: &str) -> String {
    format!("rtech:{project}:{env}:{}:", zone_id())
}

/// The env's hosted zone name, from the desired records (prop `zone`).
pub fn zone_of(desired: &[Resource]) -> Option<String> {
    desired
        .iter()
        .filter(|r| r.id.kind == RECORD)
        .find_map(|r| crate::reconcile::kit::from_props::<RecordProps>(&r.props).ok())
        .map(|p| p.zone)
}

/// The observe error for an existing zone that is not there.
pub fn missing_zone(zone: &str) -> AwsError {
    AwsError::new(
        "route53:ListHostedZonesByName",
        "NoSuchHostedZone",
        format!(
            "no public hosted zone named {zone}: the spec's edge.hosted_zone = \"existing\" means rtech uses a zone it never creates; create the zone, or set edge.hosted_zone = \"create\""
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// the calls

/// Public zones with exactly this name (one call).
async fn zones_named(ctx: &Ctx, name: &str) -> Result<Vec<ZoneSummary>, AwsError> {
    let out = ctx
        .clients
        .route53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .max_items(100)
        .send()
        .await
        .map_err(aws("route53:ListHostedZonesByName"))?;
    Ok(out
        .hosted_zones()
        .iter()
        .map(ZoneSummary::from_sdk)
        .filter(|z| z.name == name && !z.private)
        .collect())
}

/// Tags of zones, by bare id, in batches of 10 (the API's limit).
async fn zone_tags(
    ctx: &Ctx,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(10) {
        let r = ctx
            .clients
            .route53
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws("route53:ListTagsForResources"))?;
        for set in r.resource_tag_sets() {
            let id = bare_zone_id(set.resource_id().unwrap_or_default());
            out.insert(
                id,
                crate::model::tag_pairs(set.tags().iter().map(|t| (t.key(), t.value()))),
            );
        }
    }
    Ok(out)
}

/// Every record set of a zone (paginated by name/type; zones are small).
async fn rrsets(ctx: &Ctx, zone: &str) -> Result<Vec<Rrset>, AwsError> {
    let mut out = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = ctx
            .clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone);
        if let Some((n, t, i)) = next.take() {
            req = req
                .start_record_name(n)
                .start_record_type(t)
                .set_start_record_identifier(i);
        }
        let page = req
            .send()
            .await
            .map_err(aws("route53:ListResourceRecordSets"))?;
        out.extend(page.resource_record_sets().iter().map(Rrset::from_sdk));
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => {
                next = Some((
                    n.to_string(),
                    t.clone(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => return Ok(out),
        }
    }
}
async fn wait_insync(ctx: &Ctx, change_id: &str, what: &str, task: &Task) -> Result<(), AwsError> {
    let change = bare_zone_id(change_id);
    let waiter = ctx
        .clients
        .route53
        .wait_until_resource_record_sets_changed()
        .id(&change)
        .wait(WAIT);
    with_ticker(
        task,
        &format!("Route 53 to report {what} INSYNC (change {change})"),
        waiter,
    )
    .await
    .map_err(waited("route53:GetChange", format!("{what} to be INSYNC")))?;
    Ok(())
}

/// Send one change batch (retrying while the zone's previous change is still being applied),
/// then wait for INSYNC.
async fn change(
    ctx: &Ctx,
    zone: &str,
    steps: &[Step],
    what: &str,
    task: &Task,
) -> Result<(), AwsError> {
    let batch = to_batch(steps, &format!("rtech {}/{}: {what}", ctx.project, ctx.env));
    task.status(&format!("changing {what}"));
    // Throttling is retried by the SDK; a zone still applying its previous change is not.
    let out = retry_while(&[], &["PriorRequestNotComplete"], BUSY, || {
        let batch = batch.clone();
        async move {
            ctx.clients
                .route53
                .change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch)
                .send()
                .await
                .map_err(aws("route53:ChangeResourceRecordSets"))
        }
    })
    .await
    .map_err(|e| map_change_error(e, what))?;
    match out.change_info() {
        Some(ci) => wait_insync(ctx, ci.id(), what, task).await,
        None => Ok(()),
    }
}

crate::tag_api!(Route53Tags, aws_sdk_route53::Client,
    untag "route53:ChangeTagsForResource" => |c, zone, keys| c.change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(zone)
        .set_remove_tag_keys(Some(keys)),
    tag "route53:ChangeTagsForResource" => |c, zone, tags| c.change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(zone)
        .set_add_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())));

pub struct Dns;

#[async_trait]
impl Service for Dns {
    fn outputs(&self, observed: &[Observed]) -> Vec<crate::reconcile::kit::outputs::Output> {
        use crate::reconcile::kit::outputs::owned;
        // The zone: ours when rtech created it, else the one our records live in.
        let zone = owned(observed, "hosted_zone", "main")
            .first()
            .and_then(|o| o.attrs.get("id").cloned())
            .or_else(|| {
                owned(observed, "record", "")
                    .iter()
                    .find_map(|o| o.attrs.get("zone_id").cloned())
            });
        // The site's names (apex, www, api) as rtech's records publish them.
        let mut urls: Vec<String> = owned(observed, "record", "")
            .iter()
            .filter(|o| !o.id.name.starts_with("validation-"))
            .filter_map(|o| o.attrs.get("fqdn"))
            .map(|n| format!("https://{n}"))
            .collect();
        urls.sort_by_key(|u| (u.matches('.').count(), u.clone()));
        urls.dedup();
        vec![
            ("hosted_zone_id", zone.into()),
            ("public_urls", urls.into()),
        ]
    }

    crate::service_basics!("route53", KINDS, expand, iam::GRANTS);
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe::observe(ctx, desired).await
    }
}

#[cfg(test)]
mod tests;

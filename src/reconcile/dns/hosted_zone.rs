//! `hosted_zone/main`: the env's public zone, only with `edge.hosted_zone = "create"`.
//! - replaced: name. Updated in place: comment (UpdateHostedZoneComment), tags
//!   (ChangeTagsForResource).
//! - created with a CallerReference `rtech:<project>:<env>:hosted_zone/main:<millis>`: unique
//!   per attempt (AWS refuses a duplicate) and recognisable, so that a zone whose create was
//!   interrupted before it was tagged is still found as ours (and its tags repaired).
//! - deleted with DeleteHostedZone; AWS refuses (`HostedZoneNotEmpty`) while records other
//!   than its NS/SOA remain: the error lists them (rtech deletes only its own records).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_route53::types::HostedZoneConfig;
use serde::{Deserialize, Serialize};

use super::observe::{observed_zone, ZoneSummary};
use super::{
    bare_zone_id, caller_reference_prefix, norm_name, rrsets, wait_insync, zone_tags, Route53Tags,
    Rrset, HOSTED_ZONE,
};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{found, from_props, sync_tags, TagApi};
use crate::reconcile::{Ctx, Import, Kind, PhysicalId, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(HOSTED_ZONE, &["name"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedZoneProps {
    /// Lowercase, no trailing dot.
    pub name: String,
    pub comment: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// DeleteHostedZone's `HostedZoneNotEmpty`, with the records that hold the zone.
pub fn zone_not_empty(e: AwsError, zone: &str, rrsets: &[Rrset]) -> AwsError {
    if e.code != "HostedZoneNotEmpty" {
        return e;
    }
    let left: Vec<String> = rrsets
        .iter()
        .filter(|r| !(matches!(r.rtype.as_str(), "NS" | "SOA") && norm_name(&r.name) == zone))
        .map(|r| format!("{} {}", norm_name(&r.name), r.rtype))
        .collect();
    let message = format!(
        "hosted zone {zone} still holds {} record(s) rtech did not create: {}; delete them (or move them elsewhere), then destroy again",
        left.len(),
        left.join(", ")
    );
    e.with_message(message)
}

pub struct HostedZone;

/// A hosted zone id (`Z0123456789ABC`, or `/hostedzone/Z…` as some answers spell it):
/// uppercase letters and digits.
pub fn is_zone_id(s: &str) -> bool {
    let id = s.strip_prefix("/hostedzone/").unwrap_or(s);
    (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

static ZONE_ID: PhysicalId = PhysicalId {
    form: "a hosted zone id (Z…)",
    check: is_zone_id,
    found_by_name: true,
};

/// `rtech import hosted_zone/main ZONE_ID`: GetHostedZone of that id and its tags
/// (ListTagsForResources), read as observe reads ours. Observe finds the zone by the spec's
/// domain, and only a public zone can be the env's.
#[async_trait]
impl Import for HostedZone {
    fn physical(&self) -> &'static PhysicalId {
        &ZONE_ID
    }

    async fn read(&self, ctx: &Ctx, id: &ResourceId, zone: &str) -> Result<Observed, AwsError> {
        let zone = bare_zone_id(zone);
        let out = ctx
            .clients
            .route53
            .get_hosted_zone()
            .id(&zone)
            .send()
            .await
            .map_err(aws("route53:GetHostedZone"))?;
        let z = ZoneSummary::from_sdk(
            out.hosted_zone()
                .required("route53:GetHostedZone", "no hosted zone returned")?,
        );
        if z.private {
            return Err(AwsError::new(
                "route53:GetHostedZone",
                "InvalidInput",
                format!(
                    "{zone} ({}) is a private hosted zone: {id} is the env's public zone",
                    z.name
                ),
            ));
        }
        let tags = zone_tags(ctx, std::slice::from_ref(&zone))
            .await?
            .remove(&zone)
            .unwrap_or_default();
        let name_servers: Vec<String> = out
            .delegation_set()
            .map(|d| d.name_servers().iter().map(|n| norm_name(n)).collect())
            .unwrap_or_default();
        Ok(observed_zone(id, &z, &tags, &name_servers))
    }

    fn tag_calls<'a>(&self, ctx: &'a Ctx, live: &Observed) -> (Box<dyn TagApi + 'a>, String) {
        let api = Route53Tags(&ctx.clients.route53);
        (Box::new(api), live.physical_id.clone())
    }
}

#[async_trait]
impl Kind for HostedZone {
    crate::typed_kind!(SCHEMA, HostedZoneProps, import);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: HostedZoneProps = from_props(&r.props)?;
        let name = p.name.as_str();
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let reference = format!(
            "{}{millis}",
            caller_reference_prefix(&ctx.project, &ctx.env)
        );
        task.status(&format!("creating hosted zone {name}"));
        let out = ctx
            .clients
            .route53
            .create_hosted_zone()
            .name(name)
            .caller_reference(&reference)
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .set_comment(p.comment.clone())
                    .private_zone(false)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("route53:CreateHostedZone"))
            .map_err(|e| {
                if e.is("HostedZoneAlreadyExists") {
                    let message = format!(
                        "a hosted zone was already created with CallerReference {reference}: run plan again, it finds the zone by its name and tags ({})",
                        e.message
                    );
                    e.with_message(message)
                } else {
                    e
                }
            })?;
        let zone = out
            .hosted_zone()
            .map(|z| bare_zone_id(z.id()))
            .unwrap_or_default();
        task.status("tagging the hosted zone");
        sync_tags(
            &Route53Tags(&ctx.clients.route53),
            &zone,
            &BTreeMap::new(),
            &p.tags,
        )
        .await?;
        if let Some(ci) = out.change_info() {
            wait_insync(ctx, ci.id(), &format!("hosted zone {name}"), task).await?;
        }
        let mut a = Attrs::new();
        a.insert("id".into(), zone);
        a.insert("name".into(), name.to_string());
        a.insert(
            "name_servers".into(),
            out.delegation_set()
                .map(|d| {
                    d.name_servers()
                        .iter()
                        .map(|n| norm_name(n))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        );
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        let zone = &u.prior.physical_id;
        let want: HostedZoneProps = from_props(&u.desired.props)?;
        if u.changed("comment") {
            ctx.clients
                .route53
                .update_hosted_zone_comment()
                .id(zone)
                .set_comment(want.comment.clone())
                .send()
                .await
                .map_err(aws("route53:UpdateHostedZoneComment"))?;
        }
        if u.changed("tags") {
            let had: HostedZoneProps = from_props(&u.prior.props)?;
            sync_tags(
                &Route53Tags(&ctx.clients.route53),
                zone,
                &had.tags,
                &want.tags,
            )
            .await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let zone = &o.physical_id;
        let name = o.get_str("name").unwrap_or_default().to_string();
        task.status(&format!("deleting hosted zone {name}"));
        let deleted = ctx
            .clients
            .route53
            .delete_hosted_zone()
            .id(zone)
            .send()
            .await
            .map_err(aws("route53:DeleteHostedZone"));
        let out = match deleted {
            Err(e) if e.is("HostedZoneNotEmpty") => {
                let left = rrsets(ctx, zone).await.unwrap_or_default();
                return Err(zone_not_empty(e, &name, &left));
            }
            other => found(other)?,
        };
        // Gone already: done.
        let Some(out) = out else {
            return Ok(());
        };
        if let Some(ci) = out.change_info() {
            wait_insync(
                ctx,
                ci.id(),
                &format!("the deletion of hosted zone {name}"),
                task,
            )
            .await?;
        }
        Ok(())
    }
}

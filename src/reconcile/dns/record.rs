//! `record/<label>-<type>`: one simple record set and, beside it, its ownership TXT, written in
//! the same change batch (see the module doc of `dns`).
//! - replaced: name, type, zone, zone_id. Updated in place (UPSERT + UPSERT): ttl, values,
//!   alias.
//! - created with CREATE + CREATE (AWS refuses the whole batch when someone made the record
//!   since the plan: a conflict error, nothing overwritten), or CREATE + UPSERT when our own
//!   TXT was left behind by a record deleted out of band.
//! - deleted with DELETE + DELETE of exactly the values observed.

use async_trait::async_trait;
use aws_sdk_route53::types::RrType;
use serde::{Deserialize, Serialize};

use super::{bare_zone_id, parse_owner, update_steps};
use super::{change, missing_zone, zones_named, Alias, Rrset, RECORD};
use super::{create_steps, delete_steps, norm_name, owner_name, owner_rrset, owner_value};
use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(RECORD, &["name", "type", "zone", "zone_id"]);

/// An alias target (A/AAAA; Route 53 has no TTL on aliases).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasProps {
    pub dns_name: Link,
    pub zone_id: Link,
    pub evaluate_target_health: bool,
}

/// A record: a CNAME has `ttl` and `values` (sorted), an A/AAAA alias has `alias`. `zone_id` is
/// in the spec only when rtech creates the zone (a reference to it); observe always reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordProps {
    /// Lowercase, no trailing dot; a reference for ACM's validation names.
    pub name: Link,
    #[serde(rename = "type")]
    pub rtype: String,
    pub zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Link>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasProps>,
}

/// The record a (resolved) desired resource asks for.
pub fn desired_rrset(r: &Resource) -> Result<Rrset, AwsError> {
    let p: RecordProps = from_props(&r.props)?;
    let known = |l: &Link, k: &str| -> Result<String, AwsError> {
        l.known().map(str::to_string).ok_or_else(|| {
            AwsError::new(
                "rtech",
                "InvalidRecord",
                format!("{}: {k} is missing or not known yet", r.id),
            )
        })
    };
    let name = known(&p.name, "name")?;
    let alias = match &p.alias {
        Some(a) => Some(Alias {
            dns_name: known(&a.dns_name, "alias.dns_name")?,
            zone_id: known(&a.zone_id, "alias.zone_id")?,
            evaluate_target_health: a.evaluate_target_health,
        }),
        None => None,
    };
    let mut values = p
        .values
        .iter()
        .flatten()
        .map(|v| known(v, "values"))
        .collect::<Result<Vec<_>, _>>()?;
    values.sort();
    Ok(Rrset {
        name: format!("{}.", name.trim_end_matches('.')),
        rtype: p.rtype,
        ttl: if alias.is_some() { None } else { p.ttl },
        values,
        alias,
        set_identifier: None,
    })
}

/// A record rtech wants that exists without our owner TXT: records have no tags, so adopting
/// one means writing the TXT (pure).
pub fn conflict_message(project: &str, env: &str, c: &crate::plan::Conflict) -> Option<String> {
    if c.id.kind != RECORD {
        return None;
    }
    // The physical id is `<zone id>:<name>:<TYPE>`.
    let mut parts = c.physical_id.rsplitn(3, ':');
    let (rtype, name) = (parts.next()?, parts.next()?);
    Some(format!(
        "conflict: the {rtype} record {name} already exists and rtech did not create it (no ownership TXT {owner}); rtech will not modify or delete it (delete it, or adopt it by adding the TXT record {owner} = {value})",
        owner = owner_name(rtype, name),
        value = owner_value(project, env, &c.id),
    ))
}

/// `<zone id>:<name>:<TYPE>`, a record's physical id.
pub(super) fn physical(zone: &str, name: &str, rtype: &str) -> String {
    format!("{zone}:{name}:{rtype}")
}

/// The zone a record goes into: its resolved `zone_id`, else the (existing) zone by name.
async fn zone_for(ctx: &Ctx, p: &RecordProps) -> Result<String, AwsError> {
    if let Some(z) = p.zone_id.as_ref().and_then(Link::known) {
        return Ok(z.to_string());
    }
    let name = p.zone.as_str();
    let zones = zones_named(ctx, name).await?;
    match zones.as_slice() {
        [z] => Ok(z.id.clone()),
        [] => Err(missing_zone(name)),
        many => Err(AwsError::new(
            "route53:ListHostedZonesByName",
            "AmbiguousHostedZone",
            format!(
                "{} public hosted zones are named {name} ({}): rtech cannot tell which one serves the domain",
                many.len(),
                many.iter().map(|z| z.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The live record set with `rr`'s name and type, if any (one call).
async fn lookup(ctx: &Ctx, zone: &str, rr: &Rrset) -> Result<Option<Rrset>, AwsError> {
    Ok(ctx
        .clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(&rr.name)
        .start_record_type(RrType::from(rr.rtype.as_str()))
        .max_items(1)
        .send()
        .await
        .map_err(aws("route53:ListResourceRecordSets"))?
        .resource_record_sets()
        .iter()
        .map(Rrset::from_sdk)
        .find(|x| x.key() == rr.key()))
}

/// A CREATE refused because the record set exists (`InvalidChangeBatch`, "already exists").
fn is_exists(e: &AwsError) -> bool {
    e.code == "InvalidChangeBatch" && e.message.to_ascii_lowercase().contains("already exists")
}

/// Whether a CREATE of `record` with its `owner` TXT has landed (pure): the live record equals
/// the desired one (values in any order) and the live TXT holds our ownership value.
pub(super) fn landed(
    record: &Rrset,
    owner: &Rrset,
    live: Option<&Rrset>,
    live_owner: Option<&Rrset>,
) -> bool {
    let sorted = |r: &Rrset| {
        let mut v = r.values.clone();
        v.sort();
        v
    };
    let alias = |r: &Rrset| {
        r.alias.as_ref().map(|a| {
            (
                norm_name(&a.dns_name),
                bare_zone_id(&a.zone_id),
                a.evaluate_target_health,
            )
        })
    };
    let same = live.is_some_and(|l| {
        l.key() == record.key()
            && l.set_identifier.is_none()
            && l.ttl == record.ttl
            && sorted(l) == sorted(record)
            && alias(l) == alias(record)
    });
    let owned = live_owner.is_some_and(|o| {
        o.key() == owner.key() && owner.values.iter().all(|v| o.values.contains(v))
    });
    same && owned
}

fn record_what(rr: &Rrset) -> String {
    format!("{} {}", norm_name(&rr.name), rr.rtype)
}

pub(super) fn prior_json<T: for<'de> Deserialize<'de>>(o: &Observed, key: &str) -> Option<T> {
    o.attrs.get(key).and_then(|s| serde_json::from_str(s).ok())
}

pub struct Record;

#[async_trait]
impl Kind for Record {
    crate::typed_kind!(SCHEMA, RecordProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let rr = desired_rrset(r)?;
        let zone = zone_for(ctx, &from_props::<RecordProps>(&r.props)?).await?;
        let name = norm_name(&rr.name);
        let owner = owner_rrset(&ctx.project, &ctx.env, &r.id, &rr.rtype, &name);
        // Our TXT may be left from a record deleted out of band: look (one call).
        let existing = lookup(ctx, &zone, &owner).await?;
        let what = record_what(&rr);
        let steps = create_steps(rr.clone(), owner.clone(), existing.as_ref()).map_err(|m| {
            AwsError::new("route53:ChangeResourceRecordSets", "OwnershipConflict", m)
        })?;
        match change(ctx, &zone, &steps, &what, task).await {
            // The SDK retried a CREATE whose first attempt landed (lost response): the record
            // and our ownership TXT are there exactly as desired, so the create is done (the
            // check UPSERT would make). Anything else stays the conflict it is.
            Err(e) if is_exists(&e) => {
                let (live, live_owner) =
                    tokio::try_join!(lookup(ctx, &zone, &rr), lookup(ctx, &zone, &owner))?;
                if !landed(&rr, &owner, live.as_ref(), live_owner.as_ref()) {
                    return Err(e);
                }
            }
            other => other?,
        }
        let mut a = Attrs::new();
        a.insert("id".into(), physical(&zone, &name, &rr.rtype));
        a.insert("fqdn".into(), name);
        a.insert("zone_id".into(), zone);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let r = u.desired;
        let rr = desired_rrset(r)?;
        let zone = u.prior.attrs.get("zone_id").cloned().unwrap_or_default();
        let name = norm_name(&rr.name);
        let owner = owner_rrset(&ctx.project, &ctx.env, &r.id, &rr.rtype, &name);
        let what = record_what(&rr);
        change(ctx, &zone, &update_steps(rr, owner), &what, task).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let zone = o.attrs.get("zone_id").cloned().unwrap_or_default();
        let Some(owner) = prior_json::<Rrset>(o, "owner") else {
            return Err(AwsError::new(
                "rtech",
                "NotOwned",
                format!(
                    "{}: no ownership record observed; rtech deletes only its own records",
                    o.id
                ),
            ));
        };
        let prior = prior_json::<Rrset>(o, "rrset");
        // The id the TXT names (a duplicate's observed id has a `~zone` suffix).
        let ours = owner
            .values
            .iter()
            .find(|v| parse_owner(v).is_some_and(|w| w.project == ctx.project && w.env == ctx.env))
            .cloned()
            .unwrap_or_default();
        let what = prior
            .as_ref()
            .map(record_what)
            .unwrap_or_else(|| format!("ownership record {}", norm_name(&owner.name)));
        let steps = delete_steps(prior, owner, &ours);
        // The zone gone already: so is the record.
        gone_ok(change(ctx, &zone, &steps, &what, task).await)
    }

    fn conflict_message(&self, ctx: &Ctx, c: &crate::plan::Conflict) -> Option<String> {
        conflict_message(&ctx.project, &ctx.env, c)
    }
}

#[cfg(test)]
mod lost_response_tests {
    use super::*;

    fn rr(name: &str, rtype: &str, values: &[&str]) -> Rrset {
        Rrset {
            name: name.into(),
            rtype: rtype.into(),
            ttl: Some(300),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: None,
            set_identifier: None,
        }
    }

    #[test]
    fn a_create_that_landed_is_recognised_and_anything_else_is_not() {
        let want = rr("www.example.com", "CNAME", &["a.example.net"]);
        let owner = rr("_rtech.cname.www.example.com", "TXT", &["\"ours\""]);
        let live = rr("www.example.com.", "CNAME", &["a.example.net"]);
        let live_owner = rr(
            "_rtech.cname.www.example.com.",
            "TXT",
            &["\"other\"", "\"ours\""],
        );
        assert!(landed(&want, &owner, Some(&live), Some(&live_owner)));
        // Someone else's value, someone else's TXT, or none: still a conflict.
        let other = rr("www.example.com.", "CNAME", &["b.example.net"]);
        assert!(!landed(&want, &owner, Some(&other), Some(&live_owner)));
        let foreign_owner = rr("_rtech.cname.www.example.com.", "TXT", &["\"other\""]);
        assert!(!landed(&want, &owner, Some(&live), Some(&foreign_owner)));
        assert!(!landed(&want, &owner, Some(&live), None));
        assert!(!landed(&want, &owner, None, Some(&live_owner)));
        let mut ttl = live.clone();
        ttl.ttl = Some(60);
        assert!(!landed(&want, &owner, Some(&ttl), Some(&live_owner)));
    }
}

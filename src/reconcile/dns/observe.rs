//! Observe: the zone by name (1 call), the tags of the zones of that name when rtech may own
//! one (1 call, create mode and destroy), the zone's record sets (1 call per 300 records):
//! 2–3 calls. Destroy (no desired) uses `Ctx.zone`; without it, every zone tagged as ours
//! (ListHostedZones + ListTagsForResources by 10) and the owner TXTs in them. Records are
//! ours by their ownership TXT, zones by tags or CallerReference.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_route53::types::HostedZone as SdkZone;

use super::hosted_zone::HostedZoneProps;
use super::record::{physical, AliasProps, RecordProps};
use super::{
    bare_zone_id, caller_reference_prefix, certificate, distribution, missing_zone, norm_name,
    ours, owner_name, owner_target, parse_owner, rrsets, zone_id, zone_of, zone_tags, zones_named,
    Owner, Rrset, CLOUDFRONT_ZONE_ID, HOSTED_ZONE, RECORD,
};
use crate::aws::{all_pages, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId, TAG_ENV, TAG_ID, TAG_PROJECT};
use crate::reconcile::kit::{to_props, Link};
use crate::reconcile::Ctx;

/// The zone a record lives in, as observe found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRef {
    /// Bare id (`Z…`).
    pub id: String,
    /// Normalised name.
    pub name: String,
    /// rtech's own `hosted_zone/main` (records depend on it).
    pub owned: bool,
}

/// A live record set (and its owner TXT) → `Observed` in the desired shape (pure). `rr` is
/// None when only our TXT is left (the record was deleted out of band).
pub fn observed_record(
    id: &ResourceId,
    rr: Option<&Rrset>,
    owner: &Rrset,
    zone: &ZoneRef,
) -> Observed {
    let (name, rtype) = match rr {
        Some(r) => r.key(),
        None => owner_target(&owner.name).unwrap_or_default(),
    };
    let (mut ttl, mut values, mut alias) = (None, None, None);
    if let Some(r) = rr {
        match &r.alias {
            Some(a) => {
                alias = Some(AliasProps {
                    dns_name: Link::from(norm_name(&a.dns_name)),
                    zone_id: Link::from(a.zone_id.as_str()),
                    evaluate_target_health: a.evaluate_target_health,
                })
            }
            None => {
                let mut v: Vec<String> = r.values.iter().map(|v| norm_name(v)).collect();
                v.sort();
                ttl = r.ttl;
                values = Some(v.into_iter().map(Link::from).collect());
            }
        }
    }
    let props = RecordProps {
        name: Link::from(name.as_str()),
        rtype: rtype.clone(),
        zone: zone.name.clone(),
        zone_id: Some(Link::from(zone.id.as_str())),
        ttl,
        values,
        alias,
    };
    let mut o =
        Observed::new(id.clone(), physical(&zone.id, &name, &rtype)).with_props(to_props(&props));
    if let Some(r) = rr {
        o.attrs.insert(
            "rrset".into(),
            serde_json::to_string(r).expect("a record set serialises"),
        );
    }
    o = o.attr("fqdn", name).attr("zone_id", &zone.id).attr(
        "owner",
        serde_json::to_string(owner).expect("a record set serialises"),
    );
    if zone.owned {
        o = o.dep(&zone_id());
    }
    // What the record points at goes after it on destroy.
    if id.name.starts_with("validation-") {
        o = o.dep(&certificate());
    }
    match rr.and_then(|r| r.alias.as_ref()) {
        Some(a) if a.zone_id == CLOUDFRONT_ZONE_ID => o = o.dep(&distribution()),
        Some(_) => o = o.dep(&crate::reconcile::elb::alb::load_balancer_id()),
        None => {}
    }
    o
}

fn foreign(id: &ResourceId, physical_id: String) -> Observed {
    let mut o = Observed::new(id.clone(), physical_id);
    o.ownership = Ownership::Foreign;
    o
}

/// Sort a zone's record sets into ours (by owner TXT) and foreign ones under names we want
/// (pure). `desired` may be empty (destroy): then only ours are returned. `seen` holds ids
/// already observed in another zone (a second one becomes `<name>~<zone id>`).
pub fn classify_records(
    project: &str,
    env: &str,
    zone: &ZoneRef,
    rrsets: &[Rrset],
    desired: &[Resource],
    seen: &mut BTreeSet<ResourceId>,
) -> Vec<Observed> {
    let by_key: BTreeMap<(String, String), &Rrset> = rrsets
        .iter()
        .filter(|r| r.set_identifier.is_none())
        .map(|r| (r.key(), r))
        .collect();
    let mut out = Vec::new();
    // (name, type) → the owner TXT's verdict.
    let mut owned_keys: BTreeSet<(String, String)> = BTreeSet::new();
    let mut claimed: BTreeMap<(String, String), Owner> = BTreeMap::new();
    for txt in rrsets.iter().filter(|r| r.rtype == "TXT") {
        let Some(target) = owner_target(&txt.name) else {
            continue;
        };
        let owners: Vec<Owner> = txt.values.iter().filter_map(|v| parse_owner(v)).collect();
        let mine = owners.iter().find(|o| ours(o, project, env));
        let Some(mine) = mine else {
            if let Some(o) = owners.into_iter().next() {
                claimed.insert(target, o);
            }
            continue;
        };
        let Ok(mut id) = mine.id.parse::<ResourceId>() else {
            continue;
        };
        let rr = by_key.get(&target).copied();
        let wanted = desired.iter().any(|r| r.id == id);
        if rr.is_none() && wanted {
            // Deleted out of band, our TXT left behind: a create (which re-asserts the TXT).
            owned_keys.insert(target);
            continue;
        }
        if !seen.insert(id.clone()) {
            id = ResourceId::new(RECORD, format!("{}~{}", id.name, zone.id));
        }
        owned_keys.insert(target);
        out.push(observed_record(&id, rr, txt, zone));
    }
    for r in desired.iter().filter(|r| r.id.kind == RECORD) {
        if seen.contains(&r.id) {
            continue;
        }
        let (Some(name), Some(rtype)) = (r.get_str("name"), r.get_str("type")) else {
            continue; // a name known only after apply (ACM validation): checked at create
        };
        let key = (name.to_string(), rtype.to_string());
        if owned_keys.contains(&key) {
            continue;
        }
        // The same (name, type), or a CNAME beside anything (DNS allows nothing next to it).
        let clash = by_key.get(&key).map(|_| key.clone()).or_else(|| {
            by_key
                .keys()
                .find(|(n, t)| {
                    n == name
                        && (t == "CNAME" || rtype == "CNAME")
                        && t != "NS"
                        && t != "SOA"
                        && !owned_keys.contains(&(n.clone(), t.clone()))
                })
                .cloned()
        });
        if let Some((n, t)) = clash {
            out.push(foreign(&r.id, physical(&zone.id, &n, &t)));
        } else if let Some(o) = claimed.get(&key) {
            // No record, but another env's ownership TXT: theirs.
            out.push(foreign(
                &r.id,
                format!(
                    "{} (claimed by project={} env={} id={})",
                    physical(&zone.id, &owner_name(rtype, name), "TXT"),
                    o.project,
                    o.env,
                    o.id
                ),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// zones (pure)

/// A hosted zone as the list calls return it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSummary {
    pub id: String,
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    pub private: bool,
}

impl ZoneSummary {
    pub fn from_sdk(z: &SdkZone) -> ZoneSummary {
        ZoneSummary {
            id: bare_zone_id(z.id()),
            name: norm_name(z.name()),
            caller_reference: z.caller_reference().to_string(),
            comment: z.config().and_then(|c| c.comment()).map(str::to_string),
            private: z.config().is_some_and(|c| c.private_zone()),
        }
    }
}

/// Whether a zone is this env's own: our tags, or our CallerReference (created, then
/// interrupted before it was tagged).
pub fn zone_is_ours(
    project: &str,
    env: &str,
    z: &ZoneSummary,
    tags: &BTreeMap<String, String>,
) -> bool {
    let tagged = tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        && tags.get(TAG_ENV).map(String::as_str) == Some(env)
        && tags.get(TAG_ID) == Some(&zone_id().to_string());
    tagged
        || z.caller_reference
            .starts_with(&caller_reference_prefix(project, env))
}

/// A zone of ours → `Observed` (pure). `name_servers` from its apex NS record.
pub fn observed_zone(
    id: &ResourceId,
    z: &ZoneSummary,
    tags: &BTreeMap<String, String>,
    name_servers: &[String],
) -> Observed {
    let props = HostedZoneProps {
        name: z.name.clone(),
        comment: z.comment.clone(),
        tags: tags.clone(),
    };
    Observed::new(id.clone(), &z.id)
        .with_props(to_props(&props))
        .attr("name", &z.name)
        .attr("name_servers", name_servers.join(","))
}

/// Of the public zones named like ours, which are ours: the first (tagged first, then oldest)
/// is `hosted_zone/main`, any other one `hosted_zone/main~<id>` (the plan deletes it).
pub fn pick_owned_zones<'a>(
    project: &str,
    env: &str,
    zones: &'a [ZoneSummary],
    tags: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<(ResourceId, &'a ZoneSummary)> {
    let empty = BTreeMap::new();
    let mut mine: Vec<&ZoneSummary> = zones
        .iter()
        .filter(|z| !z.private && zone_is_ours(project, env, z, tags.get(&z.id).unwrap_or(&empty)))
        .collect();
    mine.sort_by_key(|z| {
        let tagged = tags
            .get(&z.id)
            .is_some_and(|t| t.get(TAG_ID) == Some(&zone_id().to_string()));
        (!tagged, z.caller_reference.clone(), z.id.clone())
    });
    mine.into_iter()
        .enumerate()
        .map(|(i, z)| {
            let id = if i == 0 {
                zone_id()
            } else {
                ResourceId::new(HOSTED_ZONE, format!("main~{}", z.id))
            };
            (id, z)
        })
        .collect()
}

/// The apex NS values (the zone's name servers), normalised.
pub fn name_servers(zone_name: &str, rrsets: &[Rrset]) -> Vec<String> {
    rrsets
        .iter()
        .find(|r| r.rtype == "NS" && norm_name(&r.name) == zone_name)
        .map(|r| r.values.iter().map(|v| norm_name(v)).collect())
        .unwrap_or_default()
}

/// Every zone of the account tagged as this env's (destroy without a zone name).
async fn owned_zones_anywhere(
    ctx: &Ctx,
) -> Result<(Vec<ZoneSummary>, BTreeMap<String, BTreeMap<String, String>>), AwsError> {
    let all = all_pages!(
        ctx.clients.route53.list_hosted_zones(),
        "route53:ListHostedZones"
    )?;
    let zones: Vec<ZoneSummary> = all
        .iter()
        .map(ZoneSummary::from_sdk)
        .filter(|z| !z.private)
        .collect();
    let ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
    let tags = zone_tags(ctx, &ids).await?;
    Ok((zones, tags))
}

// ---------------------------------------------------------------------------------------------
// observe

pub(super) async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
    let (p, e) = (ctx.project.as_str(), ctx.env.as_str());
    let create_mode = desired.iter().any(|r| r.id.kind == HOSTED_ZONE);
    let has_records = desired.iter().any(|r| r.id.kind == RECORD);
    let destroy = desired.is_empty();
    let name = ctx.zone.clone().or_else(|| zone_of(desired));
    let (zones, tags) = match &name {
        Some(n) => {
            let zones = zones_named(ctx, n).await?;
            // Tags matter only where rtech may own the zone.
            let tags = if (create_mode || destroy) && !zones.is_empty() {
                let ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
                zone_tags(ctx, &ids).await?
            } else {
                BTreeMap::new()
            };
            (zones, tags)
        }
        None if destroy => owned_zones_anywhere(ctx).await?,
        None => return Ok(vec![]),
    };
    let owned = if create_mode || destroy {
        pick_owned_zones(p, e, &zones, &tags)
    } else {
        vec![]
    };
    // Where the records live.
    let record_zones: Vec<ZoneRef> = if let Some((_, z)) =
        owned.iter().find(|(id, _)| *id == zone_id())
    {
        vec![ZoneRef {
            id: z.id.clone(),
            name: z.name.clone(),
            owned: true,
        }]
    } else if create_mode || name.is_none() {
        vec![]
    } else if destroy {
        zones
            .iter()
            .map(|z| ZoneRef {
                id: z.id.clone(),
                name: z.name.clone(),
                owned: false,
            })
            .collect()
    } else {
        match zones.as_slice() {
            [z] => vec![ZoneRef {
                id: z.id.clone(),
                name: z.name.clone(),
                owned: false,
            }],
            [] if has_records => return Err(missing_zone(name.as_deref().unwrap_or_default())),
            [] => vec![],
            many => {
                return Err(AwsError::new(
                    "route53:ListHostedZonesByName",
                    "AmbiguousHostedZone",
                    format!(
                        "{} public hosted zones are named {} ({}): rtech cannot tell which one edge.hosted_zone = \"existing\" means",
                        many.len(),
                        name.as_deref().unwrap_or_default(),
                        many.iter().map(|z| z.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        }
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut servers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for z in &record_zones {
        let sets = rrsets(ctx, &z.id).await?;
        servers.insert(z.id.clone(), name_servers(&z.name, &sets));
        out.extend(classify_records(p, e, z, &sets, desired, &mut seen));
    }
    let empty = BTreeMap::new();
    for (id, z) in &owned {
        let ns = servers.get(&z.id).cloned().unwrap_or_default();
        out.push(observed_zone(id, z, tags.get(&z.id).unwrap_or(&empty), &ns));
    }
    // A zone under our name that is not ours, in create mode: a conflict.
    if create_mode && owned.is_empty() {
        if let Some(z) = zones.first() {
            out.push(foreign(&zone_id(), z.id.clone()));
        }
    }
    Ok(out)
}

//! Route 53 (issue 5, seed 5.1): the env's hosted zone and its records.
//!
//! `hosted_zone/main` exists only with `edge.hosted_zone = "create"`: the zone named
//! `edge.zone`, with a comment and our tags (ChangeTagsForResource). Its CallerReference is
//! `rtech:<project>:<env>:hosted_zone/main:<millis>`: unique per attempt (AWS refuses a
//! duplicate), and recognisable, so that a zone whose create was interrupted before it was
//! tagged is still found as ours (and its tags repaired) instead of a second one being made.
//! - replaced: name. Updated in place: comment (UpdateHostedZoneComment), tags.
//! - deleted with DeleteHostedZone; AWS refuses (`HostedZoneNotEmpty`) while records other
//!   than its NS/SOA remain: the error lists them (rtech deletes only its own records).
//!
//! With `edge.hosted_zone = "existing"` the zone is found by name (ListHostedZonesByName),
//! never created or deleted; a missing zone is an observe error naming `edge.hosted_zone`.
//!
//! `record/<label>-<type>` (see the contract's Records section and [`expand`]): compared are
//! name, type, zone and zone_id (replaced), ttl and values (CNAME, values sorted), alias
//! `{dns_name, zone_id, evaluate_target_health}` (A/AAAA; Route 53 has no TTL on aliases).
//! Names are normalised as Route 53 returns them: `\ooo` escapes decoded, lowercase, no
//! trailing dot.
//!
//! Ownership: beside each record a TXT `_rtech.<type lowercase>.<name>` holding
//! `"heritage=rtech,project=<p>,env=<e>,id=<record id>"`, written in the same change batch as
//! the record: CREATE + CREATE on create (a record made by someone else since the plan makes
//! AWS refuse the whole batch: a conflict error, nothing overwritten), UPSERT + UPSERT on
//! update, DELETE + DELETE with the exact prior values on delete. A (name, type) we want that
//! exists without our TXT (or whose TXT names another project/env/id) is foreign: a conflict
//! in the plan, never touched. Every change waits until Route 53 reports it INSYNC.
//!
//! Observe: the zone by name (1 call), the tags of the zones of that name when rtech may own
//! one (1 call, create mode and destroy), the zone's record sets (1 call per 300 records):
//! 2–3 calls. Destroy (no desired) uses `Ctx.zone`; without it, every zone tagged as ours
//! (ListHostedZones + ListTagsForResources by 10) and the owner TXTs in them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::client::Waiters;
use aws_sdk_route53::types::{
    AliasTarget, Change as SdkChange, ChangeAction, ChangeBatch, HostedZone, HostedZoneConfig,
    ResourceRecord, ResourceRecordSet, RrType, Tag, TagResourceType,
};
use serde::{Deserialize, Serialize};

use crate::aws::{all_pages, aws, retry_on, waited, AwsError};
use crate::model::{
    tag_delta, tags_for, tags_of, Attrs, Observed, Ownership, Resource, ResourceId, Value, TAG_ENV,
    TAG_ID, TAG_PROJECT,
};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::edge::{RecordStyle, ZoneMode};
use crate::spec::Spec;

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

pub static KINDS: &[KindSchema] = &[
    KindSchema {
        kind: HOSTED_ZONE,
        force_new: &["name"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
    KindSchema {
        kind: RECORD,
        force_new: &["name", "type", "zone", "zone_id"],
        new_attrs_on_update: false,
        create_before_destroy: false,
    },
];

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

fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

// ---------------------------------------------------------------------------------------------
// expand

/// The alias property (the same shape observe produces).
pub fn alias_value(dns_name: Value, zone_id: Value) -> Value {
    map([
        ("dns_name", dns_name),
        ("zone_id", zone_id),
        ("evaluate_target_health", Value::Bool(false)),
    ])
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
        out.push(
            Resource::new(id, &zone)
                .prop("name", Value::str(&zone))
                .prop(
                    "comment",
                    Value::str(zone_comment(&spec.project, &spec.env)),
                )
                .prop("tags", Value::string_map(&tags)),
        );
    }
    let record_as = |id: ResourceId, rtype: &str, name: Value, display: String| {
        let mut r = Resource::new(id, display)
            .prop("name", name)
            .prop("type", Value::str(rtype))
            .prop("zone", Value::str(&zone));
        if created {
            r = r.prop("zone_id", Value::reference(&zone_id(), "id"));
        }
        r
    };
    let record = |label: &str, rtype: &str, name: Value, display: String| {
        record_as(record_id(label, rtype), rtype, name, display)
    };
    let cname = |r: Resource, value: Value| {
        r.prop("ttl", Value::Int(TTL))
            .prop("values", Value::List(vec![value]))
    };
    let lb = crate::reconcile::elb::alb::load_balancer_id();
    let alb_alias = || {
        alias_value(
            Value::reference(&lb, "dns_name"),
            Value::reference(&lb, "zone_id"),
        )
    };
    let site_alias = || {
        if cf {
            alias_value(
                Value::reference(&distribution(), "domain_name"),
                Value::str(CLOUDFRONT_ZONE_ID),
            )
        } else {
            alb_alias()
        }
    };
    // ACM's DNS validation records, `record/validation-<label>` (their names and values come
    // from the certificate).
    for label in ["apex", "www", "api"] {
        let c = certificate();
        out.push(cname(
            record_as(
                ResourceId::new(RECORD, format!("validation-{label}")),
                "CNAME",
                Value::reference(&c, &format!("validation_name.{label}")),
                format!("ACM validation CNAME ({label})"),
            ),
            Value::reference(&c, &format!("validation_value.{label}")),
        ));
    }
    // A names pointing at the site: A always, AAAA too when the target is CloudFront.
    let aliases = |label: &str, fqdn: &str, alias: &dyn Fn() -> Value, ipv6: bool| {
        let mut v =
            vec![record(label, "A", Value::str(fqdn), format!("{fqdn} A")).prop("alias", alias())];
        if ipv6 {
            v.push(
                record(label, "AAAA", Value::str(fqdn), format!("{fqdn} AAAA"))
                    .prop("alias", alias()),
            );
        }
        v
    };
    out.extend(aliases("apex", &domain, &site_alias, cf));
    let www = format!("www.{domain}");
    match edge.www {
        RecordStyle::Cname => out.push(cname(
            record("www", "CNAME", Value::str(&www), format!("{www} CNAME")),
            Value::str(&domain),
        )),
        RecordStyle::Alias => out.extend(aliases("www", &www, &site_alias, cf)),
        RecordStyle::None => {}
    }
    // CloudFront's aliases do not include api: with CloudFront, api goes to the ALB.
    let api = format!("api.{domain}");
    match edge.api {
        RecordStyle::Cname => {
            let target = if cf {
                Value::reference(&lb, "dns_name")
            } else {
                Value::str(&domain)
            };
            out.push(cname(
                record("api", "CNAME", Value::str(&api), format!("{api} CNAME")),
                target,
            ))
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

/// The env's hosted zone name, from the desired records or zone (prop `zone`).
pub fn zone_of(desired: &[Resource]) -> Option<String> {
    desired
        .iter()
        .filter(|r| r.id.kind == "record" || r.id.kind == "hosted_zone")
        .find_map(|r| r.get_str("zone").map(str::to_string))
}

// ---------------------------------------------------------------------------------------------
// record sets (pure)

/// A DNS name as Route 53 returns it → as the spec writes it: `\ooo` escapes decoded (`\052`
/// is `*`), lowercase, no trailing dot.
pub fn norm_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '\\' {
            let oct: String = b[i + 1..b.len().min(i + 4)].iter().collect();
            if oct.len() == 3 && oct.chars().all(|c| ('0'..='7').contains(&c)) {
                if let Some(c) = u32::from_str_radix(&oct, 8).ok().and_then(char::from_u32) {
                    out.push(c);
                    i += 4;
                    continue;
                }
            }
            if let Some(c) = b.get(i + 1) {
                out.push(*c);
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out.trim_end_matches('.').to_ascii_lowercase()
}

/// `/hostedzone/Z123` → `Z123`.
pub fn bare_zone_id(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub dns_name: String,
    pub zone_id: String,
    pub evaluate_target_health: bool,
}

/// A record set exactly as Route 53 has it (raw: what a DELETE must repeat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rrset {
    pub name: String,
    pub rtype: String,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    pub alias: Option<Alias>,
    /// Weighted/latency/… sets: never ours (rtech writes simple records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
}

impl Rrset {
    pub fn from_sdk(r: &ResourceRecordSet) -> Rrset {
        Rrset {
            name: r.name().to_string(),
            rtype: r.r#type().as_str().to_string(),
            ttl: r.ttl(),
            values: r
                .resource_records()
                .iter()
                .map(|v| v.value().to_string())
                .collect(),
            alias: r.alias_target().map(|a| Alias {
                dns_name: a.dns_name().to_string(),
                zone_id: a.hosted_zone_id().to_string(),
                evaluate_target_health: a.evaluate_target_health(),
            }),
            set_identifier: r.set_identifier().map(str::to_string),
        }
    }

    pub fn to_sdk(&self) -> ResourceRecordSet {
        let mut b = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::from(self.rtype.as_str()))
            .set_ttl(self.ttl)
            .set_set_identifier(self.set_identifier.clone());
        if !self.values.is_empty() {
            b = b.set_resource_records(Some(
                self.values
                    .iter()
                    .map(|v| {
                        ResourceRecord::builder()
                            .value(v)
                            .build()
                            .expect("value is set")
                    })
                    .collect(),
            ));
        }
        if let Some(a) = &self.alias {
            b = b.alias_target(
                AliasTarget::builder()
                    .dns_name(&a.dns_name)
                    .hosted_zone_id(&a.zone_id)
                    .evaluate_target_health(a.evaluate_target_health)
                    .build()
                    .expect("alias fields are set"),
            );
        }
        b.build().expect("name and type are set")
    }

    /// (normalised name, type).
    pub fn key(&self) -> (String, String) {
        (norm_name(&self.name), self.rtype.clone())
    }
}

/// `_rtech.<type lowercase>.<name>`.
pub fn owner_name(rtype: &str, name: &str) -> String {
    format!("{OWNER_LABEL}.{}.{name}", rtype.to_ascii_lowercase())
}

/// The record an ownership TXT name speaks for: (name, TYPE).
pub fn owner_target(txt_name: &str) -> Option<(String, String)> {
    let n = norm_name(txt_name);
    let rest = n.strip_prefix(&format!("{OWNER_LABEL}."))?;
    let (t, name) = rest.split_once('.')?;
    Some((name.to_string(), t.to_ascii_uppercase()))
}

/// The TXT value (with its quotes).
pub fn owner_value(project: &str, env: &str, id: &ResourceId) -> String {
    format!("\"heritage=rtech,project={project},env={env},id={id}\"")
}

/// What an ownership TXT value says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub project: String,
    pub env: String,
    pub id: String,
}

pub fn parse_owner(value: &str) -> Option<Owner> {
    // Long TXT values come back as several quoted strings: join them.
    let v: String = value
        .split("\" \"")
        .collect::<Vec<_>>()
        .join("")
        .trim()
        .trim_matches('"')
        .to_string();
    let kv: BTreeMap<&str, &str> = v
        .split(',')
        .filter_map(|p| p.trim().split_once('='))
        .collect();
    if kv.get("heritage") != Some(&"rtech") {
        return None;
    }
    Some(Owner {
        project: kv.get("project")?.to_string(),
        env: kv.get("env")?.to_string(),
        id: kv.get("id")?.to_string(),
    })
}

fn ours(o: &Owner, project: &str, env: &str) -> bool {
    o.project == project && o.env == env && o.id.starts_with("record/")
}

/// The owner TXT record set for a record.
pub fn owner_rrset(project: &str, env: &str, id: &ResourceId, rtype: &str, name: &str) -> Rrset {
    Rrset {
        name: format!("{}.", owner_name(rtype, name)),
        rtype: "TXT".into(),
        ttl: Some(TTL),
        values: vec![owner_value(project, env, id)],
        alias: None,
        set_identifier: None,
    }
}

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

fn zone_ref(id: &str) -> ZoneRef {
    ZoneRef {
        id: id.to_string(),
        name: String::new(),
        owned: false,
    }
}

fn physical(zone: &ZoneRef, name: &str, rtype: &str) -> String {
    format!("{}:{name}:{rtype}", zone.id)
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
    let mut o = Observed::new(id.clone(), physical(zone, &name, &rtype))
        .prop("name", Value::str(&name))
        .prop("type", Value::str(&rtype))
        .prop("zone", Value::str(&zone.name))
        .prop("zone_id", Value::str(&zone.id));
    if let Some(r) = rr {
        match &r.alias {
            Some(a) => {
                o = o.prop(
                    "alias",
                    alias_value(Value::str(norm_name(&a.dns_name)), Value::str(&a.zone_id)),
                );
                if let Some(Value::Map(m)) = o.props.get_mut("alias") {
                    m.insert(
                        "evaluate_target_health".into(),
                        Value::Bool(a.evaluate_target_health),
                    );
                }
            }
            None => {
                let mut values: Vec<String> = r.values.iter().map(|v| norm_name(v)).collect();
                values.sort();
                o = o
                    .prop("ttl", r.ttl.map(Value::Int).unwrap_or(Value::Null))
                    .prop(
                        "values",
                        Value::List(values.into_iter().map(Value::Str).collect()),
                    );
            }
        }
        o.attrs.insert(
            "rrset".into(),
            serde_json::to_string(r).expect("a record set serialises"),
        );
    }
    o.attrs.insert("fqdn".into(), name);
    o.attrs.insert("zone_id".into(), zone.id.clone());
    o.attrs.insert(
        "owner".into(),
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
            out.push(foreign(&r.id, physical(zone, &n, &t)));
        } else if let Some(o) = claimed.get(&key) {
            // No record, but another env's ownership TXT: theirs.
            out.push(foreign(
                &r.id,
                format!(
                    "{} (claimed by project={} env={} id={})",
                    physical(zone, &owner_name(rtype, name), "TXT"),
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
    pub fn from_sdk(z: &HostedZone) -> ZoneSummary {
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
    let mut o = Observed::new(id.clone(), &z.id)
        .prop("name", Value::str(&z.name))
        .prop("comment", Value::opt_str(z.comment.as_deref()))
        .prop("tags", Value::string_map(tags));
    o.attrs.insert("name".into(), z.name.clone());
    o.attrs
        .insert("name_servers".into(), name_servers.join(","));
    o
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

// ---------------------------------------------------------------------------------------------
// change batches (pure)

/// One change of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub action: ChangeAction,
    pub rrset: Rrset,
}

fn step(action: ChangeAction, rrset: Rrset) -> Step {
    Step { action, rrset }
}

/// The record a (resolved) desired resource asks for.
pub fn desired_rrset(r: &Resource) -> Result<Rrset, AwsError> {
    let missing = |k: &str| {
        AwsError::new(
            "rtech",
            "InvalidRecord",
            format!("{}: {k} is missing or not known yet", r.id),
        )
    };
    let name = r.get_str("name").ok_or_else(|| missing("name"))?;
    let rtype = r.get_str("type").ok_or_else(|| missing("type"))?;
    let alias = match r.props.get("alias") {
        Some(Value::Map(m)) => Some(Alias {
            dns_name: m
                .get("dns_name")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("alias.dns_name"))?
                .to_string(),
            zone_id: m
                .get("zone_id")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("alias.zone_id"))?
                .to_string(),
            evaluate_target_health: m
                .get("evaluate_target_health")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
        _ => None,
    };
    let mut values: Vec<String> = match r.props.get("values") {
        Some(Value::List(l)) => l
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| missing("values"))
            })
            .collect::<Result<_, _>>()?,
        _ => vec![],
    };
    values.sort();
    Ok(Rrset {
        name: format!("{}.", name.trim_end_matches('.')),
        rtype: rtype.to_string(),
        ttl: if alias.is_some() {
            None
        } else {
            r.props.get("ttl").and_then(Value::as_int)
        },
        values,
        alias,
        set_identifier: None,
    })
}

/// Create: CREATE the record (AWS refuses the batch if someone made it since the plan) and
/// CREATE its owner TXT — or UPSERT it when the TXT already there is exactly ours (left behind
/// when the record was deleted out of band). Someone else's TXT there is a conflict.
pub fn create_steps(
    record: Rrset,
    owner: Rrset,
    existing_owner: Option<&Rrset>,
) -> Result<Vec<Step>, String> {
    let txt = match existing_owner {
        None => ChangeAction::Create,
        Some(e) if e.values == owner.values => ChangeAction::Upsert,
        Some(e) => {
            return Err(format!(
                "the ownership record {} TXT already holds {}: another rtech env (or someone else) claims {} {}; rtech does not overwrite it",
                norm_name(&e.name),
                e.values.join(" "),
                norm_name(&record.name),
                record.rtype
            ))
        }
    };
    Ok(vec![step(ChangeAction::Create, record), step(txt, owner)])
}

/// Update: UPSERT the record and its owner TXT.
pub fn update_steps(record: Rrset, owner: Rrset) -> Vec<Step> {
    vec![
        step(ChangeAction::Upsert, record),
        step(ChangeAction::Upsert, owner),
    ]
}

/// Delete: DELETE the record and its owner TXT with exactly the values observed (AWS refuses
/// if they changed since). A TXT that also holds other values keeps them (UPSERT).
pub fn delete_steps(prior: Option<Rrset>, prior_owner: Rrset, ours: &str) -> Vec<Step> {
    let mut out: Vec<Step> = prior
        .into_iter()
        .map(|r| step(ChangeAction::Delete, r))
        .collect();
    let rest: Vec<String> = prior_owner
        .values
        .iter()
        .filter(|v| *v != ours)
        .cloned()
        .collect();
    if rest.is_empty() || rest.len() == prior_owner.values.len() {
        out.push(step(ChangeAction::Delete, prior_owner));
    } else {
        out.push(step(
            ChangeAction::Upsert,
            Rrset {
                values: rest,
                ..prior_owner
            },
        ));
    }
    out
}

pub fn to_batch(steps: &[Step], comment: &str) -> ChangeBatch {
    ChangeBatch::builder()
        .comment(comment)
        .set_changes(Some(
            steps
                .iter()
                .map(|s| {
                    SdkChange::builder()
                        .action(s.action.clone())
                        .resource_record_set(s.rrset.to_sdk())
                        .build()
                        .expect("action and record set are set")
                })
                .collect(),
        ))
        .build()
        .expect("changes are set")
}

// ---------------------------------------------------------------------------------------------
// error mapping (pure)

/// ChangeResourceRecordSets' refusals, in words that say what to do.
pub fn map_change_error(e: AwsError, what: &str) -> AwsError {
    if e.code != "InvalidChangeBatch" {
        return e;
    }
    let m = e.message.to_ascii_lowercase();
    let message = if m.contains("already exists") {
        format!(
            "conflict: {what} was created by someone else since the plan; rtech does not overwrite a record it did not create (AWS: {})",
            e.message
        )
    } else if m.contains("values provided do not match") {
        format!(
            "{what} changed since the plan; run plan again (AWS: {})",
            e.message
        )
    } else if m.contains("not permitted") && m.contains("conflicting") {
        format!(
            "conflict: {what} cannot coexist with another record of the same name (a CNAME stands alone); rtech does not touch that record (AWS: {})",
            e.message
        )
    } else {
        format!("{what}: {}", e.message)
    };
    e.with_message(message)
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
    {
        let message = format!(
            "hosted zone {zone} still holds {} record(s) rtech did not create: {}; delete them (or move them elsewhere), then destroy again",
            left.len(),
            left.join(", ")
        );
        e.with_message(message)
    }
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

async fn wait_insync(ctx: &Ctx, change_id: &str, what: &str, task: &Task) -> Result<(), AwsError> {
    task.status(&format!(
        "waiting for Route 53 to report {what} INSYNC (change {})",
        bare_zone_id(change_id)
    ));
    ctx.clients
        .route53
        .wait_until_resource_record_sets_changed()
        .id(bare_zone_id(change_id))
        .wait(WAIT)
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
    let out = retry_on(&["PriorRequestNotComplete", "Throttling"], BUSY, || {
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

/// The zone a record goes into: its resolved `zone_id`, else the (existing) zone by name.
async fn zone_for(ctx: &Ctx, r: &Resource) -> Result<String, AwsError> {
    if let Some(z) = r.get_str("zone_id") {
        return Ok(z.to_string());
    }
    let name = r.get_str("zone").unwrap_or_default();
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

fn record_what(rr: &Rrset) -> String {
    format!("{} {}", norm_name(&rr.name), rr.rtype)
}

async fn create_record(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let rr = desired_rrset(r)?;
    let zone = zone_for(ctx, r).await?;
    let name = norm_name(&rr.name);
    let owner = owner_rrset(&ctx.project, &ctx.env, &r.id, &rr.rtype, &name);
    // Our TXT may be left from a record deleted out of band: look (one call).
    let existing = lookup(ctx, &zone, &owner).await?;
    let what = record_what(&rr);
    let mut steps = create_steps(rr.clone(), owner, existing.as_ref())
        .map_err(|m| AwsError::new("route53:ChangeResourceRecordSets", "OwnershipConflict", m))?;
    match change(ctx, &zone, &steps, &what, task).await {
        Ok(()) => {}
        // The emulator's duplicate-CREATE check (a CREATE identical to an earlier one) looks
        // past the record's own name and type: when the record is really absent, UPSERT it.
        Err(e)
            if ctx.clients.emulator_quirks
                && e.code == "InvalidChangeBatch"
                && e.message.contains("already exists")
                && lookup(ctx, &zone, &rr).await?.is_none() =>
        {
            steps[0].action = ChangeAction::Upsert;
            change(ctx, &zone, &steps, &what, task).await?;
        }
        Err(e) => return Err(e),
    }
    let mut a = Attrs::new();
    a.insert("id".into(), physical(&zone_ref(&zone), &name, &rr.rtype));
    a.insert("fqdn".into(), name);
    a.insert("zone_id".into(), zone);
    Ok(a)
}

fn prior_json<T: for<'de> Deserialize<'de>>(o: &Observed, key: &str) -> Option<T> {
    o.attrs.get(key).and_then(|s| serde_json::from_str(s).ok())
}

async fn update_record(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    task: &Task,
) -> Result<Attrs, AwsError> {
    let rr = desired_rrset(r)?;
    let zone = prior.attrs.get("zone_id").cloned().unwrap_or_default();
    let name = norm_name(&rr.name);
    let owner = owner_rrset(&ctx.project, &ctx.env, &r.id, &rr.rtype, &name);
    let what = record_what(&rr);
    change(ctx, &zone, &update_steps(rr, owner), &what, task).await?;
    Ok(prior.attrs.clone())
}

async fn delete_record(ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
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
    match change(ctx, &zone, &steps, &what, task).await {
        Err(e) if e.code == "NoSuchHostedZone" => Ok(Attrs::new()),
        Err(e) => Err(e),
        Ok(()) => Ok(Attrs::new()),
    }
}

fn r53_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn sync_zone_tags(
    ctx: &Ctx,
    zone: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let d = tag_delta(before, after);
    if d.removed.is_empty() && d.set.is_empty() {
        return Ok(());
    }
    let set: BTreeMap<String, String> = d.set.into_iter().collect();
    ctx.clients
        .route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(zone)
        .set_add_tags((!set.is_empty()).then(|| r53_tags(&set)))
        .set_remove_tag_keys((!d.removed.is_empty()).then_some(d.removed))
        .send()
        .await
        .map_err(aws("route53:ChangeTagsForResource"))?;
    Ok(())
}

async fn create_zone(ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
    let name = r.get_str("name").unwrap_or_default();
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
                .set_comment(r.get_str("comment").map(str::to_string))
                .private_zone(false)
                .build(),
        )
        .send()
        .await
        .map_err(aws("route53:CreateHostedZone"))
        .map_err(|e| {
            if e.code == "HostedZoneAlreadyExists" {
                {
                    let message = format!(
                        "a hosted zone was already created with CallerReference {reference}: run plan again, it finds the zone by its name and tags ({})",
                        e.message
                    );
                    e.with_message(message)
                }
            } else {
                e
            }
        })?;
    let zone = out
        .hosted_zone()
        .map(|z| bare_zone_id(z.id()))
        .unwrap_or_default();
    task.status("tagging the hosted zone");
    sync_zone_tags(ctx, &zone, &BTreeMap::new(), &tags_of(&r.props)).await?;
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

async fn update_zone(
    ctx: &Ctx,
    r: &Resource,
    prior: &Observed,
    changed: &BTreeSet<String>,
) -> Result<Attrs, AwsError> {
    let zone = &prior.physical_id;
    if changed.contains("comment") {
        ctx.clients
            .route53
            .update_hosted_zone_comment()
            .id(zone)
            .set_comment(r.get_str("comment").map(str::to_string))
            .send()
            .await
            .map_err(aws("route53:UpdateHostedZoneComment"))?;
    }
    if changed.contains("tags") {
        sync_zone_tags(ctx, zone, &tags_of(&prior.props), &tags_of(&r.props)).await?;
    }
    Ok(prior.attrs.clone())
}

async fn delete_zone(ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
    let zone = &o.physical_id;
    let name = o.get_str("name").unwrap_or_default().to_string();
    task.status(&format!("deleting hosted zone {name}"));
    let out = match ctx
        .clients
        .route53
        .delete_hosted_zone()
        .id(zone)
        .send()
        .await
        .map_err(aws("route53:DeleteHostedZone"))
    {
        Ok(o) => o,
        Err(e) if e.code == "NoSuchHostedZone" => return Ok(Attrs::new()),
        Err(e) if e.code == "HostedZoneNotEmpty" => {
            let left = rrsets(ctx, zone).await.unwrap_or_default();
            return Err(zone_not_empty(e, &name, &left));
        }
        Err(e) => return Err(e),
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
    Ok(Attrs::new())
}

// ---------------------------------------------------------------------------------------------
// observe

async fn observe(ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
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

pub struct Dns;

#[async_trait]
impl Reconciler for Dns {
    fn service(&self) -> &'static str {
        "route53"
    }
    fn conflict_message(&self, ctx: &Ctx, c: &crate::plan::Conflict) -> Option<String> {
        conflict_message(&ctx.project, &ctx.env, c)
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        observe(ctx, desired).await
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) if r.id.kind == HOSTED_ZONE => create_zone(ctx, r, task).await,
            Op::Create(r) => create_record(ctx, r, task).await,
            Op::Update {
                desired,
                prior,
                changed,
            } if desired.id.kind == HOSTED_ZONE => update_zone(ctx, desired, prior, changed).await,
            Op::Update { desired, prior, .. } => update_record(ctx, desired, prior, task).await,
            Op::Delete(o) if o.id.kind == HOSTED_ZONE => delete_zone(ctx, o, task).await,
            Op::Delete(o) => delete_record(ctx, o, task).await,
        }
    }
}

#[cfg(test)]
mod tests;

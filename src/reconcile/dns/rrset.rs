//! Route 53 record sets as the API has them, the ownership TXT beside each record, the change
//! batches that create, update and delete a record with its TXT, and the refusals of
//! ChangeResourceRecordSets in words that say what to do (all pure).

use std::collections::BTreeMap;

use aws_sdk_route53::types::{
    AliasTarget, Change as SdkChange, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType,
};
use serde::{Deserialize, Serialize};

use super::{OWNER_LABEL, TTL};
use crate::aws::AwsError;
use crate::model::ResourceId;

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

pub(super) fn ours(o: &Owner, project: &str, env: &str) -> bool {
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

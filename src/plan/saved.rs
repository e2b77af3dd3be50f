//! Saved plans (`rtech plan --out FILE`): the changes to make plus a fingerprint of everything
//! the plan read, so that `rtech apply FILE` can refuse a plan that is stale.
//! A saved plan never holds a secret: sensitive values are produced at apply time only.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Plan, ABSENT};
use crate::model::{Observed, ResourceId};

const MAGIC: &str = "rtech-saved-plan";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    rtech_version: String,
    plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{0}: cannot read the saved plan: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: cannot write the saved plan: {1}")]
    Write(String, std::io::Error),
    #[error("{0}: not an rtech saved plan ({1})")]
    Format(String, String),
    #[error("plan is stale: {0} changed since the plan was made; run rtech plan again")]
    Stale(ResourceId),
}

pub fn write(path: &Path, plan: &Plan) -> Result<(), SavedError> {
    let f = File {
        format: MAGIC.into(),
        version: VERSION,
        rtech_version: env!("CARGO_PKG_VERSION").into(),
        plan: scrub(plan),
    };
    let text = serde_json::to_string_pretty(&f).expect("plans serialise");
    std::fs::write(path, text).map_err(|e| SavedError::Write(path.display().to_string(), e))
}

/// A saved plan never holds a secret: any sensitive property is written as unknown (secrets
/// are generated or read at apply time, never carried in a plan file).
fn scrub(plan: &Plan) -> Plan {
    let mut p = plan.clone();
    let clean = |r: &mut crate::model::Resource| {
        for k in r.sensitive.clone() {
            if let Some(v) = r.props.get_mut(&k) {
                *v = crate::model::Value::Unknown;
            }
        }
    };
    p.desired.iter_mut().for_each(clean);
    for c in &mut p.changes {
        if let Some(d) = c.desired.as_mut() {
            clean(d);
        }
        for f in c.fields.iter_mut().filter(|f| f.sensitive) {
            f.before = f.before.as_ref().map(|_| crate::model::Value::Unknown);
            f.after = f.after.as_ref().map(|_| crate::model::Value::Unknown);
        }
    }
    p
}

pub fn read(path: &Path) -> Result<Plan, SavedError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SavedError::Read(name.clone(), e))?;
    let f: File =
        serde_json::from_str(&text).map_err(|e| SavedError::Format(name.clone(), e.to_string()))?;
    if f.format != MAGIC || f.version != VERSION {
        return Err(SavedError::Format(
            name,
            format!("format {} version {}", f.format, f.version),
        ));
    }
    Ok(f.plan)
}

/// Refuse if anything the plan read (including what was absent) looks different now, or if a
/// resource of ours appeared that the plan never saw.
pub fn check_fresh(plan: &Plan, now: &[Observed]) -> Result<(), SavedError> {
    let fresh: BTreeMap<&ResourceId, String> =
        now.iter().map(|o| (&o.id, o.fingerprint())).collect();
    for (id, fp) in &plan.fingerprints {
        let cur = fresh.get(id).map(String::as_str).unwrap_or(ABSENT);
        if cur != fp {
            return Err(SavedError::Stale(id.clone()));
        }
    }
    for id in fresh.keys() {
        if !plan.fingerprints.contains_key(*id) {
            return Err(SavedError::Stale((*id).clone()));
        }
    }
    Ok(())
}

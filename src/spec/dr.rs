//! `[dr]`: the env's disaster-recovery targets, which `rtech drill` judges its measurements by.
//!
//! Optional: without it the targets are the platform's, a recovery time (RTO) under 60 minutes
//! and a recovery point (RPO) under 15 minutes.

use schemars::JsonSchema;
use serde::Deserialize;

use super::data::int_in;
use super::Errors;
use crate::spec::Spanned;

/// `[dr]`: the recovery targets `rtech drill` judges its measurements by.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDr {
    /// A failover or restore passes only if the service serves again in less than this (1–10080;
    /// default 60).
    pub rto_minutes: Option<Spanned<i64>>,
    /// A restore passes only if its snapshot is younger than this when the drill starts (1–50400;
    /// default 15).
    pub rpo_minutes: Option<Spanned<i64>>,
}

/// The validated `[dr]` (defaults applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dr {
    /// A failover or a restore passes only if the service serves again within less than this.
    pub rto_minutes: u64,
    /// A restore passes only if the snapshot it restores is younger than this when the drill
    /// starts.
    pub rpo_minutes: u64,
}

impl Default for Dr {
    fn default() -> Self {
        Dr {
            rto_minutes: 60,
            rpo_minutes: 15,
        }
    }
}

/// A week, in minutes: the longest RTO a drill judges.
const MAX_RTO: i64 = 7 * 24 * 60;
/// 35 days (DocumentDB's longest backup retention), in minutes: the longest RPO.
const MAX_RPO: i64 = 35 * 24 * 60;

pub fn validate_dr(errs: &mut Errors, raw: Option<&Spanned<RawDr>>) -> Dr {
    let d = Dr::default();
    let Some(raw) = raw else {
        return d;
    };
    let r = raw.get_ref();
    Dr {
        rto_minutes: int_in(
            errs,
            &r.rto_minutes,
            "dr.rto_minutes",
            1..=MAX_RTO,
            d.rto_minutes as i64,
        ) as u64,
        rpo_minutes: int_in(
            errs,
            &r.rpo_minutes,
            "dr.rpo_minutes",
            1..=MAX_RPO,
            d.rpo_minutes as i64,
        ) as u64,
    }
}

//! `[loadtest]`: what `rtech loadtest` requests and the thresholds it judges the run by.
//!
//! Optional: without it every virtual user requests `/api/health` with 1 s think time, and a
//! run passes when the 95th percentile latency is under 200 ms and under 0.1 % of requests
//! fail.

use schemars::JsonSchema;
use serde::Deserialize;

use super::data::int_in;
use super::Errors;
use crate::spec::Spanned;

/// The path every virtual user requests unless `[loadtest] paths` says otherwise.
pub const DEFAULT_PATH: &str = "/api/health";

/// `[loadtest]`: what `rtech loadtest` requests and the thresholds it judges a run by.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadtest {
    /// The paths a virtual user requests, in turn: each starts with `/`, no spaces, at most 1024
    /// characters, none twice (default `["/api/health"]`).
    pub paths: Option<Spanned<Vec<Spanned<String>>>>,
    /// The run passes only if the p95 latency is under this many milliseconds (1–60000; default
    /// 200).
    pub p95_ms: Option<Spanned<i64>>,
    /// The run passes only if the share of failed requests is under this percentage (0–100, 0: none
    /// may fail; default 0.1).
    #[schemars(with = "Option<f64>")]
    pub max_error_percent: Option<Spanned<toml::Value>>,
    /// A user's next request is due this long after its previous one was due (10–600000; default
    /// 1000).
    pub think_time_ms: Option<Spanned<i64>>,
    /// A request without a response this long after it was due fails (100–300000; default 10000).
    pub timeout_ms: Option<Spanned<i64>>,
}

/// The validated `[loadtest]` (defaults applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Loadtest {
    /// The paths a virtual user requests, in turn (each starts with `/`).
    pub paths: Vec<String>,
    /// The run passes only if the 95th percentile latency is under this.
    pub p95_ms: u64,
    /// The run passes only if the share of failed requests is under this (percent; 0: none
    /// may fail).
    pub max_error_percent: f64,
    /// A virtual user's next request is due this long after its previous one was due.
    pub think_time_ms: u64,
    /// A request without a response after this long (from when it was due) is a failure.
    pub timeout_ms: u64,
}

impl Default for Loadtest {
    fn default() -> Self {
        Loadtest {
            paths: vec![DEFAULT_PATH.into()],
            p95_ms: 200,
            max_error_percent: 0.1,
            think_time_ms: 1000,
            timeout_ms: 10_000,
        }
    }
}

/// A request path: absolute, printable ASCII without spaces, at most 1024 characters.
fn valid_path(p: &str) -> bool {
    p.starts_with('/') && p.len() <= 1024 && p.bytes().all(|b| b.is_ascii_graphic())
}

pub fn validate_loadtest(errs: &mut Errors, raw: Option<&Spanned<RawLoadtest>>) -> Loadtest {
    let Some(raw) = raw else {
        return Loadtest::default();
    };
    let r = raw.get_ref();
    let d = Loadtest::default();
    let paths = match &r.paths {
        None => d.paths.clone(),
        Some(list) => {
            if list.get_ref().is_empty() {
                errs.push(
                    list.span(),
                    "loadtest.paths",
                    format!(
                        "lists no path: name at least one, or remove the key for {DEFAULT_PATH}"
                    ),
                );
            }
            let mut out: Vec<String> = vec![];
            for (i, p) in list.get_ref().iter().enumerate() {
                let path = format!("loadtest.paths[{i}]");
                if !valid_path(p.get_ref()) {
                    errs.push(
                        p.span(),
                        &path,
                        format!(
                            "{:?} is not a request path (starts with /, no spaces, at most 1024 characters)",
                            p.get_ref()
                        ),
                    );
                } else if out.contains(p.get_ref()) {
                    errs.push(
                        p.span(),
                        &path,
                        format!("{:?} is listed twice", p.get_ref()),
                    );
                }
                out.push(p.get_ref().clone());
            }
            out
        }
    };
    let p95_ms = int_in(errs, &r.p95_ms, "loadtest.p95_ms", 1..=60_000, 200) as u64;
    let max_error_percent = match &r.max_error_percent {
        None => d.max_error_percent,
        Some(v) => {
            let n = match v.get_ref() {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) if f.is_finite() => Some(*f),
                _ => None,
            };
            match n {
                Some(n) if (0.0..=100.0).contains(&n) => n,
                _ => {
                    errs.push(
                        v.span(),
                        "loadtest.max_error_percent",
                        format!("{} is not a percentage from 0 to 100", v.get_ref()),
                    );
                    d.max_error_percent
                }
            }
        }
    };
    let think_time_ms = int_in(
        errs,
        &r.think_time_ms,
        "loadtest.think_time_ms",
        10..=600_000,
        1000,
    ) as u64;
    let timeout_ms = int_in(
        errs,
        &r.timeout_ms,
        "loadtest.timeout_ms",
        100..=300_000,
        10_000,
    ) as u64;
    Loadtest {
        paths,
        p95_ms,
        max_error_percent,
        think_time_ms,
        timeout_ms,
    }
}

//! What a load test measured: latencies in HDR histograms (overall, and per path and
//! outcome), the thresholds judged against them, the ECS service's scaling samples, and the
//! report's text form. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::spec::loadtest::Loadtest;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An HTTP response with this status.
    Status(u16),
    /// No response within the request timeout (counted from when the request was due).
    Timeout,
    /// No response: the connection failed or broke.
    Failed,
}

impl Outcome {
    /// A failure: a 4xx or 5xx status, a timeout or a connection error.
    pub fn is_error(&self) -> bool {
        match self {
            Outcome::Status(s) => *s >= 400,
            Outcome::Timeout | Outcome::Failed => true,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Failed => "error".into(),
        }
    }
}

/// The largest latency recorded: one hour, in microseconds (longer ones are clamped).
const MAX_MICROS: u64 = 3_600_000_000;
/// How many distinct connection-error messages the report keeps.
const KEEP_MESSAGES: usize = 5;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Every request's latency, as it is recorded.
pub struct Recorder {
    overall: Histogram<u64>,
    rows: BTreeMap<(String, Outcome), Histogram<u64>>,
    errors: u64,
    messages: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            overall: histogram(),
            rows: BTreeMap::new(),
            errors: 0,
            messages: BTreeMap::new(),
        }
    }
}

/// The figures the live progress line shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 1000.0 * 1000.0).round() / 1000.0
}

impl Recorder {
    /// One request to `path` that ended as `outcome`, `latency` after it was due; `message`
    /// says why a request without a response failed.
    pub fn record(
        &mut self,
        path: &str,
        outcome: Outcome,
        latency: Duration,
        message: Option<String>,
    ) {
        let us = (latency.as_micros().min(MAX_MICROS as u128) as u64).max(1);
        self.overall.saturating_record(us);
        if outcome.is_error() {
            self.errors += 1;
        }
        if let Some(m) = message {
            if let Some(n) = self.messages.get_mut(&m) {
                *n += 1;
            } else if self.messages.len() < KEEP_MESSAGES {
                self.messages.insert(m, 1);
            }
        }
        self.rows
            .entry((path.to_string(), outcome))
            .or_insert_with(histogram)
            .saturating_record(us);
    }

    pub fn requests(&self) -> u64 {
        self.overall.len()
    }

    pub fn live(&self) -> Live {
        let q = |p| ms(self.overall.value_at_quantile(p));
        Live {
            requests: self.requests(),
            errors: self.errors,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }

    fn latency(h: &Histogram<u64>) -> Latency {
        let q = |p| ms(h.value_at_quantile(p));
        Latency {
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: ms(h.max()),
        }
    }

    /// The measurements of the run: overall, per path and outcome, and the thresholds.
    pub fn measured(&self, cfg: &Loadtest, elapsed: Duration) -> Measured {
        let requests = self.requests();
        let error_rate_percent = if requests == 0 {
            0.0
        } else {
            round3(self.errors as f64 * 100.0 / requests as f64)
        };
        let latency = Self::latency(&self.overall);
        let rows = self
            .rows
            .iter()
            .map(|((path, outcome), h)| Row {
                path: path.clone(),
                status: outcome.label(),
                requests: h.len(),
                latency: Self::latency(h),
            })
            .collect();
        let thresholds = thresholds(
            cfg,
            requests,
            self.errors,
            (requests > 0).then_some(latency.p95_ms),
        );
        Measured {
            requests,
            errors: self.errors,
            error_rate_percent,
            requests_per_second: if elapsed.is_zero() {
                0.0
            } else {
                round3(requests as f64 / elapsed.as_secs_f64())
            },
            latency,
            rows,
            error_messages: self
                .messages
                .iter()
                .map(|(m, n)| ErrorMessage {
                    message: m.clone(),
                    count: *n,
                })
                .collect(),
            passed: thresholds.iter().all(|t| t.pass),
            thresholds,
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One path and outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub path: String,
    /// The HTTP status, `timeout` or `error` (no response).
    pub status: String,
    pub requests: u64,
    pub latency: Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorMessage {
    pub message: String,
    pub count: u64,
}

/// One threshold, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// `p95_ms` or `error_rate_percent`.
    pub name: String,
    /// The measure must be under this.
    pub limit: f64,
    /// None: nothing was measured (no request completed).
    pub measured: Option<f64>,
    pub pass: bool,
}

/// p95 under `p95_ms`, and the error rate under `max_error_percent` (a limit of 0: no error
/// at all). A run without any request fails both.
pub fn thresholds(
    cfg: &Loadtest,
    requests: u64,
    errors: u64,
    p95_ms: Option<f64>,
) -> Vec<Threshold> {
    let rate = (requests > 0).then(|| round3(errors as f64 * 100.0 / requests as f64));
    vec![
        Threshold {
            name: "p95_ms".into(),
            limit: cfg.p95_ms as f64,
            measured: p95_ms,
            pass: p95_ms.is_some_and(|p| p < cfg.p95_ms as f64),
        },
        Threshold {
            name: "error_rate_percent".into(),
            limit: cfg.max_error_percent,
            measured: rate,
            pass: rate.is_some_and(|r| {
                r < cfg.max_error_percent || (cfg.max_error_percent == 0.0 && errors == 0)
            }),
        },
    ]
}

/// Everything measured of the requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub requests: u64,
    pub errors: u64,
    pub error_rate_percent: f64,
    pub requests_per_second: f64,
    pub latency: Latency,
    /// Per path and outcome, by path then status.
    pub rows: Vec<Row>,
    /// Why requests without a response failed (the first few distinct messages).
    pub error_messages: Vec<ErrorMessage>,
    pub thresholds: Vec<Threshold>,
    /// Every threshold passed.
    pub passed: bool,
}

/// One sample of the ECS service and its scalable target, `at_s` seconds after the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub desired: Option<i32>,
    pub running: Option<i32>,
    pub pending: Option<i32>,
    /// The scalable target's bounds (None: the service has no scalable target).
    pub min: Option<i32>,
    pub max: Option<i32>,
    /// Why this sample has no figures (the call failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The desired count changed between two samples: scaling reacted by `at_s` (seconds after
/// the start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredChange {
    pub at_s: f64,
    pub from: i32,
    pub to: i32,
}

/// One Application Auto Scaling activity on the service's target since the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub at_s: f64,
    pub status: String,
    pub description: String,
}

/// The ECS service while the load ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scaling {
    pub cluster: String,
    pub service: String,
    pub interval_s: f64,
    pub samples: Vec<Sample>,
    /// When the desired count changed, from the samples.
    pub changes: Vec<DesiredChange>,
    pub activities: Vec<Activity>,
}

/// Each change of the desired count between consecutive samples that have one.
pub fn desired_changes(samples: &[Sample]) -> Vec<DesiredChange> {
    let mut out = vec![];
    let mut last: Option<i32> = None;
    for s in samples {
        let Some(d) = s.desired else { continue };
        if let Some(prev) = last {
            if prev != d {
                out.push(DesiredChange {
                    at_s: s.at_s,
                    from: prev,
                    to: d,
                });
            }
        }
        last = Some(d);
    }
    out
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub scenario: crate::loadtest::scenario::Scenario,
    pub url: String,
    pub paths: Vec<String>,
    pub think_time_ms: u64,
    pub duration_s: f64,
    pub peak_users: u32,
    #[serde(flatten)]
    pub measured: Measured,
    /// None: not sampled (`--no-sample`).
    pub scaling: Option<Scaling>,
}

/// `83s` → `1m23s`; under a minute `12.5s`.
pub fn human_secs(s: f64) -> String {
    if s < 60.0 {
        let r = (s * 10.0).round() / 10.0;
        if r.fract() == 0.0 {
            format!("{r:.0}s")
        } else {
            format!("{r:.1}s")
        }
    } else {
        let t = s.round() as u64;
        format!("{}m{}s", t / 60, t % 60)
    }
}

fn threshold_line(t: &Threshold) -> String {
    let verdict = if t.pass { "pass" } else { "FAIL" };
    let (what, unit, measured) = match t.name.as_str() {
        "p95_ms" => ("p95 latency", " ms", t.measured.map(|m| format!("{m:.1}"))),
        _ => ("error rate", " %", t.measured.map(|m| m.to_string())),
    };
    let measured = match measured {
        Some(m) => format!("{m}{unit}"),
        None => "nothing measured".into(),
    };
    format!("  {what} < {}{unit}: {measured}  {verdict}", t.limit)
}

fn fmt_opt(v: Option<i32>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The report as text: summary, a table per path and status, the thresholds, and scaling.
pub fn render(r: &Report) -> String {
    let m = &r.measured;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Load test {} against {}: up to {} users for {}, think time {} ms",
        r.scenario.name,
        r.url,
        r.peak_users,
        human_secs(r.duration_s),
        r.think_time_ms
    );
    let _ = writeln!(
        out,
        "{} requests ({}/s), {} failed ({} %)",
        m.requests, m.requests_per_second, m.errors, m.error_rate_percent
    );
    let l = &m.latency;
    let _ = writeln!(
        out,
        "latency from the intended send time: p50 {:.1} ms, p90 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms
    );
    out.push('\n');
    let header = [
        "path", "status", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for row in &m.rows {
        table.push(vec![
            row.path.clone(),
            row.status.clone(),
            row.requests.to_string(),
            format!("{:.1}", row.latency.p50_ms),
            format!("{:.1}", row.latency.p95_ms),
            format!("{:.1}", row.latency.p99_ms),
            format!("{:.1}", row.latency.max_ms),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i < 2 {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !m.error_messages.is_empty() {
        out.push_str("\nRequests without a response:\n");
        for e in &m.error_messages {
            let _ = writeln!(out, "  {} × {}", e.count, e.message);
        }
    }
    out.push_str("\nThresholds:\n");
    for t in &m.thresholds {
        out.push_str(&threshold_line(t));
        out.push('\n');
    }
    if let Some(s) = &r.scaling {
        let _ = writeln!(
            out,
            "\nECS service {}/{} (sampled every {}):",
            s.cluster,
            s.service,
            human_secs(s.interval_s)
        );
        match s.samples.iter().find(|x| x.error.is_none()) {
            Some(first) => {
                let bounds = match (first.min, first.max) {
                    (Some(a), Some(b)) => format!(", scalable target {a}–{b}"),
                    _ => ", no scalable target".into(),
                };
                let _ = writeln!(
                    out,
                    "  at +{}: desired {}, running {}{bounds}",
                    human_secs(first.at_s),
                    fmt_opt(first.desired),
                    fmt_opt(first.running)
                );
            }
            None => out.push_str("  no sample succeeded\n"),
        }
        if s.changes.is_empty() {
            out.push_str("  desired count unchanged: scaling did not react\n");
        }
        for c in &s.changes {
            let _ = writeln!(
                out,
                "  scaling reacted by +{}: desired {} → {}",
                human_secs(c.at_s),
                c.from,
                c.to
            );
        }
        if let Some(last) = s.samples.iter().rev().find(|x| x.error.is_none()) {
            let _ = writeln!(
                out,
                "  at +{}: desired {}, running {}",
                human_secs(last.at_s),
                fmt_opt(last.desired),
                fmt_opt(last.running)
            );
        }
        let failed = s.samples.iter().filter(|x| x.error.is_some()).count();
        if failed > 0 {
            let why = s
                .samples
                .iter()
                .find_map(|x| x.error.clone())
                .unwrap_or_default();
            let _ = writeln!(out, "  {failed} sample(s) failed: {why}");
        }
        for a in &s.activities {
            let _ = writeln!(
                out,
                "  activity at +{}: {} ({})",
                human_secs(a.at_s),
                a.description,
                a.status
            );
        }
    }
    let _ = writeln!(
        out,
        "\nResult: {}",
        if m.passed {
            "pass"
        } else {
            "FAIL (a threshold was not met)"
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadtest::scenario::Scenario;

    fn cfg() -> Loadtest {
        Loadtest::default()
    }

    fn ms_d(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_come_from_the_histogram_and_errors_from_statuses() {
        let mut r = Recorder::default();
        // 90 fast answers, 10 slow ones: p50 is fast, p95 and p99 slow.
        for i in 0..100u64 {
            let (lat, outcome) = if i % 10 == 9 {
                (ms_d(300), Outcome::Status(200))
            } else {
                (ms_d(10), Outcome::Status(200))
            };
            r.record("/api/health", outcome, lat, None);
        }
        r.record("/api/health", Outcome::Status(503), ms_d(5), None);
        r.record(
            "/api/health",
            Outcome::Failed,
            ms_d(1),
            Some("connection refused".into()),
        );
        let m = r.measured(&cfg(), Duration::from_secs(10));
        assert_eq!((m.requests, m.errors), (102, 2));
        assert_eq!(m.error_rate_percent, 1.961);
        assert_eq!(m.requests_per_second, 10.2);
        assert!((m.latency.p50_ms - 10.0).abs() < 0.1, "{:?}", m.latency);
        assert!((m.latency.p95_ms - 300.0).abs() < 1.0, "{:?}", m.latency);
        assert!((m.latency.max_ms - 300.0).abs() < 1.0, "{:?}", m.latency);
        let rows: Vec<(&str, &str, u64)> = m
            .rows
            .iter()
            .map(|r| (r.path.as_str(), r.status.as_str(), r.requests))
            .collect();
        assert_eq!(
            rows,
            [
                ("/api/health", "200", 100),
                ("/api/health", "503", 1),
                ("/api/health", "error", 1)
            ]
        );
        assert_eq!(m.error_messages[0].message, "connection refused");
        assert!(!m.passed);
        let live = r.live();
        assert_eq!((live.requests, live.errors), (102, 2));
    }

    #[test]
    fn thresholds_pass_only_strictly_under_their_limits() {
        let c = cfg();
        let judge = |requests, errors, p95| {
            thresholds(&c, requests, errors, p95)
                .iter()
                .map(|t| t.pass)
                .collect::<Vec<_>>()
        };
        assert_eq!(judge(10_000, 9, Some(199.9)), [true, true]);
        // 0.1 % exactly, 200 ms exactly: both fail.
        assert_eq!(judge(10_000, 10, Some(200.0)), [false, false]);
        // Nothing measured fails.
        assert_eq!(judge(0, 0, None), [false, false]);
        // A limit of 0 %: no error at all.
        let zero = Loadtest {
            max_error_percent: 0.0,
            ..cfg()
        };
        assert!(thresholds(&zero, 5, 0, Some(1.0))[1].pass);
        assert!(!thresholds(&zero, 5, 1, Some(1.0))[1].pass);
    }

    #[test]
    fn desired_count_changes_are_found_between_samples() {
        let s = |at_s, desired| Sample {
            at_s,
            desired,
            running: desired,
            pending: Some(0),
            min: Some(2),
            max: Some(10),
            error: None,
        };
        let samples = [
            s(0.0, Some(2)),
            s(15.0, Some(2)),
            s(30.0, None),
            s(45.0, Some(4)),
            s(60.0, Some(6)),
        ];
        assert_eq!(
            desired_changes(&samples),
            [
                DesiredChange {
                    at_s: 45.0,
                    from: 2,
                    to: 4
                },
                DesiredChange {
                    at_s: 60.0,
                    from: 4,
                    to: 6
                }
            ]
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(5.0), "5s");
        assert_eq!(human_secs(12.34), "12.3s");
        assert_eq!(human_secs(83.0), "1m23s");
        assert_eq!(human_secs(300.0), "5m0s");
    }

    fn sample_report(passed_p95: f64) -> Report {
        let mut rec = Recorder::default();
        for i in 0..1000u64 {
            rec.record("/api/health", Outcome::Status(200), ms_d(20 + i % 50), None);
        }
        for _ in 0..5 {
            rec.record(
                "/api/items",
                Outcome::Status(200),
                ms_d(passed_p95 as u64),
                None,
            );
        }
        rec.record("/api/items", Outcome::Status(500), ms_d(40), None);
        rec.record(
            "/api/items",
            Outcome::Timeout,
            ms_d(10_000),
            Some("no response within 10000 ms".into()),
        );
        let cfg = Loadtest {
            paths: vec!["/api/health".into(), "/api/items".into()],
            ..cfg()
        };
        let samples = vec![
            Sample {
                at_s: 0.0,
                desired: Some(2),
                running: Some(2),
                pending: Some(0),
                min: Some(2),
                max: Some(10),
                error: None,
            },
            Sample {
                at_s: 45.0,
                desired: Some(4),
                running: Some(2),
                pending: Some(2),
                min: Some(2),
                max: Some(10),
                error: None,
            },
            Sample {
                at_s: 60.0,
                desired: None,
                running: None,
                pending: None,
                min: None,
                max: None,
                error: Some("ecs:DescribeServices: ThrottlingException".into()),
            },
            Sample {
                at_s: 300.0,
                desired: Some(4),
                running: Some(4),
                pending: Some(0),
                min: Some(2),
                max: Some(10),
                error: None,
            },
        ];
        let scenario = Scenario::named("baseline").unwrap();
        Report {
            url: "https://rtech.example.com".into(),
            paths: cfg.paths.clone(),
            think_time_ms: cfg.think_time_ms,
            duration_s: scenario.duration().as_secs_f64(),
            peak_users: scenario.peak_users(),
            scenario,
            measured: rec.measured(&cfg, Duration::from_secs(300)),
            scaling: Some(Scaling {
                cluster: "rtech-prod".into(),
                service: "rtech-prod-app".into(),
                interval_s: 15.0,
                changes: desired_changes(&samples),
                samples,
                activities: vec![Activity {
                    at_s: 40.2,
                    status: "Successful".into(),
                    description: "Setting desired count to 4.".into(),
                }],
            }),
        }
    }

    #[test]
    fn report_text() {
        insta::assert_snapshot!(render(&sample_report(30.0)));
    }

    #[test]
    fn report_json_has_the_measures_flat_and_the_scaling_samples() {
        let j = serde_json::to_value(sample_report(30.0)).unwrap();
        assert_eq!(j["requests"], 1007);
        assert_eq!(j["scenario"]["name"], "baseline");
        assert_eq!(j["thresholds"][0]["name"], "p95_ms");
        assert_eq!(j["passed"], false);
        assert_eq!(j["scaling"]["changes"][0]["to"], 4);
        assert_eq!(
            j["scaling"]["samples"][2]["error"],
            "ecs:DescribeServices: ThrottlingException"
        );
        assert!(j["scaling"]["samples"][0].get("error").is_none());
    }
}

//! `rtech drill`'s pure parts: the preconditions' refusals, the restore drill's cluster name,
//! the verdicts against the env's `[dr]` targets, and the report (text and JSON).
//!
//! A drill measures two figures:
//! - RTO, the recovery time: from the failover's request until the new primary serves, or from
//!   the restore's request until the restored cluster and its instance are available;
//! - RPO, the recovery point (restore only): the age of the restored snapshot when the drill
//!   started, i.e. how much data a restore from it would lose.
//!
//! Each passes when it is under its target (`rto_minutes`, `rpo_minutes`).

use std::time::SystemTime;

use serde::Serialize;

use crate::spec::dr::Dr;

/// The marker tag of a restore drill's cluster and instance (value: the drill's start, RFC
/// 3339). They carry the env's `rtech:project` and `rtech:env` but no `rtech:id`: no plan
/// claims them, and `destroy` deletes a kept one by this marker.
pub const TAG_DRILL: &str = "rtech:drill";

/// A drill that cannot run: why, and nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("cannot drill a {service} failover in env {env}: {reason}; nothing was changed")]
pub struct Refused {
    pub service: &'static str,
    pub env: String,
    pub reason: String,
}

/// `<cluster>-drill-<UTC yyyymmddHHMMSS>`: the restore drill's temporary cluster, beside the
/// live one and under its name prefix (at most 63 characters, as DocumentDB allows: the live
/// cluster's name is at most 38).
pub fn drill_cluster_name(cluster: &str, at: SystemTime) -> String {
    format!("{cluster}-drill-{}", stamp(at))
}

/// The drill cluster's one instance: `<drill cluster>-1`.
pub fn drill_instance_name(drill_cluster: &str) -> String {
    format!("{drill_cluster}-1")
}

/// Whether `name` is a restore drill's cluster of the live cluster `cluster`.
pub fn is_drill_cluster_of(name: &str, cluster: &str) -> bool {
    name.strip_prefix(cluster)
        .and_then(|rest| rest.strip_prefix("-drill-"))
        .is_some_and(|s| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// UTC `yyyymmddHHMMSS`.
fn stamp(at: SystemTime) -> String {
    aws_smithy_types::DateTime::from(at)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// One measured figure against its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// `rto` or `rpo`.
    pub name: &'static str,
    pub measured_s: f64,
    pub target_minutes: u64,
    /// The measured figure is under the target.
    pub pass: bool,
}

/// The verdict of one figure: under the target passes, equal or above fails.
pub fn judge(name: &'static str, measured_s: f64, target_minutes: u64) -> Measure {
    Measure {
        name,
        measured_s: (measured_s * 10.0).round() / 10.0,
        target_minutes,
        pass: measured_s < (target_minutes * 60) as f64,
    }
}

/// The snapshot a restore drill restored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotUsed {
    pub id: String,
    /// `automated` or `manual`.
    pub kind: String,
    pub created_at: String,
    /// Its age when the drill started.
    pub age_s: f64,
}

/// The restore drill's cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restored {
    pub cluster: String,
    pub instance: String,
    /// `--keep`: left in place, for `rtech destroy` (or a hand) to delete.
    pub kept: bool,
}

/// One drill's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `failover` or `restore`.
    pub drill: &'static str,
    pub env: String,
    /// `docdb` or `redis`.
    pub service: &'static str,
    /// The live cluster or replication group drilled.
    pub resource: String,
    pub started_at: String,
    /// The writer instance (docdb) or primary member (redis) before and after a failover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotUsed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<Restored>,
    pub measured: Vec<Measure>,
    pub passed: bool,
}

impl Report {
    /// A failover drill's report, judged by `dr`: `primaries` before and after.
    pub fn failover(
        env: &str,
        service: &'static str,
        resource: &str,
        started: SystemTime,
        (before, after): (&str, &str),
        took_s: f64,
        dr: &Dr,
    ) -> Report {
        let measured = vec![judge("rto", took_s, dr.rto_minutes)];
        Report {
            drill: "failover",
            env: env.to_string(),
            service,
            resource: resource.to_string(),
            started_at: crate::lock::rfc3339(started),
            primary_before: Some(before.to_string()),
            primary_after: Some(after.to_string()),
            snapshot: None,
            restored: None,
            passed: measured.iter().all(|m| m.pass),
            measured,
        }
    }

    /// A restore drill's report, judged by `dr`: RTO the restore's time, RPO the snapshot's
    /// age.
    pub fn restore(
        env: &str,
        resource: &str,
        started: SystemTime,
        snapshot: SnapshotUsed,
        restored: Restored,
        took_s: f64,
        dr: &Dr,
    ) -> Report {
        let measured = vec![
            judge("rto", took_s, dr.rto_minutes),
            judge("rpo", snapshot.age_s, dr.rpo_minutes),
        ];
        Report {
            drill: "restore",
            env: env.to_string(),
            service: "docdb",
            resource: resource.to_string(),
            started_at: crate::lock::rfc3339(started),
            primary_before: None,
            primary_after: None,
            snapshot: Some(snapshot),
            restored: Some(restored),
            passed: measured.iter().all(|m| m.pass),
            measured,
        }
    }

    /// The names of the figures that broke their targets.
    pub fn failed(&self) -> Vec<&'static str> {
        self.measured
            .iter()
            .filter(|m| !m.pass)
            .map(|m| m.name)
            .collect()
    }
}

/// `2h05m`, `12m30s`, `4.2s`.
pub fn human(s: f64) -> String {
    if s < 60.0 {
        return format!("{:.1}s", (s * 10.0).round() / 10.0);
    }
    let t = s.round() as u64;
    if t < 3600 {
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        format!("{}h{:02}m", t / 3600, (t % 3600) / 60)
    }
}

fn measure_text(m: &Measure) -> String {
    format!(
        "{} {} {} {} min: {}",
        m.name.to_uppercase(),
        human(m.measured_s),
        if m.pass { "<" } else { ">=" },
        m.target_minutes,
        if m.pass { "pass" } else { "FAIL" }
    )
}

/// The report as one line (plus a newline).
pub fn render(r: &Report) -> String {
    let what = match r.drill {
        "failover" => format!(
            "failover {} {}: {} {} → {}",
            r.service,
            r.resource,
            if r.service == "docdb" {
                "writer"
            } else {
                "primary"
            },
            r.primary_before.as_deref().unwrap_or("?"),
            r.primary_after.as_deref().unwrap_or("?"),
        ),
        _ => {
            let s = r.snapshot.as_ref();
            let c = r.restored.as_ref();
            format!(
                "restore {} {} from {} ({}, {} old) into {}, {}",
                r.service,
                r.resource,
                s.map(|s| s.id.as_str()).unwrap_or("?"),
                s.map(|s| s.kind.as_str()).unwrap_or("?"),
                human(s.map(|s| s.age_s).unwrap_or_default()),
                c.map(|c| c.cluster.as_str()).unwrap_or("?"),
                if c.is_some_and(|c| c.kept) {
                    "kept"
                } else {
                    "deleted"
                },
            )
        }
    };
    let figures: Vec<String> = r.measured.iter().map(measure_text).collect();
    format!("{what}; {}\n", figures.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    const PROD: Dr = Dr {
        rto_minutes: 60,
        rpo_minutes: 15,
    };

    #[test]
    fn the_drill_cluster_is_named_after_the_live_one_and_the_utc_second() {
        // 2026-12-02T11:30:05Z
        let name = drill_cluster_name("rtech-prod-docdb", at(1_796_211_005));
        assert_eq!(name, "rtech-prod-docdb-drill-20261202113005");
        assert_eq!(
            drill_instance_name(&name),
            "rtech-prod-docdb-drill-20261202113005-1"
        );
        assert!(is_drill_cluster_of(&name, "rtech-prod-docdb"));
        assert!(!is_drill_cluster_of("rtech-prod-docdb", "rtech-prod-docdb"));
        assert!(!is_drill_cluster_of(
            "rtech-prod-docdb-drill-x",
            "rtech-prod-docdb"
        ));
        assert!(!is_drill_cluster_of(&name, "rtech-dev-docdb"));
        // The longest live name rtech gives (20 + 10 + 2 + 6) still fits DocumentDB's 63.
        let longest = format!("{}-{}-docdb", "p".repeat(20), "e".repeat(10));
        assert!(drill_instance_name(&drill_cluster_name(&longest, at(0))).len() <= 63);
    }

    #[test]
    fn a_figure_passes_only_under_its_target() {
        assert!(judge("rto", 3599.9, 60).pass);
        assert!(!judge("rto", 3600.0, 60).pass);
        assert!(!judge("rpo", 16.0 * 60.0, 15).pass);
        assert_eq!(judge("rto", 12.345, 60).measured_s, 12.3);
    }

    #[test]
    fn a_failover_report_names_both_primaries_and_its_verdict() {
        let r = Report::failover(
            "prod",
            "docdb",
            "rtech-prod-docdb",
            at(0),
            ("rtech-prod-docdb-1", "rtech-prod-docdb-2"),
            42.0,
            &PROD,
        );
        assert!(r.passed);
        assert_eq!(
            render(&r),
            "failover docdb rtech-prod-docdb: writer rtech-prod-docdb-1 → rtech-prod-docdb-2; RTO 42.0s < 60 min: pass\n"
        );
        let slow = Report::failover(
            "prod",
            "redis",
            "rtech-prod-redis",
            at(0),
            ("rtech-prod-redis-001", "rtech-prod-redis-002"),
            2.0 * 3600.0 + 300.0,
            &PROD,
        );
        assert!(!slow.passed);
        assert_eq!(slow.failed(), ["rto"]);
        assert_eq!(
            render(&slow),
            "failover redis rtech-prod-redis: primary rtech-prod-redis-001 → rtech-prod-redis-002; RTO 2h05m >= 60 min: FAIL\n"
        );
        let j = serde_json::to_value(&slow).unwrap();
        assert_eq!(j["started_at"], "1970-01-01T00:00:00Z");
        assert_eq!(j["primary_after"], "rtech-prod-redis-002");
        assert_eq!(j["measured"][0]["measured_s"], 7500.0);
        assert_eq!(j["measured"][0]["target_minutes"], 60);
        assert_eq!(j["passed"], false);
        assert!(j.get("snapshot").is_none());
    }

    #[test]
    fn a_restore_report_judges_the_restore_time_and_the_snapshots_age() {
        let snap = |age_s: f64| SnapshotUsed {
            id: "rds:rtech-prod-docdb-2026-12-02-03-00".into(),
            kind: "automated".into(),
            created_at: "2026-12-02T03:00:00Z".into(),
            age_s,
        };
        let restored = Restored {
            cluster: "rtech-prod-docdb-drill-20261202113005".into(),
            instance: "rtech-prod-docdb-drill-20261202113005-1".into(),
            kept: false,
        };
        let r = Report::restore(
            "prod",
            "rtech-prod-docdb",
            at(0),
            snap(8.0 * 3600.0 + 30.0 * 60.0),
            restored.clone(),
            550.0,
            &PROD,
        );
        assert!(!r.passed);
        assert_eq!(r.failed(), ["rpo"]);
        assert_eq!(
            render(&r),
            "restore docdb rtech-prod-docdb from rds:rtech-prod-docdb-2026-12-02-03-00 (automated, 8h30m old) into rtech-prod-docdb-drill-20261202113005, deleted; RTO 9m10s < 60 min: pass; RPO 8h30m >= 15 min: FAIL\n"
        );
        let kept = Report::restore(
            "prod",
            "rtech-prod-docdb",
            at(0),
            snap(600.0),
            Restored {
                kept: true,
                ..restored
            },
            550.0,
            &PROD,
        );
        assert!(kept.passed);
        assert!(render(&kept).contains("10m00s old) into rtech-prod-docdb-drill-20261202113005, kept; RTO 9m10s < 60 min: pass; RPO 10m00s < 15 min: pass"));
        let j = serde_json::to_value(&kept).unwrap();
        assert_eq!(j["restored"]["kept"], true);
        assert_eq!(j["snapshot"]["age_s"], 600.0);
        assert_eq!(j["measured"][1]["name"], "rpo");
        assert!(j.get("primary_before").is_none());
    }
}

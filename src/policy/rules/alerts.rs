//! Alerting and protection: the alerts topic, the alarms and the WAF.

use std::collections::BTreeSet;

use super::*;
use crate::policy::Subject;

/// SNS.1 as rtech applies it: encrypted, and not with an AWS managed key (`alias/aws/sns`),
/// which the services that publish to the alerts topic (CloudWatch alarms, RDS and
/// ElastiCache events, AWS Backup) cannot use: the env's key (the link to `kms_key/…` before
/// apply), or a key's ARN, id or other alias.
pub(super) fn sns_1(v: &View) -> Vec<Evidence> {
    each(v, "sns_topic", "kms_master_key_id", |x| match x {
        Some(Value::Str(k)) => !k.is_empty() && !k.starts_with("alias/aws/"),
        Some(Value::Ref(r)) => r.resource.kind == "kms_key",
        Some(Value::Unknown) => true,
        _ => false,
    })
}

/// The metrics prod's alarms watch (`[monitoring]`'s defaults), by the kind whose service
/// they watch.
pub const ALARMED_METRICS: &[(&str, &str, &str)] = &[
    ("ecs_service", "AWS/ECS", "CPUUtilization"),
    ("ecs_service", "AWS/ECS", "MemoryUtilization"),
    ("load_balancer", "AWS/ApplicationELB", "TargetResponseTime"),
    (
        "load_balancer",
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
    ),
    (
        "load_balancer",
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
    ),
    ("load_balancer", "AWS/ApplicationELB", "UnHealthyHostCount"),
    ("docdb_cluster", "AWS/DocDB", "CPUUtilization"),
    ("docdb_cluster", "AWS/DocDB", "FreeableMemory"),
    ("redis", "AWS/ElastiCache", "EngineCPUUtilization"),
    ("redis", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage"),
];

/// The (namespace, metric) pairs an alarm with actions watches, its own or its queries'.
fn watched(alarm: &Subject) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let acts = matches!(alarm.get("alarm_actions"), Some(Value::List(l)) if !l.is_empty());
    if !acts {
        return out;
    }
    let mut add = |m: &Value| {
        let m = m.as_map();
        let ns = m.and_then(|m| m.get("namespace")).and_then(Value::as_str);
        let name = m.and_then(|m| m.get("metric_name")).and_then(Value::as_str);
        if let (Some(ns), Some(name)) = (ns, name) {
            out.insert((ns.to_string(), name.to_string()));
        }
    };
    if let Some(m) = alarm.get("metric") {
        add(m);
    }
    if let Some(q) = alarm.get("metric.queries").and_then(Value::as_map) {
        q.values().for_each(&mut add);
    }
    out
}

pub(super) fn rtech_alarms(v: &View) -> Vec<Evidence> {
    let watched: BTreeSet<(String, String)> = v.of_kind("alarm").flat_map(watched).collect();
    let mut out = vec![];
    for kind in ["ecs_service", "load_balancer", "docdb_cluster", "redis"] {
        for s in v.of_kind(kind) {
            let missing: Vec<&str> = ALARMED_METRICS
                .iter()
                .filter(|(k, ns, m)| {
                    *k == kind && !watched.contains(&(ns.to_string(), m.to_string()))
                })
                .map(|(_, _, m)| *m)
                .collect();
            out.push(Evidence {
                resource: s.id.clone(),
                field: "alarms".into(),
                value: if missing.is_empty() {
                    "every production metric alarmed".into()
                } else {
                    format!("no alarm with actions on {}", missing.join(", "))
                },
                ok: missing.is_empty(),
            });
        }
    }
    out
}

/// rtech's own: in prod, the distribution carries a web ACL (`[edge.waf]`: the link to
/// `web_acl/main` before apply, its ARN once live).
pub(super) fn rtech_waf(v: &View) -> Vec<Evidence> {
    if !v.is_prod() {
        return vec![];
    }
    each(v, "distribution", "web_acl_id", |x| match x {
        Some(Value::Str(arn)) => !arn.is_empty(),
        Some(Value::Ref(_)) | Some(Value::Unknown) => true,
        _ => false,
    })
}

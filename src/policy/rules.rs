//! The rules: one entry of [`RULES`] and one function each. FSBP ids are AWS Security Hub's
//! Foundational Security Best Practices controls; each function checks what the control
//! checks, over rtech's typed props (the kinds' props structs, as the plan carries them).
//!
//! Adding a rule: write `fn my_rule(v: &View) -> Vec<Evidence>` here (one `Evidence` per
//! resource and field it judges; none when the env has nothing it applies to) and add its
//! entry to `RULES`. Its unit tests go in `policy/tests.rs`; README's rules table lists it.

use std::collections::BTreeSet;

use super::{show, Evidence, Rule, Subject, View};
use crate::model::Value;

pub static RULES: &[Rule] = &[
    Rule {
        id: "ECR.1",
        title: "ECR repositories scan images on push",
        prod_waivable: true,
        check: ecr_1,
    },
    Rule {
        id: "ECR.2",
        title: "ECR repositories have tag immutability configured",
        prod_waivable: true,
        check: ecr_2,
    },
    Rule {
        id: "ECR.3",
        title: "ECR repositories have a lifecycle policy",
        prod_waivable: true,
        check: ecr_3,
    },
    Rule {
        id: "ECS.2",
        title: "ECS services do not assign public IP addresses",
        prod_waivable: false,
        check: ecs_2,
    },
    Rule {
        id: "ECS.4",
        title: "ECS containers run without privileges",
        prod_waivable: false,
        check: ecs_4,
    },
    Rule {
        id: "ECS.5",
        title: "ECS containers have a read-only root filesystem",
        prod_waivable: true,
        check: ecs_5,
    },
    Rule {
        id: "ECS.8",
        title: "Secrets are not passed as container environment variables",
        prod_waivable: false,
        check: ecs_8,
    },
    Rule {
        id: "DocumentDB.1",
        title: "DocumentDB clusters are encrypted at rest",
        prod_waivable: false,
        check: docdb_1,
    },
    Rule {
        id: "DocumentDB.2",
        title: "DocumentDB clusters keep backups 7 days or more",
        prod_waivable: false,
        check: docdb_2,
    },
    Rule {
        id: "DocumentDB.4",
        title: "DocumentDB clusters publish audit logs to CloudWatch Logs",
        prod_waivable: true,
        check: docdb_4,
    },
    Rule {
        id: "DocumentDB.5",
        title: "DocumentDB clusters have deletion protection enabled",
        prod_waivable: false,
        check: docdb_5,
    },
    Rule {
        id: "ElastiCache.1",
        title: "ElastiCache Redis has automatic backups",
        prod_waivable: false,
        check: elasticache_1,
    },
    Rule {
        id: "ElastiCache.3",
        title: "ElastiCache replication groups fail over automatically",
        prod_waivable: true,
        check: elasticache_3,
    },
    Rule {
        id: "ElastiCache.4",
        title: "ElastiCache replication groups are encrypted at rest",
        prod_waivable: false,
        check: elasticache_4,
    },
    Rule {
        id: "ElastiCache.5",
        title: "ElastiCache replication groups are encrypted in transit",
        prod_waivable: false,
        check: elasticache_5,
    },
    Rule {
        id: "ELB.1",
        title: "Load balancers redirect HTTP to HTTPS",
        prod_waivable: true,
        check: elb_1,
    },
    Rule {
        id: "ELB.4",
        title: "Load balancers drop invalid HTTP headers",
        prod_waivable: true,
        check: elb_4,
    },
    Rule {
        id: "ELB.5",
        title: "Load balancers log access",
        prod_waivable: true,
        check: elb_5,
    },
    Rule {
        id: "ELB.6",
        title: "Load balancers have deletion protection enabled",
        prod_waivable: false,
        check: elb_6,
    },
    Rule {
        id: "ELB.17",
        title: "HTTPS listeners use a recommended security policy",
        prod_waivable: true,
        check: elb_17,
    },
    Rule {
        id: "CloudFront.1",
        title: "CloudFront distributions have a default root object",
        prod_waivable: true,
        check: cloudfront_1,
    },
    Rule {
        id: "CloudFront.3",
        title: "CloudFront requires encryption in transit from viewers",
        prod_waivable: true,
        check: cloudfront_3,
    },
    Rule {
        id: "CloudFront.9",
        title: "CloudFront encrypts traffic to custom origins",
        prod_waivable: true,
        check: cloudfront_9,
    },
    Rule {
        id: "CloudFront.15",
        title: "CloudFront uses a recommended TLS security policy",
        prod_waivable: true,
        check: cloudfront_15,
    },
    Rule {
        id: "EC2.6",
        title: "VPC flow logs are on (rejected or all traffic)",
        prod_waivable: false,
        check: ec2_6,
    },
    Rule {
        id: "EC2.18",
        title: "Security groups open to the internet only on ports 80 and 443",
        prod_waivable: true,
        check: ec2_18,
    },
    Rule {
        id: "EC2.19",
        title: "Security groups do not open high-risk ports to the internet",
        prod_waivable: false,
        check: ec2_19,
    },
    Rule {
        id: "SNS.1",
        title: "SNS topics are encrypted at rest with a customer managed KMS key",
        prod_waivable: true,
        check: sns_1,
    },
    Rule {
        id: "rtech.alarms",
        title: "Alarms with actions watch the production metrics of every service",
        prod_waivable: false,
        check: rtech_alarms,
    },
    Rule {
        id: "rtech.backups",
        title: "Prod keeps DocumentDB and Redis backups 7 days or more",
        prod_waivable: false,
        check: rtech_backups,
    },
    Rule {
        id: "rtech.waf",
        title: "Prod's CloudFront distribution is behind a WAF web ACL",
        prod_waivable: false,
        check: rtech_waf,
    },
];

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// One piece of evidence per resource of `kind`: the field at `path` and whether `ok` holds.
fn each(v: &View, kind: &str, path: &str, ok: impl Fn(Option<&Value>) -> bool) -> Vec<Evidence> {
    v.of_kind(kind)
        .map(|s| s.evidence(path, ok(s.get(path))))
        .collect()
}

fn ecr_1(v: &View) -> Vec<Evidence> {
    each(v, "ecr_repository", "scan_on_push", is_true)
}

fn ecr_2(v: &View) -> Vec<Evidence> {
    each(v, "ecr_repository", "image_tag_mutability", |x| {
        str_of(x).is_some_and(|m| m.starts_with("IMMUTABLE"))
    })
}

fn ecr_3(v: &View) -> Vec<Evidence> {
    v.of_kind("ecr_repository")
        .map(|s| {
            let rules = s
                .get("lifecycle_policy.rules")
                .and_then(|r| match r {
                    Value::List(l) => Some(l.len()),
                    _ => None,
                })
                .unwrap_or(0);
            Evidence {
                resource: s.id.clone(),
                field: "lifecycle_policy".into(),
                value: format!("{rules} rule(s)"),
                ok: rules > 0,
            }
        })
        .collect()
}

fn ecs_2(v: &View) -> Vec<Evidence> {
    each(v, "ecs_service", "assign_public_ip", |x| {
        str_of(x) != Some("ENABLED")
    })
}

/// The task definition's `extras` name what the live revision sets that rtech never does;
/// `privileged` is one of them.
fn ecs_4(v: &View) -> Vec<Evidence> {
    v.of_kind("ecs_task_definition")
        .map(|s| {
            let privileged = matches!(s.get("extras"), Some(Value::List(l))
                if l.iter().any(|x| x.as_str() == Some("privileged")));
            Evidence {
                resource: s.id.clone(),
                field: "privileged".into(),
                value: privileged.to_string(),
                ok: !privileged,
            }
        })
        .collect()
}

fn ecs_5(v: &View) -> Vec<Evidence> {
    each(
        v,
        "ecs_task_definition",
        "readonly_root_filesystem",
        is_true,
    )
}

/// AWS's keys (ECS.8 checks `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `ECS_ENGINE_AUTH_DATA`), and rtech's: a name holding one of [`SECRET_WORDS`].
const SECRET_KEYS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "ECS_ENGINE_AUTH_DATA",
];
const SECRET_WORDS: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY"];

pub fn secret_named(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_KEYS.contains(&upper.as_str()) || SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Names only: the evidence never shows a variable's value.
fn ecs_8(v: &View) -> Vec<Evidence> {
    v.of_kind("ecs_task_definition")
        .map(|s| {
            let bad: Vec<&String> = s
                .get("environment")
                .and_then(Value::as_map)
                .map(|m| m.keys().filter(|k| secret_named(k)).collect())
                .unwrap_or_default();
            Evidence {
                resource: s.id.clone(),
                field: "environment".into(),
                value: if bad.is_empty() {
                    "no secret-named variable".into()
                } else {
                    format!(
                        "secret-named variable(s) {} (use [app.secrets])",
                        bad.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                ok: bad.is_empty(),
            }
        })
        .collect()
}

fn docdb_1(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "storage_encrypted", is_true)
}

/// AWS's default minimum retention for DocumentDB.2.
const MIN_BACKUP_DAYS: i64 = 7;

fn docdb_2(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "backup_retention_period", |x| {
        int(x).is_some_and(|d| d >= MIN_BACKUP_DAYS)
    })
}

fn docdb_4(v: &View) -> Vec<Evidence> {
    each(
        v,
        "docdb_cluster",
        "enabled_cloudwatch_logs_exports",
        |x| matches!(x, Some(Value::List(l)) if l.iter().any(|e| e.as_str() == Some("audit"))),
    )
}

fn docdb_5(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "deletion_protection", is_true)
}

fn elasticache_1(v: &View) -> Vec<Evidence> {
    each(v, "redis", "snapshot_retention_limit", |x| {
        int(x).is_some_and(|d| d >= 1)
    })
}

fn elasticache_3(v: &View) -> Vec<Evidence> {
    each(v, "redis", "automatic_failover", is_true)
}

fn elasticache_4(v: &View) -> Vec<Evidence> {
    each(v, "redis", "at_rest_encryption", is_true)
}

fn elasticache_5(v: &View) -> Vec<Evidence> {
    each(v, "redis", "transit_encryption", is_true)
}

fn listeners<'v, 'a>(v: &'v View<'a>, protocols: &'v [&str]) -> Vec<&'v Subject<'a>> {
    v.of_kind("listener")
        .filter(|s| str_of(s.get("protocol")).is_some_and(|p| protocols.contains(&p)))
        .collect()
}

/// Every default action of an HTTP listener redirects to HTTPS.
fn elb_1(v: &View) -> Vec<Evidence> {
    listeners(v, &["HTTP"])
        .into_iter()
        .map(|s| {
            let actions = match s.get("default_actions") {
                Some(Value::List(l)) => l.clone(),
                _ => vec![],
            };
            let redirects = |a: &Value| {
                let m = a.as_map();
                m.and_then(|m| m.get("type")).and_then(Value::as_str) == Some("redirect")
                    && m.and_then(|m| m.get("redirect"))
                        .and_then(Value::as_map)
                        .and_then(|r| r.get("protocol"))
                        .and_then(Value::as_str)
                        == Some("HTTPS")
            };
            let ok = !actions.is_empty() && actions.iter().all(redirects);
            Evidence {
                resource: s.id.clone(),
                field: "default_actions".into(),
                value: if ok {
                    "redirect to HTTPS".into()
                } else {
                    let kinds: Vec<String> = actions
                        .iter()
                        .map(|a| show(a.as_map().and_then(|m| m.get("type"))))
                        .collect();
                    format!("[{}]", kinds.join(", "))
                },
                ok,
            }
        })
        .collect()
}

fn albs<'v, 'a>(v: &'v View<'a>) -> impl Iterator<Item = &'v Subject<'a>> {
    v.of_kind("load_balancer")
        .filter(|s| str_of(s.get("type")).is_none_or(|t| t == "application"))
}

fn elb_4(v: &View) -> Vec<Evidence> {
    albs(v)
        .map(|s| {
            s.evidence(
                "drop_invalid_header_fields",
                is_true(s.get("drop_invalid_header_fields")),
            )
        })
        .collect()
}

fn elb_5(v: &View) -> Vec<Evidence> {
    each(v, "load_balancer", "access_logs", is_true)
}

fn elb_6(v: &View) -> Vec<Evidence> {
    each(v, "load_balancer", "deletion_protection", is_true)
}

/// The TLS 1.2+ policies ELB.17 accepts (forward secrecy or TLS 1.3).
pub const ELB_POLICIES: &[&str] = &[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
];

fn elb_17(v: &View) -> Vec<Evidence> {
    listeners(v, &["HTTPS", "TLS"])
        .into_iter()
        .map(|s| {
            s.evidence(
                "ssl_policy",
                str_of(s.get("ssl_policy")).is_some_and(|p| ELB_POLICIES.contains(&p)),
            )
        })
        .collect()
}

fn cloudfront_1(v: &View) -> Vec<Evidence> {
    each(v, "distribution", "default_root_object", |x| {
        str_of(x).is_some_and(|o| !o.is_empty())
    })
}

/// Every behaviour's viewer protocol policy, by its path in the props.
fn behaviors<'s>(s: &'s Subject) -> Vec<(String, &'s Value)> {
    let mut out = vec![];
    if let Some(b) = s.get("default_behavior") {
        out.push(("default_behavior".to_string(), b));
    }
    if let Some(m) = s.get("cache_behaviors").and_then(Value::as_map) {
        for (path, b) in m {
            out.push((format!("cache_behaviors.{path}"), b));
        }
    }
    out
}

fn viewer_policy(b: &Value) -> Option<&str> {
    b.as_map()?.get("viewer_protocol_policy")?.as_str()
}

fn cloudfront_3(v: &View) -> Vec<Evidence> {
    let mut out = vec![];
    for s in v.of_kind("distribution") {
        for (path, b) in behaviors(s) {
            let p = viewer_policy(b);
            out.push(Evidence {
                resource: s.id.clone(),
                field: format!("{path}.viewer_protocol_policy"),
                value: show(b.as_map().and_then(|m| m.get("viewer_protocol_policy"))),
                ok: p.is_some_and(|p| p != "allow-all"),
            });
        }
    }
    out
}

/// An origin's protocol policy is `https-only`, or `match-viewer` where no viewer may use
/// plain HTTP.
fn cloudfront_9(v: &View) -> Vec<Evidence> {
    let mut out = vec![];
    for s in v.of_kind("distribution") {
        let viewers_plain = behaviors(s)
            .iter()
            .any(|(_, b)| viewer_policy(b) == Some("allow-all"));
        if let Some(origins) = s.get("origins").and_then(Value::as_map) {
            for (name, o) in origins {
                let p = o.as_map().and_then(|m| m.get("protocol_policy"));
                let ok = match str_of(p) {
                    Some("https-only") => true,
                    Some("match-viewer") => !viewers_plain,
                    _ => false,
                };
                out.push(Evidence {
                    resource: s.id.clone(),
                    field: format!("origins.{name}.protocol_policy"),
                    value: show(p),
                    ok,
                });
            }
        }
    }
    out
}

/// The viewer TLS policies CloudFront recommends.
pub const CLOUDFRONT_POLICIES: &[&str] = &["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"];

fn cloudfront_15(v: &View) -> Vec<Evidence> {
    each(
        v,
        "distribution",
        "viewer_certificate.minimum_protocol_version",
        |x| str_of(x).is_some_and(|p| CLOUDFRONT_POLICIES.contains(&p)),
    )
}

/// Each VPC has a flow log of rejected or all traffic (the env has one VPC: a flow log of the
/// env is the VPC's).
fn ec2_6(v: &View) -> Vec<Evidence> {
    v.of_kind("vpc")
        .map(|vpc| {
            let logs: Vec<String> = v
                .of_kind("flow_log")
                .filter(|f| match f.get("resource_id") {
                    Some(Value::Ref(r)) => &r.resource == vpc.id,
                    _ => true,
                })
                .filter_map(|f| {
                    let t = str_of(f.get("traffic_type"))?;
                    matches!(t, "REJECT" | "ALL").then(|| format!("{} ({t})", f.id))
                })
                .collect();
            Evidence {
                resource: vpc.id.clone(),
                field: "flow_logs".into(),
                value: if logs.is_empty() {
                    "(none)".into()
                } else {
                    logs.join(", ")
                },
                ok: !logs.is_empty(),
            }
        })
        .collect()
}

/// An ingress rule from anywhere (`0.0.0.0/0` or `::/0`): its protocol and port range.
fn open_ingress(s: &Subject) -> Option<(String, i64, i64, String)> {
    if str_of(s.get("direction")) != Some("ingress") {
        return None;
    }
    let from = [("cidr_ipv4", "0.0.0.0/0"), ("cidr_ipv6", "::/0")]
        .iter()
        .find(|(k, any)| str_of(s.get(k)) == Some(*any))
        .map(|(_, any)| any.to_string())?;
    let proto = str_of(s.get("protocol"))?.to_string();
    let (lo, hi) = if proto == "-1" {
        (0, 65535)
    } else {
        (int(s.get("from_port"))?, int(s.get("to_port"))?)
    };
    Some((proto, lo, hi, from))
}

fn ports(proto: &str, lo: i64, hi: i64, from: &str) -> String {
    let range = if proto == "-1" {
        "all ports".to_string()
    } else if lo == hi {
        format!("{proto} {lo}")
    } else {
        format!("{proto} {lo}-{hi}")
    };
    format!("{range} from {from}")
}

/// EC2.18's default authorised ports.
const AUTHORIZED: &[i64] = &[80, 443];

fn ec2_18(v: &View) -> Vec<Evidence> {
    v.of_kind("sg_rule")
        .filter_map(|s| {
            let (proto, lo, hi, from) = open_ingress(s)?;
            if proto == "icmp" || proto == "icmpv6" {
                return None;
            }
            Some(Evidence {
                resource: s.id.clone(),
                field: "ports".into(),
                value: ports(&proto, lo, hi, &from),
                ok: proto == "tcp" && lo == hi && AUTHORIZED.contains(&lo),
            })
        })
        .collect()
}

/// EC2.19's high-risk ports.
pub const HIGH_RISK: &[i64] = &[
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];

fn ec2_19(v: &View) -> Vec<Evidence> {
    v.of_kind("sg_rule")
        .filter_map(|s| {
            let (proto, lo, hi, from) = open_ingress(s)?;
            if proto != "tcp" && proto != "-1" {
                return None;
            }
            let risky: Vec<String> = HIGH_RISK
                .iter()
                .filter(|p| (lo..=hi).contains(*p))
                .map(|p| p.to_string())
                .collect();
            Some(Evidence {
                resource: s.id.clone(),
                field: "ports".into(),
                value: if risky.is_empty() {
                    ports(&proto, lo, hi, &from)
                } else {
                    format!(
                        "{} (high-risk: {})",
                        ports(&proto, lo, hi, &from),
                        risky.join(", ")
                    )
                },
                ok: risky.is_empty(),
            })
        })
        .collect()
}

/// SNS.1 as rtech applies it: encrypted, and not with an AWS managed key (`alias/aws/sns`),
/// which the services that publish to the alerts topic (CloudWatch alarms, RDS and
/// ElastiCache events, AWS Backup) cannot use: the env's key (the link to `kms_key/…` before
/// apply), or a key's ARN, id or other alias.
fn sns_1(v: &View) -> Vec<Evidence> {
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

fn rtech_alarms(v: &View) -> Vec<Evidence> {
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

/// rtech's own: in prod, 7 days of DocumentDB backups and of Redis snapshots.
fn rtech_backups(v: &View) -> Vec<Evidence> {
    if !v.is_prod() {
        return vec![];
    }
    let at_least = |x: Option<&Value>| int(x).is_some_and(|d| d >= MIN_BACKUP_DAYS);
    let mut out = each(v, "docdb_cluster", "backup_retention_period", at_least);
    out.extend(each(v, "redis", "snapshot_retention_limit", at_least));
    out
}

/// rtech's own: in prod, the distribution carries a web ACL (`[edge.waf]`: the link to
/// `web_acl/main` before apply, its ARN once live).
fn rtech_waf(v: &View) -> Vec<Evidence> {
    if !v.is_prod() {
        return vec![];
    }
    each(v, "distribution", "web_acl_id", |x| match x {
        Some(Value::Str(arn)) => !arn.is_empty(),
        Some(Value::Ref(_)) | Some(Value::Unknown) => true,
        _ => false,
    })
}

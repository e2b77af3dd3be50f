//! The network's rules: VPC flow logs and security group ingress.

use super::*;
use crate::policy::Subject;

/// Each VPC has a flow log of rejected or all traffic (the env has one VPC: a flow log of the
/// env is the VPC's).
pub(super) fn ec2_6(v: &View) -> Vec<Evidence> {
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

pub(super) fn ec2_18(v: &View) -> Vec<Evidence> {
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

pub(super) fn ec2_19(v: &View) -> Vec<Evidence> {
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

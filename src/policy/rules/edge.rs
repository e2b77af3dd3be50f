//! The edge's rules: the load balancer's listeners and CloudFront.

use super::*;
use crate::policy::show;
use crate::policy::Subject;

fn listeners<'v, 'a>(v: &'v View<'a>, protocols: &'v [&str]) -> Vec<&'v Subject<'a>> {
    v.of_kind("listener")
        .filter(|s| str_of(s.get("protocol")).is_some_and(|p| protocols.contains(&p)))
        .collect()
}

/// Every default action of an HTTP listener redirects to HTTPS.
pub(super) fn elb_1(v: &View) -> Vec<Evidence> {
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

pub(super) fn elb_4(v: &View) -> Vec<Evidence> {
    albs(v)
        .map(|s| {
            s.evidence(
                "drop_invalid_header_fields",
                is_true(s.get("drop_invalid_header_fields")),
            )
        })
        .collect()
}

pub(super) fn elb_5(v: &View) -> Vec<Evidence> {
    each(v, "load_balancer", "access_logs", is_true)
}

pub(super) fn elb_6(v: &View) -> Vec<Evidence> {
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

pub(super) fn elb_17(v: &View) -> Vec<Evidence> {
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

pub(super) fn cloudfront_1(v: &View) -> Vec<Evidence> {
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

pub(super) fn cloudfront_3(v: &View) -> Vec<Evidence> {
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
pub(super) fn cloudfront_9(v: &View) -> Vec<Evidence> {
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

pub(super) fn cloudfront_15(v: &View) -> Vec<Evidence> {
    each(
        v,
        "distribution",
        "viewer_certificate.minimum_protocol_version",
        |x| str_of(x).is_some_and(|p| CLOUDFRONT_POLICIES.contains(&p)),
    )
}

/// With a CloudFront distribution, the load balancer is reachable only through it: each
/// ingress rule of the ALB's group is from CloudFront's origin-facing prefix list, the HTTPS
/// listener's default answers a fixed response (no forward), and the production rule requires
/// the origin header. Not applicable without a distribution.
pub(super) fn rtech_alb_via_cloudfront(v: &View) -> Vec<Evidence> {
    if v.of_kind("distribution").next().is_none() {
        return vec![];
    }
    let origin_facing = crate::reconcile::network::CLOUDFRONT_ORIGIN_FACING;
    let mut out: Vec<Evidence> = v
        .of_kind("sg_rule")
        .filter(|s| s.id.name.starts_with("alb-in-"))
        .map(|s| {
            let pl = str_of(s.get("prefix_list_name"));
            let peer = pl
                .or(str_of(s.get("cidr_ipv4")))
                .or(str_of(s.get("cidr_ipv6")))
                .unwrap_or("another security group");
            Evidence {
                resource: s.id.clone(),
                field: "peer".into(),
                value: peer.to_string(),
                ok: pl == Some(origin_facing),
            }
        })
        .collect();
    for s in listeners(v, &["HTTPS"]) {
        let kinds: Vec<String> = match s.get("default_actions") {
            Some(Value::List(l)) => l
                .iter()
                .map(|a| show(a.as_map().and_then(|m| m.get("type"))))
                .collect(),
            _ => vec![],
        };
        out.push(Evidence {
            resource: s.id.clone(),
            field: "default_actions".into(),
            ok: !kinds.is_empty() && kinds.iter().all(|k| !k.contains("forward")),
            value: format!("[{}]", kinds.join(", ")),
        });
    }
    for s in v.of_kind("listener_rule") {
        let header = s.get("origin_header");
        out.push(Evidence {
            resource: s.id.clone(),
            field: "origin_header".into(),
            value: match header {
                Some(Value::Str(m)) => m.clone(),
                Some(Value::Ref(_)) | Some(Value::Unknown) => "(known after apply)".into(),
                _ => "none".into(),
            },
            ok: matches!(
                header,
                Some(Value::Str(_)) | Some(Value::Ref(_)) | Some(Value::Unknown)
            ),
        });
    }
    out
}

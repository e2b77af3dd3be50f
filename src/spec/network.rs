//! `[network]`: the VPC, its subnets across the AZs, the NAT layout, and the ports the
//! security groups open.

use std::ops::Range;

use ipnet::Ipv4Net;
use schemars::JsonSchema;
use serde::Deserialize;

use super::Errors;
use crate::spec::Spanned;

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatLayout {
    /// No NAT gateway: private subnets have no route out.
    None,
    /// One NAT gateway in the first AZ, shared by every private subnet.
    Single,
    /// One NAT gateway per AZ (survives the loss of an AZ).
    OnePerAz,
}

/// Which traffic the VPC's flow log records (`[network] flow_logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowLogs {
    /// No flow log.
    Off,
    /// Only traffic the security groups and network ACLs rejected.
    Reject,
    /// Accepted and rejected traffic.
    All,
}

impl FlowLogs {
    /// The flow log's `TrafficType`, or None when off.
    pub fn traffic_type(self) -> Option<&'static str> {
        match self {
            FlowLogs::Off => None,
            FlowLogs::Reject => Some("REJECT"),
            FlowLogs::All => Some("ALL"),
        }
    }
}

/// `[network]`: the VPC, its subnets across the AZs, the NAT layout and the ports the security
/// groups open.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// The VPC's IPv4 CIDR (required): prefix /16 to /28, no host bits set.
    pub cidr: Spanned<String>,
    /// How many AZs (1–6; default 2). Without `azs`, the first `az_count` of
    /// `{region}a`…`{region}f`.
    pub az_count: Option<Spanned<i64>>,
    /// The AZs by name (`us-east-1a` form): 1–6 distinct AZs of `region`; must agree with
    /// `az_count` when both are set.
    pub azs: Option<Spanned<Vec<Spanned<String>>>>,
    /// How private subnets reach the internet (default `single`).
    pub nat: Option<Spanned<NatLayout>>,
    /// The public subnets' CIDRs, one per AZ in AZ order (default: blocks 1, 2, … of the VPC, 8
    /// bits longer than its prefix, at most /28).
    pub public_subnets: Option<Spanned<Vec<Spanned<String>>>>,
    /// The private subnets' CIDRs, one per AZ in AZ order (default: blocks 11, 12, … of the VPC, 8
    /// bits longer than its prefix, at most /28).
    pub private_subnets: Option<Spanned<Vec<Spanned<String>>>>,
    /// The port the `app` security group opens to the `alb` group (1–65535; default 3000).
    pub app_port: Option<Spanned<i64>>,
    /// Sources allowed to reach the load balancer on TCP 80 and 443, each at most once (default
    /// `["0.0.0.0/0"]`). Refused with `[edge.cloudfront]`, where only CloudFront reaches it.
    pub alb_ingress_cidrs: Option<Spanned<Vec<Spanned<String>>>>,
    /// The VPC's flow log to CloudWatch Logs (default `off`). Changing it between `reject` and
    /// `all` replaces the flow log.
    pub flow_logs: Option<Spanned<FlowLogs>>,
}

pub const DEFAULT_AZ_COUNT: usize = 2;
pub const DEFAULT_APP_PORT: u16 = 3000;
pub const DOCDB_PORT: u16 = 27017;
pub const REDIS_PORT: u16 = 6379;

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub cidr: Ipv4Net,
    pub azs: Vec<String>,
    pub nat: NatLayout,
    pub public_subnets: Vec<Ipv4Net>,
    pub private_subnets: Vec<Ipv4Net>,
    pub app_port: u16,
    pub alb_ingress_cidrs: Vec<Ipv4Net>,
    /// The VPC's flow log to CloudWatch Logs (default off).
    pub flow_logs: FlowLogs,
}

impl Network {
    /// The AZ suffix used in resource ids: `us-east-1a` → `a`.
    pub fn az_suffix(az: &str) -> String {
        az.chars().last().map(|c| c.to_string()).unwrap_or_default()
    }
}

fn parse_cidr(errs: &mut Errors, s: &Spanned<String>, path: &str) -> Option<Ipv4Net> {
    let text = s.get_ref();
    match text.parse::<Ipv4Net>() {
        Ok(net) if net.trunc() != net => {
            errs.push(
                s.span(),
                path,
                format!(
                    "{text:?} has host bits set (did you mean \"{}\"?)",
                    net.trunc()
                ),
            );
            None
        }
        Ok(net) => Some(net),
        Err(_) => {
            errs.push(s.span(), path, format!("{text:?} is not a valid IPv4 CIDR"));
            None
        }
    }
}

/// Subnets default to /24s (8 more bits than the VPC, at most /28): public ones from index 1,
/// private ones from index 11 (`10.0.1.0/24…`, `10.0.11.0/24…` in a /16).
fn default_subnets(vpc: Ipv4Net, first: u32, count: usize) -> Option<Vec<Ipv4Net>> {
    let prefix = (vpc.prefix_len() + 8).min(28);
    let mut it = vpc.subnets(prefix).ok()?.skip(first as usize);
    (0..count).map(|_| it.next()).collect()
}

pub(super) fn validate(
    errs: &mut Errors,
    raw: &Spanned<RawNetwork>,
    region: &str,
) -> Option<Network> {
    let section: Range<usize> = raw.span();
    let raw = raw.get_ref();
    let n_before = errs.list.len();

    let cidr = parse_cidr(errs, &raw.cidr, "network.cidr");
    if let Some(c) = cidr {
        if !(16..=28).contains(&c.prefix_len()) {
            errs.push(
                raw.cidr.span(),
                "network.cidr",
                format!("\"{c}\": a VPC's prefix must be between /16 and /28"),
            );
        }
    }

    // AZs: explicit names, or the first az_count of the region's letters.
    let az_count = match &raw.az_count {
        Some(n) if !(1..=6).contains(n.get_ref()) => {
            errs.push(
                n.span(),
                "network.az_count",
                format!("{} is out of range: 1 to 6 AZs", n.get_ref()),
            );
            None
        }
        Some(n) => Some(*n.get_ref() as usize),
        None => None,
    };
    let azs: Vec<String> = match &raw.azs {
        Some(list) => {
            let names: Vec<String> = list.get_ref().iter().map(|s| s.get_ref().clone()).collect();
            for (i, az) in list.get_ref().iter().enumerate() {
                let a = az.get_ref();
                let ok = a.len() == region.len() + 1
                    && a.starts_with(region)
                    && a.ends_with(|c: char| c.is_ascii_lowercase());
                if !ok {
                    errs.push(
                        az.span(),
                        &format!("network.azs[{i}]"),
                        format!("{a:?} is not an AZ of {region} (e.g. {region}a)"),
                    );
                }
                if names[..i].contains(a) {
                    errs.push(
                        az.span(),
                        &format!("network.azs[{i}]"),
                        format!("{a:?} is listed twice"),
                    );
                }
            }
            if names.is_empty() || names.len() > 6 {
                errs.push(list.span(), "network.azs", "list 1 to 6 AZs");
            }
            if let Some(n) = az_count {
                if n != names.len() {
                    errs.push(
                        list.span(),
                        "network.azs",
                        format!("lists {} AZs but network.az_count is {n}", names.len()),
                    );
                }
            }
            names
        }
        None => {
            let n = az_count.unwrap_or(DEFAULT_AZ_COUNT);
            "abcdef"
                .chars()
                .take(n)
                .map(|c| format!("{region}{c}"))
                .collect()
        }
    };
    let n_azs = azs.len();

    let mut subnets = |key: &str,
                       raw_list: &Option<Spanned<Vec<Spanned<String>>>>,
                       first: u32|
     -> Vec<(Ipv4Net, Range<usize>, String)> {
        match raw_list {
            Some(list) => {
                if list.get_ref().len() != n_azs {
                    errs.push(
                        list.span(),
                        &format!("network.{key}"),
                        format!(
                            "lists {} subnets for {} AZs: give one per AZ",
                            list.get_ref().len(),
                            n_azs
                        ),
                    );
                }
                list.get_ref()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let path = format!("network.{key}[{i}]");
                        parse_cidr(errs, s, &path).map(|n| (n, s.span(), path))
                    })
                    .collect()
            }
            None => {
                match cidr.and_then(|c| default_subnets(c, first, n_azs)) {
                    Some(v) => v
                        .into_iter()
                        .map(|n| (n, raw.cidr.span(), format!("network.{key}")))
                        .collect(),
                    None => {
                        if cidr.is_some() {
                            errs.push(
                            raw.cidr.span(),
                            &format!("network.{key}"),
                            format!("the VPC is too small for the default {key}: list them explicitly"),
                        );
                        }
                        vec![]
                    }
                }
            }
        }
    };
    let public = subnets("public_subnets", &raw.public_subnets, 1);
    let private = subnets("private_subnets", &raw.private_subnets, 11);

    if let Some(vpc) = cidr {
        let all: Vec<&(Ipv4Net, Range<usize>, String)> =
            public.iter().chain(private.iter()).collect();
        for (i, (net, span, path)) in all.iter().enumerate() {
            if !vpc.contains(net) {
                errs.push(
                    span.clone(),
                    path,
                    format!("\"{net}\" is not inside the VPC's \"{vpc}\""),
                );
                continue;
            }
            if net.prefix_len() > 28 {
                errs.push(
                    span.clone(),
                    path,
                    format!("\"{net}\": a subnet's prefix must be /28 or larger"),
                );
            }
            for (other, _, other_path) in &all[..i] {
                if net.contains(other) || other.contains(net) {
                    errs.push(
                        span.clone(),
                        path,
                        format!("\"{net}\" overlaps {other_path} (\"{other}\")"),
                    );
                }
            }
        }
    }

    let app_port = match &raw.app_port {
        Some(p) if !(1..=65535).contains(p.get_ref()) => {
            errs.push(
                p.span(),
                "network.app_port",
                format!("{} is not a TCP port (1 to 65535)", p.get_ref()),
            );
            DEFAULT_APP_PORT
        }
        Some(p) => *p.get_ref() as u16,
        None => DEFAULT_APP_PORT,
    };
    let alb_ingress_cidrs = match &raw.alb_ingress_cidrs {
        Some(list) => list
            .get_ref()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let path = format!("network.alb_ingress_cidrs[{i}]");
                let net = parse_cidr(errs, s, &path)?;
                if list.get_ref()[..i]
                    .iter()
                    .any(|o| o.get_ref() == s.get_ref())
                {
                    errs.push(s.span(), &path, format!("\"{net}\" is listed twice"));
                }
                Some(net)
            })
            .collect(),
        None => vec!["0.0.0.0/0".parse().expect("literal CIDR")],
    };
    let _ = section;

    if errs.list.len() > n_before {
        return None;
    }
    Some(Network {
        cidr: cidr?,
        azs,
        nat: raw
            .nat
            .as_ref()
            .map(|n| *n.get_ref())
            .unwrap_or(NatLayout::Single),
        public_subnets: public.into_iter().map(|t| t.0).collect(),
        private_subnets: private.into_iter().map(|t| t.0).collect(),
        app_port,
        alb_ingress_cidrs,
        flow_logs: raw
            .flow_logs
            .as_ref()
            .map(|f| *f.get_ref())
            .unwrap_or(FlowLogs::Off),
    })
}

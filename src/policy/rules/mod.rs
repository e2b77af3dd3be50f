//! The rules: one entry of [`RULES`] and one function each. FSBP ids are AWS Security Hub's
//! Foundational Security Best Practices controls; each function checks what the control
//! checks, over rtech's typed props (the kinds' props structs, as the plan carries them).
//!
//! Adding a rule: write `fn my_rule(v: &View) -> Vec<Evidence>` in its service's file (one `Evidence` per
//! resource and field it judges; none when the env has nothing it applies to) and add its
//! entry to `RULES`. Its unit tests go in `policy/tests.rs`; the rules table in docs/policy.md lists it.

mod alerts;
mod app;
mod data;
mod edge;
mod network;

pub use alerts::*;
pub use app::*;
use data::*;
pub use edge::*;
pub use network::*;

use super::{Evidence, Rule, View};
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
        id: "rtech.alb_via_cloudfront",
        title: "With CloudFront, the load balancer admits only CloudFront's origin-facing addresses carrying the origin header",
        prod_waivable: false,
        check: rtech_alb_via_cloudfront,
    },
    Rule {
        id: "rtech.waf",
        title: "Prod's CloudFront distribution is behind a WAF web ACL",
        prod_waivable: false,
        check: rtech_waf,
    },
];

pub(super) fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

pub(super) fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

pub(super) fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// One piece of evidence per resource of `kind`: the field at `path` and whether `ok` holds.
pub(super) fn each(
    v: &View,
    kind: &str,
    path: &str,
    ok: impl Fn(Option<&Value>) -> bool,
) -> Vec<Evidence> {
    v.of_kind(kind)
        .map(|s| s.evidence(path, ok(s.get(path))))
        .collect()
}

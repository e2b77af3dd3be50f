use std::collections::BTreeSet;

use serde_json::Value;

use super::actions::{iam_actions, is_mutating, ACTIONS};
use super::*;
use crate::reconcile::SERVICES;
use crate::testutil::env_spec;

/// The code's service prefixes: a string literal `"<prefix>:<Operation>"` in a service's
/// source names an AWS operation it calls.
const PREFIXES: &[&str] = &[
    "acm",
    "application-autoscaling",
    "backup",
    "cloudfront",
    "cloudwatch",
    "docdb",
    "ec2",
    "ecr",
    "ecs",
    "elasticache",
    "elbv2",
    "iam",
    "kms",
    "logs",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sts",
    "wafv2",
];

/// Literals in a service's source that name an IAM action inside a policy it writes, not a
/// call it makes: (service, literal).
const NOT_CALLS: &[(&str, &str)] = &[
    // The task roles' trust and secret-reading policies.
    ("iam", "sts:AssumeRole"),
    ("iam", "secretsmanager:GetSecretValue"),
    // The VPC flow log role's policy lets VPC Flow Logs write to its group.
    ("iam", "logs:CreateLogStream"),
    ("iam", "logs:DescribeLogStreams"),
    ("iam", "logs:PutLogEvents"),
    // The ALB log bucket's policy lets the load balancer write.
    ("s3", "s3:PutObject"),
    // The alerts key's policy lets the event publishers use it.
    ("kms", "kms:Decrypt"),
];

/// The `.rs` files below `dir`, its subfolders' too, but not tests and not `iam.rs`.
fn rust_files(dir: &std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if name.ends_with(".rs") && !name.ends_with("tests.rs") && name != "iam.rs" {
            out.push(p);
        }
    }
    out
}

/// Calls whose source names no operation (the result is dropped, not mapped to an error):
/// (service, operation), found by the e2e suite's `-vv` call list.
const UNNAMED_CALLS: &[(&str, &str)] = &[
    ("secrets", "secretsmanager:DescribeSecret"),
    // The env's lock, taken outside any service (src/lock.rs), declared by s3.
    ("s3", "s3:PutObject"),
    ("s3", "s3:GetObject"),
    ("s3", "s3:DeleteObject"),
    // The env's tag index, read once for every service (src/reconcile/kit/tag_index.rs),
    // declared by alarms.
    ("alarms", "tag:GetResources"),
    // The subnets a cache subnet group or an ECS service holds that the tag index does not
    // list (src/reconcile/kit/refs.rs, subnet_rids), called for redis and ecs.
    ("redis", "ec2:DescribeSubnets"),
    ("ecs", "ec2:DescribeSubnets"),
];

/// Every `"<prefix>:<Operation>"` literal in the service's source, tests left out, and its
/// [`UNNAMED_CALLS`].
fn called_ops(service: &str) -> BTreeSet<String> {
    let root = format!("{}/src/reconcile", env!("CARGO_MANIFEST_DIR"));
    let files: Vec<std::path::PathBuf> = if service == "logs" {
        vec![format!("{root}/logs.rs").into()]
    } else {
        let folder = match service {
            "cloudfront" => "cdn",
            "route53" => "dns",
            "wafv2" => "waf",
            other => other,
        };
        rust_files(&format!("{root}/{folder}").into())
    };
    let mut ops: BTreeSet<String> = UNNAMED_CALLS
        .iter()
        .filter(|(s, _)| *s == service)
        .map(|(_, op)| op.to_string())
        .collect();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("source");
        // The file's own unit tests, if inline, are not calls.
        let text = text
            .split("#[cfg(test)]\nmod tests {")
            .next()
            .unwrap_or_default();
        for lit in text.split('"').skip(1).step_by(2) {
            let Some((prefix, op)) = lit.split_once(':') else {
                continue;
            };
            if PREFIXES.contains(&prefix)
                && op.starts_with(|c: char| c.is_ascii_uppercase())
                && op.chars().all(|c| c.is_ascii_alphanumeric())
                && !NOT_CALLS.contains(&(service, lit))
            {
                ops.insert(lit.to_string());
            }
        }
    }
    ops
}

fn declared(s: &dyn Service, mode: Option<Mode>) -> BTreeSet<String> {
    s.iam()
        .iter()
        .filter(|g| mode.is_none_or(|m| g.mode == m))
        .flat_map(|g| g.ops.iter().map(|o| o.to_string()))
        .collect()
}

#[test]
fn every_operation_a_service_calls_is_declared_by_it_and_nothing_else() {
    for s in SERVICES {
        let called = called_ops(s.name());
        assert!(!called.is_empty(), "{}: no calls found", s.name());
        let declared = declared(*s, None);
        let missing: Vec<_> = called.difference(&declared).collect();
        let stale: Vec<_> = declared.difference(&called).collect();
        assert!(
            missing.is_empty(),
            "{}/iam.rs does not declare {missing:?}",
            s.name()
        );
        assert!(
            stale.is_empty(),
            "{}/iam.rs declares {stale:?}, which its code never calls",
            s.name()
        );
    }
}

#[test]
fn mutating_operations_are_declared_for_apply_only() {
    for s in SERVICES {
        let observe = declared(*s, Some(Mode::Observe));
        let wrong: Vec<_> = observe.iter().filter(|o| is_mutating(o)).collect();
        assert!(wrong.is_empty(), "{}: observe declares {wrong:?}", s.name());
    }
}

#[test]
fn the_plan_set_holds_no_mutating_action() {
    let acts: BTreeSet<String> = SERVICES
        .iter()
        .flat_map(|s| s.iam().iter())
        .filter(|g| g.mode == Mode::Observe)
        .flat_map(grant_actions)
        .collect();
    let wrong: Vec<_> = acts.iter().filter(|a| is_mutating(a)).collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(acts.contains("ec2:DescribeVpcs") && acts.contains("rds:DescribeDBClusters"));
}

#[test]
fn operations_map_to_iam_actions_by_prefix_and_by_the_table() {
    for (op, want) in [
        ("ec2:DescribeVpcs", vec!["ec2:DescribeVpcs"]),
        ("docdb:ModifyDBCluster", vec!["rds:ModifyDBCluster"]),
        (
            "docdb:CreateDBCluster",
            vec!["rds:CreateDBCluster", "rds:AddTagsToResource"],
        ),
        (
            "elbv2:DescribeTags",
            vec!["elasticloadbalancing:DescribeTags"],
        ),
        ("s3:ListObjectsV2", vec!["s3:ListBucket"]),
        ("s3:HeadBucket", vec!["s3:ListBucket"]),
        ("s3:ListObjectVersions", vec!["s3:ListBucketVersions"]),
        (
            "s3:PutBucketEncryption",
            vec!["s3:PutEncryptionConfiguration"],
        ),
        (
            "s3:GetBucketLifecycleConfiguration",
            vec!["s3:GetLifecycleConfiguration"],
        ),
        (
            "s3:DeleteBucketLifecycle",
            vec!["s3:PutLifecycleConfiguration"],
        ),
        ("s3:GetBucketPolicy", vec!["s3:GetBucketPolicy"]),
        (
            "s3:GetPublicAccessBlock",
            vec!["s3:GetBucketPublicAccessBlock"],
        ),
        (
            "cloudfront:CreateDistributionWithTags",
            vec!["cloudfront:CreateDistribution", "cloudfront:TagResource"],
        ),
        ("iam:PassRole", vec!["iam:PassRole"]),
        ("sts:GetCallerIdentity", vec![]),
    ] {
        assert_eq!(iam_actions(op), want, "{op}");
    }
    let ops: Vec<&str> = ACTIONS.iter().map(|(o, _)| *o).collect();
    let unique: BTreeSet<&str> = ops.iter().copied().collect();
    assert_eq!(ops.len(), unique.len(), "an operation listed twice");
    for (op, acts) in ACTIONS {
        for a in *acts {
            let (prefix, name) = a.split_once(':').expect("prefix:Action");
            assert!(!prefix.is_empty() && !name.is_empty(), "{op} → {a}");
            assert!(
                !["docdb", "elbv2"].contains(&prefix),
                "{op} → {a}: not IAM's prefix"
            );
        }
    }
}

#[test]
fn mutating_is_told_by_the_verb() {
    for a in [
        "ec2:CreateVpc",
        "rds:AddTagsToResource",
        "iam:PassRole",
        "s3:PutBucketPolicy",
    ] {
        assert!(is_mutating(a), "{a}");
    }
    for a in [
        "ec2:DescribeVpcs",
        "s3:GetBucketPolicy",
        "s3:ListBucket",
        "secretsmanager:BatchGetSecretValue",
    ] {
        assert!(!is_mutating(a), "{a}");
    }
}

fn target_docs(env: &str, mode: Mode) -> Vec<Value> {
    let spec = env_spec(env);
    let desired = crate::reconcile::expand(&spec);
    let t = Target {
        spec: &spec,
        account: "123456789012",
        region: &spec.region,
        desired: &desired,
    };
    documents(SERVICES, &t, mode)
}

/// A document as IAM reads one: version, a list of statements each allowing non-empty actions
/// on non-empty resources, Sids unique and alphanumeric, `*` only with a Sid saying why.
fn assert_policy(doc: &Value) {
    assert_eq!(doc["Version"], "2012-10-17");
    let sts = doc["Statement"].as_array().expect("Statement list");
    assert!(!sts.is_empty());
    let mut sids = BTreeSet::new();
    let non_empty = |v: &Value| match v {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => {
            !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty()))
        }
        _ => false,
    };
    for st in sts {
        let sid = st["Sid"].as_str().expect("Sid");
        assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
        assert!(sids.insert(sid), "Sid {sid} twice");
        assert_eq!(st["Effect"], "Allow", "{sid}");
        assert!(non_empty(&st["Action"]), "{sid}: Action");
        assert!(non_empty(&st["Resource"]), "{sid}: Resource");
        if st["Resource"] == "*" {
            assert!(
                sid.contains("No") || sid.contains("Unknown"),
                "{sid}: a * resource needs a Sid saying why nothing narrower exists"
            );
        }
        for r in st["Resource"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![st["Resource"].clone()])
        {
            let r = r.as_str().expect("string");
            assert!(!r.contains('{'), "{sid}: unfilled placeholder in {r}");
            assert!(r == "*" || r.starts_with("arn:aws:"), "{sid}: {r}");
        }
    }
    assert!(
        policy_chars(doc) <= MAX_POLICY_CHARS,
        "{} chars",
        policy_chars(doc)
    );
}

#[test]
fn every_envs_policies_parse_as_policy_documents_within_iams_size_limit() {
    for env in ["dev", "staging", "prod"] {
        for mode in [Mode::Observe, Mode::Apply] {
            let docs = target_docs(env, mode);
            assert!(!docs.is_empty());
            for d in &docs {
                let text = serde_json::to_string_pretty(d).expect("json");
                let back: Value = serde_json::from_str(&text).expect("parses");
                assert_policy(&back);
            }
        }
    }
}

#[test]
fn scoping_names_the_envs_resources() {
    let docs = target_docs("prod", Mode::Apply);
    let text = serde_json::to_string(&docs).expect("json");
    for want in [
        "arn:aws:rds:us-east-1:123456789012:cluster:rtech-prod-*",
        "arn:aws:iam::123456789012:role/rtech-prod-ecs-task",
        "arn:aws:s3:::rtech-prod-us-east-1-alb-logs/*",
        "arn:aws:ecr:us-east-1:123456789012:repository/rtech-app",
        "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/rtech-prod-app:*",
        "\"aws:ResourceTag/rtech:env\":\"prod\"",
        "\"iam:PassedToService\":\"ecs-tasks.amazonaws.com\"",
    ] {
        assert!(text.contains(want), "{want} not in the prod apply policy");
    }
    assert!(!text.contains("rtech-dev"));
}

#[test]
fn prod_policies_are_pinned() {
    insta::assert_json_snapshot!("prod_plan", target_docs("prod", Mode::Observe));
    insta::assert_json_snapshot!("prod_apply", target_docs("prod", Mode::Apply));
}

/// The statement `sid` of the env's apply policy, if the env has one.
fn apply_statement(env: &str, sid: &str) -> Option<Value> {
    target_docs(env, Mode::Apply)
        .iter()
        .flat_map(|d| d["Statement"].as_array().cloned().unwrap_or_default())
        .find(|s| s["Sid"] == sid)
}

#[test]
fn each_role_is_passed_only_to_the_service_that_assumes_it() {
    // prod has a flow log: its role goes to VPC Flow Logs, and only it.
    let flow = apply_statement("prod", "NetworkPassTheFlowLogRoleToVpcFlowLogs").unwrap();
    assert_eq!(flow["Action"], "iam:PassRole");
    assert_eq!(
        flow["Resource"],
        "arn:aws:iam::123456789012:role/rtech-prod-vpc-flow-logs"
    );
    assert_eq!(
        flow["Condition"]["StringEquals"]["iam:PassedToService"],
        "vpc-flow-logs.amazonaws.com"
    );
    // The ECS roles go to ECS tasks; the flow log role does not.
    let ecs = apply_statement("prod", "EcsPassTheEnvsTaskRolesToEcsTasks").unwrap();
    assert_eq!(
        ecs["Resource"],
        serde_json::json!([
            "arn:aws:iam::123456789012:role/rtech-prod-ecs-execution",
            "arn:aws:iam::123456789012:role/rtech-prod-ecs-task"
        ])
    );
    // dev has no flow log: no statement for its role.
    assert!(apply_statement("dev", "NetworkPassTheFlowLogRoleToVpcFlowLogs").is_none());
    let text = serde_json::to_string(&target_docs("prod", Mode::Apply)).unwrap();
    for op in [
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "ec2:DescribeFlowLogs",
    ] {
        assert!(text.contains(op), "{op}");
    }
}

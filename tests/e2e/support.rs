//! Helpers: run the binary against an emulator, SDK clients for out-of-band changes, and
//! checks made through AWS's own APIs (never through rtech).

use std::collections::BTreeMap;
use std::process::Output;

use assert_cmd::Command;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::types::{Filter, Tag};

use crate::emulator::{root, Emulator};

/// `rtech` with the emulator's endpoint and dummy credentials, run from the repo root.
pub fn rtech(emu: &Emulator) -> Command {
    Command::from_std(rtech_std(emu))
}

/// The same as a plain std Command (for streaming its output or killing it part-way).
pub fn rtech_std(emu: &Emulator) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("rtech"));
    c.current_dir(root())
        .env("AWS_ENDPOINT_URL", &emu.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "2")
        .env("NO_COLOR", "1")
        // The emulator's documented quirks (e.g. ElastiCache groups that stay `deleting`).
        .env("RTECH_EMULATOR_QUIRKS", "1")
        .env_remove("AWS_PROFILE");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out: Output = cmd.output().expect("run rtech");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "rtech panicked:\n{}",
        r.stderr
    );
    r
}

/// Run and require an exit code, showing everything on failure.
pub fn run_ok(cmd: &mut Command, code: i32) -> Run {
    let r = run(cmd);
    assert_eq!(
        r.code, code,
        "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
    r
}

pub fn apply(emu: &Emulator, env: &str) -> Run {
    run_ok(
        rtech(emu).args(["apply", "--env", env, "--auto-approve"]),
        0,
    )
}

/// The plan as JSON (exit 0 or 2 with --detailed-exitcode).
pub fn plan_json(emu: &Emulator, env: &str) -> serde_json::Value {
    let r = run(rtech(emu).args(["plan", "--env", env, "--json", "--detailed-exitcode"]));
    assert!(
        r.code == 0 || r.code == 2,
        "plan failed ({}):\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    assert_eq!(
        r.code == 2,
        !v["changes"].as_array().unwrap().is_empty(),
        "exit code agrees with the plan"
    );
    v
}

/// (id, action) of every change in a JSON plan.
pub fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn assert_plan_empty(emu: &Emulator, env: &str) {
    let r = run(rtech(emu).args(["plan", "--env", env, "--detailed-exitcode"]));
    assert_eq!(
        r.code, 0,
        "the plan for {env} is not empty:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
}

/// An SDK client that fails fast on the emulator's 500s.
pub fn tags(t: &[Tag]) -> BTreeMap<String, String> {
    t.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn ours(t: &[Tag], env: &str) -> bool {
    let t = tags(t);
    t.get("rtech:project").map(String::as_str) == Some("rtech")
        && t.get("rtech:env").map(String::as_str) == Some(env)
}

pub fn by_name(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Every live network resource tagged for the env, by kind — counted through EC2 itself, and
/// checked client-side (the emulator ignores tag filters on some calls).
pub async fn tagged(ec2: &aws_sdk_ec2::Client, env: &str) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    m.insert(
        "vpc",
        vpcs.vpcs().iter().filter(|v| ours(v.tags(), env)).count(),
    );
    let subnets = ec2.describe_subnets().send().await.unwrap();
    m.insert(
        "subnet",
        subnets
            .subnets()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    m.insert(
        "igw",
        igws.internet_gateways()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let eips = ec2.describe_addresses().send().await.unwrap();
    m.insert(
        "eip",
        eips.addresses()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    m.insert(
        "nat",
        nats.nat_gateways()
            .iter()
            .filter(|v| ours(v.tags(), env) && v.state().is_some_and(|s| s.as_str() != "deleted"))
            .count(),
    );
    let rts = ec2.describe_route_tables().send().await.unwrap();
    m.insert(
        "route_table",
        rts.route_tables()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    let sgs = ec2.describe_security_groups().send().await.unwrap();
    m.insert(
        "sg",
        sgs.security_groups()
            .iter()
            .filter(|v| ours(v.tags(), env))
            .count(),
    );
    m
}

pub async fn vpc_id(ec2: &aws_sdk_ec2::Client, env: &str) -> String {
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    vpcs.vpcs()
        .iter()
        .find(|v| ours(v.tags(), env))
        .and_then(|v| v.vpc_id())
        .expect("our VPC")
        .to_string()
}

/// The physical id of a tagged resource by its rtech id.
pub async fn physical(ec2: &aws_sdk_ec2::Client, env: &str, rid: &str) -> String {
    let f = by_name("tag:rtech:id", rid);
    let kind = rid.split('/').next().unwrap();
    let ids: Vec<String> = match kind {
        "subnet" => ec2
            .describe_subnets()
            .filters(f)
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.subnet_id().map(String::from))
            .collect(),
        "sg" => ec2
            .describe_security_groups()
            .filters(f)
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.group_id().map(String::from))
            .collect(),
        "igw" => ec2
            .describe_internet_gateways()
            .filters(f)
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.internet_gateway_id().map(String::from))
            .collect(),
        "vpc" => ec2
            .describe_vpcs()
            .filters(f)
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .filter(|x| ours(x.tags(), env))
            .filter_map(|x| x.vpc_id().map(String::from))
            .collect(),
        k => panic!("no lookup for kind {k}"),
    };
    assert_eq!(ids.len(), 1, "{rid} in {env}: {ids:?}");
    ids[0].clone()
}

/// SDK configuration for out-of-band calls: the emulator, dummy credentials, and one attempt
/// (the emulator's 500s for unimplemented calls fail fast).
pub async fn sdk_conf(emu: &Emulator) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&emu.url)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// An SDK client of one service for out-of-band changes and checks.
macro_rules! client_fn {
    ($($name:ident => $krate:ident),* $(,)?) => {
        $(
            #[allow(dead_code)] // not every test module uses every service
            pub async fn $name(emu: &Emulator) -> $krate::Client {
                $krate::Client::new(&sdk_conf(emu).await)
            }
        )*
    };
}

client_fn! {
    ec2 => aws_sdk_ec2,
    docdb => aws_sdk_docdb,
    elasticache => aws_sdk_elasticache,
    secretsmanager => aws_sdk_secretsmanager,
    ecr => aws_sdk_ecr,
    iam => aws_sdk_iam,
    logs => aws_sdk_cloudwatchlogs,
    ecs => aws_sdk_ecs,
    elbv2 => aws_sdk_elasticloadbalancingv2,
    autoscaling => aws_sdk_applicationautoscaling,
}

/// The head of a temporary env spec: project, env, tags and a small dev-sized network without
/// NAT gateways (fast). Tests append the sections they exercise.
pub fn spec_head(env: &str) -> String {
    format!(
        r#"project = "rtech"
env = "{env}"
region = "us-east-1"

[tags]
Environment = "test"

[network]
cidr = "10.10.0.0/20"
az_count = 2
nat = "none"
public_subnets = ["10.10.0.0/24", "10.10.1.0/24"]
private_subnets = ["10.10.8.0/23", "10.10.10.0/23"]

[secrets]
force_delete = true
"#
    )
}

/// A temporary envs dir holding `<env>.toml` = `spec_head(env)` + `sections`; pass
/// `--envs-dir dir.path()` to rtech.
pub fn spec_dir(env: &str, sections: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join(format!("{env}.toml")),
        format!("{}{sections}", spec_head(env)),
    )
    .expect("write spec");
    dir
}

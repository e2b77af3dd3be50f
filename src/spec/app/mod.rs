//! `[ecr]` and `[app]`: the container platform: the image
//! repository, the ECS Fargate service with its task definition, roles, log group, target
//! group and auto scaling. Both sections are optional; `[app]` needs `[ecr]` (its image).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

pub mod deploy;
mod parts;
pub use deploy::{Deploy, Strategy};
use parts::{validate_scaling, validate_statement, validate_target_group};

use super::data::{flag, int_in, str_checked};
use super::Errors;
use crate::spec::Spanned;

/// `[ecr]`: the app's image repository.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEcr {
    /// The repository name: 2–256 lowercase letters, digits and `. _ - /`, starting and ending with
    /// a letter or digit (default `{project}-app`).
    pub repository: Option<Spanned<String>>,
    /// Scan images on push (default true).
    pub scan_on_push: Option<Spanned<bool>>,
    /// A pushed tag can never be overwritten (default false).
    pub immutable_tags: Option<Spanned<bool>>,
    /// The lifecycle policy keeps the newest N images (1–1000; default 30).
    pub keep_tagged_images: Option<Spanned<i64>>,
    /// The lifecycle policy expires untagged images after D days (1–365; default 7).
    pub untagged_expire_days: Option<Spanned<i64>>,
    /// `destroy` may delete the repository while it still holds images (default false).
    pub force_delete: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ecr {
    /// The repository name (default `{project}-app`: `rtech-app` for the platform).
    pub repository: String,
    pub scan_on_push: bool,
    /// Tags cannot be overwritten (prod).
    pub immutable_tags: bool,
    /// Lifecycle: keep the newest N tagged images.
    pub keep_tagged_images: i64,
    /// Lifecycle: expire untagged images after D days.
    pub untagged_expire_days: i64,
    /// Destroy may delete a repository that still holds images (dev).
    pub force_delete: bool,
}

/// `[app]`: the application on ECS Fargate, with its task definition, roles, log group, target
/// group and auto scaling.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    /// The tag deployed when the service is first created (default `latest`); later applies keep
    /// the deployed tag unless `--image-tag` names another.
    pub image_tag: Option<Spanned<String>>,
    /// Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384 (default 256).
    pub cpu: Option<Spanned<i64>>,
    /// MiB, a size Fargate accepts with `cpu` (default 512).
    pub memory: Option<Spanned<i64>>,
    /// The container port and the target group's (1–65535); must equal `network.app_port` (default
    /// that).
    pub port: Option<Spanned<i64>>,
    /// Tasks on create (0–1000; default 1, with scaling `scaling.min`). With scaling the scaler
    /// owns the count afterwards.
    pub desired_count: Option<Spanned<i64>>,
    /// The cluster's Container Insights (default true).
    pub container_insights: Option<Spanned<bool>>,
    /// Days the log group `/ecs/{project}-{env}-app` keeps events: a CloudWatch Logs retention
    /// value (1, 3, 5, 7, 14, 30, 60, 90, …, 3653; default 30).
    pub log_retention_days: Option<Spanned<i64>>,
    /// Seconds the service ignores failing load balancer health checks after a task starts (0–7200;
    /// default 60).
    pub health_check_grace_seconds: Option<Spanned<i64>>,
    /// Task definition revisions kept ACTIVE; older ones are deregistered (1–100; default 5).
    pub keep_revisions: Option<Spanned<i64>>,
    /// How long apply waits for the service to become stable (30–7200; default 900).
    pub stable_timeout_seconds: Option<Spanned<i64>>,
    /// Run the container as this non-root user (`"1000"`, `"node"`); `root` and `0` are refused.
    pub user: Option<Spanned<String>>,
    /// Mount the container's root filesystem read-only (default false).
    pub read_only_root_filesystem: Option<Spanned<bool>>,
    /// Plain environment variables (never secrets). `MONGODB_URI`, `REDIS_HOST`, `REDIS_PORT` and
    /// `REDIS_AUTH_TOKEN` are set by rtech from the data tier and refused here.
    #[serde(default)]
    pub environment: BTreeMap<String, Spanned<String>>,
    /// `[app.health_check]`: the container's health check, run with `CMD-SHELL`.
    pub health_check: Option<Spanned<RawHealthCheck>>,
    /// `[app.target_group]`: the target group's health check and deregistration delay.
    pub target_group: Option<Spanned<RawTargetGroup>>,
    /// `[app.scaling]`: target-tracking auto scaling on CPU and memory.
    pub scaling: Option<Spanned<RawScaling>>,
    /// `[app.deploy]`: how ECS rolls a new revision out (default `rolling`).
    pub deploy: Option<Spanned<deploy::RawDeploy>>,
    /// `[[app.task_role_statements]]`: extra IAM statements for the task role.
    #[serde(default)]
    pub task_role_statements: Vec<Spanned<RawStatement>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// The command, run with `CMD-SHELL` (required).
    pub command: Spanned<String>,
    /// Seconds between checks (5–300; default 30).
    pub interval_seconds: Option<Spanned<i64>>,
    /// Seconds a check may take, shorter than the interval (2–60; default 5).
    pub timeout_seconds: Option<Spanned<i64>>,
    /// Failures before the container is unhealthy (1–10; default 3).
    pub retries: Option<Spanned<i64>>,
    /// Seconds after start during which failures do not count (0–300; default 0).
    pub start_period_seconds: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargetGroup {
    /// The path the load balancer checks (default `/api/health`).
    pub health_check_path: Option<Spanned<String>>,
    /// HTTP codes that count as healthy: 200–499, lists and ranges (default `200`).
    pub matcher: Option<Spanned<String>>,
    /// Seconds a deregistering target keeps its connections (0–3600; default 30).
    pub deregistration_delay_seconds: Option<Spanned<i64>>,
    /// Successes before a target is healthy (2–10; default 2).
    pub healthy_threshold: Option<Spanned<i64>>,
    /// Failures before a target is unhealthy (2–10; default 3).
    pub unhealthy_threshold: Option<Spanned<i64>>,
    /// Seconds between checks (5–300; default 30).
    pub interval_seconds: Option<Spanned<i64>>,
    /// Seconds a check may take, shorter than the interval (2–120; default 5).
    pub timeout_seconds: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScaling {
    /// The fewest tasks (default 2).
    pub min: Option<Spanned<i64>>,
    /// The most tasks, at least `min` (default 10).
    pub max: Option<Spanned<i64>>,
    /// Target CPU utilisation, percent (default 70).
    pub cpu_target: Option<Spanned<i64>>,
    /// Target memory utilisation, percent (default 80).
    pub memory_target: Option<Spanned<i64>>,
    /// Seconds after a scale-in before the next (default 300).
    pub scale_in_cooldown_seconds: Option<Spanned<i64>>,
    /// Seconds after a scale-out before the next (default 60).
    pub scale_out_cooldown_seconds: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStatement {
    /// The statement's `Sid`.
    pub sid: Option<Spanned<String>>,
    /// `Allow` or `Deny` (default `Allow`).
    #[schemars(with = "Option<crate::spec::schema::StatementEffect>")]
    pub effect: Option<Spanned<String>>,
    /// IAM actions, `service:Action` (required).
    pub actions: Spanned<Vec<Spanned<String>>>,
    /// ARNs or `*` (required).
    pub resources: Spanned<Vec<Spanned<String>>>,
}

/// The ECS service and everything it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The tag deployed on first create (later applies keep the deployed tag unless
    /// `--image-tag` is given).
    pub image_tag: String,
    /// Fargate task size: CPU units and MiB, a pair Fargate accepts.
    pub cpu: i64,
    pub memory: i64,
    /// The container port (3000) and the target group's.
    pub port: i64,
    /// Tasks on create; with `scaling`, the scaler owns it afterwards.
    pub desired_count: i64,
    pub container_insights: bool,
    /// Days the app log group keeps events (one of CloudWatch's values).
    pub log_retention_days: i64,
    pub health_check_grace_seconds: i64,
    /// Task definition revisions kept ACTIVE; older ones are deregistered.
    pub keep_revisions: i64,
    /// How long apply waits for the service to become stable.
    pub stable_timeout_seconds: i64,
    /// Run as this (non-root) user, e.g. `1000` or `node`.
    pub user: Option<String>,
    pub read_only_root_filesystem: bool,
    /// Plain environment (never secrets: those come from the data tier's secrets).
    pub environment: BTreeMap<String, String>,
    pub health_check: Option<HealthCheck>,
    pub target_group: TargetGroup,
    pub scaling: Option<Scaling>,
    /// `[app.deploy]`: the deployment strategy (rolling by default).
    pub deploy: Deploy,
    /// Extra statements for the task role (none by default).
    pub task_role_statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// Run with `CMD-SHELL`.
    pub command: String,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
    pub retries: i64,
    pub start_period_seconds: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub health_check_path: String,
    pub matcher: String,
    pub deregistration_delay_seconds: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    pub min: i64,
    pub max: i64,
    /// Target-tracking targets, percent.
    pub cpu_target: i64,
    pub memory_target: i64,
    pub scale_in_cooldown_seconds: i64,
    pub scale_out_cooldown_seconds: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// Environment names rtech sets itself (from the data tier), never from the spec.
pub const RESERVED_ENV: &[&str] = &[
    "MONGODB_URI",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_AUTH_TOKEN",
];

/// CloudWatch Logs' accepted retention values.
pub const LOG_RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_image_tag(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The memory sizes (MiB) Fargate accepts for a CPU size, or None for an unknown CPU size.
pub fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let (lo, hi, step) = match cpu {
        256 => return Some(vec![512, 1024, 2048]),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return None,
    };
    Some((lo..=hi).step_by(step).collect())
}

fn gib(mib: i64) -> String {
    if mib % 1024 == 0 {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

/// ECR repository names: lowercase, digits and `._-/` separators, 2–256 characters.
fn valid_repository(s: &str) -> bool {
    (2..=256).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
        })
}

pub(super) fn validate_ecr(errs: &mut Errors, raw: &Spanned<RawEcr>, project: &str) -> Ecr {
    let r = raw.get_ref();
    let repository = str_checked(
        errs,
        &r.repository,
        "ecr.repository",
        valid_repository,
        "is not an ECR repository name (2-256 lowercase letters, digits and . _ - /, starting and ending with a letter or digit)",
        || format!("{project}-app"),
    );
    Ecr {
        repository,
        scan_on_push: flag(&r.scan_on_push, true),
        immutable_tags: flag(&r.immutable_tags, false),
        keep_tagged_images: int_in(
            errs,
            &r.keep_tagged_images,
            "ecr.keep_tagged_images",
            1..=1000,
            30,
        ),
        untagged_expire_days: int_in(
            errs,
            &r.untagged_expire_days,
            "ecr.untagged_expire_days",
            1..=365,
            7,
        ),
        force_delete: flag(&r.force_delete, false),
    }
}

/// `network_port` is `network.app_port`: the security group admits the ALB on that port only, so
/// the container must listen there too.
pub(super) fn validate_app(
    errs: &mut Errors,
    raw: &Spanned<RawApp>,
    has_ecr: bool,
    network_port: Option<u16>,
) -> App {
    let r = raw.get_ref();
    if !has_ecr {
        errs.push(
            raw.span(),
            "app",
            "the app needs an [ecr] section: its image comes from that repository",
        );
    }
    let image_tag = str_checked(
        errs,
        &r.image_tag,
        "app.image_tag",
        valid_image_tag,
        "is not a valid image tag (letters, digits, _ . -, not starting with . or -, at most 128)",
        || "latest".to_string(),
    );
    let cpu = r.cpu.as_ref().map(|c| *c.get_ref()).unwrap_or(256);
    let memory = r.memory.as_ref().map(|m| *m.get_ref()).unwrap_or(512);
    match fargate_memory(cpu) {
        None => {
            let span = r.cpu.as_ref().map(Spanned::span).unwrap_or(raw.span());
            errs.push(
                span,
                "app.cpu",
                format!(
                    "{cpu} is not a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192 or 16384)"
                ),
            );
        }
        Some(ok) if !ok.contains(&memory) => {
            let span = r.memory.as_ref().map(Spanned::span).unwrap_or(raw.span());
            errs.push(
                span,
                "app.memory",
                format!(
                    "{memory} MiB is not a memory size Fargate accepts with cpu = {cpu} ({} to {})",
                    gib(ok[0]),
                    gib(*ok.last().unwrap_or(&ok[0]))
                ),
            );
        }
        Some(_) => {}
    }
    let default_port = network_port.map(i64::from).unwrap_or(3000);
    let port = int_in(errs, &r.port, "app.port", 1..=65535, default_port);
    if let (Some(p), Some(np)) = (&r.port, network_port) {
        if (1..=65535).contains(p.get_ref()) && *p.get_ref() != i64::from(np) {
            errs.push(
                p.span(),
                "app.port",
                format!(
                    "{} differs from network.app_port ({np}), the port the app security group admits from the ALB",
                    p.get_ref()
                ),
            );
        }
    }
    let desired_count = int_in(errs, &r.desired_count, "app.desired_count", 0..=1000, 1);
    let log_retention_days = match &r.log_retention_days {
        Some(d) if !LOG_RETENTION_DAYS.contains(d.get_ref()) => {
            errs.push(
                d.span(),
                "app.log_retention_days",
                format!(
                    "{} is not a CloudWatch Logs retention ({})",
                    d.get_ref(),
                    LOG_RETENTION_DAYS
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            30
        }
        Some(d) => *d.get_ref(),
        None => 30,
    };
    let user = r.user.as_ref().map(|u| {
        let s = u.get_ref();
        if s.is_empty() || s == "root" || s == "0" || s.starts_with("0:") {
            errs.push(
                u.span(),
                "app.user",
                format!(
                    "{s:?} is root: give a non-root user name or uid (e.g. \"1000\" or \"node\")"
                ),
            );
        }
        s.clone()
    });
    let mut environment = BTreeMap::new();
    for (k, v) in &r.environment {
        let path = format!("app.environment.{k}");
        let ok = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            errs.push(
                v.span(),
                &path,
                "environment names hold letters, digits and _ and do not start with a digit",
            );
        } else if RESERVED_ENV.contains(&k.as_str()) {
            errs.push(
                v.span(),
                &path,
                format!(
                    "{k} is set by rtech from the data tier (as an ECS secret or the endpoint)"
                ),
            );
        }
        environment.insert(k.clone(), v.get_ref().clone());
    }
    let health_check = r.health_check.as_ref().map(|h| {
        let h = h.get_ref();
        if h.command.get_ref().trim().is_empty() {
            errs.push(
                h.command.span(),
                "app.health_check.command",
                "the command must not be empty",
            );
        }
        let hc = HealthCheck {
            command: h.command.get_ref().clone(),
            interval_seconds: int_in(
                errs,
                &h.interval_seconds,
                "app.health_check.interval_seconds",
                5..=300,
                30,
            ),
            timeout_seconds: int_in(
                errs,
                &h.timeout_seconds,
                "app.health_check.timeout_seconds",
                2..=60,
                5,
            ),
            retries: int_in(errs, &h.retries, "app.health_check.retries", 1..=10, 3),
            start_period_seconds: int_in(
                errs,
                &h.start_period_seconds,
                "app.health_check.start_period_seconds",
                0..=300,
                0,
            ),
        };
        if hc.timeout_seconds >= hc.interval_seconds {
            if let Some(t) = &h.timeout_seconds {
                errs.push(
                    t.span(),
                    "app.health_check.timeout_seconds",
                    "must be shorter than interval_seconds",
                );
            }
        }
        hc
    });
    let target_group = validate_target_group(errs, r.target_group.as_ref());
    let scaling = r.scaling.as_ref().map(|s| validate_scaling(errs, s));
    if let (Some(s), Some(d)) = (&scaling, &r.desired_count) {
        if !(s.min..=s.max).contains(d.get_ref()) {
            errs.push(
                d.span(),
                "app.desired_count",
                format!(
                    "{} is outside app.scaling's range {}..={}",
                    d.get_ref(),
                    s.min,
                    s.max
                ),
            );
        }
    }
    let desired_count = match (&scaling, &r.desired_count) {
        (Some(s), None) => s.min,
        _ => desired_count,
    };
    let task_role_statements = r
        .task_role_statements
        .iter()
        .enumerate()
        .map(|(i, s)| validate_statement(errs, i, s))
        .collect();
    App {
        image_tag,
        cpu,
        memory,
        port,
        desired_count,
        container_insights: flag(&r.container_insights, true),
        log_retention_days,
        health_check_grace_seconds: int_in(
            errs,
            &r.health_check_grace_seconds,
            "app.health_check_grace_seconds",
            0..=7200,
            60,
        ),
        keep_revisions: int_in(errs, &r.keep_revisions, "app.keep_revisions", 1..=100, 5),
        stable_timeout_seconds: int_in(
            errs,
            &r.stable_timeout_seconds,
            "app.stable_timeout_seconds",
            30..=7200,
            900,
        ),
        user,
        read_only_root_filesystem: flag(&r.read_only_root_filesystem, false),
        environment,
        health_check,
        target_group,
        scaling,
        deploy: deploy::validate_deploy(errs, r.deploy.as_ref()),
        task_role_statements,
    }
}

//! The env spec: `envs/<env>.toml`, parsed with serde (`deny_unknown_fields`) and validated.
//! Every error names the file, line, column and key path.

pub mod account;
pub mod app;
pub mod data;
pub mod dr;
pub mod edge;
pub mod loadtest;
pub mod monitoring;
pub mod network;
pub mod policy;
pub mod schema;
pub mod windows;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

/// A value as written, with its byte span in the file (for `file:line:col` errors): toml's
/// `Spanned`, which in the env file's JSON Schema (`rtech schema`) is the bare value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct Spanned<T>(toml::Spanned<T>);

impl<T> Spanned<T> {
    /// The byte range of the value in the file.
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }
    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(generator)
    }
}

/// A spec error located in its file: `file:line:col: key.path: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: no such env file (envs found in {dir}: {known})")]
    Missing {
        file: String,
        dir: String,
        known: String,
    },
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<SpecError>),
}

/// Source text of one file, for turning byte spans into line:col.
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    pub fn error(&self, span: Range<usize>, path: &str, message: impl Into<String>) -> SpecError {
        let (line, col) = self.line_col(span.start);
        SpecError {
            file: self.file.to_string(),
            line,
            col,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Collects semantic errors so a user sees all of them at once.
pub struct Errors<'a> {
    pub src: &'a Source<'a>,
    pub list: Vec<SpecError>,
}

impl<'a> Errors<'a> {
    pub fn new(src: &'a Source<'a>) -> Self {
        Errors { src, list: vec![] }
    }
    pub fn push(&mut self, span: Range<usize>, path: &str, message: impl Into<String>) {
        self.list.push(self.src.error(span, path, message));
    }
}

// The file as written (spans kept for validation); its doc comments are the JSON Schema's
// descriptions (`rtech schema`), what editors show.
/// An rtech env file, `envs/<env>.toml`: one env of the platform's AWS stack. Unknown keys are
/// errors everywhere; `rtech validate --env ENV` checks the rest (ranges, CIDRs, windows,
/// cross-section rules) without any AWS call.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// The project name (required): 1–20 lowercase letters, digits and inner hyphens, starting with
    /// a letter. It begins every AWS name (`{project}-{env}-{role}`).
    pub project: Spanned<String>,
    /// The env name (required): 1–10 lowercase letters, digits and inner hyphens, starting with a
    /// letter; must equal the file's name (`dev` in `dev.toml`).
    pub env: Spanned<String>,
    /// The AWS region (required), e.g. `us-east-1`.
    pub region: Spanned<String>,
    /// The 12-digit id of the only account the env may run in, compared with
    /// `sts:GetCallerIdentity` before any other call (default: any account). `123456789012` is
    /// the shipped placeholder.
    pub account_id: Option<Spanned<String>>,
    /// Instead of `account_id`: the accounts the env may run in (12-digit ids, at least one).
    /// Setting both is an error.
    pub allowed_account_ids: Option<Spanned<Vec<Spanned<String>>>>,
    /// Extra tags on every taggable resource. Keys 1–128 characters, not `Name` and not
    /// starting with `aws:` or `rtech:` (rtech sets those); values at most 256 characters.
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<String>>,
    /// `[network]` (required): the VPC, its subnets, the NAT layout and the ports the security
    /// groups open.
    pub network: Spanned<network::RawNetwork>,
    /// `[docdb]`: a DocumentDB cluster. Without it the env has none.
    pub docdb: Option<Spanned<data::RawDocdb>>,
    /// `[redis]`: an ElastiCache Redis replication group. Without it the env has none.
    pub redis: Option<Spanned<data::RawRedis>>,
    /// `[secrets]`: how the data tier's secrets are deleted.
    pub secrets: Option<Spanned<data::RawSecrets>>,
    /// `[backup]`: AWS Backup of the DocumentDB cluster (needs `[docdb]`).
    pub backup: Option<Spanned<data::RawBackup>>,
    /// `[ecr]`: the app's image repository (`[app]` needs it).
    pub ecr: Option<Spanned<app::RawEcr>>,
    /// `[app]`: the application on ECS Fargate (needs `[ecr]`).
    pub app: Option<Spanned<app::RawApp>>,
    /// `[edge]`: the public edge: domain, certificate, ALB, DNS records, optionally CloudFront and
    /// WAF (needs `[app]`).
    pub edge: Option<Spanned<edge::RawEdge>>,
    /// `[monitoring]`: the alerts topic and its subscriptions, alarms, dashboard, and the data
    /// tier's log groups (default: every alarm of the services the env has, and the dashboard).
    pub monitoring: Option<Spanned<monitoring::RawMonitoring>>,
    /// `[lock]`: where the env's lock lives.
    pub lock: Option<Spanned<account::RawLock>>,
    /// `[loadtest]`: what `rtech loadtest` requests and the thresholds it judges a run by.
    pub loadtest: Option<Spanned<loadtest::RawLoadtest>>,
    /// `[dr]`: the recovery targets `rtech drill` judges its measurements by.
    pub dr: Option<Spanned<dr::RawDr>>,
    /// `[policy]`: whether policy violations block apply, and the rules this env may fail
    /// (`[[policy.waivers]]`).
    // Not spanned: `[[policy.waivers]]` alone (without a `[policy]` header) is the usual form.
    pub policy: Option<policy::RawPolicy>,
}

/// A validated env spec: what `expand` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub project: String,
    pub env: String,
    pub region: String,
    /// `account_id` / `allowed_account_ids`: where the env may run.
    pub account: account::AccountPin,
    /// `[lock]`: where the env's lock lives.
    pub lock: account::Lock,
    pub tags: BTreeMap<String, String>,
    pub network: network::Network,
    /// DocumentDB, when the spec has a `[docdb]` section.
    pub docdb: Option<data::Docdb>,
    /// ElastiCache Redis, when the spec has a `[redis]` section.
    pub redis: Option<data::Redis>,
    /// How the data tier's secrets are deleted.
    pub secrets: data::Secrets,
    /// AWS Backup of the DocumentDB cluster, when the spec has a `[backup]` section.
    pub backup: Option<data::Backup>,
    /// The image repository, when the spec has an `[ecr]` section.
    pub ecr: Option<app::Ecr>,
    /// The ECS Fargate service, when the spec has an `[app]` section.
    pub app: Option<app::App>,
    /// The public edge (domain, certificate, ALB, records, CloudFront), when the spec has an
    /// `[edge]` section.
    pub edge: Option<edge::Edge>,
    /// Alerts, alarms, dashboard and the data tier's log groups (`[monitoring]`, or its
    /// defaults: every alarm of the services the env has, and the dashboard).
    pub monitoring: monitoring::Monitoring,
    /// `[loadtest]`: what `rtech loadtest` requests and its thresholds (or their defaults).
    pub loadtest: loadtest::Loadtest,
    /// `[dr]`: the recovery targets `rtech drill` judges by (or their defaults).
    pub dr: dr::Dr,
    /// `[policy]`: whether violations block apply, and the rules this env may fail (where,
    /// why and until when).
    pub policy: policy::Policy,
    /// `--image-tag` (CI passes the commit SHA). Without it the deployed image is kept
    /// (late-initialised from live state), or `app.image_tag` on first create.
    pub image_tag: Option<String>,
    /// Where it came from, for messages.
    pub file: String,
}

impl Spec {
    /// `{project}-{env}-{role}`: every AWS name rtech gives.
    pub fn name(&self, role: &str) -> String {
        format!("{}-{}-{}", self.project, self.env, role)
    }
}

/// The path of an env's file.
pub fn env_file(envs_dir: &Path, env: &str) -> PathBuf {
    envs_dir.join(format!("{env}.toml"))
}

/// Load and validate `envs_dir/<env>.toml`. No AWS call, no other I/O.
pub fn load(envs_dir: &Path, env: &str) -> Result<Spec, LoadError> {
    let path = env_file(envs_dir, env);
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut known: Vec<String> = std::fs::read_dir(envs_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let p = e.path();
                    if p.extension()? != "toml" {
                        return None;
                    }
                    Some(p.file_stem()?.to_string_lossy().into_owned())
                })
                .collect();
            known.sort();
            return Err(LoadError::Missing {
                file,
                dir: envs_dir.display().to_string(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
        Err(source) => return Err(LoadError::Io { file, source }),
    };
    parse(&file, &text, env).map_err(LoadError::Invalid)
}

/// Parse and validate spec text. `expected_env` is the file's stem.
pub fn parse(file: &str, text: &str, expected_env: &str) -> Result<Spec, Vec<SpecError>> {
    let src = Source { file, text };
    let de = toml::Deserializer::new(text);
    let raw: RawSpec = serde_path_to_error::deserialize(de).map_err(|e| {
        // `Spanned` wrappers show up in the path as a private field: drop them.
        let path = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let span = inner.span().unwrap_or(0..0);
        let path = if path == "." { String::new() } else { path };
        vec![src.error(span, &path, implicit_table_message(&path, inner.message()))]
    })?;
    validate(&src, raw, expected_env)
}

/// A table written only through a sub-table's header (`[edge.cloudfront.api_behavior]`
/// without `[edge.cloudfront]`) has no location of its own, which the spanned reader reports
/// as "expected a borrowed string": say what to write instead.
fn implicit_table_message(path: &str, msg: &str) -> String {
    match path.rsplit_once('.') {
        Some((parent, _)) if msg.contains("expected a borrowed string") => format!(
            "the table [{parent}] has no header of its own: write `[{parent}]` above `[{path}]`"
        ),
        _ => clean_toml_message(msg),
    }
}

fn clean_toml_message(msg: &str) -> String {
    msg.trim().trim_end_matches('\n').replace('\n', "; ")
}

fn validate(src: &Source, raw: RawSpec, expected_env: &str) -> Result<Spec, Vec<SpecError>> {
    let mut errs = Errors::new(src);
    check_name(&mut errs, &raw.project, "project", 20);
    check_name(&mut errs, &raw.env, "env", 10);
    if raw.env.get_ref() != expected_env {
        errs.push(
            raw.env.span(),
            "env",
            format!(
                "{:?} does not match the file name (expected {:?})",
                raw.env.get_ref(),
                expected_env
            ),
        );
    }
    let region = raw.region.get_ref();
    if !is_region(region) {
        errs.push(
            raw.region.span(),
            "region",
            format!("{region:?} is not an AWS region name (e.g. us-east-1)"),
        );
    }
    let mut tags = BTreeMap::new();
    for (k, v) in &raw.tags {
        let path = format!("tags.{k}");
        if k == "Name" {
            errs.push(
                v.span(),
                &path,
                "Name is set by rtech on every resource ({project}-{env}-{role})",
            );
        } else if k.starts_with("aws:") || k.starts_with("rtech:") {
            errs.push(
                v.span(),
                &path,
                "tag keys starting with aws: or rtech: are reserved",
            );
        } else if k.is_empty() || k.len() > 128 {
            errs.push(v.span(), &path, "tag keys must be 1 to 128 characters");
        } else if v.get_ref().len() > 256 {
            errs.push(v.span(), &path, "tag values must be at most 256 characters");
        }
        tags.insert(k.clone(), v.get_ref().clone());
    }
    let network = network::validate(&mut errs, &raw.network, region);
    let docdb = raw
        .docdb
        .as_ref()
        .map(|d| data::validate_docdb(&mut errs, d));
    let redis = raw
        .redis
        .as_ref()
        .map(|r| data::validate_redis(&mut errs, r));
    let secrets = raw
        .secrets
        .as_ref()
        .map(|s| data::validate_secrets(&mut errs, s))
        .unwrap_or_default();
    let backup = raw
        .backup
        .as_ref()
        .map(|b| data::validate_backup(&mut errs, b, raw.docdb.is_some()));
    let ecr = raw
        .ecr
        .as_ref()
        .map(|e| app::validate_ecr(&mut errs, e, raw.project.get_ref()));
    let mut app = raw.app.as_ref().map(|a| {
        let port = network.as_ref().map(|n| n.app_port);
        app::validate_app(&mut errs, a, raw.ecr.is_some(), port)
    });
    let edge = raw
        .edge
        .as_ref()
        .map(|e| edge::validate_edge(&mut errs, e, raw.app.is_some(), region));
    // With CloudFront the ALB admits only CloudFront's origin-facing addresses: a CIDR list
    // would be silently unused.
    if let (Some(c), Some(_)) = (
        raw.network.get_ref().alb_ingress_cidrs.as_ref(),
        edge.as_ref().and_then(|e| e.cloudfront.as_ref()),
    ) {
        errs.push(
            c.span(),
            "network.alb_ingress_cidrs",
            "with [edge.cloudfront] the load balancer admits only CloudFront's origin-facing addresses (the com.amazonaws.global.cloudfront.origin-facing prefix list): remove alb_ingress_cidrs",
        );
    }
    let monitoring = monitoring::validate_monitoring(&mut errs, raw.monitoring.as_ref());
    if let (Some(a), Some(raw_app)) = (app.as_mut(), raw.app.as_ref()) {
        check_app_deploy(&mut errs, raw_app, a, &raw, &monitoring);
    }
    let account = account::validate_pin(
        &mut errs,
        raw.account_id.as_ref(),
        raw.allowed_account_ids.as_ref(),
    );
    let lock = account::validate_lock(&mut errs, raw.lock.as_ref());
    let loadtest = loadtest::validate_loadtest(&mut errs, raw.loadtest.as_ref());
    let dr = dr::validate_dr(&mut errs, raw.dr.as_ref());
    let policy = policy::validate_policy(&mut errs, raw.policy.as_ref());
    if !errs.list.is_empty() {
        errs.list.sort_by_key(|e| (e.line, e.col));
        return Err(errs.list);
    }
    Ok(Spec {
        project: raw.project.into_inner(),
        env: raw.env.into_inner(),
        region: region.clone(),
        account,
        lock,
        tags,
        network: network.expect("no errors means a network"),
        docdb,
        redis,
        secrets,
        backup,
        ecr,
        app,
        edge,
        monitoring,
        loadtest,
        dr,
        policy,
        image_tag: None,
        file: src.file.to_string(),
    })
}

/// `[app.deploy]` against the rest of the spec: `[edge]` for a traffic-shifting strategy, the
/// rollback alarms among the env's alarms, and `[edge.weights]`'s green target group only
/// with such a strategy.
fn check_app_deploy(
    errs: &mut Errors,
    raw_app: &Spanned<app::RawApp>,
    a: &mut app::App,
    raw: &RawSpec,
    monitoring: &monitoring::Monitoring,
) {
    use monitoring::Source;
    let has = |s: Source| match s {
        Source::Alb => raw.edge.is_some(),
        Source::Ecs => true,
        Source::Docdb => raw.docdb.is_some(),
        Source::Redis => raw.redis.is_some(),
    };
    let alarms: Vec<String> = monitoring
        .alarms
        .iter()
        .filter(|(_, al)| has(al.source))
        .map(|(n, _)| n.clone())
        .collect();
    app::deploy::check_deploy(
        errs,
        raw_app.get_ref().deploy.as_ref(),
        raw_app.span(),
        &mut a.deploy,
        raw.edge.is_some(),
        &alarms,
    );
    if a.deploy.strategy.shifts_traffic() {
        return;
    }
    let weights = raw.edge.as_ref().and_then(|e| e.get_ref().weights.as_ref());
    for (colour, w) in weights.iter().flat_map(|w| w.get_ref().iter()) {
        if colour != edge::COLOURS[0] && edge::COLOURS.contains(&colour.as_str()) {
            errs.push(
                w.span(),
                &format!("edge.weights.{colour}"),
                format!("the {colour} target group exists only with [app.deploy] strategy = \"canary\" or \"blue_green\""),
            );
        }
    }
}

/// Project and env names end up in every AWS name (`{project}-{env}-{role}`), the tightest
/// being the 32-character ALB and target-group names: keep them short and DNS-safe.
fn check_name(errs: &mut Errors, v: &Spanned<String>, key: &str, max: usize) {
    let s = v.get_ref();
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if s.is_empty() || s.len() > max {
        errs.push(
            v.span(),
            key,
            format!("{s:?} must be 1 to {max} characters"),
        );
    } else if !ok_chars
        || s.starts_with('-')
        || s.ends_with('-')
        || !s.starts_with(|c: char| c.is_ascii_lowercase())
    {
        errs.push(
            v.span(),
            key,
            format!("{s:?} must start with a lowercase letter and hold only lowercase letters, digits and inner hyphens"),
        );
    }
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

#[cfg(test)]
mod tests;

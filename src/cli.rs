//! Command-line interface (clap derive): commands and flags, nothing else.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::model::ResourceId;

#[derive(Debug, Parser)]
#[command(
    name = "rtech",
    version,
    about = "Plan, apply and destroy the RTech platform's AWS stack from envs/<env>.toml"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Directory holding <env>.toml spec files.
    #[arg(long, global = true, default_value = "envs", value_name = "DIR")]
    pub envs_dir: PathBuf,
    /// AWS region (default: the spec's `region`).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a local emulator); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// How many times one AWS call is tried when AWS throttles it, answers 5xx or drops the
    /// connection (the SDK's standard retries, with backoff).
    #[arg(long, global = true, env = "AWS_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=25), value_name = "N")]
    pub max_attempts: u32,
    /// `standard`, or `adaptive` (client-side rate limiting on every service; Route 53 and
    /// CloudFront, whose limits are low, always use it).
    #[arg(long, global = true, env = "AWS_RETRY_MODE", default_value = "standard", value_parser = ["standard", "adaptive", "legacy"], value_name = "MODE")]
    pub retry_mode: String,
    /// Seconds one attempt of an AWS call may take before it is abandoned (and retried): a hung
    /// connection costs this, not the whole apply.
    #[arg(long, global = true, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600), value_name = "SECS")]
    pub attempt_timeout: u64,
    /// How many changes may be at work at once (one waiting for AWS to settle gives its slot
    /// to the next ready change).
    #[arg(long, global = true, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// No colours (also when NO_COLOR is set and not empty, or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail: -v rtech's own events (API calls and timings per service, retries, the
    /// lock), -vv also every AWS operation and the SDK's events. RUST_LOG overrides both.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the essential result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// How diagnostics (-v, -vv, RUST_LOG) are written on stderr: `text`, or `json` (one
    /// object per event, for CI log shippers). The plan and progress lines are unchanged.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: crate::diag::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change: the spec diffed against live AWS.
    Plan(PlanArgs),
    /// Make live AWS match the spec (or apply a saved plan exactly).
    Apply(ApplyArgs),
    /// Delete everything rtech owns in the env (or --target resources and what depends on
    /// them), in reverse dependency order.
    Destroy(DestroyArgs),
    /// Adopt an existing resource as the spec's ID: check it, show what the next plan would
    /// change on it, then add rtech's ownership tags (nothing else).
    Import(ImportArgs),
    /// Check the spec only: no AWS call, no credentials needed.
    Validate(EnvArg),
    /// Print a saved plan.
    Show(ShowArgs),
    /// The env's useful outputs (VPC id, subnet ids, …), read from live AWS.
    Output(OutputArgs),
    /// Invalidate paths in the env's CloudFront cache and wait until that completes.
    Invalidate(InvalidateArgs),
    /// Print the least-privilege IAM policy a role needs to plan or to apply this env.
    IamPolicy(IamPolicyArgs),
    /// Create what rtech needs once per account and region (the lock bucket); plans first.
    Bootstrap(BootstrapArgs),
    /// Remove the env's lock left by a dead run, only if its id is LOCK_ID.
    ForceUnlock(ForceUnlockArgs),
    /// The app's container image: `rtech image push` builds it and pushes it to the env's ECR
    /// repository.
    Image(ImageArgs),
    /// Deploy an image tag: a new task definition revision and the service updated to it
    /// (nothing else), followed until ECS reports it done or rolled back; `rtech deploy
    /// status` shows the deployments.
    Deploy(DeployArgs),
    /// Roll the app back: stop a running deployment with rollback, or deploy the revision
    /// before the current one (or the one named) again.
    Rollback(RollbackArgs),
    /// Run a load-test scenario against the env's public URL and judge it by the thresholds
    /// (exit 1 when one fails), sampling the ECS service's scaling meanwhile.
    Loadtest(LoadtestArgs),
    /// Disaster-recovery drills: fail DocumentDB or Redis over, or restore DocumentDB from a
    /// snapshot into a temporary cluster, and measure RTO and RPO against the env's `[dr]`
    /// targets (exit 1 when one is broken).
    Drill(DrillArgs),
    /// Judge the env, as the plan would leave it, by every policy rule: pass, fail, waived or
    /// not applicable, with the evidence (exit 1 when a rule fails).
    Policy(PolicyArgs),
    /// Print the shell completion script for SHELL (`rtech completions bash > …`; docs/usage.md,
    /// "Shell completions and the man page").
    Completions(CompletionsArgs),
    /// Print rtech's man page (roff: `rtech man | man -l -`).
    Man,
    /// Print the env file's JSON Schema (`rtech schema > schema/env.schema.json`): editors
    /// read it through the `#:schema` line atop each env file (docs/usage.md, "Editor support").
    Schema,
    /// Print the plan's step graph in Graphviz DOT (`rtech graph --env prod | dot -Tsvg`):
    /// which change waits for which, as apply would run them.
    Graph(GraphArgs),
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    #[command(flatten)]
    pub select: Selection,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Print the verdicts as JSON (schema in docs/policy.md, "Policy JSON").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(subcommand)]
    pub command: DrillCommand,
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Check that the service can fail over (DocumentDB: 2 instances or more; Redis: a replica
    /// and automatic failover), fail it over, follow it until the new primary serves, and
    /// report the primaries before and after and the time taken against `[dr] rto_minutes`.
    Failover(DrillFailoverArgs),
    /// Restore the newest (or the named) snapshot of the env's DocumentDB cluster into a
    /// temporary cluster beside it, wait until it serves, report the restore time (RTO) and the
    /// snapshot's age (RPO) against `[dr]`, then delete it (unless --keep).
    Restore(DrillRestoreArgs),
}

#[derive(Debug, Args)]
pub struct DrillFailoverArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// What to fail over.
    #[arg(long, value_parser = ["docdb", "redis"])]
    pub service: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// The report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
pub struct DrillRestoreArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// What to restore (DocumentDB only).
    #[arg(long, value_parser = ["docdb"])]
    pub service: String,
    /// The snapshot to restore (automated or manual, of the env's cluster).
    #[arg(long, value_name = "ID", conflicts_with = "latest")]
    pub snapshot: Option<String>,
    /// Restore the newest available snapshot (the default).
    #[arg(long)]
    pub latest: bool,
    /// Leave the restored cluster in place (`rtech destroy` deletes it with the env).
    #[arg(long)]
    pub keep: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// The report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// The revision number or image tag to go back to (default: the one before the current).
    #[arg(long, value_name = "REVISION|TAG")]
    pub to: Option<String>,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub command: Option<DeployCommand>,
    /// The env: envs/<ENV>.toml.
    #[arg(long, short, required = true)]
    pub env: Option<String>,
    /// The image tag to deploy (it must be in the env's repository: `rtech image push`).
    #[arg(long, value_name = "TAG", value_parser = image_tag, required = true)]
    pub image_tag: Option<String>,
    /// Return once ECS has started the deployment instead of following it.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// The service's current and last deployments, and the revision a rollback goes to.
    Status(DeployStatusArgs),
}

#[derive(Debug, Args)]
pub struct DeployStatusArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Print them as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// The env: envs/<ENV>.toml (its `[loadtest]` paths and thresholds, its ECS service).
    #[arg(long, short)]
    pub env: String,
    /// baseline (100 users, 5m), peak (500, 15m), stress (1,000, 10m) or spike (100 → 1,000
    /// within a minute, 5m).
    #[arg(long, value_parser = crate::loadtest::scenario::NAMES.to_vec())]
    pub scenario: String,
    /// The base URL to load (default: the env's first public URL, read from live AWS as
    /// `rtech output` reads it).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Shrink or stretch every stage in proportion so that the run lasts this long (30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub duration: Option<Duration>,
    /// Scale every stage's users in proportion so that the peak is N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub users: Option<u32>,
    /// How often to sample the ECS service's desired and running counts.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = positive_duration)]
    pub sample_every: Duration,
    /// Do not sample the ECS service: with --url, no AWS call at all.
    #[arg(long)]
    pub no_sample: bool,
    /// Print the whole report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A duration above zero (30s, 2m, 1m30s).
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = crate::lock::parse_duration(s)?;
    if d.is_zero() {
        return Err("must be more than 0s".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build the app image (docker or podman) and push it to the env's ECR repository.
    Push(ImagePushArgs),
}

#[derive(Debug, Args)]
pub struct ImagePushArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// The image tag (default: the current git commit's short SHA, in --context).
    #[arg(long, value_name = "TAG", value_parser = image_tag)]
    pub tag: Option<String>,
    /// The build context.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub context: PathBuf,
    /// The Dockerfile (default: <context>/Dockerfile).
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How long to wait for the env's lock when another run holds it.
#[derive(Debug, Args)]
pub struct LockWait {
    /// Wait up to this long for the env's lock (30s, 5m, 1h; default: fail at once).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = crate::lock::parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Save the plan to FILE for `rtech apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (schema in docs/plan-format.md).
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when the plan has changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan what `rtech destroy` would delete (everything carrying the env's tags, or with
    /// --target those and what depends on them, in reverse dependency order), changing
    /// nothing; with --out, saved for `rtech apply FILE`.
    #[arg(long, conflicts_with_all = ["image_tag", "replace"])]
    pub destroy: bool,
    #[command(flatten)]
    pub select: Selection,
    /// Hold the env's lock while planning (for a plan about to be saved and applied).
    #[arg(long)]
    pub lock: bool,
    /// With --lock: wait up to this long for the lock (30s, 5m, 1h; default: fail at once).
    #[arg(long, value_name = "DURATION", requires = "lock", value_parser = crate::lock::parse_duration)]
    pub lock_timeout: Option<Duration>,
}

/// What a plan or apply covers: some resources only, and the image tag to deploy.
#[derive(Debug, Args)]
pub struct Selection {
    /// Limit the command to these resources (and what they depend on; with plan --destroy,
    /// what depends on them).
    #[arg(long = "target", value_name = "ID")]
    pub targets: Vec<ResourceId>,
    /// Replace this resource even though nothing forces it (delete and create, or create
    /// first where the kind does); one that does not exist yet is created. With --target it
    /// is one more target.
    #[arg(long = "replace", value_name = "ID")]
    pub replace: Vec<ResourceId>,
    /// Deploy this image tag (CI passes the commit SHA); without it the deployed image stays.
    #[arg(long, value_name = "TAG", value_parser = image_tag)]
    pub image_tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub select: Selection,
    /// Do not wait for CloudFront to finish deploying a change (minutes on AWS); apply says
    /// which changes it did not wait for.
    #[arg(long)]
    pub no_wait: bool,
    /// A plan saved with `rtech plan --out` (or `plan --destroy --out`): applied exactly, or
    /// refused if stale.
    pub planfile: Option<PathBuf>,
    /// Rotate a generated secret before planning: `origin-header` (CloudFront's header to the
    /// load balancer; both values are accepted until the distribution is Deployed).
    #[arg(long, value_name = "SECRET", value_parser = ["origin-header"])]
    pub rotate: Option<String>,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// The spec's resource id to adopt the resource as (`vpc/main`, `ecr_repository/app`).
    #[arg(value_name = "ID")]
    pub id: ResourceId,
    /// What AWS calls the resource: a VPC id (vpc-…), a hosted zone id, a bucket or
    /// repository name.
    #[arg(value_name = "PHYSICAL_ID")]
    pub physical_id: String,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Destroy only this resource and everything that depends on it (repeatable).
    #[arg(long = "target", value_name = "ID")]
    pub targets: Vec<ResourceId>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub lock: LockWait,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The env whose account and region to bootstrap: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Also make GitHub Actions' OIDC provider and the env's plan and apply roles, trusted by
    /// this repository (owner/name) only.
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// The id of the lock to remove, as the error naming its holder printed it.
    pub lock_id: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `rtech plan --out`.
    pub planfile: PathBuf,
    /// Print it as JSON (schema in docs/plan-format.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// One output only (e.g. `alb_dns_name`); every output when left out.
    #[arg(value_name = "NAME", value_parser = output_name)]
    pub name: Option<String>,
    /// Print the outputs as JSON.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// The one output's bare value, for `$(…)` in scripts: a string as is, a list one item per
    /// line (NAME needed).
    #[arg(long, requires = "name")]
    pub raw: bool,
}

/// An output name `rtech output` knows.
fn output_name(s: &str) -> Result<String, String> {
    if crate::commands::OUTPUTS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "no output is named {s:?}; the outputs are: {}",
            crate::commands::OUTPUTS.join(", ")
        ))
    }
}

#[derive(Debug, Args)]
pub struct InvalidateArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// A path to invalidate, starting with `/` (`*` only at the end); repeatable.
    #[arg(long = "path", value_name = "PATH", default_value = "/*", value_parser = invalidation_path)]
    pub paths: Vec<String>,
    /// Return at once with the invalidation's id instead of waiting for it to complete.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The env: envs/<ENV>.toml.
    #[arg(long, short)]
    pub env: String,
    /// The role: `plan` (read-only: plan, output) or `apply` (apply and destroy too).
    #[arg(long = "for", value_name = "ROLE", value_parser = ["plan", "apply"])]
    pub role: String,
    /// The AWS account the policy is for; without it rtech asks AWS (sts:GetCallerIdentity).
    #[arg(long, value_name = "ID", value_parser = account_id)]
    pub account_id: Option<String>,
    /// Print only document N (from 1) when the policy is split across several.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub part: Option<u16>,
    /// Print the documents with their names and sizes as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// An AWS account id: twelve digits.
pub fn account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not an AWS account id (12 digits)"))
    }
}

/// CloudFront's invalidation paths: absolute, at most 4096 characters, one trailing `*` at most.
pub fn invalidation_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("{s:?} must start with /  (e.g. /* or /index.html)"));
    }
    if s.len() > 4096 {
        return Err("longer than 4096 characters".into());
    }
    if s.find('*').is_some_and(|i| i != s.len() - 1) {
        return Err(format!("{s:?}: a * is allowed only as the last character"));
    }
    Ok(s.to_string())
}

pub fn image_tag(s: &str) -> Result<String, String> {
    if crate::spec::app::valid_image_tag(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a valid image tag (letters, digits, _ . -; at most 128)"
        ))
    }
}

#[cfg(test)]
mod workflow_tests {
    use super::Cli;
    use clap::Parser;

    const WORKFLOW: &str = include_str!("../.github/workflows/rtech.yml");

    /// Every `rtech …` command line in the workflow's `run:` steps, as argv (shell variables
    /// stand for a plausible value, redirections and pipes end the command).
    fn invocations() -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for line in WORKFLOW.lines() {
            let line = line.trim_start().trim_start_matches("run: ");
            let Some(at) = line
                .find("bin/rtech ")
                .or_else(|| line.find("release/rtech "))
            else {
                continue;
            };
            let cmd = &line[at..];
            let cmd = cmd.split(['|', '>', ';', ')']).next().unwrap_or(cmd);
            let mut argv = shlex::split(cmd).expect("a shell command line");
            argv[0] = "rtech".into();
            for a in &mut argv {
                if a.starts_with('$') {
                    *a = "dev".into();
                }
            }
            out.push(argv);
        }
        out
    }

    #[test]
    fn every_rtech_command_in_the_workflow_parses() {
        let all = invocations();
        assert!(
            all.len() >= 5,
            "expected validate, plan, output and two applies: {all:?}"
        );
        for argv in &all {
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("{}: {e}", argv.join(" "));
            }
        }
        let joined: Vec<String> = all.iter().map(|a| a.join(" ")).collect();
        for wanted in ["validate --env", "plan --env prod", "apply --env prod"] {
            assert!(
                joined.iter().any(|j| j.contains(wanted)),
                "{wanted}: {joined:?}"
            );
        }
        assert!(
            joined
                .iter()
                .any(|j| j.contains("plan") && j.contains("--detailed-exitcode")),
            "the PR plan tells changes from errors by exit code"
        );
    }
}

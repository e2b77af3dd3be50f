//! Thin glue over the layers: each command loads the spec, observes, diffs, renders, executes.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::aws::{AwsOpts, Clients};
use crate::cli::{ApplyArgs, Cli, Command, DestroyArgs, OutputArgs, PlanArgs, ShowArgs};
use crate::engine;
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::plan::{self, render, saved, DiffInput, Plan};
use crate::progress::Progress;
use crate::reconcile::{self, Ctx, Reconciler};
use crate::spec::{self, Spec};

/// Exit codes as Terraform's.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CHANGES: u8 = 2;

struct Ui {
    color: bool,
    verbose: u8,
    quiet: bool,
    stderr_tty: bool,
}

impl Ui {
    fn style(&self) -> render::Style {
        render::Style { color: self.color }
    }
    fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
    fn verbose(&self, msg: &str) {
        if self.verbose > 0 {
            eprintln!("{msg}");
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    let ui = Ui {
        color: !g.no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal(),
        verbose: g.verbose,
        quiet: g.quiet,
        stderr_tty: std::io::stderr().is_terminal(),
    };
    let opts = AwsOpts {
        region: g.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };
    match &cli.command {
        Command::Validate(a) => {
            let spec = load(&cli, &a.env)?;
            let n = reconcile::expand(&spec).len();
            println!("{}: valid ({} resources in env {})", spec.file, n, spec.env);
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Show(a) => show(a, &ui),
        Command::Plan(a) => plan_cmd(&cli, a, &opts, &ui).await,
        Command::Apply(a) => apply_cmd(&cli, a, &opts, &ui).await,
        Command::Destroy(a) => destroy_cmd(&cli, a, &opts, &ui).await,
        Command::Output(a) => output_cmd(&cli, a, &opts, &ui).await,
        Command::Invalidate(a) => invalidate_cmd(&cli, a, &opts, &ui).await,
    }
}

fn load(cli: &Cli, env: &str) -> Result<Spec> {
    Ok(spec::load(&cli.global.envs_dir, env)?)
}

/// Interrupted twice: rtech left with changes in flight (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("apply interrupted with {in_flight} change(s) in flight, which may be half-done; run `rtech plan --env {env}` to see what is left; applying again converges")]
pub struct Abandoned {
    pub in_flight: usize,
    pub env: String,
}

/// A live session against one env: clients, context and the reconcilers.
struct Session {
    ctx: Arc<Ctx>,
    regs: Vec<Arc<dyn Reconciler>>,
    started: Instant,
}

impl Session {
    /// `desired` only tells where the env's DNS lives (destroy passes the spec's resources
    /// here but observes without them).
    async fn open(
        project: &str,
        env: &str,
        region: &str,
        opts: &AwsOpts,
        desired: &[Resource],
        no_wait: bool,
    ) -> Result<Session> {
        let clients = Clients::new(opts, region).await;
        // One cheap call first: a clear error for bad credentials or an unreachable endpoint.
        clients
            .account_id()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let region = clients.region.clone();
        Ok(Session {
            ctx: Arc::new(Ctx {
                project: project.to_string(),
                env: env.to_string(),
                region,
                clients,
                zone: reconcile::dns::zone_of(desired),
                no_wait,
            }),
            regs: reconcile::registry(),
            started: Instant::now(),
        })
    }

    fn calls(&self) -> usize {
        self.ctx.clients.calls.get()
    }

    /// Every service observed at once.
    async fn observe(&self, desired: &[Resource], ui: &Ui) -> Result<Vec<Observed>> {
        let t = Instant::now();
        let before = self.calls();
        let before_by = self.ctx.clients.calls.by_service();
        let all = futures::future::try_join_all(self.regs.iter().map(|r| async move {
            r.observe(&self.ctx, desired)
                .await
                .map_err(|e| anyhow::anyhow!("observing {}: {e}", r.service()))
        }))
        .await?;
        let observed: Vec<Observed> = all.into_iter().flatten().collect();
        let owned = observed
            .iter()
            .filter(|o| o.ownership == Ownership::Owned)
            .count();
        let per: Vec<String> =
            crate::aws::calls_since(&self.ctx.clients.calls.by_service(), &before_by)
                .into_iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect();
        ui.verbose(&format!(
            "observed {owned} resources with {} API calls in {:.2} s ({})",
            self.calls() - before,
            t.elapsed().as_secs_f64(),
            per.join(", ")
        ));
        Ok(observed)
    }

    fn plan(
        &self,
        desired: &[Resource],
        observed: &[Observed],
        targets: &[ResourceId],
        destroy: bool,
    ) -> Result<Plan> {
        let mut plan = plan::diff(&DiffInput {
            project: &self.ctx.project,
            env: &self.ctx.env,
            region: &self.ctx.region,
            desired,
            observed,
            schema: &reconcile::schema,
            targets,
            destroy,
        })?;
        for c in &mut plan.conflicts {
            if let Some(m) = reconcile::owner(&self.regs, &c.id.kind)
                .and_then(|r| r.conflict_message(&self.ctx, c))
            {
                c.message = m;
            }
        }
        // A service may refuse a change outright (a protected database's delete or replace):
        // shown in the plan beside conflicts, and apply refuses the whole plan.
        for c in &plan.changes {
            if let Some(msg) = reconcile::owner(&self.regs, &c.id.kind).and_then(|r| r.guard(c)) {
                plan.conflicts.push(plan::Conflict {
                    id: c.id.clone(),
                    physical_id: c.physical_id().unwrap_or_default().to_string(),
                    message: msg,
                });
            }
        }
        Ok(plan)
    }

    async fn execute(&self, plan: &Plan, observed: &[Observed], cli: &Cli, ui: &Ui) -> Result<()> {
        if !plan.conflicts.is_empty() {
            let list: Vec<String> = plan
                .conflicts
                .iter()
                .map(|c| format!("{}: {}", c.id, c.message))
                .collect();
            bail!(
                "refusing to apply: {} blocking problem(s), nothing was changed:\n  {}",
                list.len(),
                list.join("\n  ")
            );
        }
        if !plan.has_changes() {
            return Ok(());
        }
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        let before = self.calls();
        let t = Instant::now();
        let report = engine::execute(
            plan,
            &self.regs,
            self.ctx.clone(),
            observed,
            cli.global.parallelism as usize,
            &progress,
        )
        .await;
        ui.verbose(&format!(
            "applied {} changes with {} API calls in {:.2} s ({} in all since start)",
            report.done.len(),
            self.calls() - before,
            t.elapsed().as_secs_f64(),
            self.calls()
        ));
        let count = |a: plan::Action| report.done.iter().filter(|(_, x)| *x == a).count();
        let line = format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            count(plan::Action::Create),
            count(plan::Action::Update),
            count(plan::Action::Replace),
            count(plan::Action::Delete)
        );
        if report.ok() {
            let what = if plan.destroy { "Destroy" } else { "Apply" };
            println!("{what} complete: {line}.");
            return Ok(());
        }
        for f in &report.failures {
            eprintln!("error: {} ({}): {}", f.id, f.action, f.error);
        }
        if report.abandoned > 0 {
            return Err(Abandoned {
                in_flight: report.abandoned,
                env: self.ctx.env.clone(),
            }
            .into());
        }
        let why = if report.interrupted {
            "interrupted"
        } else {
            "failed"
        };
        bail!(
            "apply {why} after {line}; {} change(s) not started. Run `rtech plan --env {}` to see what is left; applying again converges.",
            report.not_started,
            self.ctx.env
        )
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

fn print_plan(plan: &Plan, json: bool, ui: &Ui, spec_file: &str) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::json(plan)).expect("json")
        );
    } else {
        print!("{}", render::text(plan, ui.style(), spec_file));
    }
}

async fn plan_cmd(cli: &Cli, a: &PlanArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let mut spec = load(cli, &a.env)?;
    spec.image_tag = a.image_tag.clone();
    let desired = reconcile::expand(&spec);
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &desired,
        false,
    )
    .await?;
    let observed = s.observe(&desired, ui).await?;
    let plan = s.plan(&desired, &observed, &a.targets, false)?;
    print_plan(&plan, a.json, ui, &spec.file);
    if let Some(out) = &a.out {
        saved::write(out, &plan)?;
        ui.info(&format!(
            "Saved the plan to {}; apply it exactly with: rtech apply --env {} {}",
            out.display(),
            spec.env,
            out.display()
        ));
    }
    ui.verbose(&format!("{} API calls in {:.2} s", s.calls(), s.elapsed()));
    if !plan.conflicts.is_empty() {
        bail!(
            "the plan is blocked by {} problem(s): conflicts with resources rtech does not own, or changes a service refuses",
            plan.conflicts.len()
        );
    }
    Ok(ExitCode::from(
        if a.detailed_exitcode && plan.has_changes() {
            EXIT_CHANGES
        } else {
            EXIT_OK
        },
    ))
}

/// Ask for `yes` on a terminal; refuse without one.
fn confirm(question: &str, auto_approve: bool) -> Result<()> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change anything without confirmation: stdin is not a terminal; pass --auto-approve (or apply a saved plan) to run unattended");
    }
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    if line.trim() != "yes" {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}

async fn apply_cmd(cli: &Cli, a: &ApplyArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    if let Some(file) = &a.planfile {
        let plan = saved::read(file)?;
        if plan.env != a.env {
            bail!(
                "{}: the saved plan is for env {}, not {}",
                file.display(),
                plan.env,
                a.env
            );
        }
        if !a.targets.is_empty() || a.image_tag.is_some() {
            bail!(
                "--target and --image-tag cannot be combined with a saved plan (give them to the plan that made it)"
            );
        }
        let s = Session::open(
            &plan.project,
            &plan.env,
            &plan.region,
            opts,
            &plan.desired,
            a.no_wait,
        )
        .await?;
        let observed = s.observe(&plan.desired, ui).await?;
        saved::check_fresh(&plan, &observed)?;
        if !plan.has_changes() {
            println!("No changes. The saved plan has nothing to apply.");
            return Ok(ExitCode::from(EXIT_OK));
        }
        ui.info(&render::summary_line(&plan));
        s.execute(&plan, &observed, cli, ui).await?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let mut spec = load(cli, &a.env)?;
    spec.image_tag = a.image_tag.clone();
    let desired = reconcile::expand(&spec);
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &desired,
        a.no_wait,
    )
    .await?;
    let observed = s.observe(&desired, ui).await?;
    let plan = s.plan(&desired, &observed, &a.targets, false)?;
    print_plan(&plan, false, ui, &spec.file);
    if !plan.has_changes() || !plan.conflicts.is_empty() {
        s.execute(&plan, &observed, cli, ui).await?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    confirm(
        &format!("Apply these changes to env {}?", spec.env),
        a.auto_approve,
    )?;
    s.execute(&plan, &observed, cli, ui).await?;
    Ok(ExitCode::from(EXIT_OK))
}

async fn destroy_cmd(cli: &Cli, a: &DestroyArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &reconcile::expand(&spec),
        false,
    )
    .await?;
    let observed = s.observe(&[], ui).await?;
    let plan = s.plan(&[], &observed, &[], true)?;
    print_plan(&plan, false, ui, &spec.file);
    if !plan.has_changes() {
        return Ok(ExitCode::from(EXIT_OK));
    }
    confirm(
        &format!("Destroy everything rtech owns in env {}?", spec.env),
        a.auto_approve,
    )?;
    s.execute(&plan, &observed, cli, ui).await?;
    Ok(ExitCode::from(EXIT_OK))
}

fn show(a: &ShowArgs, ui: &Ui) -> Result<ExitCode> {
    let plan = saved::read(&a.planfile)?;
    print_plan(&plan, a.json, ui, &format!("the spec of env {}", plan.env));
    Ok(ExitCode::from(EXIT_OK))
}

async fn output_cmd(cli: &Cli, a: &OutputArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let desired = reconcile::expand(&spec);
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &desired,
        false,
    )
    .await?;
    let observed = s.observe(&desired, ui).await?;
    let outputs = outputs(&observed);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outputs).expect("json"));
    } else {
        for (k, v) in outputs.as_object().expect("object") {
            match v {
                serde_json::Value::String(s) => println!("{k} = {s}"),
                other => println!("{k} = {other}"),
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

async fn invalidate_cmd(
    cli: &Cli,
    a: &crate::cli::InvalidateArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let desired = reconcile::expand(&spec);
    let s = Session::open(
        &spec.project,
        &spec.env,
        &spec.region,
        opts,
        &desired,
        a.no_wait,
    )
    .await?;
    let progress = Progress::new(ui.quiet, ui.stderr_tty);
    let task = progress.start(reconcile::cdn::DISTRIBUTION_ID, "invalidating");
    let inv = reconcile::cdn::invalidate(&s.ctx, &a.paths, !a.no_wait, &task)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    task.finish(&format!(
        "invalidation {} on distribution {}: {}",
        inv.id, inv.distribution_id, inv.status
    ));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&inv).expect("json"));
    } else {
        println!(
            "Invalidation {} of {} on distribution {}: {}",
            inv.id,
            a.paths.join(" "),
            inv.distribution_id,
            inv.status
        );
    }
    ui.verbose(&format!("{} API calls in {:.2} s", s.calls(), s.elapsed()));
    Ok(ExitCode::from(EXIT_OK))
}

/// The env's useful outputs, from what is live (never from the spec).
pub fn outputs(observed: &[Observed]) -> serde_json::Value {
    let owned = |kind: &str, prefix: &str| -> Vec<&Observed> {
        let mut v: Vec<&Observed> = observed
            .iter()
            .filter(|o| {
                o.ownership == Ownership::Owned
                    && o.id.kind == kind
                    && o.id.name.starts_with(prefix)
                    && !o.id.name.contains('~')
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };
    let ids = |kind: &str, prefix: &str| -> Vec<String> {
        owned(kind, prefix)
            .iter()
            .map(|o| o.physical_id.clone())
            .collect()
    };
    let mut out = serde_json::Map::new();
    out.insert("vpc_id".into(), ids("vpc", "main").first().cloned().into());
    out.insert(
        "vpc_cidr".into(),
        owned("vpc", "main")
            .first()
            .and_then(|o| o.get_str("cidr_block"))
            .map(str::to_string)
            .into(),
    );
    out.insert("public_subnet_ids".into(), ids("subnet", "public-").into());
    out.insert(
        "private_subnet_ids".into(),
        ids("subnet", "private-").into(),
    );
    out.insert("nat_gateway_ids".into(), ids("nat", "").into());
    out.insert(
        "nat_public_ips".into(),
        owned("eip", "")
            .iter()
            .filter_map(|o| o.attrs.get("public_ip").cloned())
            .collect::<Vec<_>>()
            .into(),
    );
    let mut sgs = serde_json::Map::new();
    for o in owned("sg", "") {
        sgs.insert(o.id.name.clone(), o.physical_id.clone().into());
    }
    out.insert("security_group_ids".into(), sgs.into());
    let attr = |kind: &str, name: &str, key: &str| -> serde_json::Value {
        owned(kind, name)
            .into_iter()
            .find(|o| o.id.name == name)
            .and_then(|o| o.attrs.get(key).cloned())
            .into()
    };
    // Outputs that are one attribute of one resource: (output, kind, name, attribute).
    let put = |out: &mut serde_json::Map<String, serde_json::Value>,
               rows: &[(&str, &str, &str, &str)]| {
        for (key, kind, name, a) in rows {
            out.insert(key.to_string(), attr(kind, name, a));
        }
    };
    put(
        &mut out,
        &[
            ("docdb_endpoint", "docdb_cluster", "main", "endpoint"),
            (
                "docdb_reader_endpoint",
                "docdb_cluster",
                "main",
                "reader_endpoint",
            ),
            (
                "redis_primary_endpoint",
                "redis",
                "main",
                "primary_endpoint",
            ),
            // ARNs only: a secret's value is never an output.
            ("docdb_secret_arn", "secret", "docdb", "arn"),
            ("redis_secret_arn", "secret", "redis", "arn"),
            // The container platform.
            ("ecr_repository_url", "ecr_repository", "app", "url"),
            ("ecs_cluster_name", "ecs_cluster", "main", "name"),
            ("ecs_service_name", "ecs_service", "app", "name"),
            ("task_definition_arn", "ecs_task_definition", "app", "arn"),
            (
                "task_definition_revision",
                "ecs_task_definition",
                "app",
                "revision",
            ),
        ],
    );
    let mut tgs = serde_json::Map::new();
    for o in owned("target_group", "") {
        if let Some(arn) = o.attrs.get("arn") {
            tgs.insert(o.id.name.clone(), arn.clone().into());
        }
    }
    out.insert("target_group_arns".into(), tgs.into());
    put(
        &mut out,
        &[
            ("app_log_group", "log_group", "app", "name"),
            // The edge.
            ("alb_arn", "load_balancer", "main", "arn"),
            ("alb_dns_name", "load_balancer", "main", "dns_name"),
            ("alb_zone_id", "load_balancer", "main", "zone_id"),
            ("cloudfront_distribution_id", "distribution", "main", "id"),
            (
                "cloudfront_domain_name",
                "distribution",
                "main",
                "domain_name",
            ),
        ],
    );
    let mut certs = serde_json::Map::new();
    for o in owned("certificate", "") {
        certs.insert(
            o.id.name.clone(),
            serde_json::json!({
                "arn": o.attrs.get("arn").cloned().unwrap_or_else(|| o.physical_id.clone()),
                "status": o.attrs.get("status"),
            }),
        );
    }
    out.insert("certificates".into(), certs.into());
    // The zone: ours when rtech created it, else the one our records live in.
    let zone = owned("hosted_zone", "main")
        .first()
        .and_then(|o| o.attrs.get("id").cloned())
        .or_else(|| {
            owned("record", "")
                .iter()
                .find_map(|o| o.attrs.get("zone_id").cloned())
        });
    out.insert("hosted_zone_id".into(), zone.into());
    // The site's names (apex, www, api) as rtech's records publish them.
    let mut urls: Vec<String> = owned("record", "")
        .iter()
        .filter(|o| !o.id.name.starts_with("validation-"))
        .filter_map(|o| o.attrs.get("fqdn"))
        .map(|n| format!("https://{n}"))
        .collect();
    urls.sort_by_key(|u| (u.matches('.').count(), u.clone()));
    urls.dedup();
    out.insert("public_urls".into(), urls.into());
    // Monitoring.
    put(
        &mut out,
        &[("alerts_topic_arn", "sns_topic", "alerts", "arn")],
    );
    out.insert(
        "pending_subscriptions".into(),
        reconcile::sns::pending(observed).into(),
    );
    put(&mut out, &[("dashboard_name", "dashboard", "main", "name")]);
    serde_json::Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceId;

    fn live(kind: &str, name: &str, physical: &str, attrs: &[(&str, &str)]) -> Observed {
        let mut o = Observed::new(ResourceId::new(kind, name), physical);
        for (k, v) in attrs {
            o.attrs.insert(k.to_string(), v.to_string());
        }
        o
    }

    #[test]
    fn outputs_have_every_key_in_a_fixed_order_and_each_is_in_the_readme() {
        let out = outputs(&[]);
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let readme = include_str!("../../README.md");
        let documented: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| readme.contains(&format!("`{k}`")))
            .collect();
        assert_eq!(documented, keys, "every output is in the README");
        assert_eq!(
            keys,
            [
                "vpc_id",
                "vpc_cidr",
                "public_subnet_ids",
                "private_subnet_ids",
                "nat_gateway_ids",
                "nat_public_ips",
                "security_group_ids",
                "docdb_endpoint",
                "docdb_reader_endpoint",
                "redis_primary_endpoint",
                "docdb_secret_arn",
                "redis_secret_arn",
                "ecr_repository_url",
                "ecs_cluster_name",
                "ecs_service_name",
                "task_definition_arn",
                "task_definition_revision",
                "target_group_arns",
                "app_log_group",
                "alb_arn",
                "alb_dns_name",
                "alb_zone_id",
                "cloudfront_distribution_id",
                "cloudfront_domain_name",
                "certificates",
                "hosted_zone_id",
                "public_urls",
                "alerts_topic_arn",
                "pending_subscriptions",
                "dashboard_name",
            ]
        );
        // Nothing live: every single-resource output is null.
        assert!(out["docdb_endpoint"].is_null() && out["dashboard_name"].is_null());
    }

    #[test]
    fn outputs_name_the_container_platform_and_never_foreign_resources() {
        let mut foreign = live(
            "target_group",
            "green",
            "arn:tg/other",
            &[("arn", "arn:tg/other")],
        );
        foreign.ownership = Ownership::Foreign;
        let observed = vec![
            live(
                "ecr_repository",
                "app",
                "rtech-app",
                &[("url", "123.dkr.ecr/rtech-app")],
            ),
            live(
                "ecs_cluster",
                "main",
                "arn:cluster",
                &[("name", "rtech-prod")],
            ),
            live(
                "ecs_service",
                "app",
                "arn:svc",
                &[("name", "rtech-prod-app")],
            ),
            live(
                "ecs_task_definition",
                "app",
                "arn:td:4",
                &[("arn", "arn:td:4"), ("revision", "4")],
            ),
            live(
                "target_group",
                "blue",
                "arn:tg/blue",
                &[("arn", "arn:tg/blue")],
            ),
            foreign,
            live(
                "load_balancer",
                "main",
                "arn:lb",
                &[
                    ("arn", "arn:lb"),
                    ("dns_name", "rtech-prod-alb-1.us-east-1.elb.amazonaws.com"),
                    ("zone_id", "Z35SXDOTRQ7X7K"),
                ],
            ),
        ];
        let o = outputs(&observed);
        assert_eq!(
            o["alb_dns_name"],
            "rtech-prod-alb-1.us-east-1.elb.amazonaws.com"
        );
        assert_eq!(o["alb_zone_id"], "Z35SXDOTRQ7X7K");
        assert_eq!(o["alb_arn"], "arn:lb");
        assert_eq!(o["ecr_repository_url"], "123.dkr.ecr/rtech-app");
        assert_eq!(o["ecs_cluster_name"], "rtech-prod");
        assert_eq!(o["ecs_service_name"], "rtech-prod-app");
        assert_eq!(o["task_definition_revision"], "4");
        assert_eq!(
            o["target_group_arns"],
            serde_json::json!({"blue": "arn:tg/blue"})
        );
        assert_eq!(o["docdb_endpoint"], serde_json::Value::Null);
    }

    #[test]
    fn outputs_name_the_edge_certificates_zone_and_public_urls() {
        let observed = vec![
            live(
                "distribution",
                "main",
                "E123",
                &[("id", "E123"), ("domain_name", "d111.cloudfront.net")],
            ),
            live(
                "certificate",
                "main",
                "arn:acm/1",
                &[("arn", "arn:acm/1"), ("status", "ISSUED")],
            ),
            live(
                "record",
                "apex-a",
                "rtech.example.com A",
                &[("fqdn", "rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "apex-aaaa",
                "rtech.example.com AAAA",
                &[("fqdn", "rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "www-cname",
                "www",
                &[("fqdn", "www.rtech.example.com"), ("zone_id", "Z1")],
            ),
            live(
                "record",
                "validation-www",
                "_x.www",
                &[("fqdn", "_x.www.rtech.example.com"), ("zone_id", "Z1")],
            ),
        ];
        let o = outputs(&observed);
        assert_eq!(o["cloudfront_distribution_id"], "E123");
        assert_eq!(o["cloudfront_domain_name"], "d111.cloudfront.net");
        assert_eq!(
            o["certificates"],
            serde_json::json!({"main": {"arn": "arn:acm/1", "status": "ISSUED"}})
        );
        assert_eq!(o["hosted_zone_id"], "Z1");
        assert_eq!(o["pending_subscriptions"], serde_json::json!([]));
        assert_eq!(o["alerts_topic_arn"], serde_json::Value::Null);
        assert_eq!(
            o["public_urls"],
            serde_json::json!(["https://rtech.example.com", "https://www.rtech.example.com"])
        );
    }
}

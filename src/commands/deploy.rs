//! `rtech deploy`: the change `apply --image-tag` makes (a task definition revision and the
//! service updated to it), refused when the plan holds anything else, made under the env's
//! lock; then the service deployment ECS started is followed (outside the lock) through
//! ListServiceDeployments / DescribeServiceDeployments until it succeeds or is rolled back.
//! Ctrl-C stops the watching only. `rtech deploy status` shows the deployments.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::session::{Session, Target};
use super::{load, need_section, print_plan, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, DeployArgs, DeployCommand, DeployStatusArgs};
use crate::interrupt::Listener;
use crate::plan::{Action, Plan};
use crate::progress::Progress;
use crate::reconcile;
use crate::reconcile::ecs::deployments::{self, revision_name, Deployment, Outcome};

/// The lock holder's command, as the lock records it.
const COMMAND: &str = "rtech deploy";
const ROLLBACK_COMMAND: &str = "rtech rollback";
/// Exit code when the user stops the watching (the deployment goes on).
const EXIT_INTERRUPTED: u8 = 130;
/// How many deployments `deploy status` shows, and how many it reads to find the revision a
/// rollback goes to.
const SHOWN: usize = 5;
const READ: usize = 20;
/// The first and the longest pause between two looks at a deployment.
const POLL_FIRST: Duration = Duration::from_secs(1);
const POLL_MAX: Duration = Duration::from_secs(10);
/// Without `[app] stable_timeout_seconds`: how long a deployment is followed.
const DEFAULT_FOLLOW: Duration = Duration::from_secs(900);

pub(super) async fn deploy_cmd(
    cli: &Cli,
    a: &DeployArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    if let Some(DeployCommand::Status(s)) = &a.command {
        return status_cmd(cli, s, opts, ui).await;
    }
    let (Some(env), Some(tag)) = (a.env.as_deref(), a.image_tag.as_deref()) else {
        bail!("rtech deploy needs --env and --image-tag");
    };
    let mut spec = load(cli, env)?;
    need_section(&spec, spec.app.is_some(), "app", ": nothing to deploy")?;
    let follow_limit = follow_limit(&spec);
    spec.image_tag = Some(tag.to_string());
    let desired = reconcile::expand(&spec);
    let s = Session::open(&Target::of_spec(&spec), opts, &desired, false, ui)
        .await?
        .following_deploys();
    let started = s
        .locked(COMMAND, a.lock.lock_timeout, ui, async {
            let observed = s.observe(&desired, ui).await?;
            let mut plan = s.plan(&desired, &observed, &[], &[], false, ui).await?;
            s.hold_back(&mut plan).await?;
            only_the_app(&plan, env, tag)?;
            if !plan.blocked.is_empty() {
                bail!("cannot deploy: {}", plan.blocked_steps().join("; "));
            }
            if !plan.has_changes() {
                return Ok(None);
            }
            print_plan(&plan, false, ui, &spec.file);
            let (before, split) = tokio::try_join!(
                deployments::list(&s.ctx, READ),
                deployments::traffic(&s.ctx)
            )?;
            s.execute(&plan, &observed, cli, ui).await?;
            let after = deployments::list(&s.ctx, READ).await?;
            Ok(Some((
                after.into_iter().find(|d| !before.contains(d)),
                split,
            )))
        })
        .await?;
    let (arn, split) = match started {
        None => {
            println!("{tag} is already deployed to env {env}: nothing to do.");
            return Ok(ExitCode::from(EXIT_OK));
        }
        Some((None, _)) => {
            println!("ECS started no deployment: the service already runs this definition.");
            return Ok(ExitCode::from(EXIT_OK));
        }
        Some((Some(arn), split)) => (arn, split),
    };
    if a.no_wait {
        println!(
            "Deployment of {tag} started ({arn}); follow it with `rtech deploy status --env {env}`."
        );
        return Ok(ExitCode::from(EXIT_OK));
    }
    let t = Instant::now();
    let new_colour = canary_colour(&split);
    let end = match watch(
        &s,
        &arn,
        follow_limit,
        ui,
        "deploying",
        new_colour.as_deref(),
    )
    .await?
    {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    let (line, ok) = ending(&end.0, tag, t.elapsed(), end.1);
    println!("{line}");
    if !ok {
        return Ok(ExitCode::from(1));
    }
    // A successful deploy refreshes the edge cache (`[edge.cloudfront] invalidate_on_deploy`);
    // a rolled-back one changed nothing the cache holds.
    let paths = spec
        .edge
        .as_ref()
        .and_then(|e| e.cloudfront.as_ref())
        .map(|c| c.invalidate_on_deploy.clone())
        .unwrap_or_default();
    if !paths.is_empty() {
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        let task = progress.start(reconcile::cdn::DISTRIBUTION_ID, "invalidating");
        let inv = reconcile::cdn::invalidate(&s.ctx, &paths, true, &task)
            .await
            .map_err(|e| {
                anyhow::anyhow!("the deploy succeeded, but invalidating the cache failed: {e}")
            })?;
        task.finish(&format!("invalidation {}: {}", inv.id, inv.status));
        println!(
            "Invalidation {} of {} on distribution {}: {}",
            inv.id,
            inv.paths.join(" "),
            inv.distribution_id,
            inv.status
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Follow a deployment with a progress line until it ends; Ctrl-C stops the watching only
/// (`Err` with the exit code, the deployment goes on).
async fn watch(
    s: &Session,
    arn: &str,
    limit: Duration,
    ui: &Ui,
    verb: &str,
    new_colour: Option<&str>,
) -> Result<std::result::Result<(Deployment, Option<i64>), ExitCode>> {
    let env = &s.ctx.env;
    let progress = Progress::new(ui.quiet, ui.stderr_tty);
    let task = progress.start(&reconcile::ecs::service_id().to_string(), verb);
    let mut interrupts =
        Listener::new().context("listening for Ctrl-C and SIGTERM (to stop watching)")?;
    let end = tokio::select! {
        r = follow(s, arn, limit, &task, new_colour) => r?,
        _ = interrupts.next() => {
            drop(task);
            eprintln!(
                "Stopped watching: the deployment goes on in ECS. Follow it with `rtech deploy status --env {env}`."
            );
            return Ok(Err(ExitCode::from(EXIT_INTERRUPTED)));
        }
    };
    task.finish(&end.0.status.to_lowercase());
    Ok(Ok(end))
}

/// The colour a traffic-shifting deployment sends the new revision to (pure): the one with
/// the smaller weight when it starts (none for a rolling deployment).
fn canary_colour(split: &[(String, i64)]) -> Option<String> {
    if split.len() < 2 {
        return None;
    }
    split.iter().min_by_key(|(_, w)| *w).map(|(c, _)| c.clone())
}

/// The limit on following a deployment: `[app] stable_timeout_seconds`.
fn follow_limit(spec: &crate::spec::Spec) -> Duration {
    match spec.app.as_ref().map(|a| a.stable_timeout_seconds) {
        Some(n) if n > 0 => Duration::from_secs(n as u64),
        _ => DEFAULT_FOLLOW,
    }
}

/// What a rollback does (pure): stop the running deployment, or deploy a revision again.
#[derive(Debug, PartialEq, Eq)]
enum RollbackStep {
    Stop(String),
    Redeploy(String),
}

/// `rtech rollback`: while a deployment runs, StopServiceDeployment (ROLLBACK); otherwise
/// UpdateService to the revision before the current one (or `--to`), followed like a deploy.
/// Only the service's task definition changes, so the next plan is empty (the plan keeps the
/// revision that runs).
pub(super) async fn rollback_cmd(
    cli: &Cli,
    a: &crate::cli::RollbackArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    need_section(&spec, spec.app.is_some(), "app", ": nothing to roll back")?;
    let (_, s) = Session::of_spec(&spec, opts, false, ui).await?;
    let family = reconcile::ecs::app_name(&spec.project, &spec.env);
    let err = |e: crate::aws::AwsError| anyhow::anyhow!("{e}");
    let (step, arn) = s
        .locked(ROLLBACK_COMMAND, a.lock.lock_timeout, ui, async {
            let (arns, current) = tokio::try_join!(
                deployments::list(&s.ctx, READ),
                deployments::current_task_definition(&s.ctx)
            )
            .map_err(err)?;
            let all = deployments::describe(&s.ctx, &arns).await.map_err(err)?;
            if let Some(running) = all.iter().find(|d| d.outcome() == Outcome::Running) {
                if a.to.is_none() {
                    deployments::stop_with_rollback(&s.ctx, &running.arn)
                        .await
                        .map_err(err)?;
                    return Ok((RollbackStep::Stop(running.arn.clone()), running.arn.clone()));
                }
                bail!("a deployment is running ({}): roll it back without --to, or wait for it to end", running.progress());
            }
            let to = deployments::resolve_rollback(a.to.as_deref(), &family, current.as_deref(), &all)
                .map_err(|e| anyhow::anyhow!("env {}: {e}", a.env))?;
            if current.as_deref().map(revision_name) == Some(revision_name(&to)) {
                bail!("env {} already runs {}", a.env, revision_name(&to));
            }
            deployments::redeploy(&s.ctx, &to).await.map_err(err)?;
            let after = deployments::list(&s.ctx, READ).await.map_err(err)?;
            let new = after
                .into_iter()
                .find(|d| !arns.contains(d))
                .context("ECS started no deployment for the rollback")?;
            Ok((RollbackStep::Redeploy(to), new))
        })
        .await?;
    let t = Instant::now();
    let end = match watch(&s, &arn, follow_limit(&spec), ui, "rolling back", None).await? {
        Ok(d) => d.0,
        Err(code) => return Ok(code),
    };
    let (line, ok) = match (&step, end.outcome()) {
        (RollbackStep::Stop(_), Outcome::RolledBack) => (
            format!(
                "rolled back to {} in {}",
                end.rolled_back_to
                    .as_deref()
                    .or(end.source_task_definition.as_deref())
                    .map(revision_name)
                    .unwrap_or("?"),
                duration(t.elapsed())
            ),
            true,
        ),
        (RollbackStep::Redeploy(_), Outcome::Succeeded) => {
            let to = end
                .task_definition
                .as_deref()
                .map(revision_name)
                .unwrap_or("?");
            let tag = end.image_tag.as_deref().unwrap_or("?");
            (
                format!("rolled back to {to} ({tag}) in {}", duration(t.elapsed())),
                true,
            )
        }
        (_, _) => (
            format!("the rollback ended {}: {}", end.status, end.why()),
            false,
        ),
    };
    println!("{line}");
    Ok(ExitCode::from(if ok { EXIT_OK } else { 1 }))
}

/// Refuse a plan that changes anything but the task definition and the service (pure).
fn only_the_app(plan: &Plan, env: &str, tag: &str) -> Result<()> {
    let app = [
        reconcile::ecs::task_definition_id(),
        reconcile::ecs::service_id(),
    ];
    let others: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| !app.contains(&c.id) || c.action != Action::Update)
        .map(|c| format!("{} ({})", c.id, c.action))
        .collect();
    if others.is_empty() && plan.conflicts.is_empty() {
        return Ok(());
    }
    let mut what = others;
    what.extend(
        plan.conflicts
            .iter()
            .map(|c| format!("{}: {}", c.id, c.message)),
    );
    bail!(
        "rtech deploy changes only the task definition and the service, and env {env}'s plan holds more: {}; run `rtech apply --env {env} --image-tag {tag}` instead",
        what.join(", ")
    )
}

/// Follow the deployment until it ends (or `limit` passes), its progress on `task`: the
/// deployment and, with a traffic-shifting strategy, the production rule's split. Ends with
/// the largest share `new_colour` (the canary) was seen to get.
async fn follow(
    s: &Session,
    arn: &str,
    limit: Duration,
    task: &crate::progress::Task,
    new_colour: Option<&str>,
) -> Result<(Deployment, Option<i64>)> {
    let start = Instant::now();
    let mut delay = POLL_FIRST;
    let mut last = String::new();
    let mut canary_share: Option<i64> = None;
    let arns = [arn.to_string()];
    loop {
        let (found, split) = tokio::try_join!(deployments::describe(&s.ctx, &arns), async {
            if new_colour.is_some() {
                deployments::traffic(&s.ctx).await
            } else {
                Ok(vec![])
            }
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let d = found
            .into_iter()
            .next()
            .with_context(|| format!("ECS no longer knows the deployment {arn}"))?;
        if let Some(w) = split
            .iter()
            .find(|(c, _)| Some(c.as_str()) == new_colour)
            .map(|(_, w)| *w)
            .filter(|_| d.outcome() == Outcome::Running)
        {
            canary_share = Some(canary_share.map_or(w, |m: i64| m.max(w)));
        }
        if d.outcome() != Outcome::Running {
            return Ok((d, canary_share));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_secs() as i64)
            .ok();
        let line = d.progress_at(&split, now);
        if line != last {
            task.status(&line);
            last = line;
        }
        if start.elapsed() >= limit {
            bail!(
                "the deployment is still running after {} ({}); follow it with `rtech deploy status --env {}`",
                duration(limit),
                d.progress(),
                s.ctx.env
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_MAX);
    }
}

/// The last line of a followed deployment, and whether it succeeded (pure). `canary_share`:
/// the largest share of the traffic the new revision was seen to get (traffic-shifting
/// strategies), named when an alarm rolled it back.
fn ending(d: &Deployment, tag: &str, took: Duration, canary_share: Option<i64>) -> (String, bool) {
    let to = d
        .task_definition
        .as_deref()
        .map(revision_name)
        .unwrap_or("?");
    match d.outcome() {
        Outcome::Succeeded => (format!("deployed {to} ({tag}) in {}", duration(took)), true),
        Outcome::RolledBack => {
            let back = d
                .rolled_back_to
                .as_deref()
                .or(d.source_task_definition.as_deref())
                .map(revision_name)
                .unwrap_or("?");
            // The share seen on the rule, else (the rule was not read while the canary ran)
            // the canary's configured percent.
            let share = canary_share.filter(|p| *p > 0).or(d
                .canary_percent
                .filter(|_| d.strategy.as_deref() == Some("CANARY")));
            let at = match share {
                Some(p) if !d.alarms_fired.is_empty() => format!(" at {p} % canary"),
                _ => String::new(),
            };
            (format!("rolled back to {back}: {}{at}", d.why()), false)
        }
        _ => (
            format!(
                "the deployment of {to} ({tag}) ended {}: {}",
                d.status,
                d.why()
            ),
            false,
        ),
    }
}

/// `72 s` → `1m12s`, `8 s` → `8s` (pure).
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `rtech deploy status`: the service's current and last deployments.
async fn status_cmd(cli: &Cli, a: &DeployStatusArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let (_, s) = Session::of_spec(&spec, opts, false, ui).await?;
    let err = |e: crate::aws::AwsError| anyhow::anyhow!("{e}");
    let (arns, current) = tokio::try_join!(
        deployments::list(&s.ctx, READ),
        deployments::current_task_definition(&s.ctx)
    )
    .map_err(err)?;
    let all = deployments::describe(&s.ctx, &arns).await.map_err(err)?;
    let rollback = deployments::rollback_target(current.as_deref(), &all);
    let shown = &all[..all.len().min(SHOWN)];
    if a.json {
        let v = serde_json::json!({
            "env": a.env,
            "task_definition": current,
            "image_tag": current.as_deref().and_then(|c| tag_of_td(c, &all)),
            "rollback_to": rollback,
            "deployments": shown,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        print!(
            "{}",
            render_status(&a.env, current.as_deref(), shown, &all, rollback.as_deref())
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The image tag a task definition runs, as a deployment to it reported (pure).
fn tag_of_td(td: &str, all: &[Deployment]) -> Option<String> {
    all.iter()
        .find(|d| d.task_definition.as_deref() == Some(td))
        .and_then(|d| d.image_tag.clone())
}

fn with_tag(td: &str, all: &[Deployment]) -> String {
    match tag_of_td(td, all) {
        Some(t) => format!("{} ({t})", revision_name(td)),
        None => revision_name(td).to_string(),
    }
}

/// `deploy status`'s text (pure).
fn render_status(
    env: &str,
    current: Option<&str>,
    shown: &[Deployment],
    all: &[Deployment],
    rollback: Option<&str>,
) -> String {
    let mut out = match current {
        Some(td) => format!("env {env} runs {}\n", with_tag(td, all)),
        None => format!("env {env} has no service running\n"),
    };
    if shown.is_empty() {
        out.push_str("no deployments\n");
    } else {
        out.push_str("deployments (newest first):\n");
    }
    for d in shown {
        let to = d
            .task_definition
            .as_deref()
            .map(|t| with_tag(t, all))
            .unwrap_or_else(|| "?".into());
        let mut line = format!("  {to}: {}", d.status);
        if let Some(stage) = d
            .stage
            .as_deref()
            .filter(|_| d.outcome() == Outcome::Running)
        {
            line.push_str(&format!(" ({stage})"));
        }
        if let Some(t) = &d.started {
            line.push_str(&format!(", started {t}"));
        }
        if let Some(t) = &d.finished {
            line.push_str(&format!(", finished {t}"));
        }
        match d.outcome() {
            Outcome::Running => line.push_str(", running"),
            Outcome::Succeeded => line.push_str(", succeeded"),
            Outcome::RolledBack => line.push_str(&format!(
                ", rolled back to {}: {}",
                d.rolled_back_to
                    .as_deref()
                    .or(d.source_task_definition.as_deref())
                    .map(revision_name)
                    .unwrap_or("?"),
                d.why()
            )),
            Outcome::Failed => line.push_str(&format!(", failed: {}", d.why())),
        }
        out.push_str(&line);
        out.push('\n');
    }
    match rollback {
        Some(td) => out.push_str(&format!(
            "a rollback goes to {} (`rtech rollback --env {env}`)\n",
            with_tag(td, all)
        )),
        None => out.push_str("no earlier revision to roll back to\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::ecs::deployments::rollback_target;

    const TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/rtech-dev-app";

    fn dep(rev: u32, tag: &str, status: &str) -> Deployment {
        Deployment {
            arn: format!("arn:dep/{rev}"),
            status: status.into(),
            task_definition: Some(format!("{TD}:{rev}")),
            image_tag: Some(tag.into()),
            source_task_definition: (rev > 1).then(|| format!("{TD}:{}", rev - 1)),
            started: Some("2026-01-01T00:00:00Z".into()),
            ..Deployment::default()
        }
    }

    #[test]
    fn a_rollback_goes_to_the_revision_that_ran_before_the_current_one() {
        // Newest first: 3 rolled back, 2 current, 1 before it.
        let all = [
            dep(3, "bad", "ROLLBACK_SUCCESSFUL"),
            dep(2, "v2", "SUCCESSFUL"),
            dep(1, "v1", "SUCCESSFUL"),
        ];
        assert_eq!(
            rollback_target(Some(&format!("{TD}:2")), &all),
            Some(format!("{TD}:1"))
        );
        // Only one revision ever ran: nothing to go back to.
        assert_eq!(rollback_target(Some(&format!("{TD}:1")), &all[2..]), None);
        assert_eq!(rollback_target(None, &all), None);
        // After a redeploy of 1 on top of 2, N-1 is 2 again.
        let redeployed = [dep(1, "v1", "SUCCESSFUL"), dep(2, "v2", "SUCCESSFUL")];
        assert_eq!(
            rollback_target(Some(&format!("{TD}:1")), &redeployed),
            Some(format!("{TD}:2"))
        );
    }

    #[test]
    fn the_last_line_names_the_revision_and_the_reason() {
        let ok = dep(2, "v2", "SUCCESSFUL");
        assert_eq!(
            ending(&ok, "v2", Duration::from_secs(72), None),
            ("deployed rtech-dev-app:2 (v2) in 1m12s".to_string(), true)
        );
        let mut back = dep(3, "bad", "ROLLBACK_SUCCESSFUL");
        back.rolled_back_to = Some(format!("{TD}:2"));
        back.reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        assert_eq!(
            ending(&back, "bad", Duration::from_secs(8), None),
            (
                "rolled back to rtech-dev-app:2: ECS deployment circuit breaker: tasks failed to start"
                    .to_string(),
                false
            )
        );
        back.alarms_fired = vec!["rtech-dev-5xx".into()];
        assert!(ending(&back, "bad", Duration::ZERO, None)
            .0
            .ends_with("alarm rtech-dev-5xx fired"));
    }

    #[test]
    fn an_alarm_rollback_of_a_canary_names_the_alarm_and_the_share_it_fired_at() {
        let mut back = dep(3, "bad", "ROLLBACK_SUCCESSFUL");
        back.rolled_back_to = Some(format!("{TD}:2"));
        back.alarms_fired = vec!["rtech-prod-error-rate".into()];
        assert_eq!(
            ending(&back, "bad", Duration::from_secs(30), Some(10)),
            (
                "rolled back to rtech-dev-app:2: alarm rtech-prod-error-rate fired at 10 % canary"
                    .to_string(),
                false
            )
        );
        // Not seen on the rule: the canary's configured percent.
        back.strategy = Some("CANARY".into());
        back.canary_percent = Some(15);
        assert!(ending(&back, "bad", Duration::ZERO, None)
            .0
            .ends_with("fired at 15 % canary"));
        // A circuit-breaker rollback names no share, even during a canary.
        back.alarms_fired.clear();
        back.circuit_breaker_tripped = true;
        assert_eq!(
            ending(&back, "bad", Duration::ZERO, Some(10)).0,
            "rolled back to rtech-dev-app:2: the deployment circuit breaker tripped"
        );
    }

    #[test]
    fn the_canary_goes_to_the_colour_with_the_smaller_weight() {
        let s = |b: i64, g: i64| vec![("blue".to_string(), b), ("green".to_string(), g)];
        assert_eq!(canary_colour(&s(100, 0)).as_deref(), Some("green"));
        assert_eq!(canary_colour(&s(0, 100)).as_deref(), Some("blue"));
        // A rolling deployment has no production rule.
        assert_eq!(canary_colour(&[]), None);
    }

    #[test]
    fn the_progress_line_shows_stage_split_bake_left_and_alarms() {
        let mut d = dep(3, "v3", "IN_PROGRESS");
        d.stage = Some("PRODUCTION_TRAFFIC_SHIFT".into());
        d.strategy = Some("CANARY".into());
        d.canary_bake_minutes = Some(5);
        d.bake_minutes = Some(10);
        d.stage_since = Some(1_000);
        d.running = 2;
        d.requested = 2;
        let split = vec![("blue".to_string(), 90), ("green".to_string(), 10)];
        assert_eq!(
            d.progress_at(&split, Some(1_060)),
            "rtech-dev-app:2 → rtech-dev-app:3: IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT, traffic blue 90 % / green 10 %, bake 4m00s left, 2/2 tasks running"
        );
        d.stage = Some("BAKE_TIME".into());
        d.alarms_fired = vec!["rtech-prod-elb-5xx".into()];
        assert_eq!(d.bake_left(1_000 + 590), Some(10));
        assert!(d
            .progress_at(&split, Some(1_000 + 700))
            .ends_with("bake 0s left, 2/2 tasks running, alarm rtech-prod-elb-5xx fired"));
        // Scaling up: no bake to count down; no split for a rolling deployment.
        d.stage = Some("SCALE_UP".into());
        assert_eq!(d.bake_left(1_000), None);
        assert!(!d.progress_at(&[], Some(1_000)).contains("traffic"));
    }

    #[test]
    fn status_shows_what_runs_each_deployment_and_the_rollback_target() {
        let mut back = dep(3, "bad", "ROLLBACK_SUCCESSFUL");
        back.rolled_back_to = Some(format!("{TD}:2"));
        back.reason = Some("tasks failed to start.".into());
        let all = [back, dep(2, "v2", "SUCCESSFUL"), dep(1, "v1", "SUCCESSFUL")];
        let text = render_status(
            "dev",
            Some(&format!("{TD}:2")),
            &all,
            &all,
            Some(&format!("{TD}:1")),
        );
        assert_eq!(
            text,
            "env dev runs rtech-dev-app:2 (v2)\n\
             deployments (newest first):\n\
             \x20 rtech-dev-app:3 (bad): ROLLBACK_SUCCESSFUL, started 2026-01-01T00:00:00Z, rolled back to rtech-dev-app:2: tasks failed to start\n\
             \x20 rtech-dev-app:2 (v2): SUCCESSFUL, started 2026-01-01T00:00:00Z, succeeded\n\
             \x20 rtech-dev-app:1 (v1): SUCCESSFUL, started 2026-01-01T00:00:00Z, succeeded\n\
             a rollback goes to rtech-dev-app:1 (v1) (`rtech rollback --env dev`)\n"
        );
    }

    #[test]
    fn rollback_goes_to_n_minus_1_a_revision_number_or_a_tag() {
        use crate::reconcile::ecs::deployments::resolve_rollback;
        let all = [dep(2, "v2", "SUCCESSFUL"), dep(1, "v1", "SUCCESSFUL")];
        let current = format!("{TD}:2");
        assert_eq!(
            resolve_rollback(None, "rtech-dev-app", Some(&current), &all),
            Ok(format!("{TD}:1"))
        );
        assert_eq!(
            resolve_rollback(Some("7"), "rtech-dev-app", Some(&current), &all),
            Ok("rtech-dev-app:7".to_string())
        );
        assert_eq!(
            resolve_rollback(Some("v2"), "rtech-dev-app", Some(&current), &all),
            Ok(format!("{TD}:2"))
        );
        assert!(
            resolve_rollback(Some("nope"), "rtech-dev-app", Some(&current), &all)
                .unwrap_err()
                .contains("no deployment of image tag nope")
        );
        assert!(
            resolve_rollback(None, "rtech-dev-app", Some(&format!("{TD}:1")), &all[1..])
                .unwrap_err()
                .starts_with("no earlier revision")
        );
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration(Duration::from_secs(8)), "8s");
        assert_eq!(duration(Duration::from_secs(432)), "7m12s");
    }

    #[test]
    fn image_tags_come_from_the_image_reference() {
        use crate::reconcile::ecs::deployments::tag_of;
        assert_eq!(
            tag_of("1.dkr.ecr.eu-west-1.amazonaws.com/rtech:3f9c2ab").as_deref(),
            Some("3f9c2ab")
        );
        assert_eq!(tag_of("localhost:5000/rtech").as_deref(), None);
        assert_eq!(tag_of("rtech@sha256:abc"), None);
    }
}

//! A live session against one env: the clients, the context, the reconcilers; observe all
//! services at once, plan, execute.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};

use super::Ui;
use crate::aws::{AwsOpts, Caller, Clients};
use crate::cli::Cli;
use crate::engine;
use crate::lock;
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::plan::{self, DiffInput, Plan};
use crate::policy;
use crate::progress::Progress;
use crate::reconcile::{self, Ctx, Registry};
use crate::spec::account::AccountPin;
use crate::spec::policy::Policy as SpecPolicy;
use crate::spec::Spec;

/// Interrupted twice: rtech left with changes in flight (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("apply interrupted with {in_flight} change(s) in flight, which may be half-done; run `rtech plan --env {env}` to see what is left; applying again converges")]
pub struct Abandoned {
    pub in_flight: usize,
    pub env: String,
}

/// What a session is about: the env, where it may run (the account pin) and where its lock
/// lives. From the spec, or from a saved plan (which is applied in the account it was made in).
pub(crate) struct Target {
    pub(crate) project: String,
    pub(crate) env: String,
    pub(crate) region: String,
    pub(crate) pin: AccountPin,
    /// `[lock] bucket`; `None`: the default for the caller's account and the region.
    pub(crate) lock_bucket: Option<String>,
    /// The spec's `[policy]`; `None` for a saved plan, which carries its own verdict.
    pub(crate) policy: Option<SpecPolicy>,
    /// The env's Route 53 zone when no desired resource tells it (a saved destroy plan's).
    pub(crate) zone: Option<String>,
}

impl Target {
    pub(crate) fn of_spec(spec: &Spec) -> Target {
        Target {
            project: spec.project.clone(),
            env: spec.env.clone(),
            region: spec.region.clone(),
            pin: spec.account.clone(),
            lock_bucket: spec.lock.bucket.clone(),
            policy: Some(spec.policy.clone()),
            zone: None,
        }
    }

    /// A saved plan's target: the account and lock bucket it was made with.
    pub(crate) fn of_saved_plan(plan: &Plan, file: &str) -> Target {
        Target {
            project: plan.project.clone(),
            env: plan.env.clone(),
            region: plan.region.clone(),
            pin: plan
                .origin
                .as_ref()
                .map(|o| AccountPin::saved_plan(&o.account, file))
                .unwrap_or_default(),
            lock_bucket: plan.origin.as_ref().map(|o| o.lock_bucket.clone()),
            policy: None,
            zone: plan.zone.clone(),
        }
    }
}

/// Who the session acts as: the caller (the pin allows its account) and where the env's lock
/// lives (its default bucket names the account).
pub(crate) struct Who {
    pub(crate) caller: Caller,
    pub(crate) lock: lock::Place,
}

/// A live session against one env: clients, context and the reconcilers.
pub(crate) struct Session {
    pub(crate) ctx: Arc<Ctx>,
    /// The account pin and the lock's place, checked and resolved once the identity is known.
    pin: AccountPin,
    lock_bucket: Option<String>,
    project: String,
    who: tokio::sync::OnceCell<Who>,
    registry: Registry,
    /// The word of `execute`'s last line (`Bootstrap complete: …`); by default `Apply` or
    /// `Destroy`.
    label: Option<&'static str>,
    /// The spec's `[policy]`: `Some` when plans are judged by the policy (an env's plans, not
    /// bootstrap's nor a saved plan's).
    policy: Option<SpecPolicy>,
    started: Instant,
}

impl Session {
    /// `desired` only tells where the env's DNS lives (destroy passes the spec's resources
    /// here but observes without them). The first call is sts:GetCallerIdentity, awaited
    /// here: bad credentials or an unreachable endpoint fail clearly, and an account the pin
    /// does not allow is refused before any other call.
    pub(crate) async fn open(
        target: &Target,
        opts: &AwsOpts,
        desired: &[Resource],
        no_wait: bool,
        ui: &Ui,
    ) -> Result<Session> {
        let s = Session::start(target, opts, desired, no_wait).await;
        s.who(ui).await?;
        Ok(s)
    }

    /// The spec's resources and a session in its account: what most commands start with.
    pub(crate) async fn of_spec(
        spec: &Spec,
        opts: &AwsOpts,
        no_wait: bool,
        ui: &Ui,
    ) -> Result<(Vec<Resource>, Session)> {
        let desired = reconcile::expand(spec);
        let s = Session::open(&Target::of_spec(spec), opts, &desired, no_wait, ui).await?;
        Ok((desired, s))
    }

    /// For read-only commands: when the spec pins no account, sts:GetCallerIdentity is not
    /// waited for here but runs beside the first round of reads (`observe` awaits it with them
    /// and reports its failure first), which saves a round trip. A pinned account is checked
    /// first, as [`Session::open`] does: the pin promises that no other call reaches an
    /// account it does not allow, reads included. Whatever writes (`locked`) awaits
    /// [`Session::who`] first either way.
    pub(crate) async fn open_overlapped(
        target: &Target,
        opts: &AwsOpts,
        desired: &[Resource],
        ui: &Ui,
    ) -> Result<Session> {
        let s = Session::start(target, opts, desired, false).await;
        if !matches!(target.pin, AccountPin::Any) {
            s.who(ui).await?;
        }
        Ok(s)
    }

    async fn start(
        target: &Target,
        opts: &AwsOpts,
        desired: &[Resource],
        no_wait: bool,
    ) -> Session {
        let clients = Clients::new(opts, &target.region).await;
        let identity = clients.identity();
        let region = clients.region.clone();
        Session {
            ctx: Arc::new(Ctx {
                project: target.project.clone(),
                env: target.env.clone(),
                region,
                identity,
                clients,
                tag_index: Default::default(),
                zone: target
                    .zone
                    .clone()
                    .or_else(|| reconcile::dns::zone_of(desired)),
                no_wait,
                deploy_followed: false,
                nonce: reconcile::kit::idem::run_nonce(),
                round: Default::default(),
            }),
            pin: target.pin.clone(),
            lock_bucket: target.lock_bucket.clone(),
            project: target.project.clone(),
            who: tokio::sync::OnceCell::new(),
            registry: Registry::all(),
            label: None,
            policy: target.policy.clone(),
            started: Instant::now(),
        }
    }

    /// The caller, once the pin allows its account, and the lock's place.
    pub(crate) async fn who(&self, ui: &Ui) -> Result<&Who> {
        self.who
            .get_or_try_init(|| async {
                let caller = self
                    .ctx
                    .identity
                    .clone()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                self.pin.check(&caller.account)?;
                let region = &self.ctx.region;
                ui.verbose(&format!(
                    "account {} ({region}) as {}",
                    caller.account, caller.arn
                ));
                let lock = lock::Place {
                    bucket: self.lock_bucket.clone().unwrap_or_else(|| {
                        lock::default_bucket(&self.project, &caller.account, region)
                    }),
                    key: lock::key(&self.project, &self.ctx.env),
                    env: self.ctx.env.clone(),
                };
                Ok::<_, anyhow::Error>(Who { caller, lock })
            })
            .await
    }

    /// The same session over bootstrap's services (`Registry::bootstrap`): what it plans
    /// and executes is the account's lock bucket and CI roles, not the env's resources.
    pub(crate) fn for_bootstrap(mut self) -> Session {
        self.registry = Registry::bootstrap();
        self.label = Some("Bootstrap");
        self.policy = None;
        self
    }

    /// The same session for `rtech deploy`, which follows the service's deployment itself
    /// (`Ctx::deploy_followed`).
    pub(crate) fn following_deploys(mut self) -> Session {
        if let Some(ctx) = Arc::get_mut(&mut self.ctx) {
            ctx.deploy_followed = true;
        }
        self
    }

    pub(crate) fn calls(&self) -> usize {
        self.ctx.clients.calls.get()
    }

    /// `, N retried` when the SDK retried calls so far (throttling, 5xx, dropped or timed-out
    /// attempts), for `-v`; empty otherwise.
    pub(crate) fn retried(&self) -> String {
        match self.ctx.clients.calls.retries() {
            0 => String::new(),
            n => format!(", {n} retried"),
        }
    }

    /// Every service observed at once.
    pub(crate) async fn observe(&self, desired: &[Resource], ui: &Ui) -> Result<Vec<Observed>> {
        let registry = self.registry;
        self.ctx.new_round();
        let t = Instant::now();
        let before_by = self.ctx.clients.calls.by_service();
        // The identity (when `open_overlapped` did not wait for it) runs beside the reads; its
        // failure, or the pin's refusal, is the error that counts.
        // The env's tag index starts at once too, beside the identity: most services wait for
        // it, and one that asked for it only after its own first read would make that read and
        // the index two round trips one after another. Its error, if any, is the one the
        // services that use it report.
        let (who, _, all) = tokio::join!(
            self.who(ui),
            async {
                let _ = self.ctx.tag_index().await;
            },
            futures::future::try_join_all(registry.services().iter().map(|r| async move {
                r.observe(&self.ctx, desired)
                    .await
                    .map_err(|e| anyhow::anyhow!("observing {}: {e}", r.name()))
            }))
        );
        who?;
        let all = all?;
        let observed: Vec<Observed> = all.into_iter().flatten().collect();
        let owned = observed
            .iter()
            .filter(|o| o.ownership == Ownership::Owned)
            .count();
        // The reads, without sts:GetCallerIdentity: when it overlaps them, it starts
        // before or after this count's start, as the scheduler has it.
        let since: Vec<(String, usize)> =
            crate::aws::calls_since(&self.ctx.clients.calls.by_service(), &before_by)
                .into_iter()
                .filter(|(s, _)| s != "sts")
                .collect();
        let per: Vec<String> = since.iter().map(|(s, n)| format!("{s} {n}")).collect();
        ui.verbose(&format!(
            "observed {owned} resources with {} API calls in {:.2} s ({})",
            since.iter().map(|(_, n)| n).sum::<usize>(),
            t.elapsed().as_secs_f64(),
            per.join(", ")
        ));
        // Which service kept the plan waiting: each one's calls and the time from its first
        // call's start to its last one's end.
        let times: Vec<String> = self
            .ctx
            .clients
            .calls
            .service_times(t)
            .into_iter()
            .filter(|(s, _)| s != "sts")
            .map(|(s, (n, secs))| format!("{s} {n} in {secs:.2} s"))
            .collect();
        ui.verbose(&format!("observe time per service: {}", times.join(", ")));
        // What a user waits for is the calls that waited on each other: their
        // number multiplies the round trip to AWS.
        let (chain, span) = self.ctx.clients.calls.chain();
        ui.verbose(&format!(
            "longest chain of calls so far: {} one after another in {span:.2} s ({})",
            chain.len(),
            chain.join(" → ")
        ));
        Ok(observed)
    }

    pub(crate) async fn plan(
        &self,
        desired: &[Resource],
        observed: &[Observed],
        targets: &[ResourceId],
        replace: &[ResourceId],
        destroy: bool,
        ui: &Ui,
    ) -> Result<Plan> {
        let who = self.who(ui).await?;
        let mut plan = plan::diff(&DiffInput {
            project: &self.ctx.project,
            env: &self.ctx.env,
            region: &self.ctx.region,
            desired,
            observed,
            schema: &|k| self.registry.kind(k).map(|k| k.schema()),
            importable: &|k| self.registry.kind(k).is_some_and(|k| k.import().is_some()),
            targets,
            replace,
            destroy,
        })?;
        if destroy {
            plan.zone = self.ctx.zone.clone();
        }
        plan.origin = Some(plan::Origin {
            account: who.caller.account.clone(),
            caller: who.caller.arn.clone(),
            lock_bucket: who.lock.bucket.clone(),
        });
        for c in &mut plan.conflicts {
            if let Some(m) = self
                .registry
                .kind(&c.id.kind)
                .and_then(|k| k.conflict_message(&self.ctx, c))
            {
                c.message = m;
            }
        }
        // The policy judges the env as the plan leaves it (not a destroy: `evaluate` skips it).
        if let Some(p) = &self.policy {
            plan.policy = policy::evaluate(&plan, observed, &p.waivers, &policy::today())
                .map(|r| r.with_enforcement(p.enforcement));
        }
        // What only a delete or replace needs (the data a bucket or repository holds), read for
        // those changes alone, all at once, before the guards below judge them.
        let reads = plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.action, plan::Action::Delete | plan::Action::Replace))
            .filter_map(|(i, c)| {
                let k = self.registry.kind(&c.id.kind)?;
                let prior = c.prior.as_ref()?;
                let id = c.id.clone();
                Some(async move {
                    k.data_held(&self.ctx, prior)
                        .await
                        .map(|a| (i, a))
                        .map_err(|e| anyhow::anyhow!("planning {id}: {e}"))
                })
            });
        for (i, attrs) in futures::future::try_join_all(reads).await? {
            if let Some(p) = plan.changes[i].prior.as_mut() {
                p.attrs.extend(attrs);
            }
        }
        // A service may refuse a change outright (a protected database's delete or replace):
        // shown in the plan beside conflicts, and apply refuses the whole plan.
        for c in &plan.changes {
            if let Some(msg) = self.registry.kind(&c.id.kind).and_then(|k| k.guard(c)) {
                plan.conflicts.push(plan::Conflict {
                    id: c.id.clone(),
                    physical_id: c.physical_id().unwrap_or_default().to_string(),
                    message: msg,
                });
            }
        }
        Ok(plan)
    }

    /// Ask each kind whether a planned change must wait for something outside the plan
    /// (`Kind::blocked`: a new task definition's image not pushed yet), and hold those back
    /// with their dependants (`Plan::block`).
    pub(crate) async fn hold_back(&self, plan: &mut Plan) -> Result<()> {
        let mut found = vec![];
        for c in plan
            .changes
            .iter()
            .filter(|c| c.action != plan::Action::Delete)
        {
            if let Some(k) = self.registry.kind(&c.id.kind) {
                if let Some(msg) = k
                    .blocked(&self.ctx, c, &plan.desired)
                    .await
                    .map_err(|e| anyhow::anyhow!("planning {}: {e}", c.id))?
                {
                    found.push((c.id.clone(), msg));
                }
            }
        }
        for (id, msg) in found {
            plan.block(&id, msg);
        }
        Ok(())
    }

    /// After an apply of a plan with blocked changes: the error naming them (exit 1).
    pub(crate) fn blocked_error(&self, plan: &Plan) -> Result<()> {
        if plan.blocked.is_empty() {
            return Ok(());
        }
        bail!(
            "{} change(s) blocked and not made:\n  {}\nOnce that is done, run `rtech apply --env {}` again.",
            plan.blocked.len(),
            plan.blocked_steps().join("\n  "),
            self.ctx.env
        )
    }

    pub(crate) async fn execute(
        &self,
        plan: &Plan,
        observed: &[Observed],
        cli: &Cli,
        ui: &Ui,
    ) -> Result<()> {
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
        if let Some(p) = plan.policy.as_ref().filter(|p| p.blocks()) {
            let list: Vec<String> = p.violations().map(|v| v.line()).collect();
            if !list.is_empty() {
                bail!(
                    "refusing to apply: {} policy violation(s), nothing was changed:\n  {}\nFix them in the spec, or waive them with a reason ([[policy.waivers]]); `rtech policy --env {}` shows every rule.",
                    list.len(),
                    list.join("\n  "),
                    self.ctx.env
                );
            }
        }
        if !plan.has_changes() {
            return Ok(());
        }
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        let before = self.calls();
        let t = Instant::now();
        let report = engine::execute(
            plan,
            self.registry,
            self.ctx.clone(),
            observed,
            cli.global.parallelism as usize,
            &progress,
        )
        .await;
        ui.verbose(&format!(
            "applied {} changes with {} API calls in {:.2} s ({} in all since start{})",
            report.done.len(),
            self.calls() - before,
            t.elapsed().as_secs_f64(),
            self.calls(),
            self.retried()
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
            let what = match (self.label, plan.destroy) {
                (Some(l), _) => l,
                (None, true) => "Destroy",
                (None, false) => "Apply",
            };
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

    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

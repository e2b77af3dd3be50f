//! Running a command under the env's lock (apply, destroy, `plan --lock`), and `rtech
//! force-unlock`.
//!
//! The lock is taken after the session's first call (sts:GetCallerIdentity and the account
//! pin) and before anything is observed, and released however the command ends: success,
//! failure, Ctrl-C or SIGTERM. While the executor runs, an interrupt is its to handle (the
//! first stops new changes, the second abandons those in flight); at any other moment the
//! command stops at once, releases the lock and exits 130. Only SIGKILL (or a lost machine)
//! leaves the lock behind, for `force-unlock`.
//!
//! Every command that changes an env runs its work in [`Session::locked`], right after
//! `Session::open`: a `deploy` or `rollback` command does the same (with its own name as the
//! holder's `command`).

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::session::{Session, Target};
use super::{load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, ForceUnlockArgs};
use crate::interrupt::Listener;
use crate::lock::{self, LockInfo, Waiting};

/// Interrupted (Ctrl-C or SIGTERM) while no change was running: exit 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: rtech stopped before changing anything more in env {env}")]
pub struct Interrupted {
    pub env: String,
}

/// How often a wait for the lock says it is still waiting (plain lines, not a spinner).
const WAIT_REPORT_EVERY: Duration = Duration::from_secs(10);

impl Session {
    /// Run `body` holding the env's lock, as `command` (`rtech apply`), waiting up to
    /// `timeout` for it.
    pub(crate) async fn locked<T>(
        &self,
        command: &str,
        timeout: Duration,
        ui: &Ui,
        body: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        // From here on Ctrl-C and SIGTERM no longer end the process by themselves.
        let mut interrupts =
            Listener::new().context("listening for Ctrl-C and SIGTERM (to release the lock)")?;
        let s3 = &self.ctx.clients.s3;
        // The caller, and the pin's check of its account, before the lock's write.
        let who = self.who(ui).await?;
        let place = &who.lock;
        let info = LockInfo::new(&who.caller.arn, command);
        let id = info.id.clone();
        let mut last_report: Option<Instant> = None;
        let mut report = |w: Waiting<'_>| {
            if last_report.is_none_or(|t| t.elapsed() >= WAIT_REPORT_EVERY) {
                ui.info(&format!(
                    "Waiting for the lock on env {}, held by {}: {} of {}",
                    place.env,
                    w.holder.holder(),
                    lock::show_duration(w.waited),
                    lock::show_duration(w.timeout)
                ));
                last_report = Some(Instant::now());
            }
        };
        let held = tokio::select! {
            r = lock::acquire(s3, place, info, timeout, &mut report) => r?,
            _ = interrupts.next() => {
                // The write may have landed before it was abandoned: remove it if it is ours.
                let _ = lock::force_unlock(s3, place, &id).await;
                return Err(Interrupted { env: place.env.clone() }.into());
            }
        };
        ui.verbose(&format!(
            "locked env {}: s3://{}/{} (lock id {})",
            place.env, place.bucket, place.key, id
        ));
        let result = tokio::select! {
            r = body => r,
            _ = interrupts.next_outside_executor() => Err(Interrupted { env: place.env.clone() }.into()),
        };
        let released = held.release(s3).await;
        match (result, released) {
            (r, Ok(())) => {
                ui.verbose(&format!("released the lock on env {}", place.env));
                r
            }
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), Err(le)) => {
                // The command's own failure is the error; the lock's is reported beside it.
                eprintln!("error: {le}");
                Err(e)
            }
        }
    }
}

/// `rtech force-unlock --env ENV LOCK_ID`: remove a dead run's lock, only if its id matches.
pub(super) async fn force_unlock_cmd(
    cli: &Cli,
    a: &ForceUnlockArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let s = Session::open(&Target::of_spec(&spec), opts, &[], false, ui).await?;
    let place = &s.who(ui).await?.lock;
    let holder = lock::force_unlock(&s.ctx.clients.s3, place, &a.lock_id)
        .await
        .map_err(anyhow::Error::from)?;
    println!(
        "Removed the lock on env {} (s3://{}/{}), held by {}.",
        spec.env,
        place.bucket,
        place.key,
        holder.holder()
    );
    Ok(ExitCode::from(EXIT_OK))
}

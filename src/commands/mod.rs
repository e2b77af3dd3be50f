//! Thin glue over the layers: each command loads the spec, observes, diffs, renders,
//! executes. One file per command; the live session (clients, observe, plan, execute) is
//! `session.rs`, and the terminal conventions (`Ui`, exit codes, confirmation) are here.

mod apply;
mod bootstrap;
mod deploy;
mod destroy;
mod drill;
mod iam_policy;
mod image;
mod import;
mod invalidate;
mod loadtest;
mod locked;
mod output;
mod plan;
mod policy;
mod session;
mod show;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::aws::{AwsOpts, RetryOpts};
use crate::cli::{Cli, Command};
use crate::plan::{render, Plan};
use crate::reconcile;
use crate::spec::{self, Spec};

pub use locked::Interrupted;
#[cfg(test)]
pub use output::outputs;
/// Every output name, in the order `rtech output` prints them.
pub use output::ORDER as OUTPUTS;
pub use session::Abandoned;

/// Exit codes as Terraform's.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CHANGES: u8 = 2;

pub(crate) struct Ui {
    color: bool,
    pub(crate) quiet: bool,
    pub(crate) stderr_tty: bool,
}

impl Ui {
    pub(crate) fn style(&self) -> render::Style {
        render::Style { color: self.color }
    }
    pub(crate) fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
    /// A diagnostic for `-v` (a `tracing` event of rtech's: `RUST_LOG` and `--log-format`
    /// apply; see `diag`).
    pub(crate) fn verbose(&self, msg: &str) {
        tracing::debug!(target: "rtech", "{msg}");
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    let ui = Ui {
        color: !g.no_color
            && no_color_unset(std::env::var_os("NO_COLOR").as_deref())
            && std::io::stdout().is_terminal(),
        quiet: g.quiet,
        stderr_tty: std::io::stderr().is_terminal(),
    };
    let opts = AwsOpts {
        region: g.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
        calls: Default::default(),
        retry: RetryOpts {
            max_attempts: g.max_attempts,
            adaptive: g.retry_mode == "adaptive",
            attempt_timeout: std::time::Duration::from_secs(g.attempt_timeout),
        },
    };
    let result = match &cli.command {
        Command::Validate(a) => {
            let spec = load(&cli, &a.env)?;
            let n = reconcile::expand(&spec).len();
            println!("{}: valid ({} resources in env {})", spec.file, n, spec.env);
            if spec.account.is_placeholder() {
                ui.info(&format!(
                    "note: {}'s account_id is {}, AWS's example id: a placeholder to replace with the id of the account env {} runs in",
                    spec.file,
                    spec::account::PLACEHOLDER_ACCOUNT,
                    spec.env
                ));
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Show(a) => show::show(a, &ui),
        Command::Plan(a) => plan::plan_cmd(&cli, a, &opts, &ui).await,
        Command::Apply(a) => apply::apply_cmd(&cli, a, &opts, &ui).await,
        Command::Destroy(a) => destroy::destroy_cmd(&cli, a, &opts, &ui).await,
        Command::Import(a) => import::import_cmd(&cli, a, &opts, &ui).await,
        Command::Output(a) => output::output_cmd(&cli, a, &opts, &ui).await,
        Command::Invalidate(a) => invalidate::invalidate_cmd(&cli, a, &opts, &ui).await,
        Command::IamPolicy(a) => iam_policy::iam_policy_cmd(&cli, a, &opts).await,
        Command::Bootstrap(a) => bootstrap::bootstrap_cmd(&cli, a, &opts, &ui).await,
        Command::ForceUnlock(a) => locked::force_unlock_cmd(&cli, a, &opts, &ui).await,
        Command::Image(a) => image::image_cmd(&cli, a, &opts, &ui).await,
        Command::Deploy(a) => deploy::deploy_cmd(&cli, a, &opts, &ui).await,
        Command::Rollback(a) => deploy::rollback_cmd(&cli, a, &opts, &ui).await,
        Command::Loadtest(a) => loadtest::loadtest_cmd(&cli, a, &opts, &ui).await,
        Command::Drill(a) => drill::drill_cmd(&cli, a, &opts, &ui).await,
        Command::Policy(a) => policy::policy_cmd(&cli, a, &opts, &ui).await,
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut text = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "rtech", &mut text);
            print_all(&text)
        }
        Command::Graph(a) => plan::graph_cmd(&cli, a, &opts, &ui).await,
        Command::Schema => print_all(crate::spec::schema::env_schema_text().as_bytes()),
        Command::Man => {
            let mut text = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut text)
                .map_err(|e| anyhow::anyhow!("rendering the man page: {e}"))?;
            print_all(&text)
        }
    };
    tracing::trace!(target: "rtech", "{}", calls_by_operation(&opts.calls.by_operation()).trim_end());
    result
}

/// Writes generated text to stdout; a reader that stopped early (`| head`) is not an error.
fn print_all(text: &[u8]) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("writing to stdout: {e}"))
        }
        _ => Ok(ExitCode::from(EXIT_OK)),
    }
}

/// The no-color convention (no-color.org): `NO_COLOR` turns colours off only when it is set
/// and not empty.
fn no_color_unset(v: Option<&std::ffi::OsStr>) -> bool {
    v.is_none_or(|v| v.is_empty())
}

/// `-vv`: every AWS operation the command called, with how often, as the code and
/// `rtech iam-policy` name them.
fn calls_by_operation(ops: &std::collections::BTreeMap<String, usize>) -> String {
    let total: usize = ops.values().sum();
    let mut out = format!("API calls by operation ({total}):\n");
    for (op, n) in ops {
        out.push_str(&format!("  {op} {n}\n"));
    }
    out
}

/// The env's spec, validated; its policy waivers checked against the rule table and the
/// resources the env has (a spec error otherwise).
pub(crate) fn load(cli: &Cli, env: &str) -> Result<Spec> {
    let spec = spec::load(&cli.global.envs_dir, env)?;
    crate::policy::check_waivers(&spec, &reconcile::expand(&spec))
        .map_err(spec::LoadError::Invalid)?;
    Ok(spec)
}

/// Refuse a command that needs the spec's `[section]` when the env has none:
/// `{file}: env {env} has no [{section}] section{then}`.
pub(crate) fn need_section(spec: &Spec, present: bool, section: &str, then: &str) -> Result<()> {
    if !present {
        bail!(
            "{}: env {} has no [{section}] section{then}",
            spec.file,
            spec.env
        );
    }
    Ok(())
}

pub(crate) fn print_plan(plan: &Plan, json: bool, ui: &Ui, spec_file: &str) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&render::json(plan)).expect("json")
        );
    } else {
        print!("{}", render::text(plan, ui.style(), spec_file));
    }
}

/// Ask for `yes` on a terminal; refuse without one. The answer is read off the async
/// runtime, so that Ctrl-C or SIGTERM at the prompt still releases the env's lock.
pub(crate) async fn confirm(question: &str, auto_approve: bool) -> Result<()> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change anything without confirmation: stdin is not a terminal; pass --auto-approve (or apply a saved plan) to run unattended");
    }
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush().ok();
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading the answer")?
    .context("reading the answer")?;
    if line.trim() != "yes" {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_counts_only_when_set_and_not_empty() {
        assert!(no_color_unset(None));
        assert!(no_color_unset(Some(std::ffi::OsStr::new(""))));
        assert!(!no_color_unset(Some(std::ffi::OsStr::new("1"))));
    }
}

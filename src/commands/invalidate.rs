//! `rtech invalidate`: a CloudFront invalidation of the env's distribution.

use std::process::ExitCode;

use anyhow::Result;

use super::session::Session;
use super::{load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::Cli;
use crate::progress::Progress;
use crate::reconcile;

pub(super) async fn invalidate_cmd(
    cli: &Cli,
    a: &crate::cli::InvalidateArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let (_, s) = Session::of_spec(&spec, opts, a.no_wait, ui).await?;
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
    ui.verbose(&format!(
        "{} API calls in {:.2} s{}",
        s.calls(),
        s.elapsed(),
        s.retried()
    ));
    Ok(ExitCode::from(EXIT_OK))
}

//! `rtech drill failover` and `rtech drill restore`: under the env's lock, check that the drill
//! can run (else refuse, changing nothing), confirm as apply does, act, follow with a progress
//! line, and report the measured RTO (and RPO) against the env's `[dr]` targets: one line, or
//! JSON; exit 1 when a target is broken.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, Result};

use super::session::{Session, Target};
use super::{confirm, load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, DrillArgs, DrillCommand, DrillFailoverArgs, DrillRestoreArgs};
use crate::drill::{self, Refused, Report, Restored, SnapshotUsed, TAG_DRILL};
use crate::model::{TAG_ENV, TAG_PROJECT};
use crate::progress::Progress;
use crate::reconcile::{docdb, redis};
use crate::spec::Spec;

/// Exit code of a drill that broke a target.
const EXIT_TARGET: u8 = 1;

pub(super) async fn drill_cmd(
    cli: &Cli,
    a: &DrillArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    match &a.command {
        DrillCommand::Failover(f) => failover_cmd(cli, f, opts, ui).await,
        DrillCommand::Restore(r) => restore_cmd(cli, r, opts, ui).await,
    }
}

fn refused(service: &'static str, spec: &Spec, reason: String) -> anyhow::Error {
    Refused {
        service,
        env: spec.env.clone(),
        reason,
    }
    .into()
}

async fn failover_cmd(
    cli: &Cli,
    a: &DrillFailoverArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let service: &'static str = if a.service == "redis" {
        "redis"
    } else {
        "docdb"
    };
    let has_section = match service {
        "redis" => spec.redis.is_some(),
        _ => spec.docdb.is_some(),
    };
    if !has_section {
        return Err(refused(
            service,
            &spec,
            format!("{} has no [{service}] section", spec.file),
        ));
    }
    let s = Session::open(&Target::of_spec(&spec), opts, &[], false, ui).await?;
    let command = format!("rtech drill failover --service {service}");
    s.locked(&command, a.lock.lock_timeout, ui, async {
        let ctx = &s.ctx;
        // What moves where, once the preconditions hold.
        let (resource, before, node_group_or_target) = match service {
            "redis" => {
                let name = redis::drill::live_name(ctx);
                let g = redis::drill::live_group(ctx).await?;
                if let Some(why) = redis::drill::failover_refusal(&name, g.as_ref()) {
                    return Err(refused(service, &spec, why));
                }
                let g = g.expect("no refusal means a group");
                let (p, ng) = redis::drill::primary(&g).expect("no refusal means a primary");
                (name, p.to_string(), ng.to_string())
            }
            _ => {
                let name = docdb::drill::live_name(ctx);
                let c = docdb::drill::live_cluster(ctx).await?;
                if let Some(why) = docdb::drill::failover_refusal(&name, c.as_ref()) {
                    return Err(refused(service, &spec, why));
                }
                let c = c.expect("no refusal means a cluster");
                let w = docdb::drill::writer(&c).expect("no refusal means a writer");
                let t = docdb::drill::failover_target(&c).expect("two members mean a replica");
                (name, w.to_string(), t.to_string())
            }
        };
        let moving = match service {
            "redis" => format!(
                "Failover drill: replication group {resource}'s primary {before} hands over to a replica (node group {node_group_or_target}); clients reconnect to the primary endpoint."
            ),
            _ => format!(
                "Failover drill: DocumentDB cluster {resource}'s writer {before} hands over to {node_group_or_target}; clients reconnect to the cluster endpoint."
            ),
        };
        // On stderr: stdout holds only the report (JSON with --json).
        eprintln!("{moving}");
        confirm(
            &format!("Fail {resource} over in env {}?", spec.env),
            a.auto_approve,
        )
        .await?;
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        let task = progress.start(&format!("drill failover {service}"), "failing over");
        let started = SystemTime::now();
        let t0 = Instant::now();
        let after = match service {
            "redis" => {
                redis::drill::failover(ctx, &resource, &node_group_or_target, &before, &task)
                    .await?
            }
            _ => {
                docdb::drill::failover(ctx, &resource, &node_group_or_target, &task).await?;
                node_group_or_target.clone()
            }
        };
        let took = t0.elapsed().as_secs_f64();
        task.finish(&format!("{after} serves as the primary"));
        let report = Report::failover(
            &spec.env,
            service,
            &resource,
            started,
            (before.as_str(), after.as_str()),
            took,
            &spec.dr,
        );
        finish(&report, a.json, &spec)
    })
    .await
}

async fn restore_cmd(cli: &Cli, a: &DrillRestoreArgs, opts: &AwsOpts, ui: &Ui) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let Some(d) = &spec.docdb else {
        return Err(anyhow!(
            "cannot drill a docdb restore in env {}: {} has no [docdb] section; nothing was changed",
            spec.env,
            spec.file
        ));
    };
    let s = Session::open(&Target::of_spec(&spec), opts, &[], false, ui).await?;
    s.locked("rtech drill restore --service docdb", a.lock.lock_timeout, ui, async {
        let ctx = &s.ctx;
        let live_name = docdb::drill::live_name(ctx);
        let refuse = |reason: String| {
            anyhow!(
                "cannot drill a docdb restore in env {}: {reason}; nothing was changed",
                spec.env
            )
        };
        let Some(live) = docdb::drill::live_cluster(ctx).await? else {
            return Err(refuse(format!(
                "DocumentDB cluster {live_name} does not exist: apply the env first"
            )));
        };
        let snap = match &a.snapshot {
            Some(id) => {
                let s = docdb::drill::snapshot(ctx, id)
                    .await?
                    .ok_or_else(|| refuse(format!("there is no cluster snapshot {id}")))?;
                if s.db_cluster_identifier() != Some(live_name.as_str()) {
                    return Err(refuse(format!(
                        "snapshot {id} is of cluster {}, not of env {}'s {live_name}",
                        s.db_cluster_identifier().unwrap_or("?"),
                        spec.env
                    )));
                }
                if s.status() != Some("available") {
                    return Err(refuse(format!(
                        "snapshot {id} is {}, not available",
                        s.status().unwrap_or("unknown")
                    )));
                }
                s
            }
            None => {
                let all = docdb::drill::snapshots(ctx, &live_name).await?;
                docdb::drill::newest_first(&all, &live_name)
                    .into_iter()
                    .next()
                    .cloned()
                    .ok_or_else(|| {
                        refuse(format!(
                            "cluster {live_name} has no available snapshot (automated backups need [docdb] backup_retention_days of 1 or more; or take a manual one)"
                        ))
                    })?
            }
        };
        let snap_id = snap.db_cluster_snapshot_identifier().unwrap_or_default().to_string();
        let started = SystemTime::now();
        let name = drill::drill_cluster_name(&live_name, started);
        let instance = drill::drill_instance_name(&name);
        eprintln!(
            "Restore drill: snapshot {snap_id} of {live_name} into a new cluster {name} (same subnet group and security groups, one {} instance){}.",
            d.instance_class,
            if a.keep { ", kept afterwards" } else { ", deleted afterwards" }
        );
        confirm(
            &format!("Restore {snap_id} into {name} in env {}?", spec.env),
            a.auto_approve,
        )
        .await?;
        let created = docdb::drill::created(&snap).unwrap_or(started);
        let age = started.duration_since(created).unwrap_or_default().as_secs_f64();
        let tags = drill_tags(&spec, &name, started);
        let progress = Progress::new(ui.quiet, ui.stderr_tty);
        let task = progress.start(&format!("drill restore {name}"), "restoring");
        let t0 = Instant::now();
        let restored = async {
            let c = docdb::drill::restore(ctx, &name, &snap_id, &live, &tags, &task).await?;
            task.status("adding an instance");
            docdb::drill::add_instance(ctx, &c, &instance, &d.instance_class, &tags, &task).await
        }
        .await;
        let took = t0.elapsed().as_secs_f64();
        let instance = match restored {
            Ok(i) => i,
            Err(e) => {
                // A half-made drill cluster goes too, unless it is to be kept.
                if !a.keep {
                    task.status("deleting the half-restored cluster");
                    if let Err(de) = docdb::drill::delete_drill(ctx, &name, &task).await {
                        eprintln!("error: deleting drill cluster {name}: {de}");
                    }
                }
                return Err(e.into());
            }
        };
        if a.keep {
            task.finish(&format!("available in {}, kept", drill::human(took)));
        } else {
            task.status(&format!("available in {}; deleting", drill::human(took)));
            docdb::drill::delete_drill(ctx, &name, &task).await?;
            task.finish(&format!("available in {}, deleted", drill::human(took)));
        }
        let report = Report::restore(
            &spec.env,
            &live_name,
            started,
            SnapshotUsed {
                id: snap_id.clone(),
                kind: snap.snapshot_type().unwrap_or("manual").to_string(),
                created_at: crate::lock::rfc3339(created),
                age_s: (age * 10.0).round() / 10.0,
            },
            Restored {
                cluster: name.clone(),
                instance,
                kept: a.keep,
            },
            took,
            &spec.dr,
        );
        finish(&report, a.json, &spec)
    })
    .await
}

/// The drill cluster's tags: the env's own tags, `Name`, `rtech:project`, `rtech:env` and the
/// marker `rtech:drill` (the drill's start), but no `rtech:id`.
fn drill_tags(spec: &Spec, name: &str, started: SystemTime) -> BTreeMap<String, String> {
    let mut t = spec.tags.clone();
    t.insert("Name".into(), name.into());
    t.insert(TAG_PROJECT.into(), spec.project.clone());
    t.insert(TAG_ENV.into(), spec.env.clone());
    t.insert(TAG_DRILL.into(), crate::lock::rfc3339(started));
    t
}

/// Print the report; exit 1 (with the figures named) when a target is broken.
fn finish(report: &Report, json: bool, spec: &Spec) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report).expect("json"));
    } else {
        print!("{}", drill::render(report));
    }
    if report.passed {
        return Ok(ExitCode::from(EXIT_OK));
    }
    eprintln!(
        "error: {} drill of {} broke its target: {} (set in [dr] of {})",
        report.drill,
        report.resource,
        report
            .failed()
            .iter()
            .map(|n| format!("{n}_minutes"))
            .collect::<Vec<_>>()
            .join(", "),
        spec.file
    );
    Ok(ExitCode::from(EXIT_TARGET))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drill_tags_are_the_envs_without_an_id() {
        let spec = crate::testutil::env_spec("prod");
        let t = drill_tags(
            &spec,
            "rtech-prod-docdb-drill-20261202113005",
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(t.get(TAG_PROJECT).map(String::as_str), Some("rtech"));
        assert_eq!(t.get(TAG_ENV).map(String::as_str), Some("prod"));
        assert_eq!(
            t.get(TAG_DRILL).map(String::as_str),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(t.get("Environment").map(String::as_str), Some("production"));
        assert!(!t.contains_key(crate::model::TAG_ID));
        // Without rtech:id, no kind claims it: the ownership test every observe uses.
        assert!(crate::reconcile::kit::claimed_id(&t, "rtech", "prod").is_none());
    }
}

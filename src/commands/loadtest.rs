//! `rtech loadtest`: a scenario's virtual users against the env's public URL, the ECS
//! service sampled meanwhile, and the report judged by the `[loadtest]` thresholds.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};
use tokio::time::Instant;

use super::session::{Session, Target};
use super::{load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, LoadtestArgs};
use crate::loadtest::report::{self, Report, Sample, Scaling};
use crate::loadtest::scenario::Scenario;
use crate::loadtest::{self, Run, Shared};
use crate::progress::Progress;
use crate::reconcile::{self, scaling};

/// Exit code of a run that missed a threshold.
const EXIT_THRESHOLD: u8 = 1;

pub(super) async fn loadtest_cmd(
    cli: &Cli,
    a: &LoadtestArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let cfg = spec.loadtest.clone();
    let scenario = Scenario::named(&a.scenario)
        .ok_or_else(|| anyhow!("no scenario {:?}", a.scenario))?
        .scaled(a.duration, a.users);
    // AWS only to find the URL, or to sample the service.
    let session = if a.url.is_none() || !a.no_sample {
        let desired = reconcile::expand(&spec);
        Some(Session::open(&Target::of_spec(&spec), opts, &desired, false, ui).await?)
    } else {
        None
    };
    let url = match (&a.url, &session) {
        (Some(u), _) => u.clone(),
        (None, Some(s)) => {
            let desired = reconcile::expand(&spec);
            let observed = s.observe(&desired, ui).await?;
            public_url(&super::output::outputs(&observed)).ok_or_else(|| {
                anyhow!(
                    "env {} has no public URL yet (no public_urls, CloudFront distribution or load balancer in `rtech output`): apply it first, or pass --url",
                    spec.env
                )
            })?
        }
        (None, None) => unreachable!("a session is opened when there is no --url"),
    };
    let base = loadtest::base_url(&url)?;
    loadtest::raise_open_files_limit();
    let client = loadtest::client(&base, scenario.peak_users())?;
    let run = Run {
        base: base.clone(),
        paths: cfg.paths.clone(),
        scenario: scenario.clone(),
        think: Duration::from_millis(cfg.think_time_ms),
        timeout: Duration::from_millis(cfg.timeout_ms),
    };
    ui.info(&format!(
        "Load test {}: up to {} users for {} against {base} ({}), think time {} ms",
        scenario.name,
        scenario.peak_users(),
        report::human_secs(scenario.duration().as_secs_f64()),
        cfg.paths.join(", "),
        cfg.think_time_ms
    ));
    let shared = Arc::new(Shared::default());
    let started_wall = SystemTime::now();
    let start = Instant::now();
    let end = start + scenario.duration();
    let sampler = session
        .as_ref()
        .filter(|_| !a.no_sample)
        .map(|s| s.ctx.clone());
    let (_, mut samples) = tokio::join!(
        load_with_progress(&run, &client, &shared, start, ui),
        async {
            let mut samples = vec![];
            if let Some(ctx) = &sampler {
                let mut next = start;
                while next < end {
                    tokio::time::sleep_until(next).await;
                    samples.push(take_sample(ctx, start).await);
                    next += a.sample_every;
                }
            }
            samples
        }
    );
    let elapsed = scenario.duration();
    let scaling = match &sampler {
        Some(ctx) => {
            samples.push(take_sample(ctx, start).await);
            let activities = match scaling::sample::activities_since(ctx, started_wall).await {
                Ok(list) => list
                    .into_iter()
                    .map(|x| report::Activity {
                        at_s: secs_since(started_wall, x.started),
                        status: x.status,
                        description: x.description,
                    })
                    .collect(),
                Err(e) => {
                    ui.info(&format!("warning: scaling activities: {e}"));
                    vec![]
                }
            };
            Some(Scaling {
                cluster: scaling::cluster_name(&ctx.project, &ctx.env),
                service: scaling::service_name(&ctx.project, &ctx.env),
                interval_s: a.sample_every.as_secs_f64(),
                changes: report::desired_changes(&samples),
                samples,
                activities,
            })
        }
        None => None,
    };
    let measured = shared
        .recorder
        .lock()
        .expect("recorder lock")
        .measured(&cfg, elapsed);
    let report = Report {
        url: base,
        paths: cfg.paths.clone(),
        think_time_ms: cfg.think_time_ms,
        duration_s: scenario.duration().as_secs_f64(),
        peak_users: scenario.peak_users(),
        scenario,
        measured,
        scaling,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", report::render(&report));
    }
    if let Some(s) = &session {
        ui.verbose(&format!(
            "{} API calls in {:.2} s{}",
            s.calls(),
            s.elapsed(),
            s.retried()
        ));
    }
    if report.measured.passed {
        return Ok(ExitCode::from(EXIT_OK));
    }
    let failed: Vec<&str> = report
        .measured
        .thresholds
        .iter()
        .filter(|t| !t.pass)
        .map(|t| t.name.as_str())
        .collect();
    eprintln!(
        "error: load test {} failed its thresholds: {} (set in [loadtest] of {})",
        report.scenario.name,
        failed.join(", "),
        spec.file
    );
    Ok(ExitCode::from(EXIT_THRESHOLD))
}

/// The users' run, with a live line on a terminal (users, requests/s over the last second,
/// p50/p95/p99 so far, errors).
async fn load_with_progress(
    run: &Run,
    client: &loadtest::HttpClient,
    shared: &Arc<Shared>,
    start: Instant,
    ui: &Ui,
) {
    let load = run.go(client, shared, start);
    if ui.quiet || !ui.stderr_tty {
        return load.await;
    }
    let progress = Progress::new(false, true);
    let task = progress.start(&format!("loadtest {}", run.scenario.name), "starting");
    tokio::pin!(load);
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = 0;
    let plans = run.scenario.schedules(run.think);
    loop {
        tokio::select! {
            _ = &mut load => break,
            _ = tick.tick() => {
                let live = shared.recorder.lock().expect("recorder lock").live();
                let users = shared.active.load(std::sync::atomic::Ordering::Relaxed);
                let elapsed = start.elapsed();
                // Users and requests the schedule has due by now: a server that falls behind
                // shows as fewer requests answered than due.
                let scheduled = run.scenario.users_at(elapsed).round();
                let due = loadtest::scenario::expected_requests(&plans, run.think, elapsed);
                task.status(&format!(
                    "{users}/{scheduled} users, {} req/s, {}/{due} requests, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {} errors",
                    live.requests - last, live.requests, live.p50_ms, live.p95_ms, live.p99_ms, live.errors
                ));
                last = live.requests;
            }
        }
    }
    let live = shared.recorder.lock().expect("recorder lock").live();
    task.finish(&format!(
        "{} requests, {} errors",
        live.requests, live.errors
    ));
}

/// One sample of the service, `at_s` from `start`; a failed call is kept as the sample's error.
async fn take_sample(ctx: &reconcile::Ctx, start: Instant) -> Sample {
    let at_s = (start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    match scaling::sample::sample(ctx).await {
        Ok(s) => Sample {
            at_s,
            desired: s.desired,
            running: s.running,
            pending: s.pending,
            min: s.min,
            max: s.max,
            error: None,
        },
        Err(e) => Sample {
            at_s,
            desired: None,
            running: None,
            pending: None,
            min: None,
            max: None,
            error: Some(e.to_string()),
        },
    }
}

fn secs_since(start: SystemTime, t: SystemTime) -> f64 {
    let s = t.duration_since(start).unwrap_or_default().as_secs_f64();
    (s * 10.0).round() / 10.0
}

/// The env's public URL among its outputs (pure): its first public name, else its
/// CloudFront domain, else its load balancer (plain HTTP).
pub fn public_url(outputs: &serde_json::Value) -> Option<String> {
    let s = |k: &str| outputs[k].as_str().filter(|v| !v.is_empty());
    outputs["public_urls"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| s("cloudfront_domain_name").map(|d| format!("https://{d}")))
        .or_else(|| s("alb_dns_name").map(|d| format!("http://{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_public_url_is_the_first_public_name_then_cloudfront_then_the_alb() {
        assert_eq!(
            public_url(&json!({
                "public_urls": ["https://rtech.example.com", "https://www.rtech.example.com"],
                "cloudfront_domain_name": "d1.cloudfront.net",
                "alb_dns_name": "alb-1.elb.amazonaws.com"
            }))
            .as_deref(),
            Some("https://rtech.example.com")
        );
        assert_eq!(
            public_url(&json!({"public_urls": [], "cloudfront_domain_name": "d1.cloudfront.net"}))
                .as_deref(),
            Some("https://d1.cloudfront.net")
        );
        assert_eq!(
            public_url(&json!({"public_urls": [], "cloudfront_domain_name": null, "alb_dns_name": "alb-1.elb.amazonaws.com"}))
                .as_deref(),
            Some("http://alb-1.elb.amazonaws.com")
        );
        assert_eq!(public_url(&json!({"public_urls": []})), None);
    }
}

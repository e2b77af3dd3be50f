//! `rtech loadtest` against a local HTTP server whose latency, error rate and stalls the test
//! sets: the measured p95 and error rate match what the server was told; a stalled server
//! shows up in the high percentiles (latency counts from the intended send time); the
//! thresholds decide the exit code; `--json` parses. With the emulator: the ECS service's
//! desired and running counts are sampled while the load runs, and a desired-count change
//! is reported as scaling's reaction.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value as J;
use tokio::time::Instant;

use crate::emulator::Emulator;
use crate::support::*;

/// What the test server does with request `n` (from 0).
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// Every answer takes this long…
    latency_ms: u64,
    /// …but every `slow_every`-th takes `slow_ms` (0: none).
    slow_every: u64,
    slow_ms: u64,
    /// Every `error_every`-th answers 500 (0: none).
    error_every: u64,
    /// From this long after the first request, hold every request for `stall_ms` (the
    /// server stalls), then answer as usual.
    stall_after_ms: Option<u64>,
    stall_ms: u64,
}

struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A plain-HTTP server on a free loopback port, on the test's runtime.
async fn serve(b: Behaviour) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let first: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let count = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (count, first) = (count.clone(), first.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                        let (count, first) = (count.clone(), first.clone());
                        async move {
                            let n = count.fetch_add(1, Ordering::SeqCst);
                            let t0 = *first.get_or_init(Instant::now);
                            if let Some(after) = b.stall_after_ms {
                                let (from, until) = (
                                    t0 + Duration::from_millis(after),
                                    t0 + Duration::from_millis(after + b.stall_ms),
                                );
                                let now = Instant::now();
                                if now >= from && now < until {
                                    tokio::time::sleep_until(until).await;
                                }
                            }
                            let slow = b.slow_every > 0 && n % b.slow_every == b.slow_every - 1;
                            let ms = if slow { b.slow_ms } else { b.latency_ms };
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            let error = b.error_every > 0 && n % b.error_every == b.error_every - 1;
                            let status = if error { 500 } else { 200 };
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, requests }
}

/// A temporary envs dir whose dev.toml has `[loadtest]` = `section`.
fn envs(section: &str) -> tempfile::TempDir {
    spec_dir("dev", &format!("\n[loadtest]\n{section}"))
}

/// `rtech loadtest` with no AWS at all (`--url`, `--no-sample`), run off the runtime so the
/// server keeps answering.
async fn loadtest(dir: &Path, args: &[&str]) -> Run {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("rtech"));
    c.current_dir(crate::emulator::root())
        .env("NO_COLOR", "1")
        .arg("--envs-dir")
        .arg(dir)
        .args(["loadtest", "--env", "dev", "--no-sample"])
        .args(args);
    run_blocking(c).await
}

async fn run_blocking(c: std::process::Command) -> Run {
    tokio::task::spawn_blocking(move || run(&mut assert_cmd::Command::from_std(c)))
        .await
        .unwrap()
}

fn json(r: &Run) -> J {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("--json: {e}\n{}\n{}", r.stdout, r.stderr))
}

fn f(j: &J, path: &str) -> f64 {
    j.pointer(path)
        .and_then(J::as_f64)
        .unwrap_or_else(|| panic!("{path}: {j:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn measured_latency_and_error_rate_match_the_server_and_thresholds_decide_the_exit_code() {
    // 9 in 10 answers take 20 ms, 1 in 10 takes 150 ms: p50 ≈ 20 ms, p95 ≈ 150 ms.
    // 1 in 20 answers 500: an error rate of 5 %.
    let server = serve(Behaviour {
        latency_ms: 20,
        slow_every: 10,
        slow_ms: 150,
        error_every: 20,
        ..Default::default()
    })
    .await;
    let url = server.url();
    // 10 users, one request each per 100 ms, for 5 s: 500 requests due.
    let lenient = envs("think_time_ms = 100\np95_ms = 1000\nmax_error_percent = 10\n");
    let args = [
        "--scenario",
        "baseline",
        "--users",
        "10",
        "--duration",
        "5s",
        "--url",
        &url,
        "--json",
    ];
    let r = loadtest(lenient.path(), &args).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = json(&r);
    // Tolerances: the server's own figures, plus up to 40 ms of scheduling on a busy machine.
    let requests = f(&j, "/requests");
    assert!(
        (480.0..=500.0).contains(&requests),
        "every due request is sent: {requests}"
    );
    assert_eq!(
        f(&j, "/requests"),
        server.requests.load(Ordering::SeqCst) as f64
    );
    let p50 = f(&j, "/latency/p50_ms");
    let p95 = f(&j, "/latency/p95_ms");
    assert!((20.0..60.0).contains(&p50), "p50 {p50}: {j:#}");
    assert!((150.0..190.0).contains(&p95), "p95 {p95}: {j:#}");
    let rate = f(&j, "/error_rate_percent");
    assert!((4.5..=5.5).contains(&rate), "error rate {rate} %: {j:#}");
    let statuses: Vec<(&str, &str)> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("/api/health", "200"), ("/api/health", "500")]);
    assert_eq!(j["passed"], true);
    assert!(j["scaling"].is_null(), "--no-sample: {j:#}");

    // The default thresholds (p95 < 200 ms, errors < 0.1 %): the 5 % of errors fail the run.
    let strict = envs("think_time_ms = 100\n");
    let r = loadtest(
        strict.path(),
        &[
            "--scenario",
            "peak",
            "--users",
            "5",
            "--duration",
            "2s",
            "--url",
            &url,
        ],
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Thresholds:"), "{}", r.stdout);
    assert!(
        r.stdout.contains("error rate < 0.1 %") && r.stdout.contains("FAIL"),
        "{}",
        r.stdout
    );
    // The error rate fails it; on a loaded machine the p95 (the server's 150–190 ms plus
    // scheduling) may cross 200 ms and fail it too.
    let failed = r
        .stderr
        .split("failed its thresholds: ")
        .nth(1)
        .unwrap_or_else(|| panic!("names the failed thresholds: {}", r.stderr));
    assert!(failed.contains("error_rate_percent"), "{}", r.stderr);
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("/api/health") && l.contains(" 500 "))
        .unwrap_or_else(|| panic!("a row per path and status:\n{}", r.stdout));
    assert!(row.split_whitespace().count() == 7, "{row}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_server_shows_in_the_high_percentiles() {
    // 5 ms answers, but for 1 s from 1.5 s in the server holds every request. A user's
    // requests due during the stall wait for it: each counts from when it was due, so about
    // a quarter of the 4 s run's requests take 0–1,000 ms, not just the one in flight per user.
    let server = serve(Behaviour {
        latency_ms: 5,
        stall_after_ms: Some(1500),
        stall_ms: 1000,
        ..Default::default()
    })
    .await;
    let dir = envs("think_time_ms = 100\n");
    let r = loadtest(
        dir.path(),
        &[
            "--scenario",
            "stress",
            "--users",
            "10",
            "--duration",
            "4s",
            "--url",
            &server.url(),
            "--json",
        ],
    )
    .await;
    let j = json(&r);
    // The requests due during the stall were still sent (the schedule does not wait).
    let requests = f(&j, "/requests");
    assert!(requests >= 380.0, "{requests}: {j:#}");
    let (p50, p95, p99, max) = (
        f(&j, "/latency/p50_ms"),
        f(&j, "/latency/p95_ms"),
        f(&j, "/latency/p99_ms"),
        f(&j, "/latency/max_ms"),
    );
    assert!(p50 < 100.0, "p50 {p50}: {j:#}");
    // Measured from the actual send, only 10 of ~400 requests (2.5 %) would be slow and p95
    // would be ~5 ms.
    assert!(p95 >= 500.0, "p95 {p95}: {j:#}");
    assert!(p99 >= 850.0 && max >= 900.0, "p99 {p99}, max {max}: {j:#}");
    // p95 over 200 ms: the run fails.
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(j["passed"], false);
    assert_eq!(j["thresholds"][0]["pass"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_url_or_scenario_is_refused_before_any_request() {
    let dir = envs("");
    let r = loadtest(dir.path(), &["--scenario", "baseline", "--url", "ftp://x"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("is not an http:// or https:// URL"),
        "{}",
        r.stderr
    );
    let r = loadtest(dir.path(), &["--scenario", "soak", "--url", "http://x"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("baseline, peak, stress, spike"),
        "{}",
        r.stderr
    );
    // A spec error names its line.
    let bad = envs("p95_ms = 0\n");
    let r = loadtest(bad.path(), &["--scenario", "baseline", "--url", "http://x"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("loadtest.p95_ms: 0 is out of range"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ecs_service_is_sampled_and_a_desired_count_change_is_reported() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let aas = autoscaling(&emu).await;
    ecs.create_cluster()
        .cluster_name("rtech-dev")
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family("rtech-dev-app")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("nginx")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster("rtech-dev")
        .service_name("rtech-dev-app")
        .task_definition("rtech-dev-app")
        .desired_count(2)
        .send()
        .await
        .unwrap();
    aas.register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id("service/rtech-dev/rtech-dev-app")
        .min_capacity(1)
        .max_capacity(4)
        .send()
        .await
        .unwrap();

    let server = serve(Behaviour {
        latency_ms: 5,
        ..Default::default()
    })
    .await;
    let dir = envs("think_time_ms = 100\n");
    let mut c = rtech_std_in(&emu, dir.path());
    c.args([
        "loadtest",
        "--env",
        "dev",
        "--scenario",
        "baseline",
        "--users",
        "2",
        "--duration",
        "5s",
        "--sample-every",
        "1s",
        "--url",
        &server.url(),
        "--json",
    ]);
    let running = tokio::spawn(run_blocking(c));
    // Once the load is under way (requests arriving), scale the service out as AWS would.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests.load(Ordering::SeqCst) < 20 {
        assert!(Instant::now() < deadline, "no load arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ecs.update_service()
        .cluster("rtech-dev")
        .service("rtech-dev-app")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let r = running.await.unwrap();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = json(&r);
    let s = &j["scaling"];
    assert_eq!(
        (s["cluster"].as_str(), s["service"].as_str()),
        (Some("rtech-dev"), Some("rtech-dev-app"))
    );
    let samples = s["samples"].as_array().unwrap();
    // One a second over 5 s, and one at the end.
    assert!(samples.len() >= 5, "{s:#}");
    assert!(samples.iter().all(|x| x.get("error").is_none()), "{s:#}");
    // What AWS's own API says now is what the last sample saw.
    let live = ecs
        .describe_services()
        .cluster("rtech-dev")
        .services("rtech-dev-app")
        .send()
        .await
        .unwrap();
    let live = &live.services()[0];
    let last = samples.last().unwrap();
    assert_eq!(last["desired"], 3, "{s:#}");
    assert_eq!(last["running"], live.running_count(), "{s:#}");
    assert_eq!(last["pending"], live.pending_count(), "{s:#}");
    assert_eq!((&last["min"], &last["max"]), (&J::from(1), &J::from(4)));
    assert_eq!(samples[0]["desired"], 2, "{s:#}");
    let changes = s["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{s:#}");
    assert_eq!(
        (&changes[0]["from"], &changes[0]["to"]),
        (&J::from(2), &J::from(3))
    );
    let at = changes[0]["at_s"].as_f64().unwrap();
    assert!(at > 0.0 && at <= 6.0, "{s:#}");
    // The scaling activities were read (none: UpdateService is not one, and the emulator
    // scales nothing).
    assert_eq!(s["activities"], J::Array(vec![]), "{s:#}");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

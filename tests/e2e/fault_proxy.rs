//! Faults on the whole stack, through `scripts/fault_proxy.py`: a seeded proxy
//! between rtech and the emulator that throttles, fails, loses responses, resets and hangs
//! connections, and kills rtech right after its N-th mutating call. Each test prints its
//! figures (faults injected, retries `-v` reported, duplicates found): run with
//! `cargo test --test e2e fault_proxy:: -- --nocapture` to see them.
//!
//! The crash sweep runs a spread sample of N by default; `RTECH_CRASH_SWEEP=full` runs every N.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::json;

use crate::emulator::{request, Emulator, SITE_ZONE};
use crate::support::*;

/// The seed every test here uses: the same run of rtech meets the same faults.
const SEED: &str = "14";

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// `rtech -v …` through the proxy, as an assert_cmd Command.
fn via(proxy: &FaultProxy, emu: &Emulator, args: &[&str]) -> Command {
    let mut c = Command::from_std(proxy.rtech(emu));
    c.arg("-v").args(args);
    c
}

/// A prod apply from empty through the proxy: it succeeds in one run and adds every resource
/// but the repository, which the image push made before it.
fn prod_applies_in_one_go(proxy: &FaultProxy, emu: &Emulator) -> Run {
    push_app_image(emu, None, "prod", &[]);
    let r = run_ok(
        &mut via(proxy, emu, &["apply", "--env", "prod", "--auto-approve"]),
        0,
    );
    assert!(
        r.stdout
            .contains("Apply complete: 109 added, 0 changed, 0 replaced, 0 destroyed."),
        "{}",
        r.stdout
    );
    r
}

/// The `error: …` lines of a failed run (the resource id, the call and AWS's code).
fn errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(String::from)
        .collect()
}

/// The duplicates a plan shows: deletes of `kind/name~physical-id`.
fn duplicates(plan: &serde_json::Value) -> Vec<String> {
    changes(plan)
        .into_iter()
        .filter(|(id, action)| id.contains('~') && action == "delete")
        .map(|(id, _)| id)
        .collect()
}

/// Forget everything in the emulator (`/moto-api/reset`), then give the account its site zone
/// again (what `Emulator::ensure_site_zone` made once).
fn reset(emu: &Emulator) {
    assert_eq!(
        request(&emu.url, "POST", "/moto-api/reset", ""),
        Some(200),
        "resetting the emulator"
    );
    emu.create_lock_buckets();
    let body = format!(
        "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Name>{SITE_ZONE}</Name><CallerReference>e2e-site-zone-again</CallerReference></CreateHostedZoneRequest>"
    );
    assert_eq!(
        request(&emu.url, "POST", "/2013-04-01/hostedzone", &body),
        Some(201),
        "re-creating {SITE_ZONE}"
    );
}

/// What CI does before an env's first apply, through the proxy so that the repository's
/// create meets the faults too: a targeted apply makes the repository, then the app image is
/// pushed to it (support::push_app_image).
fn make_repository_and_push(proxy: &FaultProxy, emu: &Emulator, env: &str) {
    run_ok(
        via(proxy, emu, &["apply", "--env", env, "--auto-approve"])
            .args(["--target", "ecr_repository/app"]),
        0,
    );
    push_app_image(emu, None, env, &[]);
}

/// A child's exit status, waiting at most `bound` (then it is killed and the test fails: rtech
/// hung).
fn wait_bounded(child: &mut Child, bound: Duration, what: &str) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for rtech") {
            return status;
        }
        if t.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {bound:?}: it hung");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// rtech through the proxy in the background, its output in `dir`'s out.txt / err.txt.
fn spawn(proxy: &FaultProxy, emu: &Emulator, args: &[&str], dir: &std::path::Path) -> Child {
    proxy
        .rtech(emu)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("out.txt")).unwrap())
        .stderr(std::fs::File::create(dir.join("err.txt")).unwrap())
        .spawn()
        .expect("start rtech")
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// Faults of the fault log by (type, operation).
fn faults_by_operation(log: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in log.lines().filter(|l| l.starts_with("fault ")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        *m.entry(format!("{} {}:{}", w[1], w[2], w[3])).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_10_percent_prod_applies_in_one_go_then_the_plan_is_empty() {
    let emu = Emulator::start();
    let proxy = FaultProxy::start(&emu, &["--seed", SEED, "--throttle", "0.1"]);
    let r = prod_applies_in_one_go(&proxy, &emu);
    let stats = proxy.stats();
    let throttled = n(&stats["faults"]["throttle"]);
    let retries = retried(&r.stderr);
    println!(
        "prod apply, 10 % throttled: {} requests, {throttled} throttled, {retries} retried (-v), {} mutating calls",
        stats["requests"], stats["mutating_forwarded"]
    );
    assert!(throttled > 0, "no fault injected: {stats}");
    // Every throttled attempt was retried by the SDK, and nothing else was.
    assert_eq!(retries as u64, throttled, "{}", proxy.fault_log());

    // The plan, still throttled, is empty; and so it is without faults.
    let p = run(&mut via(
        &proxy,
        &emu,
        &["plan", "--env", "prod", "--detailed-exitcode"],
    ));
    assert_eq!(p.code, 0, "{}\n{}", p.stdout, p.stderr);
    assert_plan_empty(&emu, "prod");
    let dups = duplicates(&plan_json(&emu, "prod"));
    println!(
        "then plan (throttled too): {} retried, duplicates found: {dups:?}",
        retried(&p.stderr)
    );
    assert!(dups.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_reset_connections_5_percent_prod_applies_in_one_go() {
    let emu = Emulator::start();
    // 500/503 answers and TCP resets, none of them forwarded: the SDK retries each (they are
    // transient), so no create happens twice and the apply needs no second run.
    let proxy = FaultProxy::start(
        &emu,
        &["--seed", SEED, "--error", "0.05", "--reset", "0.05"],
    );
    let r = prod_applies_in_one_go(&proxy, &emu);
    let stats = proxy.stats();
    let (errors, resets) = (n(&stats["faults"]["error"]), n(&stats["faults"]["reset"]));
    let retries = retried(&r.stderr);
    println!(
        "prod apply, 5 % answered 500/503 and 5 % reset: {} requests, {errors} errors, {resets} resets, {retries} retried (-v)",
        stats["requests"]
    );
    assert!(errors > 0 && resets > 0, "no fault injected: {stats}");
    assert_eq!(
        retries as u64,
        errors + resets,
        "every injected fault retried, nothing else: {}",
        proxy.fault_log()
    );
    proxy.configure(json!({"error": 0.0, "reset": 0.0}));
    assert_plan_empty(&emu, "prod");
    let dups = duplicates(&plan_json(&emu, "prod"));
    assert!(dups.is_empty(), "{dups:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_responses_cost_the_attempt_timeout_never_the_whole_apply() {
    let emu = Emulator::start();
    // A hung request is held for an hour: only the client's attempt timeout ends it.
    let proxy = FaultProxy::start(
        &emu,
        &["--seed", SEED, "--hang", "0.05", "--hang-seconds", "3600"],
    );
    let dir = tempfile::tempdir().unwrap();
    let attempt_timeout = 2;
    push_app_image(&emu, None, "dev", &[]);
    let t = Instant::now();
    let mut child = spawn(
        &proxy,
        &emu,
        &[
            "-v",
            "--attempt-timeout",
            &attempt_timeout.to_string(),
            "apply",
            "--env",
            "dev",
            "--auto-approve",
        ],
        dir.path(),
    );
    // Each hung attempt costs at most the attempt timeout plus the SDK's longest backoff
    // (20 s); the clean dev apply itself takes seconds (60 s of slack on a loaded machine).
    // The bound is checked once the hung attempts are known; the wait itself stops at the
    // worst case for this many requests.
    let status = wait_bounded(&mut child, Duration::from_secs(900), "apply");
    let elapsed = t.elapsed();
    let (stdout, stderr) = (read(dir.path(), "out.txt"), read(dir.path(), "err.txt"));
    let stats = proxy.stats();
    let hangs = n(&stats["faults"]["hang"]);
    let bound = Duration::from_secs(60 + hangs * (attempt_timeout + 20));
    println!(
        "dev apply, 5 % hung for an hour, attempt timeout {attempt_timeout} s: {} requests, {hangs} hung, {} retried (-v), exit {:?} after {elapsed:.1?} (bound {bound:?})",
        stats["requests"],
        retried(&stderr),
        status.code()
    );
    assert!(hangs > 0, "no fault injected: {stats}");
    assert!(
        elapsed < bound,
        "took {elapsed:?}, bound {bound:?}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    match status.code() {
        Some(0) => assert!(stdout.contains("Apply complete: 64 added"), "{stdout}"),
        // A call whose every attempt hung: the error names the resource and the call.
        Some(1) => {
            assert!(!errors(&stderr).is_empty(), "{stderr}");
            println!("failed: {:?}", errors(&stderr));
            proxy.configure(json!({"hang": 0.0}));
            run_ok(
                &mut via(&proxy, &emu, &["apply", "--env", "dev", "--auto-approve"]),
                0,
            );
        }
        c => panic!("exit {c:?}\n{stderr}"),
    }
    assert_plan_empty(&emu, "dev");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_throttled_10_percent_leaves_nothing_of_the_env_and_no_foreign_loss() {
    let emu = Emulator::start();
    apply(&emu, "dev");
    let built = census(&emu, "dev").await;
    // Resources that are not the env's: another env's VPC, and a VPC and a secret under the
    // env's names without its ownership tags.
    let ec2 = ec2(&emu).await;
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let spec = |tags: Vec<aws_sdk_ec2::types::Tag>| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
            .set_tags(Some(tags))
            .build()
    };
    let mut foreign = vec![];
    for (cidr, tags) in [
        (
            "10.20.0.0/16",
            vec![
                tag("rtech:project", "rtech"),
                tag("rtech:env", "staging"),
                tag("rtech:id", "vpc/main"),
                tag("Name", "rtech-staging-vpc"),
            ],
        ),
        ("10.30.0.0/16", vec![tag("Name", "rtech-dev-vpc")]),
    ] {
        let v = ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(spec(tags))
            .send()
            .await
            .unwrap();
        foreign.push(v.vpc().unwrap().vpc_id().unwrap().to_string());
    }
    let sm = secretsmanager(&emu).await;
    sm.create_secret()
        .name("rtech/dev/foreign")
        .secret_string("not ours")
        .send()
        .await
        .unwrap();

    let proxy = FaultProxy::start(&emu, &["--seed", SEED, "--throttle", "0.1"]);
    let first = run(&mut via(
        &proxy,
        &emu,
        &["destroy", "--env", "dev", "--auto-approve"],
    ));
    let mut runs = vec![(first.code, errors(&first.stderr))];
    if first.code != 0 {
        let second = run_ok(
            &mut via(&proxy, &emu, &["destroy", "--env", "dev", "--auto-approve"]),
            0,
        );
        runs.push((second.code, errors(&second.stderr)));
    }
    let stats = proxy.stats();
    println!(
        "dev destroy, 10 % throttled: {} requests, {} throttled, {} retried (-v), runs (exit, errors): {runs:?}",
        stats["requests"],
        stats["faults"]["throttle"],
        retried(&first.stderr)
    );
    assert!(n(&stats["faults"]["throttle"]) > 0, "no fault injected");
    assert_eq!(runs[0].0, 0, "one destroy was enough: {runs:?}");

    let left = census(&emu, "dev").await;
    assert!(built.values().any(|n| *n > 0), "{built:?}");
    assert!(left.values().all(|n| *n == 0), "left behind: {left:?}");
    let vpcs = ec2
        .describe_vpcs()
        .set_vpc_ids(Some(foreign.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 2, "foreign VPCs {foreign:?} untouched");
    let s = sm
        .describe_secret()
        .secret_id("rtech/dev/foreign")
        .send()
        .await
        .unwrap();
    assert!(s.deleted_date().is_none(), "the foreign secret untouched");
}

/// Up to `max` applies through the proxy until the plan (read without faults) is empty:
/// each apply's exit code and errors, and the duplicates the plan showed after it.
fn apply_until_converged(
    proxy: &FaultProxy,
    emu: &Emulator,
    env: &str,
    max: usize,
) -> Vec<(i32, Vec<String>, Vec<String>)> {
    let mut runs = vec![];
    for _ in 0..max {
        let r = run(&mut via(
            proxy,
            emu,
            &["apply", "--env", env, "--auto-approve"],
        ));
        let plan = plan_json(emu, env);
        let empty = plan["changes"].as_array().unwrap().is_empty()
            && plan["conflicts"].as_array().unwrap().is_empty();
        runs.push((r.code, errors(&r.stderr), duplicates(&plan)));
        if empty {
            break;
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_converge_without_duplicates() {
    let emu = Emulator::start();
    // A clean apply's census, then the same account empty again.
    apply(&emu, "prod");
    let clean = census(&emu, "prod").await;
    reset(&emu);

    let proxy = FaultProxy::start(&emu, &["--seed", SEED, "--lost", "0.05"]);
    make_repository_and_push(&proxy, &emu, "prod");
    let runs = apply_until_converged(&proxy, &emu, "prod", 4);
    let stats = proxy.stats();
    let log = proxy.fault_log();
    println!(
        "prod apply, 5 % of mutating responses lost: {} mutating calls, {} lost: {:?}",
        stats["mutating_forwarded"],
        stats["faults"]["lost"],
        faults_by_operation(&log)
    );
    for (i, (code, errs, dups)) in runs.iter().enumerate() {
        println!(
            "apply {}: exit {code}, errors {errs:?}, then the plan shows duplicates {dups:?}",
            i + 1
        );
    }
    assert!(n(&stats["faults"]["lost"]) > 0, "no fault injected");
    // Every kind with an idempotency token or a unique name takes a lost response in its
    // stride, so the first apply succeeds.
    let (code, errs, dups) = &runs[0];
    assert_eq!(*code, 0, "the first apply failed: {errs:?}");
    // The kinds whose create AWS offers no token and no unique name for (AllocateAddress,
    // CreateVpc, CreateInternetGateway) may leave a tagged duplicate: the plan shows it as a
    // delete of `kind/name~id`, and the next apply removes it. No other kind may.
    let unguarded = ["eip/", "vpc/", "igw/"];
    for d in dups {
        assert!(
            unguarded.iter().any(|k| d.starts_with(k)),
            "{d}: a duplicate of a kind with a token or a unique name"
        );
    }
    let fault_ops = faults_by_operation(&log);
    for op in NO_GUARD {
        let hit = fault_ops.keys().any(|k| k.ends_with(&format!(":{op}")));
        let kind = match op {
            "AllocateAddress" => "eip/",
            "CreateVpc" => "vpc/",
            _ => "igw/",
        };
        assert_eq!(
            hit,
            dups.iter().any(|d| d.starts_with(kind)),
            "{op}: a lost response shows its duplicate in the plan, exactly then ({dups:?})"
        );
    }
    if dups.is_empty() {
        assert_eq!(
            runs.len(),
            1,
            "nothing to remove, yet more applies: {runs:?}"
        );
    } else {
        // The next apply removes the duplicates (it may meet a lost response of its own).
        assert!(runs.len() >= 2 && runs[1].2.is_empty(), "{runs:?}");
    }
    assert_plan_empty(&emu, "prod");
    let got = census(&emu, "prod").await;
    assert!(
        census_diff(&clean, &got).is_empty(),
        "census differs from a clean apply's (kind: (clean, now)): {:?}",
        census_diff(&clean, &got)
    );
}

/// The values of N the sweep runs: every one with `RTECH_CRASH_SWEEP=full`, else six spread
/// over 1..=calls (the first and the last included).
fn sweep(calls: u64) -> Vec<u64> {
    match std::env::var("RTECH_CRASH_SWEEP").as_deref() {
        Ok("full") => (1..=calls).collect(),
        Ok(other) if !other.is_empty() => {
            panic!("RTECH_CRASH_SWEEP={other}: only `full` (every N) is known")
        }
        _ => {
            let mut v: Vec<u64> = (0..6).map(|i| 1 + i * (calls - 1) / 5).collect();
            v.dedup();
            v
        }
    }
}

/// Dev, not prod: the same kinds but CloudFront and its certificate (prod has those too, but
/// they create in one call each, like the other kinds), 83 mutating calls instead of 123 and
/// a faster apply, which keeps the default suite's added time small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_mutating_call_then_a_re_apply_converges() {
    let emu = Emulator::start();
    let proxy = FaultProxy::start(&emu, &["--seed", SEED]);
    push_app_image(&emu, None, "dev", &[]);
    run_ok(
        &mut via(&proxy, &emu, &["apply", "--env", "dev", "--auto-approve"]),
        0,
    );
    let calls = n(&proxy.stats()["mutating_forwarded"]);
    let clean = census(&emu, "dev").await;
    let ns = sweep(calls);
    println!("a clean dev apply makes {calls} mutating calls; crashing after N = {ns:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut failures = vec![];
    for &nth in &ns {
        reset(&emu);
        push_app_image(&emu, None, "dev", &[]);
        proxy.configure(json!({"zero": true, "kill_after": nth, "kill_pid": null}));
        let mut child = spawn(
            &proxy,
            &emu,
            &["apply", "--env", "dev", "--auto-approve"],
            dir.path(),
        );
        proxy.configure(json!({"kill_pid": child.id()}));
        let status = wait_bounded(&mut child, Duration::from_secs(300), "the apply to crash");
        let stats = proxy.stats();
        assert_eq!(
            status.signal(),
            Some(9),
            "N = {nth}: rtech was not killed ({status}): {stats}\n{}",
            read(dir.path(), "err.txt")
        );
        assert_eq!(n(&stats["mutating_forwarded"]), nth, "{stats}");
        // SIGKILL leaves the env's lock (unless the crash came after its release).
        unlock_after_kill(&emu, None, "dev");
        let last = proxy
            .fault_log()
            .lines()
            .rfind(|l| l.starts_with("killed"))
            .map(|l| {
                l.rsplit('(')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(')')
                    .to_string()
            })
            .unwrap_or_default();

        proxy.configure(json!({"zero": true, "kill_after": null, "kill_pid": null}));
        let r = run(&mut via(
            &proxy,
            &emu,
            &["apply", "--env", "dev", "--auto-approve"],
        ));
        let plan = plan_json(&emu, "dev");
        let got = census(&emu, "dev").await;
        let diff = census_diff(&clean, &got);
        let ok = r.code == 0 && plan["changes"].as_array().unwrap().is_empty() && diff.is_empty();
        println!(
            "N = {nth:>3} (after {last}): re-apply exit {}{}, plan changes {:?}, census diff {diff:?}",
            r.code,
            if r.code == 0 { String::new() } else { format!(" {:?}", errors(&r.stderr)) },
            changes(&plan)
        );
        if !ok {
            failures.push((nth, last, errors(&r.stderr), changes(&plan), diff));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} crash points did not converge in one re-apply: {failures:#?}",
        failures.len(),
        ns.len()
    );
}

/// The operations whose retried create AWS cannot recognise: no idempotency token and no
/// unique name. A lost response of one leaves a tagged duplicate for the next apply to remove.
const NO_GUARD: [&str; 3] = ["AllocateAddress", "CreateVpc", "CreateInternetGateway"];

/// Every mutating operation of a prod apply loses its first response: each create is retried
/// by the SDK against a resource its first attempt made. Every kind recognises its own
/// resource (a token, or its unique name and our tags) or is idempotent by nature, so the
/// apply succeeds in one go, nothing is duplicated, and the plan after it is empty. Destroy,
/// each first delete's response lost the same way, leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_response_of_every_mutating_operation_lost_apply_and_destroy_converge_in_one_go()
{
    let emu = Emulator::start();
    apply(&emu, "prod");
    let clean = census(&emu, "prod").await;
    reset(&emu);

    let mut lose: Vec<String> = vec!["*".into()];
    lose.extend(NO_GUARD.iter().map(|op| format!("-{op}")));
    let proxy = FaultProxy::start(&emu, &["--seed", SEED]);
    proxy.configure(json!({ "lose_first": lose }));
    make_repository_and_push(&proxy, &emu, "prod");
    let r = run(&mut via(
        &proxy,
        &emu,
        &["apply", "--env", "prod", "--auto-approve"],
    ));
    let stats = proxy.stats();
    let lost = stats["lost_operations"]
        .as_object()
        .expect("lost_operations");
    println!(
        "prod apply, the first response of each of {} mutating operations lost: {:?}",
        lost.len(),
        lost.keys().collect::<Vec<_>>()
    );
    assert_eq!(r.code, 0, "the apply failed: {:?}", errors(&r.stderr));
    // The creates of every service rtech manages were among them.
    for op in [
        "CreateSubnet",
        "CreateRouteTable",
        "AssociateRouteTable",
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "CreateFlowLogs",
        "CreateDBSubnetGroup",
        "CreateDBClusterParameterGroup",
        "CreateDBCluster",
        "CreateDBInstance",
        "CreateCacheSubnetGroup",
        "CreateReplicationGroup",
        "CreateRepository",
        "CreateSecret",
        "CreateLogGroup",
        "CreateCluster",
        "RegisterTaskDefinition",
        "CreateService",
        "CreateLoadBalancer",
        "CreateTargetGroup",
        "CreateListener",
        "CreateRule",
        "CreateRole",
        "RequestCertificate",
        "CreateTopic",
        "Subscribe",
        "PutMetricAlarm",
        "RegisterScalableTarget",
        "PutScalingPolicy",
        // The web ACL: its name is unique (WAFDuplicateItemException, adopted when ours).
        "CreateWebACL",
        "PutLoggingConfiguration",
        "CreateEventSubscription",
        // AWS Backup's REST calls, by method and path: CreateBackupVault, CreateBackupPlan,
        // CreateBackupSelection (the plan id starred).
        "PUT:/backup-vaults/rtech-prod-docdb",
        "PUT:/backup/plans",
        "PUT:/backup/plans/*/selections",
    ] {
        assert!(lost.contains_key(op), "{op} lost no response: {lost:?}");
    }
    assert_plan_empty(&emu, "prod");
    let got = census(&emu, "prod").await;
    assert!(
        census_diff(&clean, &got).is_empty(),
        "census differs from a clean apply's (kind: (clean, now)): {:?}",
        census_diff(&clean, &got)
    );

    // Destroy: prod refuses it (deletion protection, final snapshots), so dev, applied without
    // faults, is destroyed with the first response of every delete lost.
    reset(&emu);
    push_app_image(&emu, None, "dev", &[]);
    proxy.configure(json!({ "zero": true, "lose_first": [] }));
    run_ok(
        &mut via(&proxy, &emu, &["apply", "--env", "dev", "--auto-approve"]),
        0,
    );
    proxy.configure(json!({ "zero": true, "lose_first": ["*"] }));
    let r = run(&mut via(
        &proxy,
        &emu,
        &["destroy", "--env", "dev", "--auto-approve"],
    ));
    let stats = proxy.stats();
    println!(
        "dev destroy, the first response of each mutating operation lost: {:?}",
        stats["lost_operations"]
    );
    assert_eq!(r.code, 0, "the destroy failed: {:?}", errors(&r.stderr));
    let left = census(&emu, "dev").await;
    assert!(left.values().all(|&n| n == 0), "left behind: {left:?}");
}

/// The first responses of CreateWebACL and PutLoggingConfiguration lost: the SDK's retry of
/// the create meets `WAFDuplicateItemException` (web ACL names are unique per scope) and rtech
/// adopts the ACL its first attempt made, since it carries the env's tags; the logging
/// configuration is a put. One ACL, the plan after it empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_web_acl_response_adopts_the_acl_once() {
    let emu = Emulator::start();
    let dir = spec_dir(
        "dev",
        "\n[ecr]\nrepository = \"rtech-e2e-waf-lost\"\nforce_delete = true\n\n[app]\ndesired_count = 1\n\n[edge]\ndomain = \"waf-lost.example.net\"\nhosted_zone = \"create\"\n\n[edge.cloudfront]\n\n[edge.waf]\n",
    );
    let d = dir.path().to_str().unwrap();
    let proxy = FaultProxy::start(&emu, &["--seed", SEED]);
    proxy.configure(json!({ "lose_first": ["CreateWebACL", "PutLoggingConfiguration"] }));
    let target = ["--target", "distribution/main", "--target", "web_acl/main"];
    let r = run(via(
        &proxy,
        &emu,
        &["--envs-dir", d, "apply", "--env", "dev", "--auto-approve"],
    )
    .args(target));
    let lost = proxy.stats()["lost_operations"].clone();
    assert_eq!(r.code, 0, "the apply failed: {:?}", errors(&r.stderr));
    for op in ["CreateWebACL", "PutLoggingConfiguration"] {
        assert!(lost.get(op).is_some(), "{op} lost no response: {lost}");
    }
    let w = wafv2(&emu).await;
    assert_eq!(our_web_acls(&w, "dev").await.len(), 1);
    assert_plan_empty_in(&emu, dir.path(), "dev", &target);
}

//! The env's lock, the account pin and `rtech bootstrap` against the emulator (which honours
//! S3's conditional writes: PutObject If-None-Match and DeleteObject If-Match).
//!
//! The specs here are of their own project, `locks`, whose lock bucket only `rtech bootstrap`
//! makes. A run holds the lock for as long as needed through the ECS service's rollout: the
//! emulator starts with MOTO_ECS_SERVICE_RUNNING=0, so the service's tasks start only when the
//! test starts them (`start_tasks`), and until then apply waits for the service.

use std::time::Duration;

use crate::emulator::{Emulator, ACCOUNT};
use crate::support::*;

const PROJECT: &str = "locks";
const SERVICE: &str = "locks-dev-app";
const BUCKET: &str = "locks-rtech-123456789012-us-east-1";
const KEY: &str = "locks/dev.lock";
/// How long a run may take to reach a point or to end (a loaded machine).
const WITHIN: Duration = Duration::from_secs(120);

/// A network and a one-task service (its rollout is where an apply holds the lock).
const APP: &str = r#"
[ecr]
repository = "locks-e2e"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
stable_timeout_seconds = 600
"#;

fn spec(extra_top: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let head = spec_head("dev").replace(
        "project = \"rtech\"\n",
        &format!("project = \"{PROJECT}\"\n{extra_top}"),
    );
    std::fs::write(dir.path().join("dev.toml"), format!("{head}{APP}")).expect("write spec");
    dir
}

/// An emulator whose service tasks wait for the test, and the project bootstrapped.
fn setup() -> (Emulator, tempfile::TempDir) {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "0")]);
    let dir = spec("");
    run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev", "--auto-approve"]),
        0,
    );
    push_app_image(&emu, Some(dir.path()), "dev", &[]);
    (emu, dir)
}

/// `apply --auto-approve` with `extra` arguments, in the background.
fn apply_bg(emu: &Emulator, dir: &tempfile::TempDir, extra: &[&str]) -> Background {
    let mut c = rtech_std_in(emu, dir.path());
    c.args(["apply", "--env", "dev", "--auto-approve"])
        .args(extra);
    Background::spawn(c)
}

/// The line an apply prints while it waits for the service's rollout.
fn waiting_line() -> String {
    format!("waiting for service {SERVICE} to become stable")
}

/// The service's tasks start, out of band, as ECS starts them (the emulator takes the desired
/// count sent as the running count).
async fn start_tasks(emu: &Emulator) {
    ecs(emu)
        .await
        .update_service()
        .cluster("locks-dev")
        .service(SERVICE)
        .desired_count(1)
        .send()
        .await
        .unwrap();
}

/// The lock object's body, if there is one.
async fn lock_body(emu: &Emulator) -> Option<serde_json::Value> {
    match s3(emu)
        .await
        .get_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
    {
        Ok(o) => {
            let bytes = o.body.collect().await.unwrap().into_bytes();
            Some(serde_json::from_slice(&bytes).expect("the lock body is JSON"))
        }
        Err(e) => {
            let code = e.as_service_error().map(|s| s.is_no_such_key());
            assert_eq!(code, Some(true), "reading the lock: {e:?}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_at_once_one_runs_and_the_other_fails_at_once_naming_the_holder() {
    let (emu, dir) = setup();
    let mut a = apply_bg(&emu, &dir, &[]);
    let mut b = apply_bg(&emu, &dir, &[]);
    // Exactly one of them is refused, without waiting: the other holds the lock until its
    // service's tasks start, which only the test makes happen.
    let deadline = std::time::Instant::now() + WITHIN;
    while !a.exited() && !b.exited() {
        assert!(std::time::Instant::now() < deadline, "neither apply ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (loser, mut winner) = if a.exited() { (a, b) } else { (b, a) };
    let took = loser.started.elapsed();
    let refused = loser.finish(WITHIN);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    let holder = lock_body(&emu).await.expect("the winner holds the lock");
    let pid = holder["pid"].as_u64().unwrap();
    assert_eq!(pid, u64::from(winner.child.id()));
    let line = refused.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert_eq!(
        line,
        format!(
            "error: env dev is locked by arn:aws:sts::{ACCOUNT}:user/moto (rtech apply, pid {pid} on {}) since {}; wait, or run rtech force-unlock --env dev {} if that run is dead",
            holder["host"].as_str().unwrap(),
            holder["started"].as_str().unwrap(),
            holder["id"].as_str().unwrap()
        )
    );
    // At once: it did not wait for the holder (generous for a loaded machine; about 0.3 s
    // from spawn to exit when idle).
    assert!(took < Duration::from_secs(10), "refused after {took:?}");
    assert!(
        !refused.stdout.contains("will make these changes"),
        "refused before observing: {}",
        refused.stdout
    );

    winner.wait_for_line(&waiting_line(), WITHIN);
    start_tasks(&emu).await;
    let done = winner.finish(WITHIN);
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(lock_body(&emu).await, None, "released");
    // Nothing was made twice: the next plan is empty (a duplicate shows as a delete).
    assert_plan_empty_in(&emu, dir.path(), "dev", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_apply_stops_it_like_ctrl_c_and_releases_the_lock() {
    let (emu, dir) = setup();
    let mut run = apply_bg(&emu, &dir, &[]);
    run.wait_for_line(&waiting_line(), WITHIN);
    assert!(lock_body(&emu).await.is_some(), "held while applying");
    // The first SIGTERM stops new changes and waits for the one in flight, as Ctrl-C does...
    run.signal(libc::SIGTERM);
    run.wait_for_line("Interrupted: waiting for", WITHIN);
    assert!(
        lock_body(&emu).await.is_some(),
        "held while the change in flight runs"
    );
    // ...the second abandons it: exit 130, and the lock is released on the way out.
    run.signal(libc::SIGTERM);
    let r = run.finish(WITHIN);
    assert_eq!(r.code, 130, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Interrupted again"), "{}", r.stderr);
    assert_eq!(lock_body(&emu).await, None, "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_apply_waits_for_the_change_in_flight_then_releases_the_lock() {
    let (emu, dir) = setup();
    let mut run = apply_bg(&emu, &dir, &[]);
    run.wait_for_line(&waiting_line(), WITHIN);
    run.signal(libc::SIGINT);
    run.wait_for_line("Interrupted: waiting for", WITHIN);
    start_tasks(&emu).await;
    let r = run.finish(WITHIN);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("apply interrupted after"), "{}", r.stderr);
    assert_eq!(lock_body(&emu).await, None, "released");
    // What was left is applied by the next run, under the lock again.
    run_ok(
        rtech_in(&emu, dir.path()).args(["apply", "--env", "dev", "--auto-approve"]),
        0,
    );
    assert_eq!(lock_body(&emu).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_the_lock_and_force_unlock_removes_it_only_with_its_id() {
    let (emu, dir) = setup();
    let mut run = apply_bg(&emu, &dir, &[]);
    run.wait_for_line(&waiting_line(), WITHIN);
    run.signal(libc::SIGKILL);
    let killed = run.finish(WITHIN);
    assert_eq!(killed.code, -1, "killed by a signal");
    let holder = lock_body(&emu).await.expect("SIGKILL leaves the lock");
    let id = holder["id"].as_str().unwrap().to_string();

    // Another apply is refused, naming the dead run and how to remove its lock.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["apply", "--env", "dev", "--auto-approve"]),
        1,
    );
    assert!(
        r.stderr.contains(&format!(
            "rtech force-unlock --env dev {id} if that run is dead"
        )),
        "{}",
        r.stderr
    );

    // The wrong id: refused, naming the real holder; the lock stays.
    let wrong = run_ok(
        rtech_in(&emu, dir.path()).args(["force-unlock", "--env", "dev", "not-the-id"]),
        1,
    );
    assert!(
        wrong.stderr.contains(&format!(
            "refusing to unlock env dev: its lock id is {id}, not not-the-id; it is held by arn:aws:sts::{ACCOUNT}:user/moto (rtech apply, pid {}",
            holder["pid"]
        )),
        "{}",
        wrong.stderr
    );
    assert_eq!(lock_body(&emu).await, Some(holder.clone()));

    // The right id removes it.
    let ok = run_ok(
        rtech_in(&emu, dir.path()).args(["force-unlock", "--env", "dev", &id]),
        0,
    );
    assert!(
        ok.stdout.contains("Removed the lock on env dev"),
        "{}",
        ok.stdout
    );
    assert_eq!(lock_body(&emu).await, None);
    // Nothing left to unlock.
    let none = run_ok(
        rtech_in(&emu, dir.path()).args(["force-unlock", "--env", "dev", &id]),
        1,
    );
    assert!(
        none.stderr.contains("env dev is not locked"),
        "{}",
        none.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_waits_with_progress_and_an_interrupt_leaves_the_holders_lock() {
    let (emu, dir) = setup();
    let mut holder = apply_bg(&emu, &dir, &[]);
    holder.wait_for_line(&waiting_line(), WITHIN);
    let held = lock_body(&emu).await.expect("held");

    // A plan --lock waiting for it says so, and SIGTERM ends the wait (exit 130) without
    // touching the holder's lock.
    let mut waiter = Background::spawn({
        let mut c = rtech_std_in(&emu, dir.path());
        c.args(["plan", "--env", "dev", "--lock", "--lock-timeout", "10m"]);
        c
    });
    waiter.wait_for_line("Waiting for the lock on env dev, held by arn:", WITHIN);
    waiter.signal(libc::SIGTERM);
    let w = waiter.finish(WITHIN);
    assert_eq!(w.code, 130, "{}\n{}", w.stdout, w.stderr);
    assert_eq!(lock_body(&emu).await, Some(held));

    // A waiting apply gets the lock once the holder ends, and runs.
    let mut next = apply_bg(&emu, &dir, &["--lock-timeout", "10m"]);
    next.wait_for_line("Waiting for the lock on env dev", WITHIN);
    start_tasks(&emu).await;
    let first = holder.finish(WITHIN);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = next.finish(WITHIN);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(lock_body(&emu).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_account_is_refused_before_any_other_call() {
    let emu = Emulator::start();
    let dir = spec("account_id = \"111122223333\"\n");
    for cmd in [
        vec!["apply", "--env", "dev", "--auto-approve"],
        vec!["plan", "--env", "dev"],
        vec!["bootstrap", "--env", "dev", "--auto-approve"],
    ] {
        let mut c = rtech_in(&emu, dir.path());
        let before = emu.requests();
        let r = run_ok(c.args(&cmd), 1);
        assert_eq!(
            r.stderr.trim(),
            format!(
                "error: the credentials are for account {ACCOUNT}, but {}/dev.toml allows only account 111122223333 (account_id); refusing to make any other AWS call",
                dir.path().display()
            ),
            "{cmd:?}"
        );
        assert_eq!(
            emu.requests() - before,
            1,
            "{cmd:?}: only sts:GetCallerIdentity reached AWS"
        );
    }
    // The right account passes the pin (and plans).
    let right = spec(&format!(
        "allowed_account_ids = [\"111122223333\", \"{ACCOUNT}\"]\n"
    ));
    run_ok(
        rtech_in(&emu, right.path()).args(["plan", "--env", "dev"]),
        0,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_makes_the_lock_bucket_once_and_the_second_run_plans_nothing() {
    let emu = Emulator::start();
    let dir = spec("");
    // No bucket: apply refuses in one line naming bootstrap.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["apply", "--env", "dev", "--auto-approve"]),
        1,
    );
    assert_eq!(
        r.stderr.trim(),
        format!("error: the lock bucket {BUCKET} does not exist; create it once per account and region with rtech bootstrap --env dev")
    );

    let first = run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev", "--auto-approve"]),
        0,
    );
    assert!(
        first.stdout.starts_with(&format!(
            "Plan for env dev in account {ACCOUNT} (us-east-1) as arn:aws:sts::{ACCOUNT}:user/moto\n"
        )),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains(&format!("+ lock_bucket/main ({BUCKET})")),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("Bootstrap complete"),
        "{}",
        first.stdout
    );

    // Checked through S3 itself.
    let s3 = s3(&emu).await;
    let v = s3
        .get_bucket_versioning()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    assert_bucket_encrypted_and_private(&s3, BUCKET).await;
    let policy = s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    let tags = s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
    let tags = tag_map(
        tags.tag_set()
            .iter()
            .map(|t| (Some(t.key()), Some(t.value()))),
    );
    assert_eq!(tags.get("rtech:project").map(String::as_str), Some(PROJECT));
    assert_eq!(
        tags.get("rtech:id").map(String::as_str),
        Some("lock_bucket/main")
    );

    // Idempotent: the second run plans nothing and changes nothing.
    let second = run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev"]),
        0,
    );
    assert!(second.stdout.contains("No changes."), "{}", second.stdout);
    assert!(
        !second.stdout.contains("Bootstrap complete"),
        "{}",
        second.stdout
    );

    // Drift is planned as exactly that and repaired.
    s3.delete_bucket_policy()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let third = run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev", "--auto-approve"]),
        0,
    );
    assert!(
        third.stdout.contains("~ lock_bucket/main"),
        "{}",
        third.stdout
    );
    assert!(
        third.stdout.contains("Plan: 0 to add, 1 to change"),
        "{}",
        third.stdout
    );
    let again = run_ok(
        rtech_in(&emu, dir.path()).args(["bootstrap", "--env", "dev"]),
        0,
    );
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // With the bucket, apply takes and releases the lock (the versioned bucket keeps a
    // delete marker, and the next conditional write still succeeds).
    let network_only = tempfile::tempdir().unwrap();
    std::fs::write(
        network_only.path().join("dev.toml"),
        spec_head("dev").replace("project = \"rtech\"", &format!("project = \"{PROJECT}\"")),
    )
    .unwrap();
    for _ in 0..2 {
        run_ok(
            rtech_in(&emu, network_only.path()).args(["apply", "--env", "dev", "--auto-approve"]),
            0,
        );
        assert_eq!(lock_body(&emu).await, None);
    }
    run_ok(
        rtech_in(&emu, network_only.path()).args(["destroy", "--env", "dev", "--auto-approve"]),
        0,
    );
}

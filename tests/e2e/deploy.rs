//! ECS deploys against the emulator: a deploy the circuit breaker rolled back is never rolled
//! out again by a later apply (the plan compares the revision the service runs), deploying
//! the same image again reuses the revision registered for it, and revisions rtech prunes or
//! destroys are deleted, not left INACTIVE (src/reconcile/ecs/taskdef/). moto never rolls
//! anything back, so the rollback is made out of band with the SDK (UpdateService to the
//! previous revision), as the circuit breaker would. An apply stopped while it waited for a
//! rollout leaves it to the next plan, whose apply waits for it (src/reconcile/ecs/service/).

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::TaskDefinitionStatus;
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const CLUSTER: &str = "rtech-dev";
const APP: &str = "rtech-dev-app";

/// dev-sized: one task, two revisions kept, no scaling.
const APP_SPEC: &str = r#"
[ecr]
repository = "rtech-e2e-deploy"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
keep_revisions = 2
stable_timeout_seconds = 120

[app.environment]
NODE_ENV = "development"
"#;

/// The revision numbers of our family in `status`, oldest first.
async fn revisions(ecs: &aws_sdk_ecs::Client, status: TaskDefinitionStatus) -> Vec<i32> {
    let arns = ecs
        .list_task_definitions()
        .family_prefix(APP)
        .status(status)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .to_vec();
    let mut revs: Vec<i32> = arns
        .iter()
        .filter_map(|a| {
            let (head, rev) = a.rsplit_once(':')?;
            head.ends_with(&format!("/{APP}"))
                .then(|| rev.parse().ok())
                .flatten()
        })
        .collect();
    revs.sort();
    revs
}

async fn active(ecs: &aws_sdk_ecs::Client) -> Vec<i32> {
    revisions(ecs, TaskDefinitionStatus::Active).await
}

/// The task definition ARN the ACTIVE service runs.
async fn running(ecs: &aws_sdk_ecs::Client) -> String {
    ecs.describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .send()
        .await
        .unwrap()
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .and_then(|s| s.task_definition())
        .expect("our service")
        .to_string()
}

fn revision_of(arn: &str) -> i32 {
    arn.rsplit(':').next().unwrap().parse().unwrap()
}

/// The image a revision runs.
async fn image_of(ecs: &aws_sdk_ecs::Client, arn: &str) -> String {
    ecs.describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .unwrap()
        .task_definition()
        .unwrap()
        .container_definitions()[0]
        .image()
        .unwrap()
        .to_string()
}

fn outputs(emu: &Emulator, dir: &std::path::Path) -> J {
    let r = run_ok(
        rtech_in(emu, dir).args(["output", "--env", "dev", "--json"]),
        0,
    );
    serde_json::from_str(&r.stdout).expect("output JSON")
}

fn field<'a>(plan: &'a J, id: &str, path: &str) -> &'a J {
    change_of(plan, id)
        .and_then(|c| {
            c["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == path)
        })
        .unwrap_or_else(|| panic!("no {id} {path}: {plan:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_deploy_stays_rolled_back_and_deploying_it_again_reuses_its_revision() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", APP_SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "good"]);
    assert_eq!(active(&ecs).await, [1, 2]);
    let deployed = running(&ecs).await;
    assert_eq!(revision_of(&deployed), 2);
    let previous = deployed.replace(&format!("{APP}:2"), &format!("{APP}:1"));
    assert!(image_of(&ecs, &previous).await.ends_with(":v1"));

    // The circuit breaker rolls the deployment back to revision 1.
    ecs.update_service()
        .cluster(CLUSTER)
        .service(APP)
        .task_definition(&previous)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    assert_eq!(running(&ecs).await, previous);

    // Without --image-tag the plan keeps the image that runs: nothing to roll out again.
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    let out = outputs(&emu, dir.path());
    assert_eq!(out["task_definition_revision"], "1", "{out:#}");
    assert_eq!(out["task_definition_arn"], previous.as_str(), "{out:#}");
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        running(&ecs).await,
        previous,
        "an apply leaves the rollback"
    );
    assert_eq!(active(&ecs).await, [1, 2]);

    // Deploying the same tag again: the image changes back, the service follows, and apply
    // reuses revision 2 rather than registering a duplicate.
    let p = plan_json_in(&emu, dir.path(), "dev", &["--image-tag", "good"]);
    assert_eq!(
        changes(&p),
        [
            ("ecs_task_definition/app".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string())
        ],
        "{p:#}"
    );
    let f = field(&p, "ecs_task_definition/app", "image_tag");
    assert_eq!(
        (f["before"].as_str(), f["after"].as_str()),
        (Some("v1"), Some("good"))
    );
    let before = active(&ecs).await;
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "good"]);
    assert_eq!(active(&ecs).await, before, "no new registration");
    assert_eq!(running(&ecs).await, deployed);
    assert!(image_of(&ecs, &deployed).await.ends_with(":good"));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    assert_eq!(outputs(&emu, dir.path())["task_definition_revision"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_and_destroyed_revisions_are_deleted_even_after_an_interrupted_destroy() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", APP_SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "a1"]);
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "b2"]);
    // keep_revisions = 2: revision 1 is deregistered, then deleted (not left INACTIVE).
    assert_eq!(active(&ecs).await, [2, 3]);
    assert!(revisions(&ecs, TaskDefinitionStatus::Inactive)
        .await
        .is_empty());

    // A destroy interrupted after it deregistered every revision: the next destroy still
    // finds them (INACTIVE, ours) and deletes them.
    for rev in [2, 3] {
        ecs.deregister_task_definition()
            .task_definition(format!("{APP}:{rev}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        revisions(&ecs, TaskDefinitionStatus::Inactive).await,
        [2, 3]
    );
    let d = destroy_in(&emu, dir.path(), "dev");
    assert!(d.stdout.contains("ecs_task_definition/app"), "{}", d.stdout);
    assert!(active(&ecs).await.is_empty());
    assert!(revisions(&ecs, TaskDefinitionStatus::Inactive)
        .await
        .is_empty());
    // Nothing of ours is left to plan a delete for.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["destroy", "--env", "dev", "--auto-approve"]),
        0,
    );
    assert!(
        !r.stdout.contains("ecs_task_definition/app"),
        "{}",
        r.stdout
    );
}

/// The service's (desired, running) counts.
async fn counts(ecs: &aws_sdk_ecs::Client) -> (i32, i32) {
    let out = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .send()
        .await
        .unwrap();
    let s = out
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
        .expect("our service");
    (s.desired_count(), s.running_count())
}

/// `apply` in the background, its stderr read up to the line where it starts waiting for the
/// service to become stable; the rest is left to read.
fn apply_until_waiting(emu: &Emulator, dir: &Path) -> (Child, Lines<BufReader<ChildStderr>>) {
    push_app_image(emu, Some(dir), "dev", &[]);
    let mut child = rtech_std(emu)
        .arg("--envs-dir")
        .arg(dir)
        .args(["apply", "--env", "dev", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = vec![];
    for line in lines.by_ref() {
        let line = line.unwrap();
        let waiting = line.contains(&format!("waiting for service {APP} to become stable"));
        seen.push(line);
        if waiting {
            return (child, lines);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the apply ended before it waited for the service:\n{}",
        seen.join("\n")
    );
}

/// The service's tasks start, out of band, as ECS starts them: an UpdateService with the
/// desired count, which the emulator takes as the running count.
async fn start_tasks(ecs: &aws_sdk_ecs::Client) {
    ecs.update_service()
        .cluster(CLUSTER)
        .service(APP)
        .desired_count(1)
        .send()
        .await
        .unwrap();
}

/// Wait for an apply started by `apply_until_waiting`: its status, stdout and the rest of
/// its stderr.
fn finish(mut child: Child, rest: Lines<BufReader<ChildStderr>>) -> (bool, String, String) {
    let rest: Vec<String> = rest.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    (status.success(), stdout, rest.join("\n"))
}

/// An apply stopped while it waited for the rollout (a CI timeout) leaves it unfinished: the
/// next plan shows the rollout alone, and the next apply sends nothing to the service but
/// waits until it is stable, then the plan is empty. The emulator's tasks never start by
/// themselves here (MOTO_ECS_SERVICE_RUNNING=0): the test starts them out of band.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_rollout_is_planned_and_the_next_apply_waits_for_it() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "0")]);
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", APP_SPEC);
    // The first apply, whose tasks start while it waits.
    let (child, rest) = apply_until_waiting(&emu, dir.path());
    start_tasks(&ecs).await;
    let (ok, stdout, stderr) = finish(child, rest);
    assert!(ok, "{stdout}\n{stderr}");
    // The service again, whose tasks do not start: the apply is killed while it waits.
    ecs.delete_service()
        .cluster(CLUSTER)
        .service(APP)
        .force(true)
        .send()
        .await
        .unwrap();
    let (mut child, _) = apply_until_waiting(&emu, dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(unlock_after_kill(&emu, Some(dir.path()), "dev"));
    assert_eq!(counts(&ecs).await, (1, 0));

    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [("ecs_service/app".to_string(), "update".to_string())],
        "{p:#}"
    );
    assert_eq!(
        change_of(&p, "ecs_service/app").unwrap()["fields"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{p:#}"
    );
    let f = field(&p, "ecs_service/app", "rollout");
    assert_eq!(
        (f["before"].as_str(), f["after"].as_str()),
        (Some("IN_PROGRESS"), Some("COMPLETED"))
    );

    // The next apply waits for the rollout and sends nothing: the emulator's UpdateService
    // would have started the tasks.
    let (mut child, rest) = apply_until_waiting(&emu, dir.path());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(child.try_wait().unwrap().is_none(), "the apply waits");
    assert_eq!(counts(&ecs).await, (1, 0), "no UpdateService sent");
    // The tasks start (out of band, as ECS would): the wait ends at the waiter's next poll.
    let started = Instant::now();
    start_tasks(&ecs).await;
    let (ok, stdout, stderr) = finish(child, rest);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("1 changed"), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "ended by the wait, not by the 120 s limit"
    );
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

//! `rtech deploy` and `rtech deploy status` against the emulator, whose ECS shim runs service
//! deployments through their lifecycle stages on a clock (MOTO_ECS_DEPLOYMENT_STAGE_SECONDS)
//! and fails, with a circuit-breaker rollback, a deployment of an image tag listed in
//! MOTO_ECS_FAILING_IMAGE_TAGS (scripts/moto_ecs_shim.py).

use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const CLUSTER: &str = "rtech-dev";
const APP: &str = "rtech-dev-app";

const SPEC: &str = r#"
[ecr]
repository = "rtech-e2e-deploying"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
stable_timeout_seconds = 120
"#;

fn emulator() -> Emulator {
    Emulator::start_with(&[
        ("MOTO_ECS_DEPLOYMENT_STAGE_SECONDS", "1"),
        ("MOTO_ECS_FAILING_IMAGE_TAGS", "broken"),
    ])
}

fn deploy(emu: &Emulator, dir: &std::path::Path, tag: &str, code: i32) -> Run {
    push_app_image(emu, Some(dir), "dev", &["--image-tag", tag]);
    run_ok(
        rtech_in(emu, dir).args(["deploy", "--env", "dev", "--image-tag", tag]),
        code,
    )
}

fn status(emu: &Emulator, dir: &std::path::Path) -> J {
    let r = run_ok(
        rtech_in(emu, dir).args(["deploy", "status", "--env", "dev", "--json"]),
        0,
    );
    serde_json::from_str(&r.stdout).expect("deploy status JSON")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_follows_the_deployment_to_success_and_status_reports_it() {
    let emu = emulator();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);

    let r = deploy(&emu, dir.path(), "v2", 0);
    assert!(
        r.stdout.contains(&format!("deployed {APP}:2 (v2) in ")),
        "{}",
        r.stdout
    );
    // The progress line followed the lifecycle stages.
    assert!(r.stderr.contains("stage SCALE_UP"), "{}", r.stderr);
    assert!(r.stderr.contains("stage BAKE_TIME"), "{}", r.stderr);
    assert!(running(&ecs).await.ends_with(&format!("{APP}:2")));

    let s = status(&emu, dir.path());
    assert!(
        s["task_definition"].as_str().unwrap().ends_with(":2"),
        "{s:#}"
    );
    assert_eq!(s["image_tag"], "v2", "{s:#}");
    assert!(
        s["rollback_to"].as_str().is_some_and(|t| t.ends_with(":1")),
        "{s:#}"
    );
    let newest = &s["deployments"][0];
    assert_eq!(newest["status"], "SUCCESSFUL", "{s:#}");
    assert_eq!(newest["image_tag"], "v2", "{s:#}");
    assert!(newest["finished"].is_string(), "{s:#}");
    let text = run_ok(
        rtech_in(&emu, dir.path()).args(["deploy", "status", "--env", "dev"]),
        0,
    );
    assert!(
        text.stdout
            .starts_with(&format!("env dev runs {APP}:2 (v2)\n")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("a rollback goes to {APP}:1 (v1)")),
        "{}",
        text.stdout
    );

    // The deployed image stays: the next plan is empty, and deploying it again does nothing.
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    let again = deploy(&emu, dir.path(), "v2", 0);
    assert!(
        again.stdout.contains("already deployed"),
        "{}",
        again.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deployment_is_rolled_back_and_deploy_exits_1_naming_it() {
    let emu = emulator();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    deploy(&emu, dir.path(), "v2", 0);

    let r = deploy(&emu, dir.path(), "broken", 1);
    assert!(
        r.stdout.contains(&format!(
            "rolled back to {APP}:2: ECS deployment circuit breaker: tasks failed to start"
        )),
        "{}",
        r.stdout
    );
    assert!(running(&ecs).await.ends_with(&format!("{APP}:2")));
    let s = status(&emu, dir.path());
    assert_eq!(
        s["deployments"][0]["status"], "ROLLBACK_SUCCESSFUL",
        "{s:#}"
    );
    assert_eq!(s["deployments"][0]["image_tag"], "broken", "{s:#}");
    assert_eq!(s["image_tag"], "v2", "{s:#}");
    assert!(
        s["rollback_to"].as_str().is_some_and(|t| t.ends_with(":1")),
        "{s:#}"
    );
    // The plan keeps what runs: the rolled-back image is not rolled out again.
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_a_plan_that_changes_more_than_the_app() {
    let emu = emulator();
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    let file = dir.path().join("dev.toml");
    let spec = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        spec.replace(
            "force_delete = true\n\n[app]",
            "force_delete = true\nimmutable_tags = true\n\n[app]",
        ),
    )
    .unwrap();
    let r = deploy(&emu, dir.path(), "v2", 1);
    assert!(
        r.stderr
            .contains("rtech deploy changes only the task definition and the service")
            && r.stderr.contains("ecr_repository/")
            && r.stderr.contains("rtech apply --env dev --image-tag v2"),
        "{}",
        r.stderr
    );
    // Nothing was deployed.
    let s = status(&emu, dir.path());
    assert_eq!(s["deployments"].as_array().unwrap().len(), 1, "{s:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_goes_to_the_previous_revision_or_a_named_tag_and_leaves_the_plan_empty() {
    let emu = emulator();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    deploy(&emu, dir.path(), "v2", 0);
    deploy(&emu, dir.path(), "v3", 0);

    // N-1: from 3 back to 2.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["rollback", "--env", "dev"]),
        0,
    );
    assert!(
        r.stdout
            .contains(&format!("rolled back to {APP}:2 (v2) in ")),
        "{}",
        r.stdout
    );
    assert!(running(&ecs).await.ends_with(&format!("{APP}:2")));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // A named tag: v1, revision 1.
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["rollback", "--env", "dev", "--to", "v1"]),
        0,
    );
    assert!(
        r.stdout
            .contains(&format!("rolled back to {APP}:1 (v1) in ")),
        "{}",
        r.stdout
    );
    assert!(running(&ecs).await.ends_with(&format!("{APP}:1")));
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_during_a_deployment_stops_it_with_rollback() {
    let emu = emulator();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", SPEC);
    apply_in(&emu, dir.path(), "dev", &[]);
    push_app_image(&emu, Some(dir.path()), "dev", &["--image-tag", "v2"]);
    let r = run_ok(
        rtech_in(&emu, dir.path()).args([
            "deploy",
            "--env",
            "dev",
            "--image-tag",
            "v2",
            "--no-wait",
        ]),
        0,
    );
    assert!(
        r.stdout.contains("Deployment of v2 started"),
        "{}",
        r.stdout
    );
    let r = run_ok(
        rtech_in(&emu, dir.path()).args(["rollback", "--env", "dev"]),
        0,
    );
    assert!(
        r.stdout.contains(&format!("rolled back to {APP}:1 in ")),
        "{}",
        r.stdout
    );
    assert!(running(&ecs).await.ends_with(&format!("{APP}:1")));
    let s = status(&emu, dir.path());
    assert_eq!(
        s["deployments"][0]["status"], "ROLLBACK_SUCCESSFUL",
        "{s:#}"
    );
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

/// The env's distributions' invalidations, counted.
async fn invalidations(cf: &aws_sdk_cloudfront::Client) -> usize {
    let list = cf.list_distributions().send().await.unwrap();
    let mut n = 0;
    for d in list
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default()
    {
        let inv = cf
            .list_invalidations()
            .distribution_id(d.id())
            .send()
            .await
            .unwrap();
        n += inv
            .invalidation_list()
            .map(|l| l.items().len())
            .unwrap_or_default();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_deploy_invalidates_the_edge_cache_and_a_rolled_back_one_does_not() {
    let emu = emulator();
    let cf = cloudfront(&emu).await;
    let dir = spec_dir(
        "dev",
        &format!(
            "{SPEC}\n[edge]\ndomain = \"deploy-e2e.example.net\"\nhosted_zone = \"create\"\n\n[edge.cloudfront]\ninvalidate_on_deploy = [\"/*\"]\n"
        ),
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(invalidations(&cf).await, 0);

    let r = deploy(&emu, dir.path(), "v2", 0);
    assert!(
        r.stdout.contains("Invalidation ") && r.stdout.contains("of /* on distribution"),
        "{}",
        r.stdout
    );
    assert_eq!(invalidations(&cf).await, 1);

    deploy(&emu, dir.path(), "broken", 1);
    assert_eq!(
        invalidations(&cf).await,
        1,
        "a rolled-back deploy invalidates nothing"
    );
}

//! The real env files end to end: prod's whole stack from empty (network, data tier and the
//! container platform), an image deployed with `--image-tag`, and dev's destroy checked through
//! every container service's own API (never through rtech).

use crate::emulator::Emulator;
use crate::support::*;

/// The image of the newest revision of `family`, through ECS itself.
async fn newest_image(ecs: &aws_sdk_ecs::Client, family: &str) -> String {
    let td = ecs
        .describe_task_definition()
        .task_definition(family)
        .send()
        .await
        .unwrap();
    td.task_definition().unwrap().container_definitions()[0]
        .image()
        .unwrap()
        .to_string()
}

/// The index of the first progress line `<id>: <verb>…` (started) or `<id>: <verb>` (ended).
fn line_of(stderr: &str, id: &str, verb: &str) -> usize {
    let head = format!("{id}: {verb}");
    stderr
        .lines()
        .position(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no `{head}` line in:\n{stderr}"))
}

/// The whole stack's apply log: each dependency was created before its dependant started, and
/// independent parts ran side by side (a change started while another was still in flight).
fn assert_dependency_order_and_overlap(stderr: &str) {
    for (dep, dependant) in [
        ("vpc/main", "subnet/private-a"),
        ("subnet/private-a", "docdb_subnet_group/main"),
        ("log_group/docdb-audit", "docdb_cluster/main"),
        ("docdb_cluster/main", "docdb_instance/1"),
        ("log_group/redis-slow-log", "redis/main"),
        ("secret/redis", "redis/main"),
        ("certificate_validation/main", "listener/https"),
        ("listener/https", "ecs_service/app"),
        ("ecs_service/app", "scalable_target/app"),
        ("sns_topic/alerts", "alarm/ecs-cpu"),
        ("load_balancer/main", "distribution/main"),
    ] {
        let done = line_of(stderr, dep, "created");
        let started = line_of(stderr, dependant, "creating…");
        assert!(
            done < started,
            "{dependant} started (line {started}) before {dep} was created (line {done})"
        );
    }
    let creating: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_suffix(": creating…"))
        .collect();
    let overlapped = creating.iter().any(|id| {
        let start = line_of(stderr, id, "creating…");
        let end = line_of(stderr, id, "created");
        stderr
            .lines()
            .take(end)
            .skip(start + 1)
            .any(|l| l.ends_with(": creating…"))
    });
    assert!(overlapped, "no two changes ran at once:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_from_empty_then_an_image_deploy_is_one_revision_and_one_service_update() {
    let emu = Emulator::start();
    let r = apply(&emu, "prod");
    // 110 resources; the repository, the 110th, was made before by the image push
    // (support::push_app_image), as a first deploy does (docs/usage.md, "The first deploy").
    assert!(
        r.stdout
            .contains("Apply complete: 109 added, 0 changed, 0 replaced, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert_plan_empty(&emu, "prod");
    assert_dependency_order_and_overlap(&r.stderr);

    let out = output_json(&emu, "prod");
    assert!(
        out["ecr_repository_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/rtech-app")),
        "{out:#}"
    );
    assert_eq!(out["ecs_cluster_name"], "rtech-prod");
    assert_eq!(out["ecs_service_name"], "rtech-prod-app");
    assert_eq!(out["task_definition_revision"], "1");
    assert!(out["target_group_arns"]["blue"].is_string(), "{out:#}");

    // The task definition runs the spec's default tag on first create.
    let ecs = ecs(&emu).await;
    assert!(newest_image(&ecs, "rtech-prod-app")
        .await
        .ends_with("/rtech-app:latest"));

    // CI pushes and deploys a commit: exactly one new revision, and the service follows it.
    push_app_image(&emu, None, "prod", &["--image-tag", "3f9c2ab"]);
    let p = plan_json_with(rtech(&emu), "prod", &["--image-tag", "3f9c2ab"]);
    assert_eq!(
        changes(&p),
        vec![
            ("ecs_task_definition/app".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string()),
        ]
    );
    apply_with(rtech(&emu), "prod", &["--image-tag", "3f9c2ab"]);
    assert!(newest_image(&ecs, "rtech-prod-app")
        .await
        .ends_with("/rtech-app:3f9c2ab"));
    assert_eq!(output_json(&emu, "prod")["task_definition_revision"], "2");
    // An infrastructure-only run keeps the deployed image: nothing to do.
    assert_plan_empty(&emu, "prod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_destroy_leaves_no_resource_of_ours_in_any_service() {
    let emu = Emulator::start();
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    // Everything was there: the counts below are not zero by accident.
    let built = leftovers(&emu, "dev").await;
    for kind in [
        "certificate",
        "hosted_zone",
        "record",
        "secret",
        "docdb_cluster",
        "redis",
        "log_group",
    ] {
        assert!(built[kind] > 0, "{kind} was built: {built:?}");
    }
    destroy(&emu, "dev");

    // Through each service's own API: EC2, ECR, IAM, CloudWatch Logs, ELBv2, ECS, Application
    // Auto Scaling, ACM, Route 53, CloudFront, S3, Secrets Manager, DocumentDB, ElastiCache,
    // SNS and CloudWatch.
    let left = platform(&emu, "dev").await;
    assert!(left.values().all(|n| *n == 0), "{left:?}");
    let left = tagged(&ec2(&emu).await, "dev").await;
    assert!(left.values().all(|n| *n == 0), "{left:?}");
    let left = leftovers(&emu, "dev").await;
    assert!(left.values().all(|n| *n == 0), "{left:?}");
}

/// dev and staging from an empty account in one apply each, then a plan with
/// `--detailed-exitcode` exits 0 (nothing to do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_and_staging_from_empty_then_the_plan_exits_0() {
    let emu = Emulator::start();
    for env in ["dev", "staging"] {
        let r = apply(&emu, env);
        assert!(r.stdout.contains("Apply complete: "), "{}", r.stdout);
        run_ok(
            rtech(&emu).args(["plan", "--env", env, "--detailed-exitcode"]),
            0,
        );
    }
}

/// A saved prod plan from an empty account applies exactly what it says, and then there is
/// nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_prod_plan_applies_exactly() {
    let emu = Emulator::start();
    push_app_image(&emu, None, "prod", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prod.plan");
    run_ok(
        rtech(&emu)
            .args(["plan", "--env", "prod", "--detailed-exitcode", "--out"])
            .arg(&file),
        2,
    );
    let shown = run_ok(rtech(&emu).arg("show").arg(&file).arg("--json"), 0);
    let plan: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let add = plan["summary"]["add"].as_u64().unwrap();
    assert!(add > 70, "the whole stack: {add}");
    let r = run_ok(rtech(&emu).args(["apply", "--env", "prod"]).arg(&file), 0);
    assert!(
        r.stdout.contains(&format!(
            "Apply complete: {add} added, 0 changed, 0 replaced, 0 destroyed."
        )),
        "{}",
        r.stdout
    );
    run_ok(
        rtech(&emu).args(["plan", "--env", "prod", "--detailed-exitcode"]),
        0,
    );
}

//! The real env files end to end: prod's whole stack from empty (network, data tier and the
//! container platform), an image deployed with `--image-tag`, and dev's destroy checked through
//! every container service's own API (never through rtech).

use crate::emulator::Emulator;
use crate::support::*;

fn output(emu: &Emulator, env: &str) -> serde_json::Value {
    let r = run_ok(rtech(emu).args(["output", "--env", env, "--json"]), 0);
    serde_json::from_str(&r.stdout).expect("output JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_from_empty_then_an_image_deploy_is_one_revision_and_one_service_update() {
    let emu = Emulator::start();
    let r = apply(&emu, "prod");
    assert!(
        r.stdout
            .contains("Apply complete: 63 added, 0 changed, 0 replaced, 0 destroyed."),
        "{}",
        r.stdout
    );
    assert_plan_empty(&emu, "prod");

    let out = output(&emu, "prod");
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
    let image =
        |td: aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput| {
            td.task_definition().unwrap().container_definitions()[0]
                .image()
                .unwrap()
                .to_string()
        };
    let td = ecs
        .describe_task_definition()
        .task_definition("rtech-prod-app")
        .send()
        .await
        .unwrap();
    assert!(image(td).ends_with("/rtech-app:latest"));

    // CI deploys a commit: exactly one new revision, and the service follows it.
    let p = {
        let r = run(rtech(&emu).args([
            "plan",
            "--env",
            "prod",
            "--json",
            "--detailed-exitcode",
            "--image-tag",
            "3f9c2ab",
        ]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()
    };
    assert_eq!(
        changes(&p),
        vec![
            ("ecs_task_definition/app".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string()),
        ]
    );
    run_ok(
        rtech(&emu).args([
            "apply",
            "--env",
            "prod",
            "--auto-approve",
            "--image-tag",
            "3f9c2ab",
        ]),
        0,
    );
    let td = ecs
        .describe_task_definition()
        .task_definition("rtech-prod-app")
        .send()
        .await
        .unwrap();
    assert!(image(td).ends_with("/rtech-app:3f9c2ab"));
    assert_eq!(output(&emu, "prod")["task_definition_revision"], "2");
    // An infrastructure-only run keeps the deployed image: nothing to do.
    assert_plan_empty(&emu, "prod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_destroy_leaves_no_container_resource_of_ours() {
    let emu = Emulator::start();
    apply(&emu, "dev");
    assert_plan_empty(&emu, "dev");
    run_ok(
        rtech(&emu).args(["destroy", "--env", "dev", "--auto-approve"]),
        0,
    );

    let ecr = ecr(&emu).await;
    let repos = ecr.describe_repositories().send().await.unwrap();
    assert!(repos.repositories().is_empty(), "{repos:?}");

    let iam = iam(&emu).await;
    for role in ["rtech-dev-ecs-execution", "rtech-dev-ecs-task"] {
        let e = iam.get_role().role_name(role).send().await;
        assert!(e.is_err(), "{role} still exists");
    }

    let logs = logs(&emu).await;
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/rtech-dev")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty(), "{groups:?}");

    let elb = elbv2(&emu).await;
    let tgs = elb.describe_target_groups().send().await.unwrap();
    assert!(tgs.target_groups().is_empty(), "{tgs:?}");

    let ecs = ecs(&emu).await;
    let clusters = ecs
        .describe_clusters()
        .clusters("rtech-dev")
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() != Some("ACTIVE")),
        "{clusters:?}"
    );
    let defs = ecs
        .list_task_definitions()
        .family_prefix("rtech-dev-app")
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert!(defs.task_definition_arns().is_empty(), "{defs:?}");

    let scaling = autoscaling(&emu).await;
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    assert!(targets.scalable_targets().is_empty(), "{targets:?}");
}

//! The ECS cluster, task definition and service end to end, on temporary env specs with
//! `[ecr]` and `[app]` (and the data tier where the container's values come from it): apply →
//! empty plan; `--image-tag` is exactly one new revision and a service update, and the next
//! apply without it keeps the image; revisions beyond `keep_revisions` are deregistered; a
//! desired count the scaler owns is drift only outside its range; out-of-band changes and
//! deletes are shown and repaired; a same-named cluster that is not ours is never touched;
//! destroy leaves nothing of ours. Every check goes through AWS's own APIs (the SDK).
//! The emulator runs a service's tasks and completes its rollout as ECS does for a healthy
//! service (scripts/moto_ecs_shim.py), so the product's own waits run unchanged.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    Cluster, ClusterField, ClusterSetting, ClusterSettingName, ContainerDefinition, Service,
    ServiceField, TaskDefinitionStatus,
};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const CLUSTER: &str = "rtech-dev";
const APP: &str = "rtech-dev-app";

/// dev-sized: one task, two revisions kept, no scaling.
const DEV_APP: &str = r#"
[ecr]
repository = "rtech-e2e-ecs"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 1
keep_revisions = 2
stable_timeout_seconds = 120
log_retention_days = 7

[app.environment]
NODE_ENV = "development"
"#;

/// With auto scaling: the scaler owns the desired count inside 1..=4.
const SCALED_APP: &str = r#"
[ecr]
repository = "rtech-e2e-ecs"
force_delete = true

[app]
image_tag = "v1"
cpu = 256
memory = 512
desired_count = 2
container_insights = true
stable_timeout_seconds = 120

[app.environment]
NODE_ENV = "production"

[app.scaling]
min = 1
max = 4
"#;

/// The data tier the container reads from: DocumentDB (MONGODB_URI) and Redis with TLS
/// (`DEV_REDIS`: REDIS_HOST, REDIS_PORT and the AUTH token).
const DOCDB: &str = r#"
[docdb]
instance_class = "db.t3.medium"
instances = 1
backup_retention_days = 1
skip_final_snapshot = true
apply_immediately = true
"#;

/// The changed field paths of `id` in a plan.
fn paths<'a>(plan: &'a J, id: &str) -> Vec<&'a str> {
    change_of(plan, id).unwrap_or_else(|| panic!("no change for {id}: {plan:#}"))["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect()
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

// ---------------------------------------------------------------------------------------------
// AWS's own view

fn ecs_tags(t: &[aws_sdk_ecs::types::Tag]) -> BTreeMap<String, String> {
    tag_map(t.iter().map(|t| (t.key(), t.value())))
}

fn ours(t: &[aws_sdk_ecs::types::Tag]) -> bool {
    is_ours(&ecs_tags(t), "dev")
}

async fn cluster(ecs: &aws_sdk_ecs::Client) -> Option<Cluster> {
    ecs.describe_clusters()
        .clusters(CLUSTER)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .unwrap()
        .clusters()
        .iter()
        .find(|c| c.status() == Some("ACTIVE"))
        .cloned()
}

fn insights(c: &Cluster) -> Option<String> {
    c.settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value().map(str::to_string))
}

/// The ACTIVE service (None when there is none, or no cluster).
async fn service(ecs: &aws_sdk_ecs::Client) -> Option<Service> {
    match ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(APP)
        .include(ServiceField::Tags)
        .send()
        .await
    {
        Ok(o) => o
            .services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .cloned(),
        Err(e) => {
            let code = e.as_service_error().and_then(|s| {
                aws_smithy_types::error::metadata::ProvideErrorMetadata::code(s).map(String::from)
            });
            assert_eq!(code.as_deref(), Some("ClusterNotFoundException"), "{e:?}");
            None
        }
    }
}

/// ACTIVE revisions of our family, oldest first.
async fn active_revisions(ecs: &aws_sdk_ecs::Client) -> Vec<i32> {
    let arns = ecs
        .list_task_definitions()
        .family_prefix(APP)
        .status(TaskDefinitionStatus::Active)
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

fn revision_of(arn: &str) -> i32 {
    arn.rsplit(':').next().unwrap().parse().unwrap()
}

/// The container the service runs now.
async fn running_container(ecs: &aws_sdk_ecs::Client) -> ContainerDefinition {
    let s = service(ecs).await.expect("our service");
    ecs.describe_task_definition()
        .task_definition(s.task_definition().unwrap())
        .send()
        .await
        .unwrap()
        .task_definition()
        .unwrap()
        .container_definitions()[0]
        .clone()
}

async fn set_desired_count(ecs: &aws_sdk_ecs::Client, n: i32) {
    ecs.update_service()
        .cluster(CLUSTER)
        .service(APP)
        .desired_count(n)
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_tag_is_one_new_revision_and_later_applies_keep_it() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", DEV_APP);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    let c = cluster(&ecs).await.expect("our cluster");
    assert!(ours(c.tags()), "{:?}", c.tags());
    assert_eq!(insights(&c).as_deref(), Some("enabled"));
    let s = service(&ecs).await.expect("our service");
    assert!(ours(s.tags()));
    assert_eq!(s.desired_count(), 1);
    assert_eq!(active_revisions(&ecs).await, [1]);
    let calls_with_one_revision = observe_in(&emu, dir.path(), "dev", &[]).calls;
    let image = running_container(&ecs).await.image().unwrap().to_string();
    assert!(image.ends_with("/rtech-e2e-ecs:v1"), "{image}");
    let repo = image.trim_end_matches(":v1").to_string();

    // CI pushes the commit's image and passes its tag: exactly one new revision and a service
    // update.
    push_app_image(&emu, Some(dir.path()), "dev", &["--image-tag", "abc123"]);
    let p = plan_json_in(&emu, dir.path(), "dev", &["--image-tag", "abc123"]);
    assert_eq!(
        changes(&p),
        [
            ("ecs_task_definition/app".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string())
        ],
        "{p:#}"
    );
    assert_eq!(paths(&p, "ecs_task_definition/app"), ["image_tag"]);
    assert_eq!(
        field(&p, "ecs_task_definition/app", "image_tag")["after"],
        "abc123"
    );
    assert_eq!(paths(&p, "ecs_service/app"), ["task_definition"]);
    assert_eq!(
        field(&p, "ecs_service/app", "task_definition")["known_after_apply"],
        true
    );
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "abc123"]);
    assert_eq!(active_revisions(&ecs).await, [1, 2]);
    let s = service(&ecs).await.unwrap();
    assert_eq!(revision_of(s.task_definition().unwrap()), 2);
    assert_eq!(
        running_container(&ecs).await.image(),
        Some(format!("{repo}:abc123").as_str())
    );

    // An infrastructure-only apply keeps the deployed image (no roll back to the spec's v1).
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    assert_no_changes(&plan_json_in(
        &emu,
        dir.path(),
        "dev",
        &["--image-tag", "abc123"],
    ));
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(active_revisions(&ecs).await, [1, 2]);
    // Observe reads the newest revision only, however many there are.
    assert_eq!(
        observe_in(&emu, dir.path(), "dev", &[]).calls,
        calls_with_one_revision
    );

    // keep_revisions = 2: older revisions are deregistered as new ones come.
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "def456"]);
    assert_eq!(active_revisions(&ecs).await, [2, 3]);
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "0a1b2c"]);
    assert_eq!(active_revisions(&ecs).await, [3, 4]);
    let s = service(&ecs).await.unwrap();
    assert_eq!(revision_of(s.task_definition().unwrap()), 4);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scalers_count_is_drift_only_outside_its_range_and_insights_are_repaired() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", SCALED_APP);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    assert_eq!(service(&ecs).await.unwrap().desired_count(), 2);

    // The scaler moved it within 1..=4: not drift, and apply leaves it.
    set_desired_count(&ecs, 3).await;
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(service(&ecs).await.unwrap().desired_count(), 3);

    // Outside the range: drift, repaired to the nearest bound.
    set_desired_count(&ecs, 7).await;
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [("ecs_service/app".to_string(), "update".to_string())],
        "{p:#}"
    );
    assert_eq!(paths(&p, "ecs_service/app"), ["desired_count"]);
    let f = field(&p, "ecs_service/app", "desired_count");
    assert_eq!(
        (f["before"].as_i64(), f["after"].as_i64()),
        (Some(7), Some(4))
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(service(&ecs).await.unwrap().desired_count(), 4);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // Container Insights turned off out of band.
    ecs.update_cluster()
        .cluster(CLUSTER)
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("disabled")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [("ecs_cluster/main".to_string(), "update".to_string())],
        "{p:#}"
    );
    assert_eq!(paths(&p, "ecs_cluster/main"), ["container_insights"]);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        insights(&cluster(&ecs).await.unwrap()).as_deref(),
        Some("enabled")
    );
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_service_delete_is_a_create_and_a_tag_removed_is_restored() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", DEV_APP);
    apply_in(&emu, dir.path(), "dev", &[]);
    let arn = service(&ecs)
        .await
        .unwrap()
        .service_arn()
        .unwrap()
        .to_string();

    // A tag removed from the service: exactly that drift.
    ecs.untag_resource()
        .resource_arn(&arn)
        .tag_keys("Environment")
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [("ecs_service/app".to_string(), "update".to_string())],
        "{p:#}"
    );
    assert_eq!(paths(&p, "ecs_service/app"), ["tags.Environment"]);
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        ecs_tags(service(&ecs).await.unwrap().tags())
            .get("Environment")
            .map(String::as_str),
        Some("test")
    );

    // Deleted out of band.
    set_desired_count(&ecs, 0).await;
    ecs.delete_service()
        .cluster(CLUSTER)
        .service(APP)
        .force(true)
        .send()
        .await
        .unwrap();
    assert!(service(&ecs).await.is_none());
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [("ecs_service/app".to_string(), "create".to_string())],
        "{p:#}"
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    let s = service(&ecs).await.expect("recreated");
    assert!(ours(s.tags()));
    assert_eq!(s.desired_count(), 1);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    // The cluster deleted out of band (AWS wants its services gone first) → the cluster and
    // the service are creates, and apply builds both again.
    set_desired_count(&ecs, 0).await;
    ecs.delete_service()
        .cluster(CLUSTER)
        .service(APP)
        .force(true)
        .send()
        .await
        .unwrap();
    ecs.delete_cluster().cluster(CLUSTER).send().await.unwrap();
    assert!(cluster(&ecs).await.is_none());
    let mut got = changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    got.sort();
    assert_eq!(
        got,
        [
            ("ecs_cluster/main".to_string(), "create".to_string()),
            ("ecs_service/app".to_string(), "create".to_string()),
        ]
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    let c = cluster(&ecs).await.expect("recreated");
    assert_eq!(c.status(), Some("ACTIVE"));
    assert!(service(&ecs).await.is_some());
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_cluster_without_our_tags_is_a_conflict_and_never_touched() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", DEV_APP);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("disabled")
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("owner")
                .value("someone-else")
                .build(),
        )
        .send()
        .await
        .unwrap();

    assert_conflicts_left_alone_in(&emu, dir.path(), "dev", &["ecs_cluster/main"], &[]);

    // Untouched: still there, same setting, same tags, no service of ours in it.
    let c = cluster(&ecs).await.expect("their cluster");
    assert_eq!(insights(&c).as_deref(), Some("disabled"));
    assert_eq!(
        ecs_tags(c.tags()),
        BTreeMap::from([("owner".to_string(), "someone-else".to_string())])
    );
    assert!(service(&ecs).await.is_none());
    assert!(active_revisions(&ecs).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_leaves_nothing_of_ours_and_a_revision_registered_by_hand_alone() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", DEV_APP);
    apply_in(&emu, dir.path(), "dev", &[]);
    apply_in(&emu, dir.path(), "dev", &["--image-tag", "abc123"]);
    assert_eq!(active_revisions(&ecs).await, [1, 2]);

    // Someone registers a revision of our family by hand, without our tags: drift (their
    // revision is compared and flagged), repaired by a revision of ours on top.
    ecs.register_task_definition()
        .family(APP)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("debug:hand")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let p = plan_json_in(&emu, dir.path(), "dev", &[]);
    assert_eq!(
        changes(&p),
        [
            ("ecs_task_definition/app".to_string(), "update".to_string()),
            ("ecs_service/app".to_string(), "update".to_string())
        ],
        "{p:#}"
    );
    let extras = field(&p, "ecs_task_definition/app", "extras");
    assert!(
        extras["before"]
            .to_string()
            .contains("without rtech's tags"),
        "{extras:#}"
    );
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));
    let s = service(&ecs).await.unwrap();
    assert_eq!(revision_of(s.task_definition().unwrap()), 4);
    // keep_revisions = 2 counts every ACTIVE revision; revision 1 (ours) went, theirs stays.
    assert_eq!(active_revisions(&ecs).await, [2, 3, 4]);

    let d = destroy_in(&emu, dir.path(), "dev");
    for id in [
        "ecs_service/app",
        "ecs_task_definition/app",
        "ecs_cluster/main",
    ] {
        assert!(d.stdout.contains(id), "{id}: {}", d.stdout);
    }
    assert!(cluster(&ecs).await.is_none(), "the cluster is gone");
    assert!(service(&ecs).await.is_none(), "the service is gone");
    // No ACTIVE revision of ours; the one registered by hand is left alone.
    assert_eq!(active_revisions(&ecs).await, [3]);
    let theirs = ecs
        .describe_task_definition()
        .task_definition(format!("{APP}:3"))
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert!(theirs.tags().is_empty());
    // Nothing of ours is left to plan a delete for; their revision makes the family a conflict.
    let p = run(rtech_in(&emu, dir.path()).args(["plan", "--env", "dev"]));
    assert!(
        p.stdout.contains("ecs_task_definition/app: conflict:"),
        "{}",
        p.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_tier_reaches_the_container_as_its_endpoint_and_ecs_secrets() {
    let emu = Emulator::start();
    let ecs = ecs(&emu).await;
    let dir = spec_dir("dev", &format!("{DOCDB}{DEV_REDIS}{DEV_APP}"));
    apply_in(&emu, dir.path(), "dev", &[]);
    assert_no_changes(&plan_json_in(&emu, dir.path(), "dev", &[]));

    let docdb_arn = secret_arn(&emu, "rtech/dev/docdb").await;
    let redis_arn = secret_arn(&emu, "rtech/dev/redis").await;
    let endpoint = elasticache(&emu)
        .await
        .describe_replication_groups()
        .replication_group_id("rtech-dev-redis")
        .send()
        .await
        .unwrap()
        .replication_groups()[0]
        .node_groups()[0]
        .primary_endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_string();

    let c = running_container(&ecs).await;
    let env: BTreeMap<&str, &str> = c
        .environment()
        .iter()
        .filter_map(|e| Some((e.name()?, e.value()?)))
        .collect();
    assert_eq!(
        env,
        BTreeMap::from([
            ("NODE_ENV", "development"),
            ("REDIS_HOST", endpoint.as_str()),
            ("REDIS_PORT", "6379"),
        ])
    );
    let secrets: BTreeMap<&str, &str> = c
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    assert_eq!(
        secrets,
        BTreeMap::from([
            ("MONGODB_URI", format!("{docdb_arn}:uri::").as_str()),
            ("REDIS_AUTH_TOKEN", format!("{redis_arn}:token::").as_str()),
        ])
    );
    let lc = c.log_configuration().unwrap();
    assert_eq!(
        lc.options()
            .unwrap()
            .get("awslogs-group")
            .map(String::as_str),
        Some("/ecs/rtech-dev-app")
    );
}

/// A service whose tasks never start (the emulator started with MOTO_ECS_SERVICE_RUNNING=0, as
/// when ECS cannot pull the image): the real waiter runs out of time, and apply fails naming the
/// service, its rollout and its events — no fixed sleep, no success pretended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_becomes_stable_fails_apply_with_its_rollout() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "0")]);
    let dir = spec_dir(
        "dev",
        &DEV_APP.replace(
            "stable_timeout_seconds = 120",
            "stable_timeout_seconds = 30",
        ),
    );
    push_app_image(&emu, Some(dir.path()), "dev", &[]);
    let started = std::time::Instant::now();
    let r = run(rtech_in(&emu, dir.path()).args(["apply", "--env", "dev", "--auto-approve"]));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert!(all.contains("ecs_service/app"), "{all}");
    assert!(all.contains("ServiceNotStable"), "{all}");
    assert!(all.contains("not stable within 30 s"), "{all}");
    assert!(all.contains("0/1 tasks running"), "{all}");
    assert!(all.contains("latest events"), "{all}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "bounded by stable_timeout_seconds"
    );
    // What was created stays, and the next plan starts from it.
    assert!(service(&ecs(&emu).await).await.is_some());
}

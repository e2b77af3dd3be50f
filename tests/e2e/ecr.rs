//! ECR repository and the app's CloudWatch Logs group end to end, on temporary env specs with
//! `[ecr]` and `[app]` sections. Applies and plans are scoped with
//! `--target ecr_repository/app --target log_group/app` (neither has dependencies), so these
//! tests do not depend on the rest of the container platform; destroy covers the whole env.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ecr::types::{ImageScanningConfiguration, Repository, Tag};

use crate::emulator::Emulator;
use crate::support::*;

const REPO: &str = "rtech-e2e-app";
const GROUP: &str = "/ecs/rtech-dev-app";
const TARGETS: [&str; 4] = [
    "--target",
    "ecr_repository/app",
    "--target",
    "log_group/app",
];

fn sections(force_delete: bool) -> String {
    format!(
        r#"
[ecr]
repository = "{REPO}"
immutable_tags = false
keep_tagged_images = 10
untagged_expire_days = 1
force_delete = {force_delete}

[app]
log_retention_days = 7
"#
    )
}

/// The targeted apply: neither target runs the app, so no image is pushed (an image in the
/// repository would change what deleting it does).
fn apply_scoped(emu: &Emulator, dir: &Path) -> Run {
    apply_with(rtech_in(emu, dir), "dev", &TARGETS)
}

fn plan_scoped(emu: &Emulator, dir: &Path) -> serde_json::Value {
    plan_json_in(emu, dir, "dev", &TARGETS)
}

fn plan_is_empty(emu: &Emulator, dir: &Path) {
    assert_plan_empty_in(emu, dir, "dev", &TARGETS);
}

/// API calls the plan's observe made (its verbose line "observed N resources with M API calls").
fn observe_calls(emu: &Emulator, dir: &Path) -> usize {
    observe_in(emu, dir, "dev", &TARGETS).calls
}

/// The only change in a plan, and the paths of its fields.
fn only_change(p: &serde_json::Value) -> (String, String, Vec<String>) {
    let ch = changes(p);
    assert_eq!(ch.len(), 1, "{ch:?}");
    let fields = p["changes"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    (ch[0].0.clone(), ch[0].1.clone(), fields)
}

async fn repo(ecr: &aws_sdk_ecr::Client, name: &str) -> Option<Repository> {
    ecr.describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .iter()
        .find(|r| r.repository_name() == Some(name))
        .cloned()
}

async fn repo_tags(ecr: &aws_sdk_ecr::Client, arn: &str) -> BTreeMap<String, String> {
    ecr.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn policy_json(ecr: &aws_sdk_ecr::Client, name: &str) -> serde_json::Value {
    let p = ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
        .unwrap();
    serde_json::from_str(p.lifecycle_policy_text().unwrap()).unwrap()
}

async fn group(
    logs: &aws_sdk_cloudwatchlogs::Client,
) -> Option<aws_sdk_cloudwatchlogs::types::LogGroup> {
    logs.describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(GROUP))
        .cloned()
}

async fn group_tags(logs: &aws_sdk_cloudwatchlogs::Client) -> BTreeMap<String, String> {
    let g = group(logs).await.expect("the log group");
    let arn = g.log_group_arn().unwrap();
    logs.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// PutImageScanningConfiguration with scanOnPush false. The SDK leaves a false boolean out of
/// the request (`"imageScanningConfiguration": {}`, which ECR reads as false) and moto 5.2.5
/// ignores an empty configuration, so the test writes the field explicitly.
async fn scan_on_push_off(ecr: &aws_sdk_ecr::Client) {
    ecr.put_image_scanning_configuration()
        .repository_name(REPO)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(false)
                .build(),
        )
        .customize()
        .mutate_request(|req| {
            let body = format!(
                r#"{{"repositoryName":"{REPO}","imageScanningConfiguration":{{"scanOnPush":false}}}}"#
            );
            req.headers_mut()
                .insert("content-length", body.len().to_string());
            *req.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        })
        .send()
        .await
        .unwrap();
    let r = repo(ecr, REPO).await.unwrap();
    assert_eq!(
        r.image_scanning_configuration().map(|c| c.scan_on_push()),
        Some(false),
        "scan on push is off"
    );
}

/// Push an image (a manifest only; the emulator does not check layers).
async fn push_image(ecr: &aws_sdk_ecr::Client, tag: &str) {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        },
        "layers": []
    });
    ecr.put_image()
        .repository_name(REPO)
        .image_manifest(manifest.to_string())
        .image_tag(tag)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_from_empty_builds_repository_and_log_group_and_the_next_plan_is_empty() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let dir = spec_dir("dev", &sections(true));

    let p = plan_scoped(&emu, dir.path());
    assert_eq!(
        changes(&p),
        [
            ("ecr_repository/app".to_string(), "create".to_string()),
            ("log_group/app".to_string(), "create".to_string())
        ]
    );
    let r = apply_scoped(&emu, dir.path());
    assert!(
        r.stderr.contains("ecr_repository/app: created"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("log_group/app: created"), "{}", r.stderr);
    plan_is_empty(&emu, dir.path());

    // The repository, through ECR itself.
    let rp = repo(&ecr, REPO).await.expect("the repository");
    assert_eq!(
        rp.image_scanning_configuration().map(|c| c.scan_on_push()),
        Some(true)
    );
    assert_eq!(
        rp.image_tag_mutability().map(|m| m.as_str()),
        Some("MUTABLE")
    );
    assert_eq!(
        rp.encryption_configuration()
            .map(|e| e.encryption_type().as_str()),
        Some("AES256")
    );
    let t = repo_tags(&ecr, rp.repository_arn().unwrap()).await;
    assert_eq!(t["rtech:id"], "ecr_repository/app");
    assert_eq!(t["rtech:env"], "dev");
    assert_eq!(t["rtech:force-delete"], "true");
    assert_eq!(t["Environment"], "test");
    let pol = policy_json(&ecr, REPO).await;
    assert_eq!(pol["rules"][0]["selection"]["tagStatus"], "untagged");
    assert_eq!(
        pol["rules"][0]["selection"]["countType"],
        "sinceImagePushed"
    );
    assert_eq!(pol["rules"][0]["selection"]["countNumber"], 1);
    assert_eq!(pol["rules"][1]["selection"]["tagStatus"], "tagged");
    assert_eq!(pol["rules"][1]["selection"]["tagPatternList"][0], "*");
    assert_eq!(pol["rules"][1]["selection"]["countNumber"], 10);

    // The log group.
    let g = group(&logs).await.expect("the log group");
    assert_eq!(g.retention_in_days(), Some(7));
    let t = group_tags(&logs).await;
    assert_eq!(t["rtech:id"], "log_group/app");
    assert_eq!(t["Name"], GROUP);

    // Other repositories in the account are listed (ECR has no tag filter) and left alone: the
    // env's tag index says which are ours, so they cost observe no call at all (each cost one
    // ListTagsForResource before the index listed repositories).
    let before = observe_calls(&emu, dir.path());
    for name in ["another-team", "yet-another", "and-one-more"] {
        ecr.create_repository()
            .repository_name(name)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(observe_calls(&emu, dir.path()), before);
    plan_is_empty(&emu, dir.path());

    // Applying again changes nothing.
    let again = apply_scoped(&emu, dir.path());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_changes_are_exactly_that_drift_and_are_repaired() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let dir = spec_dir("dev", &sections(true));
    apply_scoped(&emu, dir.path());

    // Scan on push turned off.
    scan_on_push_off(&ecr).await;
    let p = plan_scoped(&emu, dir.path());
    assert_eq!(
        only_change(&p),
        (
            "ecr_repository/app".into(),
            "update".into(),
            vec!["scan_on_push".to_string()]
        )
    );
    assert_eq!(p["changes"][0]["fields"][0]["before"], false);
    assert_eq!(p["changes"][0]["fields"][0]["after"], true);
    apply_scoped(&emu, dir.path());
    assert_eq!(
        repo(&ecr, REPO)
            .await
            .unwrap()
            .image_scanning_configuration()
            .map(|c| c.scan_on_push()),
        Some(true)
    );
    plan_is_empty(&emu, dir.path());

    // Retention changed.
    logs.put_retention_policy()
        .log_group_name(GROUP)
        .retention_in_days(90)
        .send()
        .await
        .unwrap();
    let p = plan_scoped(&emu, dir.path());
    assert_eq!(
        only_change(&p),
        (
            "log_group/app".into(),
            "update".into(),
            vec!["retention_in_days".to_string()]
        )
    );
    assert_eq!(p["changes"][0]["fields"][0]["before"], 90);
    assert_eq!(p["changes"][0]["fields"][0]["after"], 7);
    apply_scoped(&emu, dir.path());
    assert_eq!(group(&logs).await.unwrap().retention_in_days(), Some(7));
    plan_is_empty(&emu, dir.path());

    // The same lifecycle policy written differently (key order, whitespace) is no drift.
    let same = policy_json(&ecr, REPO).await;
    ecr.put_lifecycle_policy()
        .repository_name(REPO)
        .lifecycle_policy_text(
            serde_json::to_string_pretty(&same)
                .unwrap()
                .replace("\"rulePriority\": 1,", "\"rulePriority\" :   1 ,"),
        )
        .send()
        .await
        .unwrap();
    plan_is_empty(&emu, dir.path());

    // A changed lifecycle policy is.
    ecr.put_lifecycle_policy()
        .repository_name(REPO)
        .lifecycle_policy_text(
            r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#,
        )
        .send()
        .await
        .unwrap();
    let p = plan_scoped(&emu, dir.path());
    assert_eq!(
        only_change(&p),
        (
            "ecr_repository/app".into(),
            "update".into(),
            vec!["lifecycle_policy.rules".to_string()]
        )
    );
    apply_scoped(&emu, dir.path());
    assert_eq!(
        policy_json(&ecr, REPO).await["rules"][1]["selection"]["countNumber"],
        10
    );
    plan_is_empty(&emu, dir.path());

    // A tag removed and one added out of band: only tags change.
    let arn = repo(&ecr, REPO)
        .await
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_string();
    ecr.untag_resource()
        .resource_arn(&arn)
        .tag_keys("Environment")
        .send()
        .await
        .unwrap();
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("extra").value("x").build().unwrap())
        .send()
        .await
        .unwrap();
    let p = plan_scoped(&emu, dir.path());
    let (id, action, fields) = only_change(&p);
    assert_eq!(
        (id.as_str(), action.as_str()),
        ("ecr_repository/app", "update")
    );
    assert_eq!(fields, ["tags.Environment", "tags.extra"]);
    apply_scoped(&emu, dir.path());
    let t = repo_tags(&ecr, &arn).await;
    assert_eq!(t.get("Environment").map(String::as_str), Some("test"));
    assert!(!t.contains_key("extra"));
    plan_is_empty(&emu, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_out_of_band_is_planned_as_a_create() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let dir = spec_dir("dev", &sections(true));
    apply_scoped(&emu, dir.path());

    ecr.delete_repository()
        .repository_name(REPO)
        .send()
        .await
        .unwrap();
    logs.delete_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .unwrap();
    let p = plan_scoped(&emu, dir.path());
    assert_eq!(
        changes(&p),
        [
            ("ecr_repository/app".to_string(), "create".to_string()),
            ("log_group/app".to_string(), "create".to_string())
        ]
    );
    apply_scoped(&emu, dir.path());
    assert!(repo(&ecr, REPO).await.is_some());
    assert_eq!(group(&logs).await.unwrap().retention_in_days(), Some(7));
    plan_is_empty(&emu, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_repository_and_log_group_without_our_tags_are_conflicts_never_touched() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let dir = spec_dir("dev", &sections(true));

    // Someone else's, under our names, with an image in the repository.
    let theirs = ecr
        .create_repository()
        .repository_name(REPO)
        .tags(
            Tag::builder()
                .key("owner")
                .value("someone-else")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = theirs
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_string();
    push_image(&ecr, "v1").await;
    logs.create_log_group()
        .log_group_name(GROUP)
        .tags("owner", "someone-else")
        .send()
        .await
        .unwrap();

    assert_conflicts_left_alone_in(
        &emu,
        dir.path(),
        "dev",
        &["ecr_repository/app", "log_group/app"],
        &TARGETS,
    );

    // Untouched: their settings, their tags, their image.
    let rp = repo(&ecr, REPO).await.expect("still there");
    assert_eq!(
        rp.image_scanning_configuration().map(|c| c.scan_on_push()),
        Some(false)
    );
    assert_eq!(
        repo_tags(&ecr, &arn).await,
        BTreeMap::from([("owner".to_string(), "someone-else".to_string())])
    );
    assert!(ecr
        .get_lifecycle_policy()
        .repository_name(REPO)
        .send()
        .await
        .is_err());
    let imgs = ecr
        .list_images()
        .repository_name(REPO)
        .send()
        .await
        .unwrap();
    assert_eq!(imgs.image_ids().len(), 1);
    assert_eq!(group(&logs).await.unwrap().retention_in_days(), None);
    assert_eq!(
        group_tags(&logs).await,
        BTreeMap::from([("owner".to_string(), "someone-else".to_string())])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_removes_the_repository_and_the_log_group() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let dir = spec_dir("dev", &sections(false));
    apply_scoped(&emu, dir.path());

    let d = destroy_in(&emu, dir.path(), "dev");
    assert!(
        d.stdout.contains("- ecr_repository/app"),
        "an empty repository goes even without force_delete:\n{}",
        d.stdout
    );
    assert!(d.stdout.contains("- log_group/app"), "{}", d.stdout);
    assert!(repo(&ecr, REPO).await.is_none());
    assert!(group(&logs).await.is_none());
    // Nothing of ours is left for a second destroy.
    let again = destroy_in(&emu, dir.path(), "dev");
    assert!(
        !again.stdout.contains("ecr_repository/app"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("log_group/app"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_refuses_a_repository_holding_images_until_force_delete_is_applied() {
    let emu = Emulator::start();
    let ecr = ecr(&emu).await;
    let logs = logs(&emu).await;
    let keep = spec_dir("dev", &sections(false));
    apply_scoped(&emu, keep.path());
    push_image(&ecr, "v1").await;

    let d = run(rtech_in(&emu, keep.path()).args(["destroy", "--env", "dev", "--auto-approve"]));
    assert_ne!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    assert!(
        d.stdout.contains(&format!(
            "refused: ecr_repository/app (repository {REPO}) holds 1 image(s)"
        )),
        "{}",
        d.stdout
    );
    assert!(d.stdout.contains("ecr.force_delete = true"), "{}", d.stdout);
    assert!(d.stderr.contains("refusing to apply"), "{}", d.stderr);
    // Nothing was deleted, not even the log group.
    assert!(repo(&ecr, REPO).await.is_some());
    assert!(group(&logs).await.is_some());

    // force_delete = true: the apply records it on the repository (a tag change only)…
    let force = spec_dir("dev", &sections(true));
    let p = plan_scoped(&emu, force.path());
    assert_eq!(
        only_change(&p),
        (
            "ecr_repository/app".into(),
            "update".into(),
            vec!["tags.rtech:force-delete".to_string()]
        )
    );
    apply_scoped(&emu, force.path());
    // …and destroy deletes the repository, images and all.
    let d = destroy_in(&emu, force.path(), "dev");
    assert!(
        d.stderr.contains("ecr_repository/app: destroyed"),
        "{}",
        d.stderr
    );
    assert!(repo(&ecr, REPO).await.is_none());
    assert!(group(&logs).await.is_none());
}

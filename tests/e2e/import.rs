//! `rtech import` end to end, on a temporary env spec with `[ecr]`, `[app]` and `[edge]` (an
//! ALB access-log bucket and a hosted zone rtech creates): resources made with the SDK,
//! without rtech's tags, are adopted; the plans and applies after it are scoped with
//! `--target` to what was imported (none of it has dependencies). Every check goes through
//! AWS's own APIs (the SDK), never through rtech.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ec2::types::{ResourceType, TagSpecification};

use crate::emulator::Emulator;
use crate::support::*;

const REPO: &str = "rtech-e2e-import";
const BUCKET: &str = "rtech-dev-us-east-1-alb-logs";
const DOMAIN: &str = "import.rtech.example.net";
const CIDR: &str = "10.10.0.0/20";
const GROUP: &str = "/ecs/rtech-dev-app";

fn sections() -> String {
    format!(
        r#"
[ecr]
repository = "{REPO}"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "{DOMAIN}"
hosted_zone = "create"

[edge.alb]
access_logs = true
access_logs_expire_days = 30
"#
    )
}

fn import(emu: &Emulator, dir: &Path, id: &str, physical: &str) -> Run {
    run(rtech_in(emu, dir).args(["import", "--env", "dev", id, physical, "--auto-approve"]))
}

fn targets(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .flat_map(|i| ["--target".to_string(), i.to_string()])
        .collect()
}

async fn vpc_tags(ec2: &aws_sdk_ec2::Client, vid: &str) -> BTreeMap<String, String> {
    let out = ec2.describe_vpcs().vpc_ids(vid).send().await.unwrap();
    tags(out.vpcs()[0].tags())
}

async fn make_vpc(ec2: &aws_sdk_ec2::Client, tags: &[(&str, &str)]) -> String {
    let mut req = ec2.create_vpc().cidr_block(CIDR);
    if !tags.is_empty() {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Vpc);
        for (k, v) in tags {
            spec = spec.tags(aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
        }
        req = req.tag_specifications(spec.build());
    }
    req.send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string()
}

async fn repo_tags(ecr: &aws_sdk_ecr::Client, name: &str) -> BTreeMap<String, String> {
    let arn = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .unwrap()
        .repositories()[0]
        .repository_arn()
        .unwrap()
        .to_string();
    let out = ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    tag_map(out.tags().iter().map(|t| (Some(t.key()), Some(t.value()))))
}

async fn bucket_tags(s3: &aws_sdk_s3::Client, name: &str) -> BTreeMap<String, String> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(o) => tag_map(o.tag_set().iter().map(|t| (Some(t.key()), Some(t.value())))),
        Err(_) => BTreeMap::new(),
    }
}

async fn zone_tags(r53: &aws_sdk_route53::Client, zone: &str) -> BTreeMap<String, String> {
    let out = r53
        .list_tags_for_resource()
        .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
        .resource_id(zone)
        .send()
        .await
        .unwrap();
    tag_map(
        out.resource_tag_set()
            .map(|s| s.tags())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key(), t.value())),
    )
}

fn owned_as(t: &BTreeMap<String, String>, id: &str) -> bool {
    is_ours(t, "dev") && t.get("rtech:id").map(String::as_str) == Some(id)
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_resources_are_planned_as_updates_applied_and_destroyed() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections());
    let d = dir.path();
    let (ec2, ecr, s3c, r53) = (
        ec2(&emu).await,
        ecr(&emu).await,
        s3(&emu).await,
        route53(&emu).await,
    );
    let cwl = logs(&emu).await;

    // Made outside rtech, without its tags.
    let vid = make_vpc(&ec2, &[("Name", "legacy-vpc")]).await;
    ecr.create_repository()
        .repository_name(REPO)
        .send()
        .await
        .unwrap();
    s3c.create_bucket().bucket(BUCKET).send().await.unwrap();
    cwl.create_log_group()
        .log_group_name(GROUP)
        .tags("team", "payments")
        .send()
        .await
        .unwrap();
    let zone = r53
        .create_hosted_zone()
        .name(DOMAIN)
        .caller_reference("legacy-zone-1")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();

    // Before: the spec's names are held by foreign resources (the VPC is not found at all).
    let ids = [
        "vpc/main",
        "ecr_repository/app",
        "s3_bucket/alb-logs",
        "hosted_zone/main",
        "log_group/app",
    ];
    let scoped = targets(&ids);
    let scoped: Vec<&str> = scoped.iter().map(String::as_str).collect();

    // The plan (exit 1: conflicts) names the command that adopts each same-named one, with its
    // physical id.
    let r = run(rtech_in(&emu, d)
        .args(["plan", "--env", "dev", "--json"])
        .args(&scoped));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let p: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    let conflicts = p["conflicts"].as_array().expect("conflicts");
    for (id, physical) in [
        ("ecr_repository/app", REPO),
        ("s3_bucket/alb-logs", BUCKET),
        ("hosted_zone/main", zone.as_str()),
        ("log_group/app", GROUP),
    ] {
        let c = conflicts
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} is a conflict: {p:#}"));
        let hint = format!("`rtech import --env dev {id} {physical}`");
        let message = c["message"].as_str().unwrap_or_default();
        assert!(message.contains(&hint), "{id}: {message}");
    }

    // The VPC: the preview shows the drift the next plan shows, and what the import adds.
    let mut previews = BTreeMap::new();
    let r = import(&emu, d, "vpc/main", &vid);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Import {vid} as vpc/main")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("enable_dns_hostnames"), "{}", r.stdout);
    assert!(!r.stdout.contains("WARNING"), "{}", r.stdout);
    assert!(r.stdout.contains("rtech:id=vpc/main"), "{}", r.stdout);
    let t = vpc_tags(&ec2, &vid).await;
    assert!(owned_as(&t, "vpc/main"), "{t:?}");
    assert_eq!(t["Name"], "legacy-vpc", "the import adds tags only");
    previews.insert("vpc/main", r.stdout);

    for (id, physical) in [
        ("ecr_repository/app", REPO),
        ("s3_bucket/alb-logs", BUCKET),
        ("hosted_zone/main", zone.as_str()),
        ("log_group/app", GROUP),
    ] {
        let r = import(&emu, d, id, physical);
        assert_eq!(r.code, 0, "{id}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!("Imported {physical} as {id}")),
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains("WARNING"), "{id}: {}", r.stdout);
        previews.insert(id, r.stdout);
    }
    assert!(owned_as(&repo_tags(&ecr, REPO).await, "ecr_repository/app"));
    assert!(owned_as(
        &bucket_tags(&s3c, BUCKET).await,
        "s3_bucket/alb-logs"
    ));
    assert!(owned_as(&zone_tags(&r53, &zone).await, "hosted_zone/main"));
    let arn = cwl
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap()
        .log_groups()[0]
        .log_group_arn()
        .unwrap()
        .to_string();
    let t = cwl
        .list_tags_for_resource()
        .resource_arn(arn.trim_end_matches(":*"))
        .send()
        .await
        .unwrap();
    let t = t.tags().cloned().unwrap_or_default();
    assert_eq!(
        t.get("rtech:id").map(String::as_str),
        Some("log_group/app"),
        "{t:?}"
    );
    assert_eq!(t.get("team").map(String::as_str), Some("payments"), "{t:?}");

    // The next plan adopts them: updates of the drift each preview showed, no create, no
    // conflict.
    let p = plan_json_in(&emu, d, "dev", &scoped);
    assert!(p["conflicts"].as_array().unwrap().is_empty(), "{p:#}");
    for (id, action, fields) in changes_of_kinds(
        &p,
        &[
            "vpc",
            "ecr_repository",
            "s3_bucket",
            "hosted_zone",
            "log_group",
        ],
    ) {
        assert_eq!(action, "update", "{id}: {p:#}");
        let shown = &previews[id.as_str()];
        for f in fields {
            let top = f.split('.').next().unwrap();
            assert!(
                shown.contains(top),
                "{id}: {f} not in the preview:\n{shown}"
            );
        }
    }
    assert_eq!(changes(&p).len(), 5, "{p:#}");
    let vpc = change_of(&p, "vpc/main").expect("the VPC's drift");
    let fields: Vec<&str> = vpc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"enable_dns_hostnames"), "{fields:?}");
    assert!(fields.contains(&"tags.Name"), "{fields:?}");

    // Apply converges on the adopted resources themselves.
    apply_with(rtech_in(&emu, d), "dev", &scoped);
    assert_plan_empty_in(&emu, d, "dev", &scoped);
    let out = ec2.describe_vpcs().send().await.unwrap();
    let ours: Vec<_> = out
        .vpcs()
        .iter()
        .filter(|v| is_ours(&tags(v.tags()), "dev"))
        .map(|v| v.vpc_id().unwrap().to_string())
        .collect();
    assert_eq!(ours, vec![vid.clone()], "no second VPC");
    assert_bucket_encrypted_and_private(&s3c, BUCKET).await;

    // Destroy deletes the adopted resources.
    destroy_in(&emu, d, "dev");
    assert!(
        ec2.describe_vpcs().vpc_ids(&vid).send().await.is_err(),
        "{vid} deleted"
    );
    assert!(ecr
        .describe_repositories()
        .repository_names(REPO)
        .send()
        .await
        .is_err());
    assert!(s3c.head_bucket().bucket(BUCKET).send().await.is_err());
    assert!(r53.get_hosted_zone().id(&zone).send().await.is_err());
    let left = cwl
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap();
    assert!(left.log_groups().is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_refusals_change_nothing() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &sections());
    let d = dir.path();
    let (ec2, ecr) = (ec2(&emu).await, ecr(&emu).await);
    let refused = |id: &str, physical: &str, says: &str| {
        let r = import(&emu, d, id, physical);
        assert_eq!(r.code, 1, "{id} {physical}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(says),
            "{id} {physical}: wanted {says:?} in\n{}",
            r.stderr
        );
        assert!(!r.stdout.contains("Imported"), "{}", r.stdout);
    };

    // Of another kind: refused by its form, before any call.
    refused("vpc/main", "subnet-0a1b2c3d", "is not a VPC id (vpc-…)");
    // A VPC that does not exist: AWS's code, the id named.
    refused(
        "vpc/main",
        "vpc-0123456789abcdef0",
        "vpc-0123456789abcdef0 (for vpc/main): ec2:DescribeVpcs failed: InvalidVpcID.NotFound",
    );
    // The same refusal keeps AWS's request id, for a support case.
    refused("vpc/main", "vpc-0123456789abcdef0", " (request id ");
    // A repository that does not exist (a bucket's name is no repository).
    refused(
        "ecr_repository/app",
        "some-bucket",
        "RepositoryNotFoundException",
    );
    // An id the spec does not have; a kind that cannot be imported.
    refused("vpc/mian", "vpc-0abc", "did you mean vpc/main?");
    refused(
        "igw/main",
        "igw-0abc",
        "the kinds it can import: ecr_repository, hosted_zone, log_group, s3_bucket, vpc",
    );
    // A bucket under a name the spec does not give it: the next plan would not see it.
    let s3c = s3(&emu).await;
    s3c.create_bucket()
        .bucket("legacy-logs")
        .send()
        .await
        .unwrap();
    refused(
        "s3_bucket/alb-logs",
        "legacy-logs",
        "would stay invisible to the next plan",
    );
    assert!(bucket_tags(&s3c, "legacy-logs").await.is_empty());

    // Already owned by another env.
    let staging = [
        ("rtech:project", "rtech"),
        ("rtech:env", "staging"),
        ("rtech:id", "vpc/main"),
    ];
    let other = make_vpc(&ec2, &staging).await;
    let before = vpc_tags(&ec2, &other).await;
    refused(
        "vpc/main",
        &other,
        "is already owned by env staging as vpc/main",
    );
    assert_eq!(vpc_tags(&ec2, &other).await, before);

    // The id already held: the spec's repository made by rtech, then another one imported as it.
    apply_with(
        rtech_in(&emu, d),
        "dev",
        &["--target", "ecr_repository/app"],
    );
    ecr.create_repository()
        .repository_name("legacy-app")
        .send()
        .await
        .unwrap();
    refused(
        "ecr_repository/app",
        "legacy-app",
        &format!("ecr_repository/app is already owned in env dev by {REPO}"),
    );
    assert!(repo_tags(&ecr, "legacy-app").await.is_empty());

    // Unattended without --auto-approve: refused, nothing tagged.
    let vid = make_vpc(&ec2, &[]).await;
    let r = run(rtech_in(&emu, d).args(["import", "--env", "dev", "vpc/main", &vid]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    assert!(vpc_tags(&ec2, &vid).await.is_empty());
}

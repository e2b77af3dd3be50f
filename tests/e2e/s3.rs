//! The edge's access-log buckets against the emulator, on temporary env specs with
//! `[ecr]`, `[app]` and `[edge]` and `[edge.alb] access_logs = true`. Applies and plans are
//! scoped with `--target s3_bucket/alb-logs` (and `--target load_balancer/main` to show the ALB
//! takes the bucket). Every check goes through S3's own API (the SDK), never through rtech.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, Tag, Tagging,
};
use serde_json::Value as J;

use crate::emulator::Emulator;
use crate::support::*;

const ALB_LOGS: &str = "s3_bucket/alb-logs";
const CF_LOGS: &str = "s3_bucket/cf-logs";
const LB: &str = "load_balancer/main";
/// `{project}-{env}-{region}-alb-logs`.
const BUCKET: &str = "rtech-dev-us-east-1-alb-logs";
const CF_BUCKET: &str = "rtech-dev-us-east-1-cf-logs";
/// moto's default account.
const ACCOUNT: &str = "123456789012";

fn edge(extra: &str) -> String {
    format!(
        r#"
[ecr]
repository = "rtech-e2e-s3"
force_delete = true

[app]
desired_count = 1

[edge]
domain = "s3.rtech.example.net"
hosted_zone = "create"
{extra}
[edge.alb]
access_logs = true
access_logs_expire_days = 30
"#
    )
}

async fn bucket_tags(s3: &aws_sdk_s3::Client, name: &str) -> BTreeMap<String, String> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(o) => o
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

async fn exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.head_bucket().bucket(name).send().await.is_ok()
}

/// Buckets carrying our tags for env `dev`.
async fn ours(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let mut out = vec![];
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap();
        if is_ours(&bucket_tags(s3, name).await, "dev") {
            out.push(name.to_string());
        }
    }
    out
}

fn bucket_changes(plan: &J) -> Vec<(String, String, Vec<String>)> {
    changes_of_kinds(plan, &["s3_bucket"])
}

fn update_of(fields: &[&str]) -> Vec<(String, String, Vec<String>)> {
    vec![(
        ALB_LOGS.to_string(),
        "update".to_string(),
        fields.iter().map(|f| f.to_string()).collect(),
    )]
}

#[tokio::test(flavor = "multi_thread")]
async fn alb_log_bucket_apply_drift_repair_and_guarded_destroy() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge(""));
    let d = dir.path();
    let s3 = s3(&emu).await;
    let target = ["--target", ALB_LOGS];

    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // As S3 has it.
    assert_bucket_encrypted_and_private(&s3, BUCKET).await;
    let lc = s3
        .get_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(lc.rules().len(), 1);
    assert_eq!(lc.rules()[0].id(), Some("rtech-expire-logs"));
    assert_eq!(lc.rules()[0].expiration().unwrap().days(), Some(30));
    let own = s3
        .get_bucket_ownership_controls()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let policy: J = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let text = policy.to_string();
    assert!(
        text.contains("arn:aws:iam::127311923021:root"),
        "us-east-1's ELB account: {policy:#}"
    );
    assert!(
        text.contains(&format!("arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*")),
        "{policy:#}"
    );
    let t = bucket_tags(&s3, BUCKET).await;
    assert_eq!(t["rtech:id"], ALB_LOGS);
    assert_eq!(t["rtech:force-delete"], "false");
    assert_eq!(t["Environment"], "test");

    // Observe's cost: the env's tag index lists ours, so GetBucketTagging only for the other
    // candidate name (absent), then five configuration reads of ours (whether it holds
    // objects is read only when a plan deletes or replaces it).
    let stats = observe_in(&emu, d, "dev", &target);
    assert_eq!(stats.by_service.get("s3"), Some(&6), "{stats:?}");

    // The ALB takes the bucket for its access logs.
    apply_in(&emu, d, "dev", &["--target", LB]);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &["--target", LB]));
    let elb = elbv2(&emu).await;
    let lb = load_balancer_named(&emu, "rtech-dev-alb")
        .await
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let attrs: BTreeMap<String, String> = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&lb)
        .send()
        .await
        .unwrap()
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect();
    assert_eq!(attrs["access_logs.s3.enabled"], "true");
    assert_eq!(attrs["access_logs.s3.bucket"], BUCKET);

    // Out of band, one at a time: each is exactly that drift, repaired in place.
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("rtech-expire-logs")
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .status(ExpirationStatus::Enabled)
                        .expiration(LifecycleExpiration::builder().days(7).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        bucket_changes(&plan),
        update_of(&["lifecycle.rtech-expire-logs.expiration_days"]),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let lc = s3
        .get_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(lc.rules()[0].expiration().unwrap().days(), Some(30));

    s3.put_public_access_block()
        .bucket(BUCKET)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        bucket_changes(&plan),
        update_of(&[
            "public_access_block.block_public_acls",
            "public_access_block.block_public_policy",
            "public_access_block.ignore_public_acls",
            "public_access_block.restrict_public_buckets",
        ]),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let pab = s3
        .get_public_access_block()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_policy(),
        Some(true)
    );

    let mut fewer = bucket_tags(&s3, BUCKET).await;
    fewer.remove("Environment");
    s3.put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(
                    fewer
                        .iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                        .collect(),
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        bucket_changes(&plan),
        update_of(&["tags.Environment"]),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    assert_eq!(bucket_tags(&s3, BUCKET).await["Environment"], "test");

    // Out of band: the bucket deleted → a create.
    s3.delete_bucket().bucket(BUCKET).send().await.unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    let got: Vec<(String, String)> = bucket_changes(&plan)
        .into_iter()
        .map(|(id, action, _)| (id, action))
        .collect();
    assert_eq!(
        got,
        [(ALB_LOGS.to_string(), "create".to_string())],
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));

    // A bucket holding logs: destroy refuses it without the force flag…
    s3.put_object()
        .bucket(BUCKET)
        .key(format!(
            "AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/log.gz"
        ))
        .body(ByteStream::from_static(b"log"))
        .send()
        .await
        .unwrap();
    let r = run(rtech_in(&emu, d).args(["destroy", "--env", "dev", "--auto-approve"]));
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let refusal = format!("refused: {ALB_LOGS} (bucket {BUCKET}) holds objects");
    assert!(
        r.stdout.contains(&refusal) || r.stderr.contains(&refusal),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stdout.contains("log_buckets_force_delete = true")
            || r.stderr.contains("log_buckets_force_delete = true"),
        "says how to allow it:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(exists(&s3, BUCKET).await, "left alone");

    // …and with it (applied: a tag change only) empties and deletes it.
    std::fs::write(
        d.join("dev.toml"),
        format!(
            "{}{}",
            spec_head("dev"),
            edge("log_buckets_force_delete = true\n")
        ),
    )
    .unwrap();
    let plan = plan_json_in(&emu, d, "dev", &target);
    assert_eq!(
        bucket_changes(&plan),
        update_of(&["tags.rtech:force-delete"]),
        "{plan:#}"
    );
    apply_in(&emu, d, "dev", &target);
    destroy_in(&emu, d, "dev");
    assert!(!exists(&s3, BUCKET).await);
    assert_eq!(ours(&s3).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_named_bucket_without_our_tags_is_never_touched() {
    let emu = Emulator::start();
    let dir = spec_dir("dev", &edge(""));
    let d = dir.path();
    let s3 = s3(&emu).await;
    // Someone else's bucket under our name, with their own tags.
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("other").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_conflicts_left_alone_in(&emu, d, "dev", &[ALB_LOGS], &["--target", ALB_LOGS]);
    assert!(exists(&s3, BUCKET).await, "left alone");
    assert_eq!(
        bucket_tags(&s3, BUCKET).await,
        BTreeMap::from([("team".to_string(), "other".to_string())])
    );
    assert!(
        s3.get_public_access_block()
            .bucket(BUCKET)
            .send()
            .await
            .is_err(),
        "not configured by rtech"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_log_bucket_keeps_acls_for_standard_logging() {
    let emu = Emulator::start();
    let dir = spec_dir(
        "dev",
        &edge("[edge.cloudfront]\nlogging = true\nlogs_expire_days = 14\n"),
    );
    let d = dir.path();
    let s3 = s3(&emu).await;
    let target = ["--target", CF_LOGS];
    apply_in(&emu, d, "dev", &target);
    assert_no_changes(&plan_json_in(&emu, d, "dev", &target));
    let own = s3
        .get_bucket_ownership_controls()
        .bucket(CF_BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerPreferred"
    );
    let lc = s3
        .get_bucket_lifecycle_configuration()
        .bucket(CF_BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(lc.rules()[0].expiration().unwrap().days(), Some(14));
    assert!(
        s3.get_bucket_policy()
            .bucket(CF_BUCKET)
            .send()
            .await
            .is_err(),
        "no bucket policy"
    );
    // An empty bucket goes without the force flag.
    destroy_in(&emu, d, "dev");
    assert!(!exists(&s3, CF_BUCKET).await);
    assert!(!exists(&s3, BUCKET).await);
}

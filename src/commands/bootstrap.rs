//! `rtech bootstrap --env ENV`: what rtech needs once per account and region before the first
//! apply, which apply never creates by itself: the lock bucket (`[lock] bucket`, default
//! `<project>-rtech-<account id>-<region>`).
//!
//! Like apply it observes, plans (the same diff and plan text), asks, then acts, so a second
//! run plans nothing. The bucket, `lock_bucket/main`:
//! - `versioning`: `Enabled` (every lock ever written stays readable).
//! - `encryption`: `AES256` (SSE-S3 by default).
//! - `public_access_block`: all four switches on.
//! - `policy`: one statement denying every request not made over TLS
//!   (`aws:SecureTransport = false`).
//! - `tags`: rtech's (`rtech:project`, `rtech:id = lock_bucket/main`, `Name`); `rtech:env` is
//!   `all`: one bucket serves every env of the project in the account and region.
//!
//! A bucket of that name without those tags (another account's, as bucket names are global,
//! or one made by hand) is a conflict: left alone, and bootstrap refuses.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};
use serde_json::json;

use super::session::{Session, Target};
use super::{confirm, load, print_plan, Ui, EXIT_OK};
use crate::aws::{aws, AwsError, AwsOpts};
use crate::cli::{BootstrapArgs, Cli};
use crate::model::{policy, tags_for, Observed, Ownership, Resource, ResourceId, Value};
use crate::plan::{self, Action, Change, DiffInput, KindSchema, Plan};
use crate::reconcile::kit::{is_ours, retry_while};
use crate::reconcile::s3::config::{
    encryption_value, public_access_block, public_access_block_value, put_encryption,
    put_public_access_block, put_tags, PublicAccessBlock,
};
use crate::reconcile::s3::{bucket_arn, read_config, read_tags, Probe, ENCRYPTION};
use crate::reconcile::Ctx;

/// The lock bucket's kind; it is not an env's resource, so no service observes it.
pub const KIND: &str = "lock_bucket";
/// Its `rtech:env` tag: it serves every env of the project in the account and region.
pub const ALL_ENVS: &str = "all";

static SCHEMA: KindSchema = KindSchema {
    kind: KIND,
    force_new: &["name"],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

/// How long a new bucket may take to be visible to its configuration calls.
const NEW_BUCKET_WAIT: Duration = Duration::from_secs(60);

pub fn id() -> ResourceId {
    ResourceId::new(KIND, "main")
}

/// The bucket policy: nothing reaches the bucket except over TLS.
pub fn tls_only_policy(region: &str, bucket: &str) -> serde_json::Value {
    let arn = bucket_arn(region, bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
}

fn pab_value(b: &PublicAccessBlock) -> Value {
    policy::from_json(&serde_json::to_value(b).expect("four booleans"))
}

fn tag_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::str(v)))
            .collect(),
    )
}

/// The lock bucket as rtech wants it (pure).
pub fn desired(project: &str, region: &str, bucket: &str) -> Resource {
    let id = id();
    let tags = tags_for(project, ALL_ENVS, &id, bucket, &BTreeMap::new());
    Resource::new(id, bucket)
        .prop("name", Value::str(bucket))
        .prop("versioning", Value::str("Enabled"))
        .prop("encryption", Value::str(ENCRYPTION))
        .prop("public_access_block", pab_value(&public_access_block(true)))
        .prop("policy", policy::iam(&tls_only_policy(region, bucket)))
        .prop("tags", tag_value(&tags))
}

/// What S3 says about the bucket, read into the desired shape.
pub struct Live {
    pub tags: BTreeMap<String, String>,
    pub versioning: Option<String>,
    pub encryption: Option<String>,
    pub public_access_block: PublicAccessBlock,
    pub policy: Option<String>,
}

/// The live bucket as an Observed (pure): ours only with rtech's tags for `lock_bucket/main`.
pub fn observed(project: &str, bucket: &str, live: &Live) -> Observed {
    let id = id();
    let mut o = Observed::new(id.clone(), bucket)
        .prop("name", Value::str(bucket))
        .prop("versioning", Value::opt_str(live.versioning.as_deref()))
        .prop("encryption", Value::opt_str(live.encryption.as_deref()))
        .prop("public_access_block", pab_value(&live.public_access_block))
        .prop(
            "policy",
            live.policy
                .as_deref()
                .and_then(policy::iam_text)
                .unwrap_or(Value::Null),
        )
        .prop("tags", tag_value(&live.tags));
    if !is_ours(&live.tags, project, ALL_ENVS, &id) {
        o.ownership = Ownership::Foreign;
    }
    o
}

/// A bucket we cannot look into or that lacks our tags.
fn foreign(bucket: &str) -> Observed {
    let mut o = Observed::new(id(), bucket);
    o.ownership = Ownership::Foreign;
    o
}

/// Read the bucket: absent, foreign, or ours with its configuration (the log buckets' reads,
/// and its versioning).
async fn observe(ctx: &Ctx, project: &str, bucket: &str) -> Result<Option<Observed>, AwsError> {
    let tags = match read_tags(ctx, bucket).await? {
        Probe::Absent => return Ok(None),
        Probe::Unreadable => return Ok(Some(foreign(bucket))),
        Probe::Tags(t) => t,
    };
    if !is_ours(&tags, project, ALL_ENVS, &id()) {
        return Ok(Some(foreign(bucket)));
    }
    let (versioning, config) = tokio::try_join!(
        async {
            ctx.clients
                .s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map(|o| o.status().map(|s| s.as_str().to_string()))
                .map_err(aws("s3:GetBucketVersioning"))
        },
        read_config(ctx, bucket),
    )?;
    // Deleted since its tags were read: absent.
    let Some(config) = config else {
        return Ok(None);
    };
    Ok(Some(observed(
        project,
        bucket,
        &Live {
            tags,
            versioning,
            encryption: encryption_value(config.encryption.as_ref()),
            public_access_block: public_access_block_value(config.public_access_block.as_ref()),
            policy: config.policy,
        },
    )))
}

/// The bootstrap plan (pure): the diff of the desired bucket against what is there.
pub fn plan_bootstrap(
    project: &str,
    env: &str,
    region: &str,
    spec_file: &str,
    want: &Resource,
    live: Option<Observed>,
) -> Result<Plan, plan::PlanError> {
    let observed: Vec<Observed> = live.into_iter().collect();
    let mut p = plan::diff(&DiffInput {
        project,
        env,
        region,
        desired: std::slice::from_ref(want),
        observed: &observed,
        schema: &|k| (k == KIND).then_some(&SCHEMA),
        targets: &[],
        destroy: false,
    })?;
    for c in &mut p.conflicts {
        c.message = format!(
            "conflict: the bucket {} exists without rtech's tags for it ({}={project}, {}={}): another account's (bucket names are global) or made by hand; rtech will not touch it. Name another in {spec_file} ([lock] bucket = \"…\"), or tag it to adopt it",
            want.name,
            crate::model::TAG_PROJECT,
            crate::model::TAG_ID,
            id()
        );
    }
    Ok(p)
}

pub(super) async fn bootstrap_cmd(
    cli: &Cli,
    a: &BootstrapArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let s = Session::open(&Target::of_spec(&spec), opts, &[], false, ui).await?;
    let bucket = s.lock.bucket.clone();
    let want = desired(&spec.project, &s.ctx.region, &bucket);
    let live = observe(&s.ctx, &spec.project, &bucket)
        .await
        .map_err(|e| anyhow::anyhow!("observing the lock bucket {bucket}: {e}"))?;
    let mut plan = plan_bootstrap(
        &spec.project,
        &spec.env,
        &s.ctx.region,
        &spec.file,
        &want,
        live,
    )?;
    plan.origin = Some(plan::Origin {
        account: s.caller.account.clone(),
        caller: s.caller.arn.clone(),
        lock_bucket: bucket.clone(),
    });
    print_plan(&plan, false, ui, &spec.file);
    if !plan.conflicts.is_empty() {
        bail!(
            "refusing to bootstrap: the lock bucket {bucket} is not rtech's; nothing was changed"
        );
    }
    if !plan.has_changes() {
        ui.info(&format!(
            "The lock bucket {bucket} is set up: versioned, encrypted, public access blocked, TLS only."
        ));
        return Ok(ExitCode::from(EXIT_OK));
    }
    confirm(
        &format!(
            "Bootstrap account {} ({}) for project {}?",
            s.caller.account, s.ctx.region, spec.project
        ),
        a.auto_approve,
    )
    .await?;
    for c in &plan.changes {
        apply(&s.ctx, c, &want)
            .await
            .map_err(|e| anyhow::anyhow!("{} ({}): {e}", c.id, c.action))?;
    }
    println!(
        "Bootstrap complete: the lock bucket {bucket} is ready (versioned, encrypted, public access blocked, TLS only)."
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// Create the bucket, or set only what the plan says differs.
async fn apply(ctx: &Ctx, c: &Change, want: &Resource) -> Result<(), AwsError> {
    let bucket = want.name.as_str();
    let s3 = &ctx.clients.s3;
    let changed = c.changed_props();
    let all = c.action == Action::Create;
    if all {
        let mut req = s3.create_bucket().bucket(bucket);
        // us-east-1 takes no location constraint (and refuses its own name as one).
        if ctx.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                    .build(),
            );
        }
        match req.send().await.map_err(aws("s3:CreateBucket")) {
            Err(e) if !e.is("BucketAlreadyOwnedByYou") => return Err(e),
            _ => {}
        }
    }
    let wants = |p: &str| all || changed.contains(p);
    // Tags first: they make the bucket ours to the next plan. A new bucket may take a moment
    // to be visible to its configuration calls.
    if wants("tags") {
        let tags = tags_for(&ctx.project, ALL_ENVS, &id(), bucket, &BTreeMap::new());
        retry_while(&[], &["NoSuchBucket"], NEW_BUCKET_WAIT, || {
            put_tags(ctx, bucket, &tags)
        })
        .await?;
    }
    if wants("versioning") {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("s3:PutBucketVersioning"))?;
    }
    if wants("encryption") {
        put_encryption(ctx, bucket, ENCRYPTION).await?;
    }
    if wants("public_access_block") {
        put_public_access_block(ctx, bucket, &public_access_block(true)).await?;
    }
    if wants("policy") {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(tls_only_policy(&ctx.region, bucket).to_string())
            .send()
            .await
            .map_err(aws("s3:PutBucketPolicy"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "rtech-rtech-123456789012-us-east-1";

    fn live_as_wanted() -> Live {
        Live {
            tags: tags_for("rtech", ALL_ENVS, &id(), B, &BTreeMap::new()),
            versioning: Some("Enabled".into()),
            encryption: Some("AES256".into()),
            public_access_block: public_access_block(true),
            policy: Some(tls_only_policy("us-east-1", B).to_string()),
        }
    }

    fn plan_of(live: Option<Observed>) -> Plan {
        let want = desired("rtech", "us-east-1", B);
        plan_bootstrap("rtech", "dev", "us-east-1", "envs/dev.toml", &want, live).unwrap()
    }

    #[test]
    fn no_bucket_plans_one_create_with_every_setting() {
        let p = plan_of(None);
        assert_eq!(p.changes.len(), 1);
        let c = &p.changes[0];
        assert_eq!(
            (c.id.to_string(), c.action),
            ("lock_bucket/main".into(), Action::Create)
        );
        let props = c.changed_props();
        for k in [
            "name",
            "versioning",
            "encryption",
            "public_access_block",
            "policy",
            "tags",
        ] {
            assert!(props.contains(k), "{k}: {props:?}");
        }
    }

    #[test]
    fn a_bucket_as_wanted_plans_nothing() {
        let p = plan_of(Some(observed("rtech", B, &live_as_wanted())));
        assert!(!p.has_changes() && p.conflicts.is_empty(), "{p:?}");
    }

    #[test]
    fn drift_is_an_update_of_exactly_that_setting() {
        let mut live = live_as_wanted();
        live.versioning = Some("Suspended".into());
        live.policy = None;
        let p = plan_of(Some(observed("rtech", B, &live)));
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action, Action::Update);
        assert_eq!(
            p.changes[0].changed_props().into_iter().collect::<Vec<_>>(),
            ["policy", "versioning"]
        );
    }

    #[test]
    fn a_bucket_without_our_tags_is_a_conflict_naming_the_way_out() {
        let mut live = live_as_wanted();
        live.tags.clear();
        let p = plan_of(Some(observed("rtech", B, &live)));
        assert!(!p.has_changes());
        assert_eq!(p.conflicts.len(), 1);
        let m = &p.conflicts[0].message;
        assert!(m.contains(B) && m.contains("[lock] bucket"), "{m}");
    }

    #[test]
    fn the_policy_denies_everything_but_tls() {
        let p = tls_only_policy("us-east-1", B);
        let s = &p["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(s["Resource"][1], format!("arn:aws:s3:::{B}/*"));
    }
}

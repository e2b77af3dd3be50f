//! The S3 actions the s3 service calls, on the env's buckets and their objects.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const BUCKETS: &[&str] = &["arn:{partition}:s3:::{name:s3_bucket}"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "S3ReadTheLockBucketsTagsForOutput",
        mode: Mode::Observe,
        ops: &["s3:GetBucketTagging"],
        also: &[],
        on: &["arn:{partition}:s3:::{lock_bucket}"],
        cond: Cond::None,
    },
    // The env's lock (src/lock.rs): apply, destroy and force-unlock take and release it.
    Grant {
        sid: "S3TakeAndReleaseTheEnvsLock",
        mode: Mode::Apply,
        ops: &["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
        also: &[],
        on: &["arn:{partition}:s3:::{lock_bucket}/{project}/{env}.lock"],
        cond: Cond::None,
    },
    Grant {
        sid: "S3ReadTheEnvsBuckets",
        mode: Mode::Observe,
        ops: &[
            "s3:GetBucketTagging",
            "s3:ListObjectsV2",
            "s3:GetBucketEncryption",
            "s3:GetPublicAccessBlock",
            "s3:GetBucketLifecycleConfiguration",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketPolicy",
        ],
        also: &[],
        on: BUCKETS,
        cond: Cond::None,
    },
    Grant {
        sid: "S3ChangeTheEnvsBuckets",
        mode: Mode::Apply,
        ops: &[
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:PutBucketTagging",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketEncryption",
            "s3:PutBucketLifecycleConfiguration",
            "s3:DeleteBucketLifecycle",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:ListObjectVersions",
        ],
        // CreateBucket with tags (they are set in the create call) also checks TagResource.
        also: &["s3:TagResource"],
        on: BUCKETS,
        cond: Cond::None,
    },
    Grant {
        sid: "S3EmptyTheEnvsBucketsBeforeDelete",
        mode: Mode::Apply,
        ops: &["s3:DeleteObjects"],
        also: &[],
        on: &["arn:{partition}:s3:::{name:s3_bucket}/*"],
        cond: Cond::None,
    },
];

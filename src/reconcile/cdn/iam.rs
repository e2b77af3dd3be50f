//! The CloudFront actions the cdn service calls, and what CloudFront checks on the caller:
//! the ACM certificate list and the log bucket's ACL.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const DISTRIBUTIONS: &[&str] = &["arn:{partition}:cloudfront::{account}:distribution/*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "CdnListDistributionsSupportsNoResourceScoping",
        mode: Mode::Observe,
        ops: &["cloudfront:ListDistributions"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "CdnReadDistributionsWhoseIdsAwsMakes",
        mode: Mode::Observe,
        ops: &[
            "cloudfront:GetDistribution",
            "cloudfront:GetDistributionConfig",
            "cloudfront:ListTagsForResource",
            "cloudfront:GetInvalidation",
        ],
        also: &[],
        on: DISTRIBUTIONS,
        cond: Cond::None,
    },
    Grant {
        sid: "CdnChangeDistributionsWhoseIdsAwsMakes",
        mode: Mode::Apply,
        ops: &[
            "cloudfront:CreateDistributionWithTags",
            "cloudfront:UpdateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:CreateInvalidation",
            "cloudfront:TagResource",
            "cloudfront:UntagResource",
        ],
        also: &[],
        on: DISTRIBUTIONS,
        cond: Cond::None,
    },
    Grant {
        sid: "CdnAcmListCertificatesSupportsNoResourceScoping",
        mode: Mode::Apply,
        ops: &[],
        also: &["acm:ListCertificates"],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "CdnStandardLoggingSetsTheLogBucketsAcl",
        mode: Mode::Apply,
        ops: &[],
        also: &["s3:GetBucketAcl", "s3:PutBucketAcl"],
        on: &["arn:{partition}:s3:::{name:s3_bucket}"],
        cond: Cond::None,
    },
];

//! The ACM actions the acm service calls (in the env's region and in us-east-1 for
//! CloudFront), and the Route 53 reads that find its validation records.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const CERTIFICATES: &[&str] = &["arn:{partition}:acm:*:{account}:certificate/*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "AcmListAndZoneLookupSupportNoResourceScoping",
        mode: Mode::Observe,
        ops: &["acm:ListCertificates", "route53:ListHostedZonesByName"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "AcmReadCertificatesWhoseIdsAwsMakes",
        mode: Mode::Observe,
        ops: &["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
        also: &[],
        on: CERTIFICATES,
        cond: Cond::None,
    },
    Grant {
        sid: "AcmReadValidationRecords",
        mode: Mode::Observe,
        ops: &["route53:ListResourceRecordSets"],
        also: &[],
        on: &["arn:{partition}:route53:::hostedzone/*"],
        cond: Cond::None,
    },
    Grant {
        sid: "AcmRequestCertificatesWhoseIdsAwsMakes",
        mode: Mode::Apply,
        ops: &["acm:RequestCertificate"],
        also: &[],
        on: CERTIFICATES,
        cond: Cond::None,
    },
    Grant {
        sid: "AcmChangeCertificatesTaggedWithTheEnv",
        mode: Mode::Apply,
        ops: &[
            "acm:DeleteCertificate",
            "acm:AddTagsToCertificate",
            "acm:RemoveTagsFromCertificate",
        ],
        also: &[],
        on: CERTIFICATES,
        cond: Cond::Owned,
    },
];

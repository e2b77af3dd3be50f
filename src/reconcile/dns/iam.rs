//! The Route 53 actions the dns service calls. Zone ids are made by AWS, so zone-level
//! actions name every zone of the account.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const ZONES: &[&str] = &["arn:{partition}:route53:::hostedzone/*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "DnsListZonesSupportsNoResourceScoping",
        mode: Mode::Observe,
        ops: &["route53:ListHostedZones", "route53:ListHostedZonesByName"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "DnsReadZonesWhoseIdsAwsMakes",
        mode: Mode::Observe,
        ops: &[
            "route53:ListResourceRecordSets",
            "route53:ListTagsForResources",
            "route53:GetHostedZone",
        ],
        also: &[],
        on: ZONES,
        cond: Cond::None,
    },
    Grant {
        sid: "DnsReadChangesWhoseIdsAwsMakes",
        mode: Mode::Observe,
        ops: &["route53:GetChange"],
        also: &[],
        on: &["arn:{partition}:route53:::change/*"],
        cond: Cond::None,
    },
    Grant {
        sid: "DnsCreateZoneSupportsNoResourceScoping",
        mode: Mode::Apply,
        ops: &["route53:CreateHostedZone"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "DnsChangeZonesWhoseIdsAwsMakes",
        mode: Mode::Apply,
        ops: &[
            "route53:ChangeResourceRecordSets",
            "route53:ChangeTagsForResource",
            "route53:UpdateHostedZoneComment",
            "route53:DeleteHostedZone",
        ],
        also: &[],
        on: ZONES,
        cond: Cond::None,
    },
];

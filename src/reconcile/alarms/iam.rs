//! The CloudWatch alarm actions the alarms service calls, on the env's alarms; and the env's
//! tag index (`kit::tag_index`), which every service's observe shares, declared here.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const ALARMS: &[&str] = &["{arn:cloudwatch}:alarm:{prefix}-*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "TagIndexReadsTheEnvsTaggedResourcesNoResourceLevelPermission",
        mode: Mode::Observe,
        ops: &["tag:GetResources"],
        also: &[],
        // GetResources has no resource-level permission.
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "AlarmsDescribeListsTheRegionsAlarms",
        mode: Mode::Observe,
        ops: &["cloudwatch:DescribeAlarms"],
        also: &[],
        on: &["{arn:cloudwatch}:alarm:*"],
        cond: Cond::None,
    },
    Grant {
        sid: "AlarmsReadTheEnvsAlarms",
        mode: Mode::Observe,
        ops: &["cloudwatch:ListTagsForResource"],
        also: &[],
        on: ALARMS,
        cond: Cond::None,
    },
    Grant {
        sid: "AlarmsChangeTheEnvsAlarms",
        mode: Mode::Apply,
        ops: &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ],
        also: &[],
        on: ALARMS,
        cond: Cond::None,
    },
];

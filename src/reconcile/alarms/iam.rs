//! The CloudWatch alarm actions the alarms service calls, on the env's alarms.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const ALARMS: &[&str] = &["{arn:cloudwatch}:alarm:{prefix}-*"];

pub static GRANTS: &[Grant] = &[
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

//! The CloudWatch Logs actions the logs service calls, on the env's log groups.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const GROUPS: &[&str] = &[
    "{arn:logs}:log-group:{name:log_group}",
    "{arn:logs}:log-group:{name:log_group}:*",
];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "LogsDescribeListsTheRegionsLogGroups",
        mode: Mode::Observe,
        ops: &["logs:DescribeLogGroups"],
        also: &[],
        on: &["{arn:logs}:log-group:*"],
        cond: Cond::None,
    },
    Grant {
        sid: "LogsReadTheEnvsLogGroups",
        mode: Mode::Observe,
        ops: &["logs:ListTagsForResource"],
        also: &[],
        on: GROUPS,
        cond: Cond::None,
    },
    Grant {
        sid: "LogsChangeTheEnvsLogGroups",
        mode: Mode::Apply,
        ops: &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
        ],
        also: &[],
        on: GROUPS,
        cond: Cond::None,
    },
];

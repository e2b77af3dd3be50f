//! The SNS actions the sns service calls, on the env's topics and their subscriptions.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const TOPICS: &[&str] = &["{arn:sns}:{prefix}-*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "SnsReadTheEnvsTopics",
        mode: Mode::Observe,
        ops: &[
            "sns:GetTopicAttributes",
            "sns:ListTagsForResource",
            "sns:ListSubscriptionsByTopic",
        ],
        also: &[],
        on: TOPICS,
        cond: Cond::None,
    },
    Grant {
        sid: "SnsChangeTheEnvsTopics",
        mode: Mode::Apply,
        ops: &[
            "sns:CreateTopic",
            "sns:SetTopicAttributes",
            "sns:DeleteTopic",
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:TagResource",
            "sns:UntagResource",
        ],
        also: &[],
        on: TOPICS,
        cond: Cond::None,
    },
];

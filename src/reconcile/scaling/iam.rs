//! The Application Auto Scaling actions the scaling service calls, and what AWS checks on
//! its behalf: the ECS service it scales and the alarms a target-tracking policy creates.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const SERVICE: &[&str] = &["{arn:ecs}:service/{prefix}/*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "ScalingDescribeSupportsNoResourceLevelPermissions",
        mode: Mode::Observe,
        ops: &[
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:ListTagsForResource",
            // rtech loadtest's samples (sample.rs).
            "application-autoscaling:DescribeScalingActivities",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "ScalingReadTheEnvsEcsService",
        mode: Mode::Observe,
        ops: &["ecs:DescribeServices"],
        also: &[],
        on: SERVICE,
        cond: Cond::None,
    },
    Grant {
        sid: "ScalingTargetArnsHoldAwsMadeIdsUnknownBeforehand",
        mode: Mode::Apply,
        ops: &[
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:TagResource",
            "application-autoscaling:UntagResource",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "ScalingUpdatesTheEnvsEcsService",
        mode: Mode::Apply,
        ops: &[],
        also: &["ecs:UpdateService"],
        on: SERVICE,
        cond: Cond::None,
    },
    Grant {
        sid: "ScalingTargetTrackingAlarms",
        mode: Mode::Apply,
        ops: &[],
        also: &[
            "cloudwatch:DescribeAlarms",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
        ],
        on: &["{arn:cloudwatch}:alarm:TargetTracking-service/{prefix}/*"],
        cond: Cond::None,
    },
    Grant {
        sid: "ScalingFirstTargetNeedsServiceLinkedRole",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:CreateServiceLinkedRole"],
        on: &["arn:{partition}:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"],
        cond: Cond::None,
    },
];

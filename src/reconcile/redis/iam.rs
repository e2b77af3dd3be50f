//! The ElastiCache actions the redis service calls, on the env's names.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "RedisDescribeListsTheRegionsCaches",
        mode: Mode::Observe,
        ops: &[
            "elasticache:DescribeReplicationGroups",
            "elasticache:DescribeCacheClusters",
            "elasticache:DescribeCacheSubnetGroups",
            "elasticache:ListTagsForResource",
        ],
        also: &[],
        on: &["{arn:elasticache}:*"],
        cond: Cond::None,
    },
    Grant {
        sid: "RedisEc2DescribeSubnetsSupportsNoResourceScoping",
        mode: Mode::Observe,
        ops: &["ec2:DescribeSubnets"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "RedisChangeTheEnvsNamedResources",
        mode: Mode::Apply,
        ops: &[
            "elasticache:CreateReplicationGroup",
            "elasticache:ModifyReplicationGroup",
            "elasticache:IncreaseReplicaCount",
            "elasticache:DecreaseReplicaCount",
            "elasticache:TestFailover",
            "elasticache:DeleteReplicationGroup",
            "elasticache:CreateCacheSubnetGroup",
            "elasticache:ModifyCacheSubnetGroup",
            "elasticache:DeleteCacheSubnetGroup",
            "elasticache:AddTagsToResource",
            "elasticache:RemoveTagsFromResource",
        ],
        also: &[],
        on: &[
            "{arn:elasticache}:replicationgroup:{prefix}-*",
            "{arn:elasticache}:cluster:{prefix}-*",
            "{arn:elasticache}:subnetgroup:{prefix}-*",
            "{arn:elasticache}:parametergroup:default.*",
        ],
        cond: Cond::None,
    },
    Grant {
        sid: "RedisLogDeliveryActionsSupportNoResourceScoping",
        mode: Mode::Apply,
        ops: &[],
        also: &[
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ],
        on: ANY,
        cond: Cond::None,
    },
];

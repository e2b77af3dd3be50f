//! The DocumentDB actions (IAM's `rds:` prefix) the docdb service calls, on the env's names.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "DocdbDescribeListsTheRegionsDatabases",
        mode: Mode::Observe,
        ops: &[
            "docdb:DescribeDBClusters",
            "docdb:DescribeDBInstances",
            "docdb:DescribeDBSubnetGroups",
            "docdb:DescribeDBClusterParameterGroups",
            "docdb:DescribeDBClusterParameters",
            "docdb:ListTagsForResource",
        ],
        also: &[],
        on: &["{arn:rds}:*"],
        cond: Cond::None,
    },
    Grant {
        sid: "DocdbChangeTheEnvsNamedResources",
        mode: Mode::Apply,
        ops: &[
            "docdb:CreateDBCluster",
            "docdb:ModifyDBCluster",
            "docdb:DeleteDBCluster",
            "docdb:CreateDBInstance",
            "docdb:ModifyDBInstance",
            "docdb:DeleteDBInstance",
            "docdb:CreateDBSubnetGroup",
            "docdb:ModifyDBSubnetGroup",
            "docdb:DeleteDBSubnetGroup",
            "docdb:CreateDBClusterParameterGroup",
            "docdb:ModifyDBClusterParameterGroup",
            "docdb:DeleteDBClusterParameterGroup",
            "docdb:AddTagsToResource",
            "docdb:RemoveTagsFromResource",
        ],
        also: &[],
        on: &[
            "{arn:rds}:cluster:{prefix}-*",
            "{arn:rds}:db:{prefix}-*",
            "{arn:rds}:subgrp:{prefix}-*",
            "{arn:rds}:cluster-pg:{prefix}-*",
            "{arn:rds}:pg:default.docdb*",
            "{arn:rds}:og:default:docdb*",
        ],
        cond: Cond::None,
    },
    Grant {
        sid: "DocdbLogExportsNeedRdsServiceLinkedRole",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:CreateServiceLinkedRole"],
        on: &["arn:{partition}:iam::{account}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"],
        cond: Cond::None,
    },
];

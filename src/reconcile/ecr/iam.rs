//! The ECR actions the ecr service calls, on the env's repository.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const REPOSITORY: &[&str] = &["{arn:ecr}:repository/{name:ecr_repository}"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "EcrReadTheRepository",
        mode: Mode::Observe,
        ops: &[
            "ecr:DescribeRepositories",
            "ecr:GetLifecyclePolicy",
            "ecr:ListTagsForResource",
            "ecr:ListImages",
        ],
        also: &[],
        on: REPOSITORY,
        cond: Cond::None,
    },
    Grant {
        sid: "EcrChangeTheRepository",
        mode: Mode::Apply,
        ops: &[
            "ecr:CreateRepository",
            "ecr:DeleteRepository",
            "ecr:PutLifecyclePolicy",
            "ecr:DeleteLifecyclePolicy",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:TagResource",
            "ecr:UntagResource",
        ],
        also: &[],
        on: REPOSITORY,
        cond: Cond::None,
    },
];

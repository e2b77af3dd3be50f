//! The ECR actions the ecr service calls, on the env's repository.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

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
            "ecr:DescribeImages",
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
    // `rtech image push` (src/commands/image.rs): the registry login, then the container
    // engine's push, whose calls AWS checks against these actions.
    Grant {
        sid: "EcrPushTheAppImage",
        mode: Mode::Apply,
        ops: &[],
        also: &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
        ],
        on: REPOSITORY,
        cond: Cond::None,
    },
    Grant {
        sid: "EcrRegistryLoginSupportsNoResourceScoping",
        mode: Mode::Apply,
        ops: &["ecr:GetAuthorizationToken"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
];

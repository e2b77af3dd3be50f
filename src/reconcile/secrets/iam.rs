//! The Secrets Manager actions the secrets service calls, on the env's secrets
//! (`<project>/<env>/…`; AWS appends a random suffix to the ARN).

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "SecretsListAndBatchReadSupportNoResourceScoping",
        mode: Mode::Observe,
        ops: &[
            "secretsmanager:ListSecrets",
            "secretsmanager:BatchGetSecretValue",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "SecretsReadTheEnvsSecrets",
        mode: Mode::Observe,
        ops: &[],
        also: &["secretsmanager:GetSecretValue"],
        on: &["{arn:secretsmanager}:secret:{project}/{env}/*"],
        cond: Cond::None,
    },
    Grant {
        sid: "SecretsChangeTheEnvsSecrets",
        mode: Mode::Apply,
        ops: &[
            "secretsmanager:CreateSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
            "secretsmanager:DeleteSecret",
            "secretsmanager:RestoreSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ],
        also: &[],
        on: &["{arn:secretsmanager}:secret:{project}/{env}/*"],
        cond: Cond::None,
    },
    Grant {
        sid: "SecretsRandomPasswordTouchesNoResource",
        mode: Mode::Apply,
        ops: &["secretsmanager:GetRandomPassword"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
];

//! The IAM actions the iam service calls, on the env's roles (`<project>-<env>-…`).

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const ROLES: &[&str] = &["arn:{partition}:iam::{account}:role/{prefix}-*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "IamReadTheCiRolesForOutput",
        mode: Mode::Observe,
        ops: &["iam:GetRole"],
        also: &[],
        on: &["arn:{partition}:iam::{account}:role/{project}-rtech-{env}-*"],
        cond: Cond::None,
    },
    Grant {
        sid: "IamReadTheEnvsRoles",
        mode: Mode::Observe,
        ops: &[
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
        ],
        also: &[],
        on: ROLES,
        cond: Cond::None,
    },
    Grant {
        sid: "IamChangeTheEnvsRoles",
        mode: Mode::Apply,
        ops: &[
            "iam:CreateRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
        ],
        also: &[],
        on: ROLES,
        cond: Cond::None,
    },
];

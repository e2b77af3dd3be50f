//! The IAM actions the iam service calls, on the env's roles (`<project>-<env>-…`).

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

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
    // Observe reads every role of the account in two calls, whatever their number, instead of
    // three to four per role: neither action names a resource (IAM offers no narrower scope),
    // and both only read (names, trust and permission policies, tags; never a secret).
    Grant {
        sid: "IamReadEveryRoleAtOnceSupportsNoResourceScoping",
        mode: Mode::Observe,
        ops: &["iam:GetAccountAuthorizationDetails", "iam:ListRoles"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    // GetRole: a role of ours that ListRoles has not listed yet (its description); apply's
    // adoption of a role a lost response created; ListRolePolicies and
    // ListAttachedRolePolicies: delete removes every policy the role holds at that moment.
    Grant {
        sid: "IamReadTheEnvsRoles",
        mode: Mode::Observe,
        ops: &["iam:GetRole"],
        also: &[],
        on: ROLES,
        cond: Cond::None,
    },
    Grant {
        sid: "IamListTheEnvsRolesPoliciesToDelete",
        mode: Mode::Apply,
        ops: &["iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
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

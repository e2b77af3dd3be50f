//! The KMS actions the kms service calls, on the env's alerts key and its alias. (Its
//! `tag:GetResources` after a lost CreateKey response is the tag index's, which alarms declares.)

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const KEYS: &[&str] = &["{arn:kms}:key/*"];
const ALIAS: &[&str] = &["{arn:kms}:alias/{prefix}-alerts"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "KmsListAliasesHasNoResource",
        mode: Mode::Observe,
        ops: &["kms:ListAliases"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        // The key an alias of our name points at may be anyone's: its tags say whose it is.
        sid: "KmsReadKeys",
        mode: Mode::Observe,
        ops: &[
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListResourceTags",
        ],
        also: &[],
        on: KEYS,
        cond: Cond::None,
    },
    Grant {
        sid: "KmsCreateKeyHasNoResource",
        mode: Mode::Apply,
        ops: &["kms:CreateKey"],
        // CreateKey carries the key's tags (tag-on-create).
        also: &["kms:TagResource"],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "KmsChangeKeysTaggedWithTheEnv",
        mode: Mode::Apply,
        ops: &[
            "kms:EnableKey",
            "kms:DisableKey",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:PutKeyPolicy",
            "kms:UpdateKeyDescription",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
        ],
        also: &[],
        on: KEYS,
        cond: Cond::Owned,
    },
    Grant {
        // An alias call is authorised on the alias and on the key it names.
        sid: "KmsChangeTheEnvsAlias",
        mode: Mode::Apply,
        ops: &["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
        also: &[],
        on: ALIAS,
        cond: Cond::None,
    },
    Grant {
        sid: "KmsAliasCallsOnTheEnvsKey",
        mode: Mode::Apply,
        ops: &[],
        also: &["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
        on: KEYS,
        cond: Cond::Owned,
    },
];

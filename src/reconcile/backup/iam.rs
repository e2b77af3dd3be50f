//! The AWS Backup actions the backup service calls, on the env's vault and plan.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "BackupListCallsSupportNoResourceScoping",
        mode: Mode::Observe,
        ops: &["backup:ListBackupVaults", "backup:ListBackupPlans"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "BackupReadsTheEnvsVaultAndPlan",
        mode: Mode::Observe,
        ops: &[
            "backup:DescribeBackupVault",
            "backup:GetBackupPlan",
            "backup:ListBackupSelections",
            "backup:GetBackupSelection",
            "backup:ListTags",
        ],
        also: &[],
        on: &[
            "{arn:backup}:backup-vault:{prefix}-*",
            "{arn:backup}:backup-plan:*",
        ],
        cond: Cond::None,
    },
    Grant {
        sid: "BackupChangesTheEnvsVaultAndPlan",
        mode: Mode::Apply,
        ops: &[
            "backup:CreateBackupVault",
            "backup:DeleteBackupVault",
            "backup:CreateBackupPlan",
            "backup:UpdateBackupPlan",
            "backup:DeleteBackupPlan",
            "backup:CreateBackupSelection",
            "backup:DeleteBackupSelection",
            "backup:TagResource",
            "backup:UntagResource",
        ],
        also: &[],
        on: &[
            "{arn:backup}:backup-vault:{prefix}-*",
            "{arn:backup}:backup-plan:*",
        ],
        cond: Cond::None,
    },
    Grant {
        sid: "BackupVaultStorageAndKeyGrantsHaveNoNarrowerResource",
        mode: Mode::Apply,
        ops: &[],
        also: &[
            "backup-storage:MountCapsule",
            "kms:CreateGrant",
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "kms:RetireGrant",
            "kms:DescribeKey",
        ],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "BackupSelectionPassesTheBackupRole",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:PassRole"],
        on: &["arn:{partition}:iam::{account}:role/{prefix}-backup"],
        cond: Cond::None,
    },
];

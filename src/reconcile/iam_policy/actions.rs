//! The one table from the operations rtech's code calls (`ec2:CreateVpc`, as `aws("…")` names
//! them) to the IAM actions AWS checks for them (the Service Authorization Reference).
//!
//! Most operations are authorised by the action of the same name under the service's IAM
//! prefix; [`PREFIXES`] renames the prefixes that differ and [`ACTIONS`] lists every operation
//! whose action is named otherwise or that needs more than its own action: tagging in the
//! create call itself (tag-on-create) needs the service's tagging action too.

/// The code's service prefix → IAM's, where they differ.
const PREFIXES: &[(&str, &str)] = &[("docdb", "rds"), ("elbv2", "elasticloadbalancing")];

/// Operations whose IAM actions are not just their own name under the service's prefix.
pub const ACTIONS: &[(&str, &[&str])] = &[
    // Anyone may ask who they are: no permission.
    ("sts:GetCallerIdentity", &[]),
    // S3's actions are named after the resource, not the REST operation.
    ("s3:HeadBucket", &["s3:ListBucket"]),
    ("s3:ListObjectsV2", &["s3:ListBucket"]),
    ("s3:ListObjectVersions", &["s3:ListBucketVersions"]),
    (
        "s3:DeleteObjects",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
    ),
    ("s3:GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
    ("s3:PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    (
        "s3:GetBucketLifecycleConfiguration",
        &["s3:GetLifecycleConfiguration"],
    ),
    (
        "s3:PutBucketLifecycleConfiguration",
        &["s3:PutLifecycleConfiguration"],
    ),
    (
        "s3:DeleteBucketLifecycle",
        &["s3:PutLifecycleConfiguration"],
    ),
    (
        "s3:GetPublicAccessBlock",
        &["s3:GetBucketPublicAccessBlock"],
    ),
    (
        "s3:PutPublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    // One call, two actions: the distribution and its tags.
    (
        "cloudfront:CreateDistributionWithTags",
        &["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    ),
    // The create call carries the tags, which needs the tagging action.
    (
        "wafv2:CreateWebACL",
        &["wafv2:CreateWebACL", "wafv2:TagResource"],
    ),
    // Tag-on-create: the create call carries the tags, which needs the tagging action.
    ("kms:CreateKey", &["kms:CreateKey", "kms:TagResource"]),
    ("ec2:CreateVpc", &["ec2:CreateVpc", "ec2:CreateTags"]),
    ("ec2:CreateSubnet", &["ec2:CreateSubnet", "ec2:CreateTags"]),
    (
        "ec2:CreateRouteTable",
        &["ec2:CreateRouteTable", "ec2:CreateTags"],
    ),
    (
        "ec2:CreateInternetGateway",
        &["ec2:CreateInternetGateway", "ec2:CreateTags"],
    ),
    (
        "ec2:CreateNatGateway",
        &["ec2:CreateNatGateway", "ec2:CreateTags"],
    ),
    (
        "ec2:CreateSecurityGroup",
        &["ec2:CreateSecurityGroup", "ec2:CreateTags"],
    ),
    (
        "ec2:AllocateAddress",
        &["ec2:AllocateAddress", "ec2:CreateTags"],
    ),
    (
        "docdb:CreateDBCluster",
        &["rds:CreateDBCluster", "rds:AddTagsToResource"],
    ),
    (
        "docdb:RestoreDBClusterFromSnapshot",
        &["rds:RestoreDBClusterFromSnapshot", "rds:AddTagsToResource"],
    ),
    (
        "docdb:CreateDBInstance",
        &["rds:CreateDBInstance", "rds:AddTagsToResource"],
    ),
    (
        "docdb:CreateDBSubnetGroup",
        &["rds:CreateDBSubnetGroup", "rds:AddTagsToResource"],
    ),
    (
        "docdb:CreateDBClusterParameterGroup",
        &["rds:CreateDBClusterParameterGroup", "rds:AddTagsToResource"],
    ),
    (
        "elasticache:CreateReplicationGroup",
        &[
            "elasticache:CreateReplicationGroup",
            "elasticache:AddTagsToResource",
        ],
    ),
    (
        "elasticache:CreateCacheSubnetGroup",
        &[
            "elasticache:CreateCacheSubnetGroup",
            "elasticache:AddTagsToResource",
        ],
    ),
    (
        "secretsmanager:CreateSecret",
        &["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
    ),
    (
        "ecr:CreateRepository",
        &["ecr:CreateRepository", "ecr:TagResource"],
    ),
    ("iam:CreateRole", &["iam:CreateRole", "iam:TagRole"]),
    (
        "logs:CreateLogGroup",
        &["logs:CreateLogGroup", "logs:TagResource"],
    ),
    (
        "ecs:CreateCluster",
        &["ecs:CreateCluster", "ecs:TagResource"],
    ),
    (
        "ecs:CreateService",
        &["ecs:CreateService", "ecs:TagResource"],
    ),
    (
        "ecs:RegisterTaskDefinition",
        &["ecs:RegisterTaskDefinition", "ecs:TagResource"],
    ),
    (
        "elbv2:CreateLoadBalancer",
        &[
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:AddTags",
        ],
    ),
    (
        "elbv2:CreateTargetGroup",
        &[
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:AddTags",
        ],
    ),
    (
        "elbv2:CreateListener",
        &[
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:AddTags",
        ],
    ),
    (
        "application-autoscaling:RegisterScalableTarget",
        &[
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:TagResource",
        ],
    ),
    (
        "acm:RequestCertificate",
        &["acm:RequestCertificate", "acm:AddTagsToCertificate"],
    ),
    ("sns:CreateTopic", &["sns:CreateTopic", "sns:TagResource"]),
    (
        "cloudwatch:PutMetricAlarm",
        &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
    ),
];

/// The IAM actions that authorise one operation (`docdb:CreateDBCluster` →
/// `rds:CreateDBCluster`, `rds:AddTagsToResource`), or that name as an IAM action unchanged
/// (`iam:PassRole`).
pub fn iam_actions(op: &str) -> Vec<String> {
    if let Some((_, a)) = ACTIONS.iter().find(|(o, _)| *o == op) {
        return a.iter().map(|s| s.to_string()).collect();
    }
    let (prefix, name) = op.split_once(':').unwrap_or(("", op));
    let prefix = PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map_or(prefix, |(_, iam)| iam);
    vec![format!("{prefix}:{name}")]
}

/// Verbs that change something: an action starting with one of them is not read-only.
#[cfg(test)]
const MUTATING: &[&str] = &[
    "Create",
    "Delete",
    "Put",
    "Update",
    "Modify",
    "Attach",
    "Detach",
    "Tag",
    "Untag",
    "Register",
    "Deregister",
    "Authorize",
    "Revoke",
    "Associate",
    "Disassociate",
    "Allocate",
    "Release",
    "Add",
    "Remove",
    "Set",
    "Change",
    "Enable",
    "Disable",
    "Replace",
    "Start",
    "Stop",
    "Run",
    "Invalidate",
    "BatchDelete",
    "BatchPut",
    "Increase",
    "Decrease",
    "Request",
    "Restore",
    "Failover",
    "TestFailover",
    "Subscribe",
    "Unsubscribe",
    "Pass",
];

/// The operation or action (`ec2:CreateVpc`, `rds:AddTagsToResource`) changes something.
#[cfg(test)]
pub fn is_mutating(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(_, n)| n);
    MUTATING.iter().any(|v| name.starts_with(v))
}

//! The WAFv2 actions the waf service calls (in us-east-1, CloudFront's scope), and what AWS
//! checks on the caller when the ACL's logs go to CloudWatch Logs.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

/// The env's web ACL (CloudFront scope: `global/webacl/<name>/<id>` in us-east-1).
const WEB_ACLS: &[&str] =
    &["arn:{partition}:wafv2:us-east-1:{account}:global/webacl/{name:web_acl}/*"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "WafListWebAclsSupportsNoResourceScoping",
        mode: Mode::Observe,
        ops: &["wafv2:ListWebACLs"],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "WafReadTheEnvsWebAcl",
        mode: Mode::Observe,
        ops: &[
            "wafv2:GetWebACL",
            "wafv2:ListTagsForResource",
            "wafv2:GetLoggingConfiguration",
        ],
        also: &[],
        on: WEB_ACLS,
        cond: Cond::None,
    },
    Grant {
        sid: "WafChangeTheEnvsWebAcl",
        mode: Mode::Apply,
        ops: &[
            "wafv2:CreateWebACL",
            "wafv2:UpdateWebACL",
            "wafv2:DeleteWebACL",
            "wafv2:TagResource",
            "wafv2:UntagResource",
            "wafv2:PutLoggingConfiguration",
            "wafv2:DeleteLoggingConfiguration",
        ],
        // A distribution's WebACLId set or cleared: CloudFront checks that the caller may
        // associate the ACL.
        also: &["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"],
        on: WEB_ACLS,
        cond: Cond::None,
    },
    Grant {
        sid: "WafLogDeliverySupportsNoResourceScoping",
        mode: Mode::Apply,
        ops: &[],
        // PutLoggingConfiguration to a log group: AWS sets up the delivery and the group's
        // resource policy as the caller.
        also: &[
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ],
        on: ANY,
        cond: Cond::None,
    },
];

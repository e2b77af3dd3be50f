//! The Elastic Load Balancing actions the elb service calls, on the env's load balancer and
//! target groups (by name: AWS appends an id to their ARNs).

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "ElbDescribeSupportsNoResourceLevelPermissions",
        mode: Mode::Observe,
        ops: &[
            "elbv2:DescribeLoadBalancers",
            "elbv2:DescribeLoadBalancerAttributes",
            "elbv2:DescribeTargetGroups",
            "elbv2:DescribeTargetGroupAttributes",
            "elbv2:DescribeListeners",
            "elbv2:DescribeRules",
            "elbv2:DescribeTags",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "ElbChangeTheEnvsLoadBalancer",
        mode: Mode::Apply,
        ops: &[
            "elbv2:CreateLoadBalancer",
            "elbv2:DeleteLoadBalancer",
            "elbv2:ModifyLoadBalancerAttributes",
            "elbv2:SetSecurityGroups",
            "elbv2:SetSubnets",
            "elbv2:SetIpAddressType",
            "elbv2:CreateTargetGroup",
            "elbv2:ModifyTargetGroup",
            "elbv2:ModifyTargetGroupAttributes",
            "elbv2:DeleteTargetGroup",
            "elbv2:CreateListener",
            "elbv2:ModifyListener",
            "elbv2:DeleteListener",
            "elbv2:CreateRule",
            "elbv2:ModifyRule",
            "elbv2:DeleteRule",
            "elbv2:AddTags",
            "elbv2:RemoveTags",
        ],
        also: &[],
        on: &[
            "{arn:elasticloadbalancing}:loadbalancer/app/{name:load_balancer}/*",
            "{arn:elasticloadbalancing}:listener/app/{name:load_balancer}/*",
            "{arn:elasticloadbalancing}:listener-rule/app/{name:load_balancer}/*",
            "{arn:elasticloadbalancing}:targetgroup/{name:target_group}/*",
        ],
        cond: Cond::None,
    },
    Grant {
        sid: "ElbFirstLoadBalancerNeedsElbServiceLinkedRole",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:CreateServiceLinkedRole"],
        on: &["arn:{partition}:iam::{account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"],
        cond: Cond::None,
    },
];

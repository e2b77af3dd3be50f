//! The ECS actions the ecs service calls, on the env's cluster and service, and the task
//! roles it passes.

use crate::reconcile::iam_policy::{Cond, Grant, Mode, ANY};

const DEPLOYMENTS: &[&str] = &[
    "{arn:ecs}:service/{prefix}/*",
    "{arn:ecs}:service-deployment/{prefix}/*",
    "{arn:ecs}:service-revision/{prefix}/*",
];

const CLUSTER_AND_SERVICE: &[&str] = &[
    "{arn:ecs}:cluster/{prefix}",
    "{arn:ecs}:service/{prefix}/*",
    "{arn:ecs}:task-definition/{prefix}-*",
];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "EcsReadTheEnvsClusterAndService",
        mode: Mode::Observe,
        ops: &[
            "ecs:DescribeClusters",
            "ecs:DescribeServices",
            "ecs:ListTagsForResource",
        ],
        also: &[],
        on: CLUSTER_AND_SERVICE,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsFollowTheEnvsServiceDeployments",
        mode: Mode::Observe,
        ops: &[
            "ecs:ListServiceDeployments",
            "ecs:DescribeServiceDeployments",
            "ecs:DescribeServiceRevisions",
        ],
        also: &[],
        on: DEPLOYMENTS,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsTaskDefinitionReadsSupportNoResourceScoping",
        mode: Mode::Observe,
        ops: &[
            "ecs:DescribeTaskDefinition",
            "ecs:ListTaskDefinitions",
            "ec2:DescribeSubnets",
            "elbv2:DescribeRules",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsChangeTheEnvsClusterAndService",
        mode: Mode::Apply,
        ops: &[
            "ecs:CreateCluster",
            "ecs:UpdateCluster",
            "ecs:DeleteCluster",
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:TagResource",
            "ecs:UntagResource",
        ],
        also: &[],
        on: CLUSTER_AND_SERVICE,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsRollBackTheEnvsServiceDeployments",
        mode: Mode::Apply,
        ops: &["ecs:StopServiceDeployment"],
        also: &[],
        on: DEPLOYMENTS,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsTaskDefinitionWritesSupportNoResourceScoping",
        mode: Mode::Apply,
        ops: &[
            "ecs:RegisterTaskDefinition",
            "ecs:DeregisterTaskDefinition",
            "ecs:DeleteTaskDefinitions",
        ],
        also: &[],
        on: ANY,
        cond: Cond::None,
    },
    Grant {
        sid: "EcsPassTheEnvsTaskRolesToEcsTasks",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:PassRole"],
        on: &[
            "arn:{partition}:iam::{account}:role/{name:iam_role/execution}",
            "arn:{partition}:iam::{account}:role/{name:iam_role/task}",
        ],
        cond: Cond::PassedTo("ecs-tasks.amazonaws.com"),
    },
    Grant {
        sid: "EcsPassTheInfrastructureRoleToEcs",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:PassRole"],
        on: &["arn:{partition}:iam::{account}:role/{name:iam_role/ecs_infrastructure}"],
        cond: Cond::PassedTo("ecs.amazonaws.com"),
    },
    Grant {
        sid: "EcsFirstServiceNeedsEcsServiceLinkedRole",
        mode: Mode::Apply,
        ops: &[],
        also: &["iam:CreateServiceLinkedRole"],
        on: &["arn:{partition}:iam::{account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"],
        cond: Cond::None,
    },
    Grant {
        sid: "EcsPlanChecksTheNewImageIsInTheRepository",
        mode: Mode::Observe,
        ops: &["ecr:BatchGetImage"],
        also: &[],
        on: &["{arn:ecr}:repository/{name:ecr_repository}"],
        cond: Cond::None,
    },
];

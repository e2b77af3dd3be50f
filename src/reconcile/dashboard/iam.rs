//! The CloudWatch dashboard actions the dashboard service calls, on the env's dashboard.

use crate::reconcile::iam_policy::{Cond, Grant, Mode};

const DASHBOARD: &[&str] = &["arn:{partition}:cloudwatch::{account}:dashboard/{name:dashboard}"];

pub static GRANTS: &[Grant] = &[
    Grant {
        sid: "DashboardReadTheEnvsDashboard",
        mode: Mode::Observe,
        ops: &["cloudwatch:GetDashboard"],
        also: &[],
        on: DASHBOARD,
        cond: Cond::None,
    },
    Grant {
        sid: "DashboardChangeTheEnvsDashboard",
        mode: Mode::Apply,
        ops: &["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"],
        also: &[],
        on: DASHBOARD,
        cond: Cond::None,
    },
];

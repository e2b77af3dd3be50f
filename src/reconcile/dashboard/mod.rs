//! The CloudWatch dashboard: `dashboard/main`, named `{project}-{env}`, when
//! `spec.monitoring.dashboard` is on.
//!
//! Widgets (each only when its service exists): ALB TargetResponseTime and RequestCount
//! (`[edge]`; LoadBalancer = Ref(load_balancer/main, arn_suffix)), ECS CPU and memory (`[app]`;
//! the derived cluster and service names), an error-rate Logs Insights widget over the app's
//! log group (`[app]`; the group name is deterministic, `logs::group_name`, and the widget
//! depends on `log_group/app`), DocumentDB and Redis panels (their derived names). Region =
//! spec.region.
//!
//! The body is one property, `body`: a JSON tree with references inside. Apply sends it, once
//! resolved, as JSON text (PutDashboard, which creates and updates); observe parses AWS's
//! DashboardBody back into the same shape, so the comparison is by JSON meaning (key order and
//! whitespace do not matter; integral numbers compare as integers, whatever their spelling:
//! `300` == `300.0`). Our body only holds integers; a fractional number read back becomes its
//! decimal string, so it always differs from ours (and is repaired).
//!
//! Ownership: dashboards have no tags. Ours carries a marker: the first widget is a text widget
//! whose markdown names rtech, the project, the env and the id (`marker_text`). A dashboard with
//! our derived name whose body has no such widget (or names another project/env/id) is foreign:
//! a conflict, never touched.
//!
//! Observe: GetDashboard by the derived name — one call (ResourceNotFound → absent). The name is
//! derived from ctx.project/env, so destroy (no desired) finds it too. Delete: DeleteDashboards.

pub mod board;
mod iam;

use async_trait::async_trait;
use serde_json::Value as J;

use crate::aws::{aws, AwsError};
use crate::model::{Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{found, to_props};
use crate::reconcile::{Ctx, Kind, Service};
use crate::spec::Spec;

#[cfg(test)]
use board::to_json_text;
use board::{body, parse_body, DashboardProps};

#[cfg(test)]
mod tests;

pub const DASHBOARD: &str = "dashboard";

const KINDS: &[&dyn Kind] = &[&board::Dashboard];

pub fn dashboard_id() -> ResourceId {
    ResourceId::new(DASHBOARD, "main")
}

/// `{project}-{env}`.
pub fn dashboard_name(project: &str, env: &str) -> String {
    format!("{project}-{env}")
}

/// The markdown of the ownership marker widget.
pub fn marker_text(project: &str, env: &str) -> String {
    format!(
        "Managed by rtech: project `{project}`, env `{env}`, id `{}`. Changes made here are overwritten.",
        dashboard_id()
    )
}

/// Spec → Desired (pure): the dashboard when `[monitoring] dashboard` is on.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    if !spec.monitoring.dashboard {
        return vec![];
    }
    let name = dashboard_name(&spec.project, &spec.env);
    let props = to_props(&DashboardProps {
        name: name.clone(),
        body: body(spec),
    });
    // `prop` also records the resources the body refers to as dependencies.
    let mut res = Resource::new(dashboard_id(), name).with_props(props);
    // Names are derived (a re-created service or group keeps its name, so the dashboard does
    // not plan an update for it); it still comes after what it shows.
    if spec.app.is_some() {
        res = res
            .dep(&crate::reconcile::logs::group_id())
            .dep(&crate::reconcile::ecs::service_id());
    }
    if spec.docdb.is_some() {
        res = res.dep(&ResourceId::new("docdb_cluster", "main"));
    }
    if spec.redis.is_some() {
        res = res.dep(&ResourceId::new("redis", "main"));
    }
    vec![res]
}

/// True if the body carries our marker widget for this project/env.
pub fn is_ours(body: &J, project: &str, env: &str) -> bool {
    let want = marker_text(project, env);
    let Some(ws) = body.get("widgets").and_then(J::as_array) else {
        return false;
    };
    ws.iter().any(|w| {
        w.get("type").and_then(J::as_str) == Some("text")
            && w.get("properties")
                .and_then(|p| p.get("markdown"))
                .and_then(J::as_str)
                == Some(want.as_str())
    })
}

/// A live dashboard → Observed (pure): Owned with its body when the marker is there, else
/// Foreign.
pub fn observed(name: &str, body_text: &str, project: &str, env: &str) -> Observed {
    let o = Observed::new(dashboard_id(), name);
    match parse_body(body_text) {
        Some(b) if is_ours(&b, project, env) => {
            let props = DashboardProps {
                name: name.to_string(),
                body: b,
            };
            o.with_props(to_props(&props)).attr("name", name)
        }
        _ => Observed {
            ownership: Ownership::Foreign,
            ..o
        },
    }
}

pub struct Dashboard;

#[async_trait]
impl Service for Dashboard {
    crate::service_basics!("dashboard", KINDS, expand, iam::GRANTS, outputs: [("dashboard_name", "dashboard", "main", "name")]);
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let name = dashboard_name(&ctx.project, &ctx.env);
        let got = ctx
            .clients
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .map_err(aws("cloudwatch:GetDashboard"));
        Ok(found(got)?
            .map(|out| {
                let body = out.dashboard_body().unwrap_or_default();
                observed(&name, body, &ctx.project, &ctx.env)
            })
            .into_iter()
            .collect())
    }
}

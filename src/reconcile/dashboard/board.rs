//! `dashboard/main`: the env's CloudWatch dashboard. Its properties are the name and the body,
//! a JSON tree that may hold references (`{"$ref": …}`) until apply resolves them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};

use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, gone_ok, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

use super::{marker_text, DASHBOARD};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardProps {
    pub name: String,
    /// The dashboard body: integers only (a fractional number read back is its decimal
    /// string, so it differs from ours and is repaired).
    pub body: J,
}

pub static SCHEMA: KindSchema = KindSchema::replaced_on(DASHBOARD, &["name"]);

/// Metric widgets' period, in seconds.
const PERIOD: i64 = 300;
const WIDTH: i64 = 12;
const HEIGHT: i64 = 6;

fn r(kind: &str, name: &str, attr: &str) -> J {
    serde_json::to_value(Link::to(&ResourceId::new(kind, name), attr)).expect("a link serialises")
}

/// A panel before it is placed on the grid.
struct Panel {
    kind: &'static str,
    height: i64,
    width: i64,
    properties: J,
}

fn metric(title: &str, stat: &str, metrics: Vec<J>, region: &str) -> Panel {
    Panel {
        kind: "metric",
        height: HEIGHT,
        width: WIDTH,
        properties: json!({
            "title": title,
            "view": "timeSeries",
            "stacked": false,
            "region": region,
            "stat": stat,
            "period": PERIOD,
            "metrics": metrics,
        }),
    }
}

/// `[namespace, metric, dim, value, dim, value…]`.
fn line(namespace: &str, name: &str, dims: Vec<(&str, J)>) -> J {
    let mut l = vec![J::from(namespace), J::from(name)];
    for (k, v) in dims {
        l.push(J::from(k));
        l.push(v);
    }
    J::Array(l)
}

/// The body as a JSON tree (references inside), for the services the spec has.
pub fn body(spec: &Spec) -> J {
    let region = spec.region.as_str();
    let mut panels = vec![Panel {
        kind: "text",
        height: 2,
        width: 24,
        properties: json!({ "markdown": marker_text(&spec.project, &spec.env) }),
    }];
    if spec.edge.is_some() {
        let lb = || vec![("LoadBalancer", r("load_balancer", "main", "arn_suffix"))];
        panels.push(metric(
            "ALB target response time",
            "p95",
            vec![line("AWS/ApplicationELB", "TargetResponseTime", lb())],
            region,
        ));
        panels.push(metric(
            "ALB requests",
            "Sum",
            vec![line("AWS/ApplicationELB", "RequestCount", lb())],
            region,
        ));
    }
    if spec.app.is_some() {
        let svc = || {
            vec![
                (
                    "ClusterName",
                    J::from(crate::reconcile::ecs::cluster_name(
                        &spec.project,
                        &spec.env,
                    )),
                ),
                (
                    "ServiceName",
                    J::from(crate::reconcile::ecs::app_name(&spec.project, &spec.env)),
                ),
            ]
        };
        panels.push(metric(
            "ECS CPU utilization",
            "Average",
            vec![line("AWS/ECS", "CPUUtilization", svc())],
            region,
        ));
        panels.push(metric(
            "ECS memory utilization",
            "Average",
            vec![line("AWS/ECS", "MemoryUtilization", svc())],
            region,
        ));
        let group = crate::reconcile::logs::group_name(&spec.project, &spec.env);
        panels.push(Panel {
            kind: "log",
            height: HEIGHT,
            width: 24,
            properties: json!({
                "title": "Application errors",
                "region": region,
                "view": "timeSeries",
                "stacked": false,
                "query": format!(
                    "SOURCE '{group}' | fields @timestamp, @message | filter @message like /(?i)error/ | stats count(*) as errors by bin(5m)"
                ),
            }),
        });
    }
    if spec.docdb.is_some() {
        let c = || vec![("DBClusterIdentifier", J::from(spec.name("docdb")))];
        panels.push(metric(
            "DocumentDB CPU utilization",
            "Average",
            vec![line("AWS/DocDB", "CPUUtilization", c())],
            region,
        ));
        panels.push(metric(
            "DocumentDB connections and freeable memory",
            "Average",
            vec![
                line("AWS/DocDB", "DatabaseConnections", c()),
                line("AWS/DocDB", "FreeableMemory", c()),
            ],
            region,
        ));
    }
    if spec.redis.is_some() {
        let g = || vec![("ReplicationGroupId", J::from(spec.name("redis")))];
        panels.push(metric(
            "Redis CPU utilization",
            "Average",
            vec![line("AWS/ElastiCache", "EngineCPUUtilization", g())],
            region,
        ));
        panels.push(metric(
            "Redis memory usage",
            "Average",
            vec![line(
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                g(),
            )],
            region,
        ));
    }
    // Grid: left to right, 24 columns wide.
    let (mut x, mut y, mut row_h) = (0i64, 0i64, 0i64);
    let mut widgets = vec![];
    for p in panels {
        if x + p.width > 24 {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        widgets.push(json!({
            "type": p.kind,
            "x": x,
            "y": y,
            "width": p.width,
            "height": p.height,
            "properties": p.properties,
        }));
        x += p.width;
        row_h = row_h.max(p.height);
    }
    json!({ "widgets": widgets })
}

/// True if the JSON still holds a reference or a value unknown until apply.
fn unresolved(j: &J) -> bool {
    match j {
        J::Array(a) => a.iter().any(unresolved),
        J::Object(o) => {
            (o.len() == 1 && (o.contains_key("$ref") || o.contains_key("$unknown")))
                || o.values().any(unresolved)
        }
        _ => false,
    }
}

/// A resolved body → the JSON text PutDashboard takes. References still unresolved are an
/// error.
pub fn to_json_text(body: &J) -> Result<String, AwsError> {
    if unresolved(body) {
        return Err(AwsError::new(
            "cloudwatch:PutDashboard",
            "UnresolvedReference",
            "the dashboard body still has references not known at apply",
        ));
    }
    Ok(body.to_string())
}

/// JSON read back, by meaning: integral numbers are integers, whatever their spelling
/// (`300` == `300.0`), fractional ones their decimal string.
fn by_meaning(j: J) -> J {
    match j {
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => J::from(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => J::from(f as i64),
            _ => J::String(n.to_string()),
        },
        J::Array(a) => J::Array(a.into_iter().map(by_meaning).collect()),
        J::Object(o) => J::Object(o.into_iter().map(|(k, v)| (k, by_meaning(v))).collect()),
        other => other,
    }
}

/// AWS's DashboardBody → the body as the plan compares it (None when it is not JSON).
pub fn parse_body(text: &str) -> Option<J> {
    serde_json::from_str::<J>(text).ok().map(by_meaning)
}

pub struct Dashboard;

#[async_trait]
impl Kind for Dashboard {
    crate::typed_kind!(SCHEMA, DashboardProps);

    /// PutDashboard creates and updates alike.
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: DashboardProps = from_props(&r.props)?;
        let text = to_json_text(&p.body)?;
        let out = ctx
            .clients
            .cloudwatch
            .put_dashboard()
            .dashboard_name(&p.name)
            .dashboard_body(text)
            .send()
            .await
            .map_err(aws("cloudwatch:PutDashboard"))?;
        if let Some(m) = out.dashboard_validation_messages().first() {
            return Err(AwsError::new(
                "cloudwatch:PutDashboard",
                "InvalidParameterInput",
                format!(
                    "{}: {}",
                    m.data_path().unwrap_or_default(),
                    m.message().unwrap_or_default()
                ),
            ));
        }
        let mut a = Attrs::new();
        a.insert("id".into(), p.name.clone());
        a.insert("name".into(), p.name);
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        self.create(ctx, u.desired, task).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .cloudwatch
                .delete_dashboards()
                .dashboard_names(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("cloudwatch:DeleteDashboards")),
        )
    }
}

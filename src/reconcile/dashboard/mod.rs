//! The CloudWatch dashboard (issue 6, seed section 7): `dashboard/main`, named
//! `{project}-{env}`, when `spec.monitoring.dashboard` is on.
//!
//! Widgets (each only when its service exists): ALB TargetResponseTime and RequestCount
//! (`[edge]`; LoadBalancer = Ref(load_balancer/main, arn_suffix)), ECS CPU and memory (`[app]`;
//! ClusterName = Ref(ecs_cluster/main, name), ServiceName = Ref(ecs_service/app, name)), an
//! error-rate Logs Insights widget over the app's log group (`[app]`; the group name is
//! deterministic, `logs::group_name`, and the widget depends on `log_group/app`), DocumentDB
//! (Ref(docdb_cluster/main, id)) and Redis (Ref(redis/main, id)) panels. Region = spec.region.
//!
//! The body is one property, `body`: a `Value` Map/List tree with Refs inside. Apply resolves
//! the Refs and serialises it to JSON (PutDashboard, which creates and updates); observe parses
//! AWS's DashboardBody back into the same shape, so the comparison is by JSON meaning (key order
//! and whitespace do not matter; integral numbers compare as `Int`, whatever their spelling:
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

use async_trait::async_trait;

use crate::aws::{aws, AwsError};
use crate::model::{Attrs, Observed, Ownership, Resource, ResourceId, Value};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

#[cfg(test)]
mod tests;

pub const DASHBOARD: &str = "dashboard";

pub static KINDS: &[KindSchema] = &[KindSchema {
    kind: DASHBOARD,
    force_new: &["name"],
    new_attrs_on_update: false,
    create_before_destroy: false,
}];

/// Metric widgets' period, in seconds.
const PERIOD: i64 = 300;
const WIDTH: i64 = 12;
const HEIGHT: i64 = 6;

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

fn s(v: &str) -> Value {
    Value::str(v)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn r(kind: &str, name: &str, attr: &str) -> Value {
    Value::reference(&ResourceId::new(kind, name), attr)
}

/// A panel before it is placed on the grid.
struct Panel {
    kind: &'static str,
    height: i64,
    width: i64,
    properties: Value,
}

fn metric(title: &str, stat: &str, metrics: Vec<Value>, region: &str) -> Panel {
    Panel {
        kind: "metric",
        height: HEIGHT,
        width: WIDTH,
        properties: map(vec![
            ("title", s(title)),
            ("view", s("timeSeries")),
            ("stacked", Value::Bool(false)),
            ("region", s(region)),
            ("stat", s(stat)),
            ("period", Value::Int(PERIOD)),
            ("metrics", Value::List(metrics)),
        ]),
    }
}

/// `[namespace, metric, dim, value, dim, value…]`.
fn line(namespace: &str, name: &str, dims: Vec<(&str, Value)>) -> Value {
    let mut l = vec![s(namespace), s(name)];
    for (k, v) in dims {
        l.push(s(k));
        l.push(v);
    }
    Value::List(l)
}

/// The body as a Value tree (Refs inside), for the services the spec has.
pub fn body(spec: &Spec) -> Value {
    let region = spec.region.as_str();
    let mut panels = vec![Panel {
        kind: "text",
        height: 2,
        width: 24,
        properties: map(vec![(
            "markdown",
            s(&marker_text(&spec.project, &spec.env)),
        )]),
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
                    Value::str(crate::reconcile::ecs::cluster_name(
                        &spec.project,
                        &spec.env,
                    )),
                ),
                (
                    "ServiceName",
                    Value::str(crate::reconcile::ecs::app_name(&spec.project, &spec.env)),
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
            properties: map(vec![
                ("title", s("Application errors")),
                ("region", s(region)),
                ("view", s("timeSeries")),
                ("stacked", Value::Bool(false)),
                (
                    "query",
                    s(&format!(
                        "SOURCE '{group}' | fields @timestamp, @message | filter @message like /(?i)error/ | stats count(*) as errors by bin(5m)"
                    )),
                ),
            ]),
        });
    }
    if spec.docdb.is_some() {
        let c = || vec![("DBClusterIdentifier", Value::str(spec.name("docdb")))];
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
        let g = || vec![("ReplicationGroupId", Value::str(spec.name("redis")))];
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
        widgets.push(map(vec![
            ("type", s(p.kind)),
            ("x", Value::Int(x)),
            ("y", Value::Int(y)),
            ("width", Value::Int(p.width)),
            ("height", Value::Int(p.height)),
            ("properties", p.properties),
        ]));
        x += p.width;
        row_h = row_h.max(p.height);
    }
    map(vec![("widgets", Value::List(widgets))])
}

/// Spec → Desired (pure): the dashboard when `[monitoring] dashboard` is on.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    if !spec.monitoring.dashboard {
        return vec![];
    }
    let name = dashboard_name(&spec.project, &spec.env);
    let mut res = Resource::new(dashboard_id(), name.clone())
        .prop("name", Value::str(name))
        .prop("body", body(spec));
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

/// A resolved body → the JSON text PutDashboard takes. Refs still unresolved are an error.
pub fn to_json_text(body: &Value) -> Result<String, AwsError> {
    if body.is_unknown() {
        return Err(AwsError::new(
            "cloudwatch:PutDashboard",
            "UnresolvedReference",
            "the dashboard body still has references not known at apply",
        ));
    }
    Ok(body.to_json().to_string())
}

/// JSON → Value, by meaning: integral numbers are `Int`, fractional ones their decimal string.
pub fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(f as i64),
            _ => Value::Str(n.to_string()),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::List(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

/// AWS's DashboardBody → Value (None when it is not JSON).
pub fn parse_body(text: &str) -> Option<Value> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .map(|j| from_json(&j))
}

/// True if the body carries our marker widget for this project/env.
pub fn is_ours(body: &Value, project: &str, env: &str) -> bool {
    let want = marker_text(project, env);
    let Some(Value::List(ws)) = body.as_map().and_then(|m| m.get("widgets")) else {
        return false;
    };
    ws.iter().any(|w| {
        let Some(m) = w.as_map() else { return false };
        m.get("type").and_then(Value::as_str) == Some("text")
            && m.get("properties")
                .and_then(Value::as_map)
                .and_then(|p| p.get("markdown"))
                .and_then(Value::as_str)
                == Some(want.as_str())
    })
}

/// A live dashboard → Observed (pure): Owned with its body when the marker is there, else
/// Foreign.
pub fn observed(name: &str, body_text: &str, project: &str, env: &str) -> Observed {
    let mut o = Observed::new(dashboard_id(), name);
    match parse_body(body_text) {
        Some(b) if is_ours(&b, project, env) => {
            o = o.prop("name", Value::str(name)).prop("body", b);
            o.attrs.insert("name".into(), name.to_string());
        }
        _ => o.ownership = Ownership::Foreign,
    }
    o
}

fn not_found(e: &AwsError) -> bool {
    e.is_not_found()
}

async fn put(ctx: &Ctx, r: &Resource) -> Result<Attrs, AwsError> {
    let name = r.get_str("name").unwrap_or_default().to_string();
    let text = to_json_text(r.props.get("body").unwrap_or(&Value::Null))?;
    let out = ctx
        .clients
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
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
    a.insert("id".into(), name.clone());
    a.insert("name".into(), name);
    Ok(a)
}

pub struct Dashboard;

#[async_trait]
impl Reconciler for Dashboard {
    fn service(&self) -> &'static str {
        "dashboard"
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        KINDS.iter().collect()
    }
    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        let name = dashboard_name(&ctx.project, &ctx.env);
        match ctx
            .clients
            .cloudwatch
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .map_err(aws("cloudwatch:GetDashboard"))
        {
            Ok(out) => Ok(vec![observed(
                &name,
                out.dashboard_body().unwrap_or_default(),
                &ctx.project,
                &ctx.env,
            )]),
            Err(e) if not_found(&e) => Ok(vec![]),
            Err(e) => Err(e),
        }
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        match op {
            Op::Create(r) => put(ctx, r).await,
            Op::Update { desired, .. } => put(ctx, desired).await,
            Op::Delete(o) => {
                match ctx
                    .clients
                    .cloudwatch
                    .delete_dashboards()
                    .dashboard_names(&o.physical_id)
                    .send()
                    .await
                    .map_err(aws("cloudwatch:DeleteDashboards"))
                {
                    Ok(_) => Ok(Attrs::new()),
                    Err(e) if not_found(&e) => Ok(Attrs::new()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

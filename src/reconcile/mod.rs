//! The reconciler contract, and one module per service.
//!
//! Each service owns its resource kinds end to end: `expand` (Spec → Desired, pure),
//! `observe` (batched, paginated reads of live state, never writing), and `apply` (one change,
//! then wait until AWS reports it settled). The diff itself is the engine's generic field diff
//! over the normalised properties each service produces, steered by its `KindSchema`s.

pub mod acm;
pub mod alarms;
pub mod cdn;
pub mod dashboard;
pub mod dns;
pub mod docdb;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod iam;
pub mod logs;
pub mod network;
pub mod redis;
pub mod s3;
pub mod scaling;
pub mod secrets;
pub mod sns;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{AwsError, Clients};
use crate::engine::progress::Task;
use crate::model::{Attrs, Observed, Resource};
use crate::plan::{Change, KindSchema};
use crate::spec::Spec;

/// What a reconciler needs to talk to AWS about one env.
pub struct Ctx {
    pub project: String,
    pub env: String,
    pub region: String,
    pub clients: Clients,
    /// The env's Route 53 zone name from the spec's `[edge]` (also during destroy, whose
    /// observe gets no desired resources): records live in a zone rtech may not own.
    pub zone: Option<String>,
    /// `apply --no-wait`: do not wait for slow propagation that nothing else in the plan
    /// needs (CloudFront's `Deployed`); say so instead.
    pub no_wait: bool,
}

/// One change handed to a reconciler, with every reference already resolved.
pub enum Op<'a> {
    Create(&'a Resource),
    Update {
        desired: &'a Resource,
        prior: &'a Observed,
        /// Top-level properties that differ.
        changed: &'a BTreeSet<String>,
    },
    Delete(&'a Observed),
}

#[async_trait]
pub trait Reconciler: Send + Sync {
    /// The service name (`network`, …).
    fn service(&self) -> &'static str;
    fn kinds(&self) -> &'static [KindSchema];
    /// Read every live resource of this service's kinds for the env (ours by tag, and
    /// same-named foreign ones as `Ownership::Foreign`).
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError>;
    /// Make one change and wait until it has settled; return the resource's attributes.
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError>;
    /// Wait until a live resource that a change references is ready, and return its fresh
    /// attributes: e.g. a Redis group still `creating` after an interrupted apply has no
    /// endpoint yet. Called only for resources the plan does not change.
    async fn settle(&self, _ctx: &Ctx, o: &Observed, _task: &Task) -> Result<Attrs, AwsError> {
        Ok(o.attrs.clone())
    }
    /// Refuse a planned change before anything runs (e.g. deleting a protected cluster):
    /// the reason is shown in the plan and apply refuses the whole plan.
    fn guard(&self, _change: &Change) -> Option<String> {
        None
    }
    /// How to adopt a conflicting resource of this service when tags are not how it marks
    /// ownership (Route 53 records): replaces the plan's generic conflict message.
    fn conflict_message(&self, _ctx: &Ctx, _conflict: &crate::plan::Conflict) -> Option<String> {
        None
    }
}

/// The tag that lets rtech delete a resource still holding data (a repository's images, a
/// bucket's objects): set from the spec, read from the live resource.
pub const TAG_FORCE_DELETE: &str = "rtech:force-delete";

/// The live resource is marked `rtech:force-delete=true`.
pub fn force_delete(o: &Observed) -> bool {
    o.tag(TAG_FORCE_DELETE) == Some("true")
}

/// What the data a guarded resource holds is, and how the user can let it go.
pub struct DataLoss<'a> {
    /// `repository`, `bucket`.
    pub noun: &'a str,
    /// `3 image(s)`, `objects`.
    pub holds: String,
    /// The spec setting that marks it: `ecr.force_delete = true`.
    pub setting: &'a str,
    /// The other way out: `delete the images first`.
    pub otherwise: &'a str,
}

/// The plan's refusal to delete or replace a resource that holds data (the caller has seen
/// that it does), unless the live resource is marked `rtech:force-delete=true` and, for a
/// replace, the spec agrees.
pub fn refuse_data_loss(change: &Change, loss: DataLoss<'_>) -> Option<String> {
    let prior = change.prior.as_ref()?;
    let spec_force = change
        .desired
        .as_ref()
        .map(|d| {
            crate::model::tags_of(&d.props)
                .get(TAG_FORCE_DELETE)
                .map(String::as_str)
                == Some("true")
        })
        .unwrap_or(true);
    if force_delete(prior) && spec_force {
        return None;
    }
    let DataLoss {
        noun,
        holds,
        setting,
        otherwise,
    } = loss;
    let (what, how) = match change.action {
        crate::plan::Action::Replace => (
            "replacing it deletes them",
            format!(
                "set {setting} and apply that before the change that replaces it (or {otherwise})"
            ),
        ),
        _ => (
            "deleting it deletes them",
            format!("set {setting} in the spec and apply, then destroy (or {otherwise})"),
        ),
    };
    Some(format!(
        "refused: {} ({noun} {}) holds {holds} and {what}; {how}",
        change.id, prior.physical_id
    ))
}

/// Every service's resources for a spec (pure).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let mut out = network::expand(spec);
    out.extend(secrets::expand(spec));
    out.extend(docdb::expand(spec));
    out.extend(redis::expand(spec));
    out.extend(ecr::expand(spec));
    out.extend(logs::expand(spec));
    out.extend(iam::expand(spec));
    out.extend(elb::expand(spec));
    out.extend(ecs::expand(spec));
    out.extend(scaling::expand(spec));
    out.extend(s3::expand(spec));
    out.extend(acm::expand(spec));
    out.extend(dns::expand(spec));
    out.extend(cdn::expand(spec));
    out.extend(sns::expand(spec));
    out.extend(alarms::expand(spec));
    out.extend(dashboard::expand(spec));
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// All reconcilers, in a fixed order.
pub fn registry() -> Vec<Arc<dyn Reconciler>> {
    vec![
        Arc::new(network::Network),
        Arc::new(secrets::Secrets),
        Arc::new(docdb::Docdb),
        Arc::new(redis::Redis),
        Arc::new(ecr::Ecr),
        Arc::new(logs::Logs),
        Arc::new(iam::Iam),
        Arc::new(elb::Elb),
        Arc::new(ecs::Ecs),
        Arc::new(scaling::Scaling),
        Arc::new(s3::S3),
        Arc::new(acm::Acm),
        Arc::new(dns::Dns),
        Arc::new(cdn::Cdn),
        Arc::new(sns::Sns),
        Arc::new(alarms::Alarms),
        Arc::new(dashboard::Dashboard),
    ]
}

/// The schema of a kind, across all services.
pub fn schema(kind: &str) -> Option<&'static KindSchema> {
    [
        network::KINDS,
        secrets::KINDS,
        docdb::KINDS,
        redis::KINDS,
        ecr::KINDS,
        logs::KINDS,
        iam::KINDS,
        elb::KINDS,
        ecs::KINDS,
        scaling::KINDS,
        s3::KINDS,
        acm::KINDS,
        dns::KINDS,
        cdn::KINDS,
        sns::KINDS,
        alarms::KINDS,
        dashboard::KINDS,
    ]
    .into_iter()
    .flatten()
    .find(|k| k.kind == kind)
}

/// The reconciler that owns a kind.
pub fn owner<'a>(regs: &'a [Arc<dyn Reconciler>], kind: &str) -> Option<&'a Arc<dyn Reconciler>> {
    regs.iter()
        .find(|r| r.kinds().iter().any(|k| k.kind == kind))
}

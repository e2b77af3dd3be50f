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
#[allow(unused_imports, dead_code)]
pub mod kit;
pub mod logs;
pub mod network;
#[cfg(test)]
mod pins;
pub mod redis;
pub mod s3;
pub mod scaling;
pub mod secrets;
pub mod sns;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{AwsError, Clients};
use crate::model::{Attrs, Observed, Props, Resource};
use crate::plan::{Change, KindSchema};
use crate::progress::Task;
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
    fn kinds(&self) -> Vec<&'static KindSchema>;
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
    /// The typed kind (services on the [`Service`] interface).
    fn typed_kind(&self, _kind: &str) -> Option<&'static dyn Kind> {
        None
    }
    /// How to adopt a conflicting resource of this service when tags are not how it marks
    /// ownership (Route 53 records): replaces the plan's generic conflict message.
    fn conflict_message(&self, _ctx: &Ctx, _conflict: &crate::plan::Conflict) -> Option<String> {
        None
    }
}

/// One resource kind: its schema, its typed properties and how one change of it is made.
/// Each kind is a unit struct in its own file, next to its props struct.
// Used as services move onto it (the registry adapts each one through `Adapted`).
#[allow(dead_code)]
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    fn schema(&self) -> &'static KindSchema;
    /// The props read into the kind's struct and written back (`kit::round_trip::<P>`):
    /// equal to the input when expand and observe agree with the struct.
    fn round_trip(&self, props: &Props) -> Result<Props, kit::PropsError>;
    /// Make one change and wait until it has settled; return the resource's attributes.
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError>;
    /// See [`Reconciler::settle`].
    async fn settle(&self, _ctx: &Ctx, o: &Observed, _task: &Task) -> Result<Attrs, AwsError> {
        Ok(o.attrs.clone())
    }
    /// See [`Reconciler::guard`].
    fn guard(&self, _change: &Change) -> Option<String> {
        None
    }
    /// See [`Reconciler::conflict_message`].
    fn conflict_message(&self, _ctx: &Ctx, _conflict: &crate::plan::Conflict) -> Option<String> {
        None
    }
}

/// One AWS service: the kinds it owns, expand for all of them (pure) and one batched observe.
#[allow(dead_code)]
#[async_trait]
pub trait Service: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn kinds(&self) -> &'static [&'static dyn Kind];
    fn expand(&self, spec: &Spec) -> Vec<Resource>;
    /// Read every live resource of this service's kinds for the env (ours by tag, and
    /// same-named foreign ones as `Ownership::Foreign`).
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError>;
}

/// A [`Service`] seen through the engine's [`Reconciler`] interface: each change goes to the
/// kind that owns it.
#[allow(dead_code)]
pub struct Adapted<S>(pub S);

#[allow(dead_code)]
impl<S: Service> Adapted<S> {
    fn kind_of(&self, kind: &str) -> Result<&'static dyn Kind, AwsError> {
        self.0
            .kinds()
            .iter()
            .copied()
            .find(|k| k.schema().kind == kind)
            .ok_or_else(|| {
                AwsError::new(
                    "rtech",
                    "UnknownKind",
                    format!("service {} has no kind {kind}", self.0.name()),
                )
            })
    }
}

#[async_trait]
impl<S: Service> Reconciler for Adapted<S> {
    fn service(&self) -> &'static str {
        self.0.name()
    }
    fn kinds(&self) -> Vec<&'static KindSchema> {
        self.0.kinds().iter().map(|k| k.schema()).collect()
    }
    fn typed_kind(&self, kind: &str) -> Option<&'static dyn Kind> {
        self.kind_of(kind).ok()
    }
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        self.0.observe(ctx, desired).await
    }
    async fn apply(&self, ctx: &Ctx, op: Op<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let kind = match &op {
            Op::Create(r) => &r.id.kind,
            Op::Update { desired, .. } => &desired.id.kind,
            Op::Delete(o) => &o.id.kind,
        };
        self.kind_of(kind)?.apply(ctx, op, task).await
    }
    async fn settle(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<Attrs, AwsError> {
        self.kind_of(&o.id.kind)?.settle(ctx, o, task).await
    }
    fn guard(&self, change: &Change) -> Option<String> {
        self.kind_of(&change.id.kind).ok()?.guard(change)
    }
    fn conflict_message(&self, ctx: &Ctx, conflict: &crate::plan::Conflict) -> Option<String> {
        self.kind_of(&conflict.id.kind)
            .ok()?
            .conflict_message(ctx, conflict)
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
    out.extend(redis::Redis.expand(spec));
    out.extend(ecr::Ecr.expand(spec));
    out.extend(logs::expand(spec));
    out.extend(iam::Iam.expand(spec));
    out.extend(elb::expand(spec));
    out.extend(ecs::expand(spec));
    out.extend(scaling::expand(spec));
    out.extend(s3::expand(spec));
    out.extend(acm::expand(spec));
    out.extend(dns::expand(spec));
    out.extend(cdn::expand(spec));
    out.extend(sns::Sns.expand(spec));
    out.extend(alarms::Alarms.expand(spec));
    out.extend(dashboard::Dashboard.expand(spec));
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// All reconcilers, in a fixed order.
pub fn registry() -> Vec<Arc<dyn Reconciler>> {
    vec![
        Arc::new(Adapted(network::Network)),
        Arc::new(Adapted(secrets::Secrets)),
        Arc::new(Adapted(docdb::Docdb)),
        Arc::new(Adapted(redis::Redis)),
        Arc::new(Adapted(ecr::Ecr)),
        Arc::new(Adapted(logs::Logs)),
        Arc::new(Adapted(iam::Iam)),
        Arc::new(Adapted(elb::Elb)),
        Arc::new(Adapted(ecs::Ecs)),
        Arc::new(Adapted(scaling::Scaling)),
        Arc::new(Adapted(s3::S3)),
        Arc::new(Adapted(acm::Acm)),
        Arc::new(Adapted(dns::Dns)),
        Arc::new(Adapted(cdn::Cdn)),
        Arc::new(Adapted(sns::Sns)),
        Arc::new(Adapted(alarms::Alarms)),
        Arc::new(Adapted(dashboard::Dashboard)),
    ]
}

/// The schema of a kind, across all services.
pub fn schema(kind: &str) -> Option<&'static KindSchema> {
    static ALL: std::sync::OnceLock<Vec<&'static KindSchema>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| registry().iter().flat_map(|r| r.kinds()).collect())
        .iter()
        .copied()
        .find(|k| k.kind == kind)
}

/// The reconciler that owns a kind.
pub fn owner<'a>(regs: &'a [Arc<dyn Reconciler>], kind: &str) -> Option<&'a Arc<dyn Reconciler>> {
    regs.iter()
        .find(|r| r.kinds().iter().any(|k| k.kind == kind))
}

/// The typed kind behind a kind name, for services already on the [`Service`] interface.
pub fn typed_kind(regs: &[Arc<dyn Reconciler>], kind: &str) -> Option<&'static dyn Kind> {
    owner(regs, kind)?.typed_kind(kind)
}

//! The reconciler contract, and one module per service.
//!
//! Each service owns its resource kinds end to end: `expand` (Spec → Desired, pure),
//! `observe` (batched, paginated reads of live state, never writing), and `apply` (one change,
//! then wait until AWS reports it settled). The diff itself is the engine's generic field diff
//! over the normalised properties each service produces, steered by its `KindSchema`s.

pub mod acm;
pub mod alarms;
pub mod backup;
pub mod bootstrap;
pub mod cdn;
#[cfg(test)]
mod cpu_bound;
pub mod dashboard;
pub mod dns;
pub mod docdb;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod iam;
pub mod iam_policy;
#[allow(unused_imports, dead_code)]
pub mod kit;
pub mod kms;
pub mod logs;
pub mod network;
#[cfg(test)]
mod pins;
pub mod redis;
pub mod s3;
pub mod scaling;
pub mod secrets;
pub mod sns;
pub mod waf;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use crate::aws::{AwsError, Clients, Identity};
use crate::model::{Attrs, Observed, Props, Resource, ResourceId};
use crate::plan::{Change, KindSchema};
use crate::progress::Task;
use crate::spec::Spec;

/// What a reconciler needs to talk to AWS about one env.
pub struct Ctx {
    pub project: String,
    pub env: String,
    pub region: String,
    /// The caller (sts:GetCallerIdentity), asked at the session's start and awaited only by
    /// what needs the account ([`Ctx::account`]).
    pub identity: Identity,
    pub clients: Clients,
    /// The env's tagged resources, read once per session on first use ([`Ctx::tag_index`]).
    pub tag_index: tokio::sync::OnceCell<kit::tag_index::TagIndex>,
    /// The env's Route 53 zone name from the spec's `[edge]` (also during destroy, whose
    /// observe gets no desired resources): records live in a zone rtech may not own.
    pub zone: Option<String>,
    /// `apply --no-wait`: do not wait for slow propagation that nothing else in the plan
    /// needs (CloudFront's `Deployed`); say so instead.
    pub no_wait: bool,
    /// `rtech deploy`: the command follows the service's deployment itself (through ECS's
    /// service deployments), so a service update returns once ECS has accepted it.
    pub deploy_followed: bool,
    /// One random value per apply (`kit::idem::run_nonce`): idempotency tokens derive from it,
    /// so the SDK's retry of a create within this apply is idempotent and a later apply's
    /// re-create is not refused.
    pub nonce: u64,
    /// Reads that more than one service needs within one observe ([`Round`]); each
    /// `Session::observe` starts a new round, so a later observe never sees an older answer.
    pub round: std::sync::Mutex<std::sync::Arc<Round>>,
}

/// The reads services share within one observe, each made once on first use: ECS's
/// DescribeServices answers both ECS (the service itself) and Application Auto Scaling (the
/// ARN of the service its target scales, while active).
#[derive(Default)]
pub struct Round {
    pub ecs_service: tokio::sync::OnceCell<Option<aws_sdk_ecs::types::Service>>,
}

impl Ctx {
    /// Starts a new observe round: what the previous one read is forgotten.
    pub fn new_round(&self) {
        *self.round.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }

    /// The current observe round's shared reads.
    pub fn round(&self) -> std::sync::Arc<Round> {
        self.round.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The caller's account (awaits the session's one sts:GetCallerIdentity).
    pub async fn account(&self) -> Result<String, AwsError> {
        Ok(self.identity.clone().await?.account)
    }

    /// The env's tag index (`kit::tag_index`): one `tag:GetResources` read, paginated, on
    /// first use; every service after that shares it.
    pub async fn tag_index(&self) -> Result<&kit::tag_index::TagIndex, AwsError> {
        self.tag_index
            .get_or_try_init(|| kit::tag_index::fetch(&self.clients, &self.project, &self.env))
            .await
    }
}

/// An in-place change of one resource, every reference resolved.
#[derive(Clone, Copy)]
pub struct Update<'a> {
    pub desired: &'a Resource,
    pub prior: &'a Observed,
    /// Top-level properties that differ.
    pub changed: &'a BTreeSet<String>,
}

impl Update<'_> {
    /// The property `key` differs.
    pub fn changed(&self, key: &str) -> bool {
        self.changed.contains(key)
    }
}

/// One resource kind: its schema, its typed properties and how one change of it is made.
/// Each kind is a unit struct in its own file, next to its props struct.
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    fn schema(&self) -> &'static KindSchema;
    /// The props read into the kind's struct and written back (`kit::round_trip::<P>`):
    /// equal to the input when expand and observe agree with the struct.
    #[cfg_attr(not(test), allow(dead_code))]
    fn round_trip(&self, props: &Props) -> Result<Props, kit::PropsError>;
    /// Create the resource and wait until AWS reports it settled; return its attributes.
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError>;
    /// Change the properties in `changed` in place (the others force a replace, which the plan
    /// runs as a create and a delete) and wait until settled; return the attributes that
    /// changed (the engine keeps the prior ones for the rest).
    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError>;
    /// Delete the live resource and wait until it is gone; one already gone is success.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError>;
    /// Wait until a live resource that a change references is ready, and return its fresh
    /// attributes: e.g. a Redis group still `creating` after an interrupted apply has no
    /// endpoint yet. Called only for resources the plan does not change.
    async fn settle(&self, _ctx: &Ctx, o: &Observed, _task: &Task) -> Result<Attrs, AwsError> {
        Ok(o.attrs.clone())
    }
    /// What only a delete or replace of this live resource needs to know: the data it holds
    /// (a bucket's objects, a repository's images), read after the diff for those changes
    /// alone and added to their prior's attributes before [`Kind::guard`] runs, so that a plan
    /// that keeps the resource does not pay for it. Read-only.
    async fn data_held(&self, _ctx: &Ctx, _prior: &Observed) -> Result<Attrs, AwsError> {
        Ok(Attrs::new())
    }
    /// Refuse a planned change before anything runs (e.g. deleting a protected cluster):
    /// the reason is shown in the plan and apply refuses the whole plan.
    fn guard(&self, _change: &Change) -> Option<String> {
        None
    }
    /// Whether a planned change must wait for something outside the plan (a new task
    /// definition's image that is not in the repository yet): the reason, shown in the plan.
    /// Apply makes every other change, leaves this one and its dependants, and exits 1
    /// naming it. Read-only; called only for the plan's creates, updates and replaces.
    async fn blocked(
        &self,
        _ctx: &Ctx,
        _change: &Change,
        _desired: &[Resource],
    ) -> Result<Option<String>, AwsError> {
        Ok(None)
    }
    /// How to adopt a conflicting resource of this kind when tags are not how it marks
    /// ownership (Route 53 records): replaces the plan's generic conflict message.
    fn conflict_message(&self, _ctx: &Ctx, _conflict: &crate::plan::Conflict) -> Option<String> {
        None
    }
    /// `rtech import`: how a live resource of this kind that rtech did not create is adopted,
    /// for a kind that can read one resource by its physical id cheaply (None: not importable).
    fn import(&self) -> Option<&dyn Import> {
        None
    }
}

/// A kind's part of `rtech import`: read one live resource by the id AWS gives it, through the
/// same normaliser observe uses, and add rtech's ownership tags to it (and nothing else).
#[async_trait]
pub trait Import: Send + Sync {
    /// What the physical id is, for messages: `a VPC id (vpc-…)`.
    fn physical_form(&self) -> &'static str;
    /// Whether `physical` can name a resource of this kind (pure): an id of another kind
    /// (`subnet-…` for a VPC) is refused before any call.
    fn accepts(&self, physical: &str) -> bool;
    /// Observe finds this kind by the name the spec gives it (a bucket, a hosted zone): a live
    /// resource under another name would stay invisible to the next plan, so it is refused.
    fn found_by_name(&self) -> bool {
        false
    }
    /// The live resource `physical` as observe normalises it, as `id`, with every tag it
    /// carries (ownership is the caller's to judge); AWS's NotFound error when there is none.
    async fn read(&self, ctx: &Ctx, id: &ResourceId, physical: &str) -> Result<Observed, AwsError>;
    /// Add `tags` to the live resource (read by [`Import::read`]), changing nothing else.
    async fn add_tags(
        &self,
        ctx: &Ctx,
        live: &Observed,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError>;
}

/// One AWS service: the kinds it owns, expand for all of them (pure) and one batched observe.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn kinds(&self) -> &'static [&'static dyn Kind];
    fn expand(&self, spec: &Spec) -> Vec<Resource>;
    /// Read every live resource of this service's kinds for the env (ours by tag, and
    /// same-named foreign ones as `Ownership::Foreign`).
    async fn observe(&self, ctx: &Ctx, desired: &[Resource]) -> Result<Vec<Observed>, AwsError>;
    /// The operations this service calls, per mode, and on which of the env's resources (its
    /// `iam.rs`): what `rtech iam-policy` grants. No default: a new service must say.
    fn iam(&self) -> &'static [iam_policy::Grant];
    /// The env's outputs that come from this service's kinds, read from live state (never
    /// from the spec); `rtech output` prints them in its documented order.
    fn outputs(&self, _observed: &[Observed]) -> Vec<kit::outputs::Output> {
        vec![]
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

/// Every service, in a fixed order: the one list that the registry, the schemas and expand
/// come from. A new service is added here and nowhere else.
pub static SERVICES: &[&dyn Service] = &[
    &network::Network,
    &secrets::Secrets,
    &docdb::Docdb,
    &redis::Redis,
    &ecr::Ecr,
    &logs::Logs,
    &iam::Iam,
    &elb::Elb,
    &ecs::Ecs,
    &scaling::Scaling,
    &s3::S3,
    &acm::Acm,
    &dns::Dns,
    &waf::Waf,
    &cdn::Cdn,
    &kms::Kms,
    &sns::Sns,
    &backup::Backup,
    &alarms::Alarms,
    &dashboard::Dashboard,
];

/// The services a run uses: [`SERVICES`], or a test's own.
#[derive(Clone, Copy)]
pub struct Registry {
    services: &'static [&'static dyn Service],
}

impl Registry {
    pub fn all() -> Registry {
        Registry { services: SERVICES }
    }

    /// What `rtech bootstrap` makes once per account and region (the lock bucket, the GitHub
    /// OIDC provider and the CI roles): not an env's resources, so never planned by apply.
    pub fn bootstrap() -> Registry {
        Registry {
            services: bootstrap::SERVICES,
        }
    }

    #[cfg(test)]
    pub fn of(services: &'static [&'static dyn Service]) -> Registry {
        Registry { services }
    }

    pub fn services(&self) -> &'static [&'static dyn Service] {
        self.services
    }

    /// The kinds `rtech import` can adopt, by name.
    pub fn importable(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self
            .services
            .iter()
            .flat_map(|s| s.kinds().iter())
            .filter(|k| k.import().is_some())
            .map(|k| k.schema().kind)
            .collect();
        out.sort_unstable();
        out
    }

    /// The kind of that name, across all services.
    pub fn kind(&self, kind: &str) -> Option<&'static dyn Kind> {
        self.services
            .iter()
            .flat_map(|s| s.kinds().iter().copied())
            .find(|k| k.schema().kind == kind)
    }
}

/// Every service's resources for a spec (pure), by id.
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let mut out: Vec<Resource> = SERVICES.iter().flat_map(|s| s.expand(spec)).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The schema of a kind, across all services (a session asks its own registry).
#[cfg(test)]
pub fn schema(kind: &str) -> Option<&'static KindSchema> {
    Registry::all().kind(kind).map(|k| k.schema())
}

/// Whether `rtech import` can adopt a live resource of `kind`, across all services.
#[cfg(test)]
pub fn importable(kind: &str) -> bool {
    Registry::all()
        .kind(kind)
        .is_some_and(|k| k.import().is_some())
}

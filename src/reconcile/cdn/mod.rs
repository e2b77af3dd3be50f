//! Work in progress (issue 5): see the module's owner.

use async_trait::async_trait;

use crate::aws::AwsError;
use crate::engine::progress::Task;
use crate::model::{Attrs, Observed, Resource};
use crate::plan::KindSchema;
use crate::reconcile::{Ctx, Op, Reconciler};
use crate::spec::Spec;

pub static KINDS: &[KindSchema] = &[];

/// Spec → Desired (pure).
pub fn expand(_spec: &Spec) -> Vec<Resource> {
    vec![]
}

pub struct Cdn;

#[async_trait]
impl Reconciler for Cdn {
    fn service(&self) -> &'static str {
        "cloudfront"
    }
    fn kinds(&self) -> &'static [KindSchema] {
        KINDS
    }
    async fn observe(&self, _ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        Ok(vec![])
    }
    async fn apply(&self, _ctx: &Ctx, _op: Op<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        Err(AwsError::new(
            "cloudfront",
            "NotImplemented",
            "work in progress",
        ))
    }
}

/// The distribution's resource id, as progress lines name it.
pub const DISTRIBUTION_ID: &str = "distribution/main";

/// One invalidation, as `rtech invalidate` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    pub id: String,
    /// `InProgress` or `Completed`.
    pub status: String,
    pub paths: Vec<String>,
}

/// Invalidate `paths` on the env's distribution (found as observe finds it); with `wait`, wait
/// until the invalidation completes, with progress on `task`.
pub async fn invalidate(
    _ctx: &Ctx,
    _paths: &[String],
    _wait: bool,
    _task: &Task,
) -> Result<Invalidation, AwsError> {
    Err(AwsError::new(
        "cloudfront",
        "NotImplemented",
        "work in progress",
    ))
}

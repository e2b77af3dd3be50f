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

pub struct S3;

#[async_trait]
impl Reconciler for S3 {
    fn service(&self) -> &'static str {
        "s3"
    }
    fn kinds(&self) -> &'static [KindSchema] {
        KINDS
    }
    async fn observe(&self, _ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        Ok(vec![])
    }
    async fn apply(&self, _ctx: &Ctx, _op: Op<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        Err(AwsError::new("s3", "NotImplemented", "work in progress"))
    }
}

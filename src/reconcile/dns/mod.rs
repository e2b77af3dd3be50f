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

pub struct Dns;

#[async_trait]
impl Reconciler for Dns {
    fn service(&self) -> &'static str {
        "route53"
    }
    fn kinds(&self) -> &'static [KindSchema] {
        KINDS
    }
    async fn observe(&self, _ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        Ok(vec![])
    }
    async fn apply(&self, _ctx: &Ctx, _op: Op<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        Err(AwsError::new(
            "route53",
            "NotImplemented",
            "work in progress",
        ))
    }
}

/// The env's hosted zone name, from the desired records or zone (prop `zone`).
pub fn zone_of(desired: &[Resource]) -> Option<String> {
    desired
        .iter()
        .filter(|r| r.id.kind == "record" || r.id.kind == "hosted_zone")
        .find_map(|r| r.get_str("zone").map(str::to_string))
}

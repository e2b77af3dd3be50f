//! Outputs: each service declares the env's outputs that come from its kinds
//! (`Service::outputs`), read from live state with these helpers; `rtech output` puts them in
//! the one documented order (`commands::output::ORDER`).

use crate::model::{Observed, Ownership};

/// One output: its key and its value (null when the env has no such resource).
pub type Output = (&'static str, serde_json::Value);

/// Our live resources of `kind` whose name starts with `prefix` (duplicates left out), by id.
pub fn owned<'a>(observed: &'a [Observed], kind: &str, prefix: &str) -> Vec<&'a Observed> {
    let mut v: Vec<&Observed> = observed
        .iter()
        .filter(|o| {
            o.ownership == Ownership::Owned
                && o.id.kind == kind
                && o.id.name.starts_with(prefix)
                && !o.id.name.contains('~')
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// Their physical ids, in id order.
pub fn ids(observed: &[Observed], kind: &str, prefix: &str) -> serde_json::Value {
    owned(observed, kind, prefix)
        .iter()
        .map(|o| o.physical_id.clone())
        .collect::<Vec<_>>()
        .into()
}

/// One attribute of `kind/name`.
pub fn attr(observed: &[Observed], kind: &str, name: &str, key: &str) -> serde_json::Value {
    owned(observed, kind, name)
        .into_iter()
        .find(|o| o.id.name == name)
        .and_then(|o| o.attrs.get(key).cloned())
        .into()
}

/// Outputs that are each one attribute of one resource: `(output, kind, name, attribute)`.
pub fn attrs(observed: &[Observed], rows: &[(&'static str, &str, &str, &str)]) -> Vec<Output> {
    rows.iter()
        .map(|(key, kind, name, a)| (*key, attr(observed, kind, name, a)))
        .collect()
}

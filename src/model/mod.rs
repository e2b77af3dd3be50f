//! The desired model: resources with stable ids, typed property values, and references to
//! other resources' attributes that stay unknown until apply.

pub mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Tag keys that mark a resource as rtech's.
pub const TAG_PROJECT: &str = "rtech:project";
pub const TAG_ENV: &str = "rtech:env";
pub const TAG_ID: &str = "rtech:id";

/// A stable resource id, `kind/name` (e.g. `vpc/main`, `subnet/private-a`), used in plan
/// text, JSON and `--target`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: String,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceId {
            kind: kind.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

impl FromStr for ResourceId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((k, n)) if !k.is_empty() && !n.is_empty() => Ok(ResourceId::new(k, n)),
            _ => Err(format!("{s:?} is not a resource id of the form kind/name")),
        }
    }
}

impl Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A reference to an attribute of another resource (e.g. the `id` of `vpc/main`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ref {
    pub resource: ResourceId,
    pub attr: String,
}

/// A property value. `Ref` and `Unknown` exist only before apply; the executor resolves them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Ref(Ref),
    Unknown,
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn reference(resource: &ResourceId, attr: &str) -> Value {
        Value::Ref(Ref {
            resource: resource.clone(),
            attr: attr.to_string(),
        })
    }

    #[cfg(test)]
    pub fn string_map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
        Value::Map(
            m.into_iter()
                .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                .collect(),
        )
    }

    pub fn opt_str(s: Option<&str>) -> Value {
        s.map(Value::str).unwrap_or(Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True if the value (or anything inside it) is not known until apply.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Ref(_) | Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::is_unknown),
            Value::Map(m) => m.values().any(Value::is_unknown),
            _ => false,
        }
    }

    /// Every reference inside the value.
    pub fn refs(&self, out: &mut Vec<Ref>) {
        match self {
            Value::Ref(r) => out.push(r.clone()),
            Value::List(l) => l.iter().for_each(|v| v.refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Replace references with what `lookup` knows; what it does not know becomes `Unknown`.
    pub fn resolve(&self, lookup: &dyn Fn(&Ref) -> Option<String>) -> Value {
        match self {
            Value::Ref(r) => lookup(r).map(Value::Str).unwrap_or(Value::Unknown),
            Value::List(l) => Value::List(l.iter().map(|v| v.resolve(lookup)).collect()),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.resolve(lookup)))
                    .collect(),
            ),
            v => v.clone(),
        }
    }

    /// Plain JSON for display; unknowns become null (the caller flags them).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::Ref(_) | Value::Unknown => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Str(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "(none)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
            Value::Ref(_) | Value::Unknown => write!(f, "(known after apply)"),
        }
    }
}

pub type Props = BTreeMap<String, Value>;
pub type Attrs = BTreeMap<String, String>;

/// A resource as the spec wants it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: ResourceId,
    /// The AWS-side name (or Name tag) shown beside the id; informational.
    pub name: String,
    pub props: Props,
    /// Resources this one needs to exist first (references are added automatically).
    pub deps: BTreeSet<ResourceId>,
    /// Property names whose values are never displayed, and are produced at apply time (a
    /// saved plan does not carry them).
    #[serde(default)]
    pub sensitive: BTreeSet<String>,
    /// Property names whose values are never displayed but are spec inputs the saved plan keeps
    /// (a webhook URL holding its key).
    #[serde(default)]
    pub masked: BTreeSet<String>,
    /// Properties the spec leaves to live state ("late initialisation"): the plan takes the
    /// observed value when the resource exists, else this default (e.g. the deployed image
    /// when no --image-tag is given).
    #[serde(default)]
    pub late_init: BTreeMap<String, Late>,
}

/// A late-initialised property: the live value when there is one, else `default`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Late {
    pub default: Value,
    /// A live integer outside this range is drift, repaired to the nearest bound (a desired
    /// count the auto scaler owns between min and max).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamp: Option<(i64, i64)>,
}

impl Late {
    /// What the plan wants given the live value (None when the resource does not exist).
    pub fn fill(&self, live: Option<&Value>) -> Value {
        match (live, self.clamp) {
            (None | Some(Value::Null), _) => self.default.clone(),
            (Some(Value::Int(n)), Some((lo, hi))) => Value::Int((*n).clamp(lo, hi)),
            (Some(v), _) => v.clone(),
        }
    }
}

impl Resource {
    pub fn new(id: ResourceId, name: impl Into<String>) -> Self {
        Resource {
            id,
            name: name.into(),
            props: Props::new(),
            deps: BTreeSet::new(),
            sensitive: BTreeSet::new(),
            masked: BTreeSet::new(),
            late_init: BTreeMap::new(),
        }
    }

    pub fn prop(mut self, key: &str, v: Value) -> Self {
        let mut refs = Vec::new();
        v.refs(&mut refs);
        for r in refs {
            self.deps.insert(r.resource);
        }
        self.props.insert(key.to_string(), v);
        self
    }

    pub fn dep(mut self, id: &ResourceId) -> Self {
        self.deps.insert(id.clone());
        self
    }

    /// A kind's typed props (`kit::to_props`) as this resource's properties; every reference
    /// in them becomes a dependency, as with [`Resource::prop`].
    pub fn with_props(self, props: Props) -> Self {
        props.into_iter().fold(self, |r, (k, v)| r.prop(&k, v))
    }

    /// A property taken from live state when the resource exists, else `default`.
    pub fn late(mut self, key: &str, default: Value) -> Self {
        let mut refs = Vec::new();
        default.refs(&mut refs);
        for r in refs {
            self.deps.insert(r.resource);
        }
        self.late_init.insert(
            key.to_string(),
            Late {
                default,
                clamp: None,
            },
        );
        self
    }

    /// An integer owned by something else within `[min, max]` (e.g. the auto scaler's desired
    /// count): the live value inside the range, the nearest bound outside it, `default` when
    /// the resource does not exist yet.
    pub fn late_clamped(mut self, key: &str, default: i64, min: i64, max: i64) -> Self {
        self.late_init.insert(
            key.to_string(),
            Late {
                default: Value::Int(default),
                clamp: Some((min, max)),
            },
        );
        self
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(Value::as_str)
    }
}

/// Whether a live resource carries our tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    Owned,
    /// Exists under a name we want, without our tags: never modified or deleted.
    Foreign,
}

/// A resource as AWS has it now, normalised into the same property shape as `Resource`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub id: ResourceId,
    /// The AWS id (vpc-…, sg-…, an ARN…).
    pub physical_id: String,
    pub props: Props,
    /// Attributes other resources may reference (`id`, `arn`, …).
    pub attrs: Attrs,
    /// What this resource depends on (so deletes can run in reverse order).
    pub deps: BTreeSet<ResourceId>,
    pub ownership: Ownership,
}

impl Observed {
    pub fn new(id: ResourceId, physical_id: impl Into<String>) -> Self {
        let physical_id = physical_id.into();
        let mut attrs = Attrs::new();
        attrs.insert("id".into(), physical_id.clone());
        Observed {
            id,
            physical_id,
            props: Props::new(),
            attrs,
            deps: BTreeSet::new(),
            ownership: Ownership::Owned,
        }
    }

    pub fn prop(mut self, key: &str, v: Value) -> Self {
        self.props.insert(key.to_string(), v);
        self
    }

    /// The live resource's typed props (`kit::to_props`), as observe normalised them.
    pub fn with_props(mut self, props: Props) -> Self {
        self.props = props;
        self
    }

    /// One attribute (an ARN, an endpoint) that references to this resource can read.
    pub fn attr(mut self, key: &str, v: impl Into<String>) -> Self {
        self.attrs.insert(key.to_string(), v.into());
        self
    }

    pub fn dep(mut self, id: &ResourceId) -> Self {
        self.deps.insert(id.clone());
        self
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.props.get(key).and_then(Value::as_str)
    }

    /// A tag's value, from the normalised `tags` property.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.props.get("tags")?.as_map()?.get(key)?.as_str()
    }

    /// A stable fingerprint of what was observed, for saved-plan staleness checks.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let json =
            serde_json::to_string(&(&self.physical_id, &self.props, &self.attrs, &self.ownership))
                .expect("observed state serialises");
        hex::encode(&Sha256::digest(json.as_bytes())[..12])
    }
}

/// The `tags` property as plain strings.
pub fn tags_of(props: &Props) -> BTreeMap<String, String> {
    props
        .get("tags")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What turns the live tags `before` into `after`: keys to remove, and keys to set (new or
/// changed). Every service's tag sync is this, spoken in its own API.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagDelta {
    pub removed: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// Tags from any SDK's (key, value) pairs as a map, without AWS's own (`aws:`…).
pub fn tag_pairs<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

pub fn tag_delta(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> TagDelta {
    TagDelta {
        removed: before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect(),
        set: after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Our ownership tags plus the Name tag and the spec's extra tags.
pub fn tags_for(
    project: &str,
    env: &str,
    id: &ResourceId,
    name: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut t = extra.clone();
    t.insert("Name".into(), name.into());
    t.insert(TAG_PROJECT.into(), project.into());
    t.insert(TAG_ENV.into(), env.into());
    t.insert(TAG_ID.into(), id.to_string());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_id_round_trips() {
        let id: ResourceId = "subnet/private-a".parse().unwrap();
        assert_eq!(id, ResourceId::new("subnet", "private-a"));
        assert_eq!(id.to_string(), "subnet/private-a");
        assert!("nokind".parse::<ResourceId>().is_err());
        assert!("/x".parse::<ResourceId>().is_err());
        // names may contain slashes after the first one (e.g. CIDRs are sanitised, but be lenient)
        assert_eq!("a/b/c".parse::<ResourceId>().unwrap().name, "b/c");
    }

    #[test]
    fn refs_become_deps_and_resolve() {
        let vpc = ResourceId::new("vpc", "main");
        let r = Resource::new(ResourceId::new("subnet", "a"), "x")
            .prop("vpc_id", Value::reference(&vpc, "id"));
        assert!(r.deps.contains(&vpc));
        let v = &r.props["vpc_id"];
        assert!(v.is_unknown());
        assert_eq!(v.resolve(&|_| Some("vpc-1".into())), Value::str("vpc-1"));
        assert_eq!(v.resolve(&|_| None), Value::Unknown);
        assert_eq!(v.to_string(), "(known after apply)");
    }

    #[test]
    fn tag_delta_removes_missing_keys_and_sets_new_or_changed_ones() {
        let m = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let d = tag_delta(
            &m(&[("a", "1"), ("b", "2"), ("c", "3")]),
            &m(&[("a", "1"), ("b", "9"), ("d", "4")]),
        );
        assert_eq!(d.removed, vec!["c".to_string()]);
        assert_eq!(
            d.set,
            vec![
                ("b".to_string(), "9".to_string()),
                ("d".to_string(), "4".to_string())
            ]
        );
        assert_eq!(
            tag_delta(&m(&[("a", "1")]), &m(&[("a", "1")])),
            TagDelta::default()
        );
    }

    #[test]
    fn fingerprint_changes_with_props() {
        let a = Observed::new(ResourceId::new("vpc", "main"), "vpc-1")
            .prop("cidr_block", Value::str("10.0.0.0/16"));
        let b = a.clone().prop("cidr_block", Value::str("10.1.0.0/16"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }

    #[test]
    fn tag_pairs_drop_aws_keys_and_keyless_tags() {
        let m = tag_pairs([
            (Some("Name"), Some("rtech-dev-vpc")),
            (Some("aws:cloudformation:stack"), Some("x")),
            (None, Some("orphan")),
            (Some("empty"), None),
        ]);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![
                ("Name".to_string(), "rtech-dev-vpc".to_string()),
                ("empty".to_string(), String::new())
            ]
        );
    }
}

//! Typed properties. Each kind has one `#[derive(Serialize, Deserialize)]` struct of its
//! properties, built by its expand and by its observe normaliser alike, and read by its
//! request builders. The plan keeps the generic [`Props`] map (for the field diff, rendering
//! and saved plans): [`to_props`] and [`from_props`] convert between the two.
//!
//! The conversion goes through JSON: strings, integers, booleans, lists and maps map one to
//! one; a reference to another resource's attribute is `{"$ref": {"resource": …, "attr": …}}`
//! and a value unknown until apply is `{"$unknown": true}`, which a [`Link`] field accepts. An
//! `Option` field that is `None` is `Value::Null` unless the field says
//! `#[serde(skip_serializing_if = "Option::is_none")]` (then the key is absent, as when the
//! spec leaves it out).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::model::{Props, Ref, ResourceId, Value};

/// A property that holds another resource's attribute: known (a plain string: in observed
/// state, and in desired state once the executor has resolved references), a reference still
/// to resolve, or unknown until apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Link {
    Known(String),
    Ref {
        #[serde(rename = "$ref")]
        reference: Ref,
    },
    Unknown {
        #[serde(rename = "$unknown")]
        unknown: bool,
    },
}

impl Link {
    /// A reference to `attr` of `resource`.
    pub fn to(resource: &ResourceId, attr: &str) -> Link {
        Link::Ref {
            reference: Ref {
                resource: resource.clone(),
                attr: attr.to_string(),
            },
        }
    }

    /// The value, once known (references are resolved before a change is applied).
    pub fn known(&self) -> Option<&str> {
        match self {
            Link::Known(s) => Some(s),
            _ => None,
        }
    }

    /// The known value, or an error naming the property (a change applied with an unresolved
    /// reference is a bug in the plan, never sent to AWS as an empty string).
    pub fn require(&self, field: &str) -> Result<&str, PropsError> {
        self.known().ok_or_else(|| PropsError {
            message: format!("{field}: not known yet (an unresolved reference)"),
        })
    }
}

impl From<&str> for Link {
    fn from(s: &str) -> Link {
        Link::Known(s.to_string())
    }
}

impl From<String> for Link {
    fn from(s: String) -> Link {
        Link::Known(s)
    }
}

/// Props that do not fit a kind's struct: a field named differently on the two sides, a value
/// of the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PropsError {
    pub message: String,
}

impl From<PropsError> for crate::aws::AwsError {
    fn from(e: PropsError) -> Self {
        crate::aws::AwsError::new("rtech:props", "InvalidProps", e.message)
    }
}

/// The two `Kind` methods every typed kind writes the same way, inside its `impl Kind`: its
/// schema (a `static KindSchema`) and its props struct (`round_trip` through it); with
/// `import`, also `Kind::import` for a kind that implements `Import`.
#[macro_export]
macro_rules! typed_kind {
    ($schema:expr, $props:ty) => {
        fn schema(&self) -> &'static $crate::plan::KindSchema {
            &$schema
        }
        fn round_trip(
            &self,
            p: &$crate::model::Props,
        ) -> Result<$crate::model::Props, $crate::reconcile::kit::PropsError> {
            $crate::reconcile::kit::round_trip::<$props>(p)
        }
    };
    // A kind that `rtech import` can adopt: it implements `Import` too.
    ($schema:expr, $props:ty, import) => {
        $crate::typed_kind!($schema, $props);
        fn import(&self) -> Option<&dyn $crate::reconcile::Import> {
            Some(self)
        }
    };
}

/// A typed struct as the plan's property map. Panics only if the struct is not a plain data
/// struct (a programming error caught by every kind's unit tests).
pub fn to_props<T: Serialize>(t: &T) -> Props {
    match serde_json::to_value(t).map(json_to_value) {
        Ok(Value::Map(m)) => m,
        Ok(other) => panic!("props must serialise to a map, not {other:?}"),
        Err(e) => panic!("props do not serialise: {e}"),
    }
}

/// The plan's property map as a kind's typed struct.
pub fn from_props<T: DeserializeOwned>(p: &Props) -> Result<T, PropsError> {
    let json = J::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    );
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(json, &mut track);
    T::deserialize(de).map_err(|e| PropsError {
        message: format!("{}: {e}", track.path()),
    })
}

/// Props read into `T` and written back: equal to the input when `T` has exactly the fields
/// the map has (with `#[serde(deny_unknown_fields)]`), which every kind's test checks.
pub fn round_trip<T: Serialize + DeserializeOwned>(p: &Props) -> Result<Props, PropsError> {
    from_props::<T>(p).map(|t| to_props(&t))
}

fn json_to_value(j: J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::Int(
            n.as_i64()
                .unwrap_or_else(|| panic!("props hold integers only, not {n}")),
        ),
        J::String(s) => Value::Str(s),
        J::Array(a) => Value::List(a.into_iter().map(json_to_value).collect()),
        J::Object(o) => {
            if o.len() == 1 {
                if let Some(r) = o.get("$ref") {
                    if let Ok(r) = serde_json::from_value::<Ref>(r.clone()) {
                        return Value::Ref(r);
                    }
                }
                if o.get("$unknown") == Some(&J::Bool(true)) {
                    return Value::Unknown;
                }
            }
            Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, json_to_value(v)))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    }
}

fn value_to_json(v: &Value) -> J {
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Str(s) => J::String(s.clone()),
        Value::List(l) => J::Array(l.iter().map(value_to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        Value::Ref(r) => serde_json::json!({ "$ref": r }),
        Value::Unknown => serde_json::json!({ "$unknown": true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        count: i64,
        on: bool,
        vpc_id: Link,
        subnets: Vec<Link>,
        tags: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        window: Option<String>,
        description: Option<String>,
    }

    fn sample() -> Sample {
        let vpc = ResourceId::new("vpc", "main");
        Sample {
            name: "n".into(),
            count: 3,
            on: true,
            vpc_id: Link::to(&vpc, "id"),
            subnets: vec![Link::from("subnet-1"), Link::Unknown { unknown: true }],
            tags: [("a".to_string(), "b".to_string())].into(),
            window: None,
            description: None,
        }
    }

    #[test]
    fn a_struct_becomes_the_generic_map_and_back() {
        let p = to_props(&sample());
        assert_eq!(p["name"], Value::str("n"));
        assert_eq!(p["count"], Value::Int(3));
        assert_eq!(
            p["vpc_id"],
            Value::reference(&ResourceId::new("vpc", "main"), "id")
        );
        assert_eq!(
            p["subnets"],
            Value::List(vec![Value::str("subnet-1"), Value::Unknown])
        );
        assert!(!p.contains_key("window"), "skipped when None");
        assert_eq!(p["description"], Value::Null);
        assert_eq!(from_props::<Sample>(&p).unwrap(), sample());
        assert_eq!(round_trip::<Sample>(&p).unwrap(), p);
    }

    #[test]
    fn a_misnamed_or_mistyped_field_is_an_error_naming_it() {
        let mut p = to_props(&sample());
        p.insert("cuont".into(), Value::Int(1));
        let e = from_props::<Sample>(&p).unwrap_err();
        assert!(e.message.contains("cuont"), "{e}");
        let mut p = to_props(&sample());
        p.insert("count".into(), Value::str("three"));
        let e = from_props::<Sample>(&p).unwrap_err();
        assert!(e.message.starts_with("count:"), "{e}");
    }

    #[test]
    fn an_unresolved_link_is_refused_by_name() {
        let l = Link::to(&ResourceId::new("vpc", "main"), "id");
        assert_eq!(l.known(), None);
        assert!(l
            .require("vpc_id")
            .unwrap_err()
            .message
            .starts_with("vpc_id:"));
        assert_eq!(Link::from("vpc-1").require("vpc_id").unwrap(), "vpc-1");
    }
}

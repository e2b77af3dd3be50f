//! The env file's JSON Schema: `rtech schema` prints it, and `schema/env.schema.json` is the
//! checked-in copy the env files name in their first line (`#:schema ../schema/env.schema.json`,
//! the directive Taplo and Even Better TOML read), so editors complete and check keys.
//!
//! It is derived from the raw spec types ([`RawSpec`] and the tables under it), the ones serde
//! reads the file into: the keys are exactly those rtech accepts, every table rejects unknown
//! keys (`additionalProperties: false`, as `deny_unknown_fields` does), and the fields' doc
//! comments are the descriptions editors show. The semantic checks (ranges, CIDRs, windows,
//! cross-section rules) stay rtech's: `rtech validate` reports them with their location.
//!
//! schemars 0.8, not 1.x: 1.x turns on serde's `alloc` feature, which changes serde's build and
//! so rebuilds every AWS SDK crate; 0.8 adds no feature to a crate already in the build.

use schemars::gen::{SchemaGenerator, SchemaSettings};
use schemars::schema::{InstanceType, Metadata, RootSchema, Schema, SchemaObject};
use schemars::JsonSchema;

use super::RawSpec;

/// The env file's JSON Schema (draft-07, which Taplo validates with).
pub fn env_schema() -> RootSchema {
    let mut root = SchemaSettings::draft07()
        .with(|s| {
            // TOML has no null: an optional key is one left out, never one set to null.
            s.option_nullable = false;
            s.option_add_null_type = false;
        })
        .into_generator()
        .into_root_schema_for::<RawSpec>();
    root.schema.metadata().title = Some("rtech env file (envs/<env>.toml)".into());
    root
}

/// [`env_schema`] as `rtech schema` prints it: pretty JSON and a final newline.
pub fn env_schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&env_schema()).expect("a JSON schema always serialises");
    text.push('\n');
    text
}

/// A string that is one of `values`: the allowed values of a key the raw type reads as a
/// string (so rtech's own message, naming the values, is the one a user sees), for editors
/// to complete.
fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Schema {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        enum_values: Some(values.into_iter().map(Into::into).collect()),
        ..Default::default()
    }
    .into()
}

/// Schema-only types for `#[schemars(with = "Option<…>")]` on the raw fields that hold one of
/// a fixed set of strings.
macro_rules! one_of_strings {
    ($($(#[$doc:meta])* $name:ident => $values:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl JsonSchema for $name {
            fn is_referenceable() -> bool {
                false
            }
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                strings($values)
            }
        }
    )*};
}

one_of_strings! {
    /// `[app.deploy] strategy`.
    DeployStrategy => super::app::Strategy::ALL.iter().map(|(name, _)| *name);
    /// `effect` of a task role statement.
    StatementEffect => ["Allow", "Deny"];
    /// `[edge] ssl_policy`: the known policies rtech accepts (TLS 1.2 at least).
    SslPolicy => super::edge::SSL_POLICIES.iter().filter(|(_, tls)| *tls >= 12).map(|(p, _)| *p);
    /// `[edge.cloudfront] price_class`.
    PriceClass => super::edge::PRICE_CLASSES.iter().copied();
    /// An alarm's `treat_missing_data`.
    TreatMissingData => super::monitoring::MISSING_DATA.iter().copied();
    /// An alarm's `comparison`.
    Comparison => super::monitoring::COMPARISONS.iter().copied();
}

/// `[monitoring.alarms]`: one optional table per alarm rtech knows (any other name is an
/// error), each described by what the alarm watches.
pub struct AlarmOverrides;

impl JsonSchema for AlarmOverrides {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "AlarmOverrides".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let alarm = generator.subschema_for::<super::monitoring::RawAlarm>();
        let mut schema = SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            ..Default::default()
        };
        let object = schema.object();
        for a in super::monitoring::ALARMS {
            let mut one = SchemaObject {
                metadata: Some(Box::new(Metadata {
                    description: Some(format!("`{}`: {}.", a.name, a.description)),
                    ..Default::default()
                })),
                ..Default::default()
            };
            one.subschemas().all_of = Some(vec![alarm.clone()]);
            object.properties.insert(a.name.to_string(), one.into());
        }
        object.additional_properties = Some(Box::new(false.into()));
        schema.into()
    }
}

#[cfg(test)]
mod tests;

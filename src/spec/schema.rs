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

use schemars::gen::SchemaSettings;
use schemars::schema::RootSchema;

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

#[cfg(test)]
mod tests;

//! `secret_connection/<name>`: the non-secret part of a secret's JSON (username, host, port and
//! a ready `uri`), written once the database exists, beside the generated value (which never
//! enters a property, so never a plan).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};

use super::{read_json, render, secret_id, write_json, CONNECTION, GENERATED_ID, GENERATED_KEY};
use crate::aws::AwsError;
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{from_props, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(CONNECTION, &[]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionProps {
    pub secret_arn: Link,
    /// JSON key → value (a literal, or an attribute of the database).
    pub fields: BTreeMap<String, Link>,
    /// The `uri` written from the fields and the generated value (`{username}`, `{password}`,
    /// `{host}`…), or null for none.
    pub uri_format: Option<String>,
}

pub struct Connection;

#[async_trait]
impl Kind for Connection {
    crate::typed_kind!(SCHEMA, ConnectionProps);

    /// Merge the connection details into the secret's JSON, keeping the generated value.
    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: ConnectionProps = from_props(&r.props)?;
        let arn = p.secret_arn.require("secret_arn")?;
        let mut json = read_json(ctx, arn).await?;
        for (k, v) in &p.fields {
            json.insert(k.clone(), J::String(v.require(k)?.to_string()));
        }
        match &p.uri_format {
            Some(f) => {
                let uri = render(f, &json);
                json.insert("uri".into(), J::String(uri));
            }
            None => {
                json.remove("uri");
            }
        }
        write_json(ctx, arn, &json).await?;
        let mut a = Attrs::new();
        a.insert("id".into(), format!("{arn}#connection"));
        Ok(a)
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        self.create(ctx, u.desired, task).await
    }

    /// The connection details go with the secret.
    async fn delete(&self, _ctx: &Ctx, _o: &Observed, _task: &Task) -> Result<(), AwsError> {
        Ok(())
    }
}

/// The connection details of secret `name`.
pub fn desired(name: &str, fields: Vec<(&str, Link)>, uri_format: Option<String>) -> Resource {
    let props = ConnectionProps {
        secret_arn: Link::to(&secret_id(name), "arn"),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        uri_format,
    };
    Resource::new(ResourceId::new(CONNECTION, name), String::new()).with_props(to_props(&props))
}

/// The connection details read back from the secret's JSON (the secret is `secret`, at
/// `arn`), if anything beside the generated value was written; `desired` is the spec's.
pub fn observed(
    secret: &ResourceId,
    arn: &str,
    json: &Map<String, J>,
    desired: Option<&Resource>,
) -> Option<Observed> {
    let generated = json
        .get(GENERATED_KEY)
        .and_then(J::as_str)
        .unwrap_or_default();
    let plain = |k: &str| !matches!(k, GENERATED_KEY | GENERATED_ID) && k != generated;
    // The connection exists once anything beside the generated value was written.
    if !json.keys().any(|k| plain(k)) {
        return None;
    }
    let want: Option<ConnectionProps> = desired.and_then(|r| from_props(&r.props).ok());
    // Only the fields the spec declares are read back: whatever else the JSON holds (the
    // generated value above all) never enters a property, so never a plan.
    let fields = want
        .iter()
        .flat_map(|w| w.fields.keys())
        .filter(|k| plain(k) && k.as_str() != "uri")
        .filter_map(|k| Some((k.clone(), Link::from(json.get(k)?.as_str()?))))
        .collect();
    let wanted = want.as_ref().and_then(|w| w.uri_format.as_deref());
    let uri_format = match (wanted, json.get("uri").and_then(J::as_str)) {
        (Some(f), Some(uri)) if render(f, json) == uri => Some(f.to_string()),
        (_, Some(_)) => Some("(a uri rtech did not write)".to_string()),
        _ => None,
    };
    let props = ConnectionProps {
        secret_arn: arn.into(),
        fields,
        uri_format,
    };
    Some(
        Observed::new(
            ResourceId::new(CONNECTION, &secret.name),
            format!("{arn}#connection"),
        )
        .dep(secret)
        .with_props(to_props(&props)),
    )
}

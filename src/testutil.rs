//! Helpers shared by the unit tests: loading and parsing specs, the plan of desired against
//! observed through the real diff, and finding resources, tags and references in an expansion.

use crate::model::{Observed, Resource, Value};
use crate::plan::{diff, Action, DiffInput, Plan, PlanError};
use crate::spec::Spec;

/// The common small dev head: project, env, region and a /16 network, nothing else.
pub const HEAD: &str = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n";

/// A small dev env on a two-AZ network with one NAT gateway and an `Environment` tag: the head
/// the service tests put their own sections after.
pub const DEV_2AZ: &str = r#"project = "rtech"
env = "dev"
region = "us-east-1"

[tags]
Environment = "development"

[network]
cidr = "10.10.0.0/20"
az_count = 2
nat = "single"
public_subnets = ["10.10.0.0/24", "10.10.1.0/24"]
private_subnets = ["10.10.8.0/23", "10.10.10.0/23"]
"#;

/// The repo's `envs/<env>.toml`, parsed.
pub fn env_spec(env: &str) -> Spec {
    let path = format!("{}/envs/{env}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_as(env, &text)
}

/// `text` parsed as `envs/<env>.toml`, panicking with the errors.
pub fn parse_as(env: &str, text: &str) -> Spec {
    crate::spec::parse(&format!("envs/{env}.toml"), text, env).unwrap_or_else(|e| panic!("{e:?}"))
}

/// [`HEAD`] followed by `sections`, parsed as `envs/dev.toml`.
pub fn dev_spec(sections: &str) -> Spec {
    parse_as("dev", &format!("{HEAD}{sections}"))
}

/// The real diff of project `rtech` in `env` (us-east-1, no targets).
pub fn try_diff(
    env: &str,
    desired: &[Resource],
    observed: &[Observed],
    destroy: bool,
) -> Result<Plan, PlanError> {
    diff(&diff_input(env, desired, observed, &[], destroy))
}

/// The diff's input for project `rtech` in `env` (us-east-1), limited to `targets`.
pub fn diff_input<'a>(
    env: &'a str,
    desired: &'a [Resource],
    observed: &'a [Observed],
    targets: &'a [crate::model::ResourceId],
    destroy: bool,
) -> DiffInput<'a> {
    DiffInput {
        project: "rtech",
        env,
        region: "us-east-1",
        desired,
        observed,
        schema: &crate::reconcile::schema,
        importable: &crate::reconcile::importable,
        targets,
        replace: &[],
        destroy,
    }
}

/// `r` with every reference in its props resolved through `lookup`, as the executor hands a
/// desired resource to its kind.
pub fn resolved_with(
    r: &Resource,
    lookup: &dyn Fn(&crate::model::Ref) -> Option<String>,
) -> Resource {
    let mut r = r.clone();
    r.props = r
        .props
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve(lookup)))
        .collect();
    r
}

/// An SDK client that never sends anything (us-east-1, no credentials): for tests of request
/// builders.
#[macro_export]
macro_rules! offline_client {
    ($krate:ident) => {
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .build(),
        )
    };
}

/// [`try_diff`], unwrapped.
pub fn diff_of(env: &str, desired: &[Resource], observed: &[Observed], destroy: bool) -> Plan {
    try_diff(env, desired, observed, destroy).unwrap()
}

/// Each change of `p` as (id, action), in the plan's order.
pub fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.id.to_string(), c.action))
        .collect()
}

/// The props changed by `p`'s one change, which must be an update (panics otherwise).
pub fn only_update(p: &Plan) -> Vec<String> {
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update, "{:#?}", p.changes[0]);
    p.changes[0].changed_props().into_iter().collect()
}

/// The resource whose id is `id` ("kind/name"), panicking if there is none.
pub fn get<'a>(rs: &'a [Resource], id: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// The tag `key` of a resource's `tags` property.
pub fn tag<'a>(r: &'a Resource, key: &str) -> Option<&'a str> {
    r.props.get("tags")?.as_map()?.get(key)?.as_str()
}

/// Every reference in `v`, as "resource.attr", in order.
pub fn refs(v: &Value) -> Vec<String> {
    let mut out = vec![];
    v.refs(&mut out);
    out.iter()
        .map(|r| format!("{}.{}", r.resource, r.attr))
        .collect()
}

/// A plan of `project`/`env` in us-east-1 with these changes and conflicts, nothing else.
pub fn plan_of(
    project: &str,
    env: &str,
    changes: Vec<crate::plan::Change>,
    conflicts: Vec<crate::plan::Conflict>,
) -> Plan {
    Plan {
        project: project.into(),
        env: env.into(),
        region: "us-east-1".into(),
        destroy: false,
        changes,
        conflicts,
        unchanged: 0,
        fingerprints: Default::default(),
        desired: vec![],
        origin: None,
        blocked: vec![],
        policy: None,
        zone: None,
        drills: vec![],
    }
}

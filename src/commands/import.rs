//! `rtech import --env ENV ID PHYSICAL_ID`: adopt a live resource rtech did not create as the
//! spec's `ID`. Under the env's lock, as apply: the kind's own read of the resource by its
//! physical id ([`Import`], a capability of the kind) beside the env's observe; refused when
//! it is of another kind, when it already carries rtech's ownership tags (of any env or id),
//! or when another live resource already is `ID`. Then the plan the next `rtech plan` would
//! show for it (the spec diffed against it as if adopted), a question, and the ownership tags
//! added through the kind's tag calls. Nothing else about the resource changes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};

use super::session::{Session, Target};
use super::{confirm, load, Ui, EXIT_OK};
use crate::aws::AwsOpts;
use crate::cli::{Cli, ImportArgs};
use crate::model::{
    Observed, Ownership, Resource, ResourceId, Value, TAG_ENV, TAG_ID, TAG_PROJECT,
};
use crate::plan::render::{self, Style};
use crate::plan::{Action, Plan};
use crate::reconcile::{self, Import, Registry};

/// The lock holder's command, as the lock records it.
const COMMAND: &str = "rtech import";

pub(super) async fn import_cmd(
    cli: &Cli,
    a: &ImportArgs,
    opts: &AwsOpts,
    ui: &Ui,
) -> Result<ExitCode> {
    let spec = load(cli, &a.env)?;
    let desired = reconcile::expand(&spec);
    let (wanted, imp) = resolve(&desired, Registry::all(), &a.id, &spec.file)?;
    let physical = a.physical_id.trim();
    if !imp.physical().accepts(physical) {
        bail!(
            "refused: {physical} is not {}, and {} is a {}; nothing was changed",
            imp.physical().form,
            a.id,
            a.id.kind
        );
    }
    let s = Session::open(&Target::of_spec(&spec), opts, &desired, false, ui).await?;
    s.locked(COMMAND, a.lock.lock_timeout, ui, async {
        let (observed, live) = tokio::try_join!(s.observe(&desired, ui), async {
            imp.read(&s.ctx, &a.id, physical)
                .await
                .map_err(|e| anyhow!("{} {physical} (for {}): {e}", a.id.kind, a.id))
        })?;
        if let Some(why) = ownership_refusal(&live, &observed, &a.id, &spec.project, &spec.env) {
            bail!("{why}; nothing was changed");
        }
        if imp.physical().found_by_name {
            if let Some(why) = name_refusal(wanted, &live) {
                bail!("{why}; nothing was changed");
            }
        }
        let tags = ownership_tags(&spec.project, &spec.env, &a.id);
        // The env as the next plan will see it: this resource ours as `ID`, in place of
        // anything observe reported under that id (a same-named foreign resource).
        let mut after: Vec<Observed> = observed.into_iter().filter(|o| o.id != a.id).collect();
        after.push(adopted(live.clone(), &tags));
        let plan = s
            .plan(&desired, &after, std::slice::from_ref(&a.id), &[], false, ui)
            .await?;
        print!(
            "{}",
            preview(&plan, &a.id, &wanted.name, physical, &tags, ui.style())
        );
        confirm(
            &format!(
                "Import {physical} as {} in env {} (add rtech's ownership tags)?",
                a.id, spec.env
            ),
            a.auto_approve,
        )
        .await?;
        imp.add_tags(&s.ctx, &live, &tags)
            .await
            .map_err(|e| anyhow!("tagging {physical} as {}: {e}", a.id))?;
        println!(
            "Imported {physical} as {} in env {}. `rtech plan --env {}` shows what the spec still changes on it.",
            a.id, spec.env, spec.env
        );
        Ok(ExitCode::from(EXIT_OK))
    })
    .await
}

/// The spec's resource `id` and its kind's import capability; an id the spec does not have is
/// an error naming the closest ones, a kind that cannot be imported one naming those that can.
pub fn resolve<'a>(
    desired: &'a [Resource],
    registry: Registry,
    id: &ResourceId,
    spec_file: &str,
) -> Result<(&'a Resource, &'static dyn Import)> {
    let Some(r) = desired.iter().find(|r| &r.id == id) else {
        let ids: Vec<ResourceId> = desired.iter().map(|r| r.id.clone()).collect();
        let near = crate::plan::close_ids(id, ids.iter());
        let hint = if near.is_empty() {
            let importable = registry.importable();
            let same: Vec<String> = ids
                .iter()
                .filter(|i| importable.contains(&i.kind.as_str()))
                .map(ToString::to_string)
                .collect();
            format!("the ids rtech can import in it: {}", list_or_none(&same))
        } else {
            let near: Vec<String> = near.iter().map(ToString::to_string).collect();
            format!("did you mean {}?", near.join(", "))
        };
        bail!("{id}: no such resource in {spec_file}; {hint}");
    };
    let imp = registry.kind(&id.kind).and_then(|k| k.import());
    let Some(imp) = imp else {
        bail!(
            "{id}: rtech cannot import kind {}; the kinds it can import: {}",
            id.kind,
            registry.importable().join(", ")
        );
    };
    Ok((r, imp))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// rtech's three ownership tags for `id` in this env.
pub fn ownership_tags(project: &str, env: &str, id: &ResourceId) -> BTreeMap<String, String> {
    [
        (TAG_PROJECT, project.to_string()),
        (TAG_ENV, env.to_string()),
        (TAG_ID, id.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Why the live resource cannot be adopted as `id`: it already carries rtech's ownership tags
/// (of any project, env or id), or another live resource already is the env's `id`.
pub fn ownership_refusal(
    live: &Observed,
    observed: &[Observed],
    id: &ResourceId,
    project: &str,
    env: &str,
) -> Option<String> {
    let physical = &live.physical_id;
    let tag = |k: &str| live.tag(k);
    if [TAG_PROJECT, TAG_ENV, TAG_ID]
        .iter()
        .any(|k| tag(k).is_some())
    {
        let (p, e, i) = (
            tag(TAG_PROJECT).unwrap_or("?"),
            tag(TAG_ENV).unwrap_or("?"),
            tag(TAG_ID).unwrap_or("?"),
        );
        if p == project && e == env && i == id.to_string() {
            return Some(format!(
                "refused: {physical} is already owned by env {e} as {i}: there is nothing to import"
            ));
        }
        return Some(format!(
            "refused: {physical} is already owned by env {e} as {i} (project {p}); rtech import adopts only resources without rtech's ownership tags"
        ));
    }
    if let Some(o) = observed
        .iter()
        .find(|o| &o.id == id && o.ownership == Ownership::Owned)
    {
        return Some(format!(
            "refused: {id} is already owned in env {env} by {}; rtech import adopts a resource only as an id no live resource holds (destroy or untag {} first)",
            o.physical_id, o.physical_id
        ));
    }
    None
}

/// For a kind observe finds by the name the spec gives it: a live resource under another name
/// would stay invisible to the next plan (which would create the spec's anew).
pub fn name_refusal(wanted: &Resource, live: &Observed) -> Option<String> {
    let want = wanted.get_str("name")?;
    let have = live.get_str("name").unwrap_or(&live.physical_id);
    (want != have).then(|| {
        format!(
            "refused: {} is named {want} in the spec, and rtech finds a {} by that name, so {have} would stay invisible to the next plan",
            wanted.id, wanted.id.kind
        )
    })
}

/// The live resource as it is once adopted: ours, carrying the ownership tags.
pub fn adopted(mut live: Observed, tags: &BTreeMap<String, String>) -> Observed {
    live.ownership = Ownership::Owned;
    let entry = live
        .props
        .entry("tags".to_string())
        .or_insert_with(|| Value::Map(BTreeMap::new()));
    if !matches!(entry, Value::Map(_)) {
        *entry = Value::Map(BTreeMap::new());
    }
    if let Value::Map(m) = entry {
        for (k, v) in tags {
            m.insert(k.clone(), Value::str(v));
        }
    }
    live
}

/// What `rtech import` shows before it asks: the resource, what the next plan changes on it
/// once adopted (a replace loudly: an apply would delete it), what that plan would refuse, and
/// the tags the import adds.
pub fn preview(
    plan: &Plan,
    id: &ResourceId,
    name: &str,
    physical: &str,
    tags: &BTreeMap<String, String>,
    st: Style,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n",
        st.bold(&format!(
            "Import {physical} as {id} ({name}) in env {} (project {}, {})",
            plan.env, plan.project, plan.region
        ))
    );
    match plan.changes.iter().find(|c| &c.id == id) {
        None => {
            let _ = writeln!(
                out,
                "Once imported, the next plan leaves it as it is: it matches the spec."
            );
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "Once imported, the next plan changes it (the next apply makes these changes):\n"
            );
            render::change_block(&mut out, st, c, None);
            if c.action == Action::Replace {
                let why = c
                    .reason
                    .as_deref()
                    .unwrap_or("a property cannot change in place");
                let _ = writeln!(
                    out,
                    "\n{}",
                    st.red(&format!(
                        "WARNING: the next apply REPLACES {physical} ({why}): it deletes this resource and creates a new one. Change the spec to match it first if it is to stay."
                    ))
                );
            }
        }
    }
    for c in plan.conflicts.iter().filter(|c| &c.id == id) {
        let _ = writeln!(
            out,
            "\n{}",
            st.red(&format!("The next plan refuses it: {}", c.message))
        );
    }
    let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "\nThe import itself only adds the tags {} to {physical}.",
        tags.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, Conflict, FieldDiff};

    fn ids(v: &[&str]) -> Vec<ResourceId> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn spec_ids() -> Vec<Resource> {
        ids(&[
            "vpc/main",
            "subnet/public-a",
            "subnet/private-a",
            "ecr_repository/app",
            "igw/main",
        ])
        .into_iter()
        .map(|i| {
            let n = format!("rtech-dev-{}", i.name);
            Resource::new(i, n).prop("name", Value::str("rtech-dev-app"))
        })
        .collect()
    }

    #[test]
    fn a_typo_names_the_close_ids_and_nothing_close_names_the_importable_ones() {
        let d = spec_ids();
        let e = resolve(
            &d,
            Registry::all(),
            &"vpc/mian".parse().unwrap(),
            "envs/dev.toml",
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            e,
            "vpc/mian: no such resource in envs/dev.toml; did you mean vpc/main?"
        );
        let e = resolve(
            &d,
            Registry::all(),
            &"queue/jobs".parse().unwrap(),
            "envs/dev.toml",
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            e,
            "queue/jobs: no such resource in envs/dev.toml; the ids rtech can import in it: vpc/main, ecr_repository/app"
        );
        assert_eq!(
            crate::plan::close_ids(
                &"subnet/public-b".parse().unwrap(),
                ids(&["subnet/public-a", "subnet/private-a", "vpc/main"]).iter()
            ),
            // The typo's neighbour alone: the rest of its kind only when nothing is that close.
            ids(&["subnet/public-a"])
        );
    }

    #[test]
    fn a_kind_without_import_names_the_importable_kinds() {
        let d = spec_ids();
        let e = resolve(
            &d,
            Registry::all(),
            &"igw/main".parse().unwrap(),
            "envs/dev.toml",
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            e,
            "igw/main: rtech cannot import kind igw; the kinds it can import: ecr_repository, hosted_zone, log_group, s3_bucket, vpc"
        );
        let (r, imp) = resolve(&d, Registry::all(), &"vpc/main".parse().unwrap(), "f").unwrap();
        assert_eq!(r.id.to_string(), "vpc/main");
        assert!(imp.physical().accepts("vpc-0abc123"));
        assert!(!imp.physical().accepts("subnet-0abc123"));
        assert!(!imp.physical().accepts("vpc-"));
    }

    #[test]
    fn the_physical_id_forms_refuse_ids_of_other_kinds() {
        let imp = |k: &str| Registry::all().kind(k).unwrap().import().unwrap();
        assert!(imp("hosted_zone").physical().accepts("Z0123456789ABCDEF"));
        assert!(imp("hosted_zone").physical().accepts("/hostedzone/Z0123"));
        assert!(!imp("hosted_zone").physical().accepts("vpc-0abc"));
        assert!(imp("s3_bucket")
            .physical()
            .accepts("rtech-dev-us-east-1-alb-logs"));
        assert!(!imp("s3_bucket").physical().accepts("Upper-Case"));
        assert!(!imp("s3_bucket").physical().accepts("ab"));
        assert!(imp("ecr_repository").physical().accepts("team/app"));
        assert!(!imp("ecr_repository").physical().accepts("App"));
        assert!(!imp("ecr_repository").physical().accepts("-app"));
        assert!(imp("log_group").physical().accepts("/ecs/rtech-dev-app"));
        assert!(!imp("log_group").physical().accepts("has space"));
    }

    fn live(tags: &[(&str, &str)]) -> Observed {
        let t: BTreeMap<String, Value> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect();
        let mut o = Observed::new("vpc/main".parse().unwrap(), "vpc-1").prop("tags", Value::Map(t));
        o.ownership = Ownership::Foreign;
        o
    }

    #[test]
    fn ownership_tags_of_any_env_or_an_id_already_held_are_refused() {
        let id: ResourceId = "vpc/main".parse().unwrap();
        let refuse =
            |l: &Observed, obs: &[Observed]| ownership_refusal(l, obs, &id, "rtech", "dev");
        assert_eq!(refuse(&live(&[("Name", "legacy")]), &[]), None);
        assert_eq!(
            refuse(
                &live(&[(TAG_PROJECT, "rtech"), (TAG_ENV, "staging"), (TAG_ID, "vpc/main")]),
                &[]
            )
            .unwrap(),
            "refused: vpc-1 is already owned by env staging as vpc/main (project rtech); rtech import adopts only resources without rtech's ownership tags"
        );
        assert_eq!(
            refuse(
                &live(&[
                    (TAG_PROJECT, "rtech"),
                    (TAG_ENV, "dev"),
                    (TAG_ID, "vpc/main")
                ]),
                &[]
            )
            .unwrap(),
            "refused: vpc-1 is already owned by env dev as vpc/main: there is nothing to import"
        );
        // One stray ownership tag is enough.
        assert!(refuse(&live(&[(TAG_ENV, "dev")]), &[])
            .unwrap()
            .contains("owned by env dev as ? (project ?)"));
        let holder = Observed::new(id.clone(), "vpc-2");
        assert_eq!(
            refuse(&live(&[]), &[holder]).unwrap(),
            "refused: vpc/main is already owned in env dev by vpc-2; rtech import adopts a resource only as an id no live resource holds (destroy or untag vpc-2 first)"
        );
        // A same-named foreign resource is what an import replaces, not a holder.
        let mut foreign = Observed::new(id.clone(), "vpc-3");
        foreign.ownership = Ownership::Foreign;
        assert_eq!(refuse(&live(&[]), &[foreign]), None);
    }

    #[test]
    fn a_kind_found_by_name_must_be_named_as_the_spec_says() {
        let wanted = Resource::new("s3_bucket/alb-logs".parse().unwrap(), "b")
            .prop("name", Value::str("rtech-dev-alb-logs"));
        let l =
            Observed::new(wanted.id.clone(), "legacy-logs").prop("name", Value::str("legacy-logs"));
        assert_eq!(
            name_refusal(&wanted, &l).unwrap(),
            "refused: s3_bucket/alb-logs is named rtech-dev-alb-logs in the spec, and rtech finds a s3_bucket by that name, so legacy-logs would stay invisible to the next plan"
        );
        let l = Observed::new(wanted.id.clone(), "rtech-dev-alb-logs")
            .prop("name", Value::str("rtech-dev-alb-logs"));
        assert_eq!(name_refusal(&wanted, &l), None);
    }

    #[test]
    fn adopting_adds_the_ownership_tags_and_keeps_the_others() {
        let id: ResourceId = "vpc/main".parse().unwrap();
        let tags = ownership_tags("rtech", "dev", &id);
        let o = adopted(live(&[("Name", "legacy")]), &tags);
        assert_eq!(o.ownership, Ownership::Owned);
        assert_eq!(o.tag("Name"), Some("legacy"));
        assert_eq!(o.tag(TAG_ID), Some("vpc/main"));
        assert_eq!(o.tag(TAG_ENV), Some("dev"));
        assert_eq!(o.tag(TAG_PROJECT), Some("rtech"));
    }

    fn plan_with(changes: Vec<Change>, conflicts: Vec<Conflict>) -> Plan {
        crate::testutil::plan_of("rtech", "dev", changes, conflicts)
    }

    fn change(action: Action, fields: Vec<FieldDiff>, reason: Option<&str>) -> Change {
        Change {
            id: "vpc/main".parse().unwrap(),
            action,
            reason: reason.map(str::to_string),
            name: "rtech-dev-vpc".into(),
            fields,
            desired: None,
            prior: Some(Observed::new("vpc/main".parse().unwrap(), "vpc-1")),
            create_first: false,
        }
    }

    fn field(path: &str, before: Value, after: Value, force: bool) -> FieldDiff {
        FieldDiff {
            path: path.into(),
            before: Some(before),
            after: Some(after),
            sensitive: false,
            forces_replacement: force,
        }
    }

    #[test]
    fn the_preview_shows_the_drift_a_replace_loudly_and_the_tags() {
        let id: ResourceId = "vpc/main".parse().unwrap();
        let tags = ownership_tags("rtech", "dev", &id);
        let st = Style { color: false };
        let update = plan_with(
            vec![change(
                Action::Update,
                vec![field(
                    "enable_dns_hostnames",
                    Value::Bool(false),
                    Value::Bool(true),
                    false,
                )],
                None,
            )],
            vec![],
        );
        insta::assert_snapshot!(
            "import_preview_update",
            preview(&update, &id, "rtech-dev-vpc", "vpc-1", &tags, st)
        );
        let replace = plan_with(
            vec![change(
                Action::Replace,
                vec![field(
                    "cidr_block",
                    Value::str("10.0.0.0/16"),
                    Value::str("10.10.0.0/20"),
                    true,
                )],
                Some("cidr_block cannot change in place"),
            )],
            vec![Conflict {
                id: id.clone(),
                physical_id: "vpc-1".into(),
                message: "refused: something".into(),
            }],
        );
        insta::assert_snapshot!(
            "import_preview_replace",
            preview(&replace, &id, "rtech-dev-vpc", "vpc-1", &tags, st)
        );
        let none = plan_with(vec![], vec![]);
        let text = preview(&none, &id, "rtech-dev-vpc", "vpc-1", &tags, st);
        assert!(text.contains("the next plan leaves it as it is"), "{text}");
        assert!(!text.contains("WARNING"), "{text}");
    }
}

//! Ownership: a live resource is ours when its tags name our project, env and resource id.
//! Anything else under a name we want is foreign: reported, never modified or deleted.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ResourceId, TAG_ENV, TAG_ID, TAG_PROJECT};

/// Whether `tags` say the resource is this env's `id`.
pub fn is_ours(tags: &BTreeMap<String, String>, project: &str, env: &str, id: &ResourceId) -> bool {
    claimed_id(tags, project, env).as_ref() == Some(id)
}

/// Which id the tags claim for this project and env (None: not ours, or no valid id).
pub fn claimed_id(tags: &BTreeMap<String, String>, project: &str, env: &str) -> Option<ResourceId> {
    if tags.get(TAG_PROJECT).map(String::as_str) != Some(project)
        || tags.get(TAG_ENV).map(String::as_str) != Some(env)
    {
        return None;
    }
    tags.get(TAG_ID).and_then(|t| t.parse::<ResourceId>().ok())
}

/// Hands out ids to live resources that claim them: the first claimant of an id keeps it, any
/// later one becomes `<name>~<suffix>` (a duplicate left by an interrupted or concurrent run,
/// which the plan then deletes as not in the spec). Feed claimants in a stable order (the
/// preferred one first) so the same one keeps the id on every plan.
#[derive(Debug, Default)]
pub struct Claims {
    seen: BTreeSet<ResourceId>,
}

impl Claims {
    pub fn new() -> Self {
        Claims::default()
    }

    /// The id this claimant gets; `suffix` tells duplicates apart (their physical id).
    pub fn claim(&mut self, id: ResourceId, suffix: &str) -> ResourceId {
        if self.seen.insert(id.clone()) {
            id
        } else {
            let dup = ResourceId::new(id.kind.clone(), format!("{}~{suffix}", id.name));
            self.seen.insert(dup.clone());
            dup
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(p: &str, e: &str, id: &str) -> BTreeMap<String, String> {
        [(TAG_PROJECT, p), (TAG_ENV, e), (TAG_ID, id)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ownership_needs_project_env_and_id() {
        let id = ResourceId::new("vpc", "main");
        let ours = |p, e, i| is_ours(&tags(p, e, i), "rtech", "dev", &id);
        assert!(ours("rtech", "dev", "vpc/main"));
        assert!(!ours("rtech", "prod", "vpc/main"));
        assert!(!ours("other", "dev", "vpc/main"));
        assert!(!ours("rtech", "dev", "vpc/other"));
        assert!(!is_ours(&BTreeMap::new(), "rtech", "dev", &id));
        assert_eq!(
            claimed_id(&tags("rtech", "dev", "subnet/a"), "rtech", "dev"),
            Some(ResourceId::new("subnet", "a"))
        );
        assert_eq!(
            claimed_id(&tags("rtech", "dev", "garbage"), "rtech", "dev"),
            None
        );
    }

    #[test]
    fn the_first_claimant_keeps_the_id_and_later_ones_are_duplicates() {
        let mut c = Claims::new();
        let id = ResourceId::new("repository", "app");
        assert_eq!(c.claim(id.clone(), "a"), id);
        assert_eq!(c.claim(id.clone(), "b").name, "app~b");
        assert_eq!(c.claim(ResourceId::new("repository", "x"), "c").name, "x");
    }
}

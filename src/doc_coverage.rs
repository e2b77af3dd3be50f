//! The documentation covers the code: every key the spec accepts is in `docs/spec.md`, and every
//! command and flag is in `docs/usage.md` (every output key's row in `docs/outputs.md` is checked
//! beside the outputs' order, in `commands::output`). The lists come from the code (the spec's
//! serde types, clap's definition), so a new key, command or flag fails here until it is
//! documented.

use std::collections::BTreeSet;

/// A page of the docs, read at test time (`docs/<name>`).
pub fn page(name: &str) -> String {
    let path = format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// --- spec keys ----------------------------------------------------------------------------

/// A step down the spec's tables: a key, the one element of an array of tables, or one entry of
/// a map of tables (`[monitoring.alarms.<name>]`).
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Elem,
    Any,
}

const PROBE: &str = "zz_probe_key";

/// `leaf` put at `segs` under `v`, creating what is missing.
fn place(v: &mut toml::Value, segs: &[Seg], leaf: toml::Value) {
    let table = || toml::Value::Table(toml::Table::new());
    match segs.split_first() {
        None => *v = leaf,
        Some((Seg::Key(k), rest)) => {
            if !v.is_table() {
                *v = table();
            }
            let t = v.as_table_mut().expect("a table");
            place(t.entry(k.clone()).or_insert_with(table), rest, leaf);
        }
        Some((Seg::Elem, rest)) => {
            let mut e = table();
            place(&mut e, rest, leaf);
            *v = toml::Value::Array(vec![e]);
        }
        Some((Seg::Any, rest)) => {
            let mut e = table();
            place(&mut e, rest, leaf);
            let mut t = toml::Table::new();
            t.insert("probe".into(), e);
            *v = toml::Value::Table(t);
        }
    }
}

/// The fields serde accepts in the table at `segs`: the spec's types reject an unknown key
/// (`deny_unknown_fields`) with the list of the keys they take. `None`: not a table of fields.
fn fields_at(base: &toml::Value, segs: &[Seg]) -> Option<Vec<String>> {
    let mut doc = base.clone();
    let mut probe = toml::Table::new();
    probe.insert(PROBE.into(), toml::Value::Integer(1));
    if segs.is_empty() {
        doc.as_table_mut()
            .expect("a table")
            .insert(PROBE.into(), toml::Value::Integer(1));
    } else {
        place(&mut doc, segs, toml::Value::Table(probe));
    }
    let text = toml::to_string(&doc).expect("the probe serialises");
    let err = match toml::from_str::<crate::spec::RawSpec>(&text) {
        Ok(_) => return None,
        Err(e) => e.message().to_string(),
    };
    let rest = err.split_once(&format!("unknown field `{PROBE}`, "))?.1;
    let rest = rest.lines().next().unwrap_or(rest);
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Every table of the spec (as a dotted path) and every key (dotted), found from the types.
fn walk(
    base: &toml::Value,
    segs: Vec<Seg>,
    name: &str,
    tables: &mut BTreeSet<String>,
    keys: &mut BTreeSet<String>,
) {
    let fields = fields_at(base, &segs).unwrap_or_else(|| panic!("{name}: no fields"));
    if !name.is_empty() {
        tables.insert(name.to_string());
    }
    for f in fields {
        let dotted = if name.is_empty() {
            f.clone()
        } else {
            format!("{name}.{f}")
        };
        keys.insert(dotted.clone());
        let mut below = segs.clone();
        below.push(Seg::Key(f));
        // A table of fields, an array of such tables, or a map of them; else a value.
        let shapes = [vec![], vec![Seg::Elem], vec![Seg::Any]];
        if let Some(s) = shapes
            .into_iter()
            .map(|shape| [below.clone(), shape].concat())
            .find(|s| fields_at(base, s).is_some())
        {
            walk(base, s, &dotted, tables, keys);
        }
    }
}

#[test]
fn every_spec_key_is_in_spec_md() {
    let path = format!("{}/envs/prod.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("envs/prod.toml");
    let base: toml::Value = toml::from_str(&text).expect("prod's spec is TOML");
    let (mut tables, mut keys) = (BTreeSet::new(), BTreeSet::new());
    walk(&base, vec![], "", &mut tables, &mut keys);
    // The walk reaches what the shipped envs leave out too: a guard against it finding nothing.
    for k in [
        "project",
        "network.cidr",
        "app.health_check.command",
        "policy.waivers.rule",
    ] {
        assert!(keys.contains(k), "the walk missed {k}: {keys:?}");
    }
    assert!(tables.contains("monitoring.alarms"), "{tables:?}");
    let doc = page("spec.md");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !tables.contains(*k))
        .filter(|k| {
            let last = k.rsplit('.').next().unwrap_or(k);
            !doc.contains(&format!("`{last}`")) && !doc.contains(&format!("[{k}]"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "spec keys not in docs/spec.md: {missing:?}"
    );
    // Each table has its header in the reference (`[app.health_check]`, `[[policy.waivers]]`,
    // `[monitoring.alarms.<name>]`), or its row as a key of its parent's table
    // (`task_role_statements`, an array of tables).
    let missing: Vec<&String> = tables
        .iter()
        .filter(|t| {
            let last = t.rsplit('.').next().unwrap_or(t);
            !doc.contains(&format!("[{t}")) && !doc.contains(&format!("| `{last}` |"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "spec tables not in docs/spec.md: {missing:?}"
    );
}

// --- commands and flags -------------------------------------------------------------------

/// Every command (`image push` as its path) with its long flags, from clap's definition.
fn commands(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, Vec<String>)>) {
    for sub in cmd.get_subcommands() {
        let path = format!("{prefix}{}", sub.get_name()).trim().to_string();
        let flags = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        out.push((path.clone(), flags));
        commands(sub, &format!("{path} "), out);
    }
}

#[test]
fn every_command_and_flag_is_in_usage_md() {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let mut all = Vec::new();
    commands(&cli, "", &mut all);
    assert!(all.len() >= 20, "{all:?}");
    let doc = page("usage.md");
    // `word` as a whole (`--lock` in `--lock-timeout` does not count).
    let has = |word: &str| {
        doc.match_indices(word).any(|(at, _)| {
            !doc[at + word.len()..]
                .starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_')
        })
    };
    let mut missing = Vec::new();
    for (path, flags) in &all {
        // In the synopsis (`rtech deploy status --env ENV …`) and the table's first column
        // (`deploy status`; `image` by `image push`).
        if !has(&format!("rtech {path}")) || !doc.contains(&format!("| `{path}")) {
            missing.push(format!("command {path}"));
        }
        for f in flags {
            if !has(f) {
                missing.push(format!("{path} {f}"));
            }
        }
    }
    // Each global flag has its row: `| `-v`, `--verbose` | …`.
    let rows: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split_once(" |").map(|(first, _)| first))
        .collect();
    let globals = cli
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")));
    for f in globals {
        if !rows.iter().any(|r| {
            r.split(", ")
                .any(|c| c.trim_matches('`').split(' ').next() == Some(&*f))
        }) {
            missing.push(format!("global flag {f} (a row of the global flags table)"));
        }
    }
    assert!(missing.is_empty(), "not in docs/usage.md: {missing:?}");
}

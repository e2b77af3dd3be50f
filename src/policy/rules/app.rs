//! The app's rules: ECR repositories, ECS task definitions and services.

use super::*;

pub(super) fn ecr_1(v: &View) -> Vec<Evidence> {
    each(v, "ecr_repository", "scan_on_push", is_true)
}

pub(super) fn ecr_2(v: &View) -> Vec<Evidence> {
    each(v, "ecr_repository", "image_tag_mutability", |x| {
        str_of(x).is_some_and(|m| m.starts_with("IMMUTABLE"))
    })
}

pub(super) fn ecr_3(v: &View) -> Vec<Evidence> {
    v.of_kind("ecr_repository")
        .map(|s| {
            let rules = s
                .get("lifecycle_policy.rules")
                .and_then(|r| match r {
                    Value::List(l) => Some(l.len()),
                    _ => None,
                })
                .unwrap_or(0);
            Evidence {
                resource: s.id.clone(),
                field: "lifecycle_policy".into(),
                value: format!("{rules} rule(s)"),
                ok: rules > 0,
            }
        })
        .collect()
}

pub(super) fn ecs_2(v: &View) -> Vec<Evidence> {
    each(v, "ecs_service", "assign_public_ip", |x| {
        str_of(x) != Some("ENABLED")
    })
}

/// The task definition's `extras` name what the live revision sets that rtech never does;
/// `privileged` is one of them.
pub(super) fn ecs_4(v: &View) -> Vec<Evidence> {
    v.of_kind("ecs_task_definition")
        .map(|s| {
            let privileged = matches!(s.get("extras"), Some(Value::List(l))
                if l.iter().any(|x| x.as_str() == Some("privileged")));
            Evidence {
                resource: s.id.clone(),
                field: "privileged".into(),
                value: privileged.to_string(),
                ok: !privileged,
            }
        })
        .collect()
}

pub(super) fn ecs_5(v: &View) -> Vec<Evidence> {
    each(
        v,
        "ecs_task_definition",
        "readonly_root_filesystem",
        is_true,
    )
}

/// AWS's keys (ECS.8 checks `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `ECS_ENGINE_AUTH_DATA`), and rtech's: a name holding one of [`SECRET_WORDS`].
const SECRET_KEYS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "ECS_ENGINE_AUTH_DATA",
];
const SECRET_WORDS: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY"];

pub fn secret_named(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_KEYS.contains(&upper.as_str()) || SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Names only: the evidence never shows a variable's value.
pub(super) fn ecs_8(v: &View) -> Vec<Evidence> {
    v.of_kind("ecs_task_definition")
        .map(|s| {
            let bad: Vec<&String> = s
                .get("environment")
                .and_then(Value::as_map)
                .map(|m| m.keys().filter(|k| secret_named(k)).collect())
                .unwrap_or_default();
            Evidence {
                resource: s.id.clone(),
                field: "environment".into(),
                value: if bad.is_empty() {
                    "no secret-named variable".into()
                } else {
                    format!(
                        "secret-named variable(s) {} (use [app.secrets])",
                        bad.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                ok: bad.is_empty(),
            }
        })
        .collect()
}

//! `[app]`'s nested tables: the target group's health check, auto scaling, and the task
//! role's policy statements, each validated with located errors.

use super::{RawScaling, RawStatement, RawTargetGroup, Scaling, Statement, TargetGroup};
use crate::spec::data::{int_in, str_checked};
use crate::spec::Errors;
use crate::spec::Spanned;

pub(super) fn validate_target_group(
    errs: &mut Errors,
    raw: Option<&Spanned<RawTargetGroup>>,
) -> TargetGroup {
    let empty = RawTargetGroup {
        health_check_path: None,
        matcher: None,
        deregistration_delay_seconds: None,
        healthy_threshold: None,
        unhealthy_threshold: None,
        interval_seconds: None,
        timeout_seconds: None,
    };
    let r = raw.map(Spanned::get_ref).unwrap_or(&empty);
    let p = "app.target_group";
    let health_check_path = str_checked(
        errs,
        &r.health_check_path,
        &format!("{p}.health_check_path"),
        |s| s.starts_with('/') && s.len() <= 1024,
        "must be a path starting with /",
        // The app's health endpoint.
        || "/api/health".to_string(),
    );
    let matcher = str_checked(
        errs,
        &r.matcher,
        &format!("{p}.matcher"),
        valid_matcher,
        "is not an HTTP code matcher (e.g. \"200\", \"200,204\" or \"200-299\")",
        || "200".to_string(),
    );
    let tg = TargetGroup {
        health_check_path,
        matcher,
        deregistration_delay_seconds: int_in(
            errs,
            &r.deregistration_delay_seconds,
            &format!("{p}.deregistration_delay_seconds"),
            0..=3600,
            30,
        ),
        healthy_threshold: int_in(
            errs,
            &r.healthy_threshold,
            &format!("{p}.healthy_threshold"),
            2..=10,
            2,
        ),
        unhealthy_threshold: int_in(
            errs,
            &r.unhealthy_threshold,
            &format!("{p}.unhealthy_threshold"),
            2..=10,
            3,
        ),
        interval_seconds: int_in(
            errs,
            &r.interval_seconds,
            &format!("{p}.interval_seconds"),
            5..=300,
            30,
        ),
        timeout_seconds: int_in(
            errs,
            &r.timeout_seconds,
            &format!("{p}.timeout_seconds"),
            2..=120,
            5,
        ),
    };
    if tg.timeout_seconds >= tg.interval_seconds {
        if let Some(t) = &r.timeout_seconds {
            errs.push(
                t.span(),
                &format!("{p}.timeout_seconds"),
                "must be shorter than interval_seconds",
            );
        }
    }
    tg
}

fn valid_matcher(s: &str) -> bool {
    let code = |c: &str| c.len() == 3 && c.parse::<u16>().is_ok_and(|n| (200..=499).contains(&n));
    !s.is_empty()
        && s.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => code(a) && code(b) && a < b,
            None => code(part),
        })
}

pub(super) fn validate_scaling(errs: &mut Errors, raw: &Spanned<RawScaling>) -> Scaling {
    let r = raw.get_ref();
    let min = int_in(errs, &r.min, "app.scaling.min", 0..=1000, 2);
    let max = int_in(errs, &r.max, "app.scaling.max", 1..=1000, 10);
    if min > max {
        let span = r
            .min
            .as_ref()
            .or(r.max.as_ref())
            .map(Spanned::span)
            .unwrap_or(raw.span());
        errs.push(
            span,
            "app.scaling.min",
            format!("min ({min}) is greater than max ({max})"),
        );
    }
    Scaling {
        min,
        max,
        cpu_target: int_in(errs, &r.cpu_target, "app.scaling.cpu_target", 10..=95, 70),
        memory_target: int_in(
            errs,
            &r.memory_target,
            "app.scaling.memory_target",
            10..=95,
            80,
        ),
        scale_in_cooldown_seconds: int_in(
            errs,
            &r.scale_in_cooldown_seconds,
            "app.scaling.scale_in_cooldown_seconds",
            0..=3600,
            300,
        ),
        scale_out_cooldown_seconds: int_in(
            errs,
            &r.scale_out_cooldown_seconds,
            "app.scaling.scale_out_cooldown_seconds",
            0..=3600,
            60,
        ),
    }
}

pub(super) fn validate_statement(
    errs: &mut Errors,
    i: usize,
    raw: &Spanned<RawStatement>,
) -> Statement {
    let r = raw.get_ref();
    let p = format!("app.task_role_statements[{i}]");
    let effect = str_checked(
        errs,
        &r.effect,
        &format!("{p}.effect"),
        |e| matches!(e, "Allow" | "Deny"),
        "must be \"Allow\" or \"Deny\"",
        || "Allow".to_string(),
    );
    if r.actions.get_ref().is_empty() {
        errs.push(
            r.actions.span(),
            &format!("{p}.actions"),
            "must not be empty",
        );
    }
    for a in r.actions.get_ref() {
        let s = a.get_ref();
        let ok = s == "*"
            || s.split_once(':').is_some_and(|(svc, act)| {
                !svc.is_empty()
                    && svc
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !act.is_empty()
                    && act.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
            });
        if !ok {
            errs.push(
                a.span(),
                &format!("{p}.actions"),
                format!("{s:?} is not an IAM action (service:Action, e.g. \"s3:GetObject\")"),
            );
        }
    }
    if r.resources.get_ref().is_empty() {
        errs.push(
            r.resources.span(),
            &format!("{p}.resources"),
            "must not be empty",
        );
    }
    for res in r.resources.get_ref() {
        let s = res.get_ref();
        if s != "*" && !s.starts_with("arn:") {
            errs.push(
                res.span(),
                &format!("{p}.resources"),
                format!("{s:?} is not an ARN (arn:...) or \"*\""),
            );
        }
    }
    let sid = r.sid.as_ref().map(|s| {
        if s.get_ref().is_empty() || !s.get_ref().chars().all(|c| c.is_ascii_alphanumeric()) {
            errs.push(
                s.span(),
                &format!("{p}.sid"),
                "a statement id holds only letters and digits",
            );
        }
        s.get_ref().clone()
    });
    Statement {
        sid,
        effect,
        actions: r
            .actions
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect(),
        resources: r
            .resources
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect(),
    }
}

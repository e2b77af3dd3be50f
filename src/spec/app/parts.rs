//! `[app]`'s nested tables: the target group's health check, auto scaling, and the task
//! role's policy statements, each validated with located errors.

use toml::Spanned;

use super::{RawScaling, RawStatement, RawTargetGroup, Scaling, Statement, TargetGroup};
use crate::spec::data::int_in;
use crate::spec::Errors;

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
    let health_check_path = match &r.health_check_path {
        Some(s) if !s.get_ref().starts_with('/') || s.get_ref().len() > 1024 => {
            errs.push(
                s.span(),
                &format!("{p}.health_check_path"),
                format!("{:?} must be a path starting with /", s.get_ref()),
            );
            s.get_ref().clone()
        }
        Some(s) => s.get_ref().clone(),
        // Seed 9.2: the app's health endpoint.
        None => "/api/health".to_string(),
    };
    let matcher = match &r.matcher {
        Some(m) if !valid_matcher(m.get_ref()) => {
            errs.push(
                m.span(),
                &format!("{p}.matcher"),
                format!(
                    "{:?} is not an HTTP code matcher (e.g. \"200\", \"200,204\" or \"200-299\")",
                    m.get_ref()
                ),
            );
            m.get_ref().clone()
        }
        Some(m) => m.get_ref().clone(),
        None => "200".to_string(),
    };
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
    let effect = match &r.effect {
        Some(e) if !matches!(e.get_ref().as_str(), "Allow" | "Deny") => {
            errs.push(
                e.span(),
                &format!("{p}.effect"),
                format!("{:?} must be \"Allow\" or \"Deny\"", e.get_ref()),
            );
            e.get_ref().clone()
        }
        Some(e) => e.get_ref().clone(),
        None => "Allow".to_string(),
    };
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

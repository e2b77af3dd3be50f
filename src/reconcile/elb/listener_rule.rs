//! `listener_rule/production`: with a canary or blue/green `[app.deploy]` strategy, the HTTPS
//! listener's production rule (priority [`PRODUCTION_PRIORITY`], path `/*`), forwarding to
//! the blue and green target groups by weight. ECS names it as the service's
//! `productionListenerRule` and moves its weights itself while a deployment runs (canary:
//! 100/0 → 90/10 → 0/100, or back on rollback), so the weights belong to ECS: the plan reads
//! them (`weights`, late-initialised from the live rule: shown, never drift) and rtech sets
//! them only when it creates the rule (`[edge.weights]`, missing colours at 0). A changed
//! condition or set of target groups is one ModifyRule, which keeps the live weights
//! ([`weights_for`]); listener and priority force a replacement.
//!
//!
//! With `[edge.cloudfront]` the rule exists whatever the strategy (forwarding to blue alone
//! with a rolling one) and also requires CloudFront's `X-Origin-Verify` header
//! (`origin_header`: the accepted values by their markers, never the values, read from
//! `secret/origin-header` at apply); the listener's default action is then a fixed 403, so a
//! request that bypasses CloudFront reaches no target group.
//!
//! Observed through its listener (DescribeRules on our HTTPS listener, in
//! `elb::observe_edge`), ownership by its tags; a rule at our priority without them is
//! foreign. A create whose response was lost meets `PriorityInUse`: the rule at that priority
//! is adopted when its tags are ours.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::operation::create_rule::builders::CreateRuleFluentBuilder;
use aws_sdk_elasticloadbalancingv2::operation::modify_rule::builders::ModifyRuleFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, HttpHeaderConditionConfig,
    PathPatternConditionConfig, Rule as SdkRule, RuleCondition, TargetGroupStickinessConfig,
    TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde::{Deserialize, Serialize};

use super::listener::{listener_id, WeightedGroup};
use super::{elb_tags, existing_at, target_group_id, ElbTags};
use crate::aws::{aws, AwsError, Required};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId, Value};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{
    adopt_on_exists, found, from_props, gone_ok, sync_tags, to_props, Existing, Link, PropsError,
};
use crate::reconcile::secrets::{
    accepted_markers, marker, origin_header_values, secret_id, ORIGIN_HEADER, ORIGIN_HEADER_SECRET,
};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub const LISTENER_RULE: &str = "listener_rule";
/// The production rule's resource name.
pub const PRODUCTION: &str = "production";
/// Its priority on the HTTPS listener.
pub const PRODUCTION_PRIORITY: i64 = 10;
/// The colours it forwards to, in this order.
pub const RULE_COLOURS: &[&str] = &["blue", "green"];

pub static SCHEMA: KindSchema =
    KindSchema::replaced_on(LISTENER_RULE, &["listener_arn", "priority"]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerRuleProps {
    pub listener_arn: Link,
    pub priority: i64,
    pub conditions: Vec<Condition>,
    /// The forward's target groups, blue then green.
    pub target_groups: Vec<Link>,
    /// Their weights: ECS's while it deploys, so late-initialised from the live rule (absent
    /// from expand's map, present once the plan filled it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<WeightedGroup>>,
    /// With CloudFront: the `X-Origin-Verify` values the rule requires (an http-header
    /// condition), by marker, sorted and comma-joined (the secret's `accepted_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_header: Option<Link>,
    pub tags: BTreeMap<String, String>,
}

/// One condition: its field (`path-pattern`, `host-header`, …) and values, sorted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub values: Vec<String>,
}

pub fn rule_id(name: &str) -> ResourceId {
    ResourceId::new(LISTENER_RULE, name)
}

pub fn production_rule_id() -> ResourceId {
    rule_id(PRODUCTION)
}

/// `{weights: …}` as a plan value (the late default).
fn weights_value(w: &[WeightedGroup]) -> Value {
    #[derive(Serialize)]
    struct W<'a> {
        weights: &'a [WeightedGroup],
    }
    to_props(&W { weights: w })
        .remove("weights")
        .unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// expand

/// The production rule of the HTTPS listener (pure; the caller checks that the strategy
/// shifts traffic or the env has CloudFront). `lb_name` is the load balancer's.
pub fn expand(spec: &Spec, lb_name: &str) -> Option<Resource> {
    let edge = spec.edge.as_ref()?;
    let shifts = spec
        .app
        .as_ref()
        .is_some_and(|a| a.deploy.strategy.shifts_traffic());
    let colours = if shifts {
        RULE_COLOURS
    } else {
        &RULE_COLOURS[..1]
    };
    let id = production_rule_id();
    let full = format!("{lb_name}:443/{PRODUCTION}");
    let props = ListenerRuleProps {
        listener_arn: Link::to(&listener_id("https"), "arn"),
        priority: PRODUCTION_PRIORITY,
        conditions: vec![Condition {
            field: "path-pattern".into(),
            values: vec!["/*".into()],
        }],
        target_groups: colours
            .iter()
            .map(|c| Link::to(&target_group_id(c), "arn"))
            .collect(),
        weights: None,
        origin_header: edge.cloudfront.as_ref().map(|_| {
            Link::to(
                &secret_id(ORIGIN_HEADER_SECRET),
                crate::reconcile::secrets::ACCEPTED_IDS,
            )
        }),
        tags: tags_for(&spec.project, &spec.env, &id, &full, &spec.tags),
    };
    let initial: Vec<WeightedGroup> = colours
        .iter()
        .map(|c| WeightedGroup {
            arn: Link::to(&target_group_id(c), "arn"),
            weight: edge.weights.get(*c).copied().unwrap_or(0),
        })
        .collect();
    Some(
        Resource::new(id, &full)
            .with_props(to_props(&props))
            .late("weights", weights_value(&initial)),
    )
}

// ---------------------------------------------------------------------------------------------
// observe (pure)

/// A live rule → `Observed`. `tg_names` are the target group names by colour order: the
/// forward's groups are listed in that order (then by ARN).
pub fn observe_rule(
    id: &ResourceId,
    rule: &SdkRule,
    tags: &BTreeMap<String, String>,
    tg_names: &[String],
) -> Observed {
    let arn = rule.rule_arn().unwrap_or_default();
    let is_origin_header = |c: &&RuleCondition| {
        c.field() == Some("http-header")
            && c.http_header_config().and_then(|h| h.http_header_name()) == Some(ORIGIN_HEADER)
    };
    let origin_header = rule.conditions().iter().find(is_origin_header).map(|c| {
        let values = c
            .http_header_config()
            .map(|h| h.values())
            .unwrap_or_default();
        let mut ids: Vec<String> = values.iter().map(|v| marker(v)).collect();
        ids.sort();
        ids.dedup();
        Link::from(ids.join(",").as_str())
    });
    let mut conditions: Vec<Condition> = rule
        .conditions()
        .iter()
        .filter(|c| !is_origin_header(c))
        .map(|c| {
            // Another header's values may be secret too: markers only.
            if let Some(h) = c.http_header_config() {
                let mut values: Vec<String> = h.values().iter().map(|v| marker(v)).collect();
                values.sort();
                return Condition {
                    field: format!("http-header:{}", h.http_header_name().unwrap_or_default()),
                    values,
                };
            }
            let mut values: Vec<String> = match c.path_pattern_config() {
                Some(p) if !p.values().is_empty() => p.values().to_vec(),
                _ => c.values().to_vec(),
            };
            values.sort();
            Condition {
                field: c.field().unwrap_or_default().to_string(),
                values,
            }
        })
        .collect();
    conditions.sort_by(|a, b| (&a.field, &a.values).cmp(&(&b.field, &b.values)));
    let rank = |arn: &str| {
        (
            tg_names
                .iter()
                .position(|n| arn.contains(&format!("targetgroup/{n}/")))
                .unwrap_or(usize::MAX),
            arn.to_string(),
        )
    };
    let mut groups: Vec<(String, i64)> = rule
        .actions()
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .flat_map(|a| match a.forward_config() {
            Some(f) if !f.target_groups().is_empty() => f
                .target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        i64::from(t.weight().unwrap_or(1)),
                    )
                })
                .collect::<Vec<_>>(),
            _ => a
                .target_group_arn()
                .map(|t| vec![(t.to_string(), 1)])
                .unwrap_or_default(),
        })
        .collect();
    groups.sort_by_key(|(a, _)| rank(a));
    let props = ListenerRuleProps {
        listener_arn: Link::from(listener_of(arn)),
        priority: rule
            .priority()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0),
        conditions,
        target_groups: groups.iter().map(|(a, _)| Link::from(a.as_str())).collect(),
        weights: Some(
            groups
                .iter()
                .map(|(a, w)| WeightedGroup {
                    arn: Link::from(a.as_str()),
                    weight: *w,
                })
                .collect(),
        ),
        origin_header,
        tags: tags.clone(),
    };
    // Deleted before its listener and the target groups it forwards to.
    let mut o = Observed::new(id.clone(), arn).dep(&listener_id("https"));
    for c in RULE_COLOURS {
        o = o.dep(&target_group_id(c));
    }
    o.props = to_props(&props);
    o.attrs = rule_attrs(arn);
    o
}

/// `…:listener-rule/app/lb/1/2/3` → `…:listener/app/lb/1/2` (pure).
pub fn listener_of(rule_arn: &str) -> String {
    let l = rule_arn.replacen(":listener-rule/", ":listener/", 1);
    match l.rsplit_once('/') {
        Some((head, _)) => head.to_string(),
        None => l,
    }
}

// ---------------------------------------------------------------------------------------------
// apply: the requests (pure builders, unit-tested)

/// The weights a ModifyRule sends for `targets` (pure): each group's live weight, 0 for a
/// group the live rule lacks, and all of it on the first group if none would get any (a rule
/// must forward somewhere).
pub fn weights_for(targets: &[String], live: &[WeightedGroup]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = targets
        .iter()
        .map(|t| {
            let w = live
                .iter()
                .find(|g| g.arn.known() == Some(t.as_str()))
                .map(|g| g.weight)
                .unwrap_or(0);
            (t.clone(), w)
        })
        .collect();
    if out.iter().all(|(_, w)| *w == 0) {
        if let Some(first) = out.first_mut() {
            first.1 = 100;
        }
    }
    out
}

/// The conditions, and the origin header's with `header_values` (apply time only).
fn sdk_conditions(p: &ListenerRuleProps, header_values: &[String]) -> Vec<RuleCondition> {
    let header = p.origin_header.as_ref().map(|_| {
        RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(ORIGIN_HEADER)
                    .set_values(Some(header_values.to_vec()))
                    .build(),
            )
            .build()
    });
    p.conditions
        .iter()
        .map(|c| {
            let b = RuleCondition::builder().field(&c.field);
            if c.field == "path-pattern" {
                b.path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(c.values.clone()))
                        .build(),
                )
                .build()
            } else {
                b.set_values(Some(c.values.clone())).build()
            }
        })
        .chain(header)
        .collect()
}

fn forward(weights: &[(String, i64)]) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .order(1)
        .forward_config(
            ForwardActionConfig::builder()
                .set_target_groups(Some(
                    weights
                        .iter()
                        .map(|(arn, w)| {
                            TargetGroupTuple::builder()
                                .target_group_arn(arn)
                                .weight(*w as i32)
                                .build()
                        })
                        .collect(),
                ))
                .target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(false)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn resolved(p: &ListenerRuleProps) -> Result<Vec<String>, PropsError> {
    p.target_groups
        .iter()
        .map(|l| l.require("target_groups").map(str::to_string))
        .collect()
}

/// CreateRule with the (initial) weights.
pub fn create_request(
    c: &Client,
    p: &ListenerRuleProps,
    header_values: &[String],
) -> Result<CreateRuleFluentBuilder, PropsError> {
    let targets = resolved(p)?;
    let weights = weights_for(&targets, p.weights.as_deref().unwrap_or_default());
    Ok(c.create_rule()
        .listener_arn(p.listener_arn.require("listener_arn")?)
        .priority(p.priority as i32)
        .set_conditions(Some(sdk_conditions(p, header_values)))
        .actions(forward(&weights))
        .set_tags(Some(elb_tags(&p.tags))))
}

/// ModifyRule: conditions and the forward, keeping the live weights (`p.weights`, filled from
/// the live rule).
pub fn modify_request(
    c: &Client,
    arn: &str,
    p: &ListenerRuleProps,
    header_values: &[String],
) -> Result<ModifyRuleFluentBuilder, PropsError> {
    let targets = resolved(p)?;
    let weights = weights_for(&targets, p.weights.as_deref().unwrap_or_default());
    Ok(c.modify_rule()
        .rule_arn(arn)
        .set_conditions(Some(sdk_conditions(p, header_values)))
        .actions(forward(&weights)))
}

/// The origin header values the rule must accept (apply time only, from Secrets Manager): those
/// the plan was made with (by marker), or the secret changed since. None without CloudFront.
async fn header_values(
    ctx: &Ctx,
    r: &Resource,
    p: &ListenerRuleProps,
) -> Result<Vec<String>, AwsError> {
    let Some(want) = &p.origin_header else {
        return Ok(vec![]);
    };
    let want = want.require("origin_header")?;
    let (current, previous) = origin_header_values(ctx).await?;
    let have = accepted_markers(&current, previous.as_deref());
    if have != want {
        return Err(AwsError::new(
            "elbv2",
            "StaleSecret",
            format!(
                "{}: secret/{ORIGIN_HEADER_SECRET} holds {have} now, the plan has {want}: plan again",
                r.id
            ),
        ));
    }
    Ok(std::iter::once(current).chain(previous).collect())
}

fn rule_attrs(arn: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), arn.to_string());
    a.insert("arn".into(), arn.to_string());
    a
}

// ---------------------------------------------------------------------------------------------
// apply

pub struct ListenerRule;

#[async_trait]
impl Kind for ListenerRule {
    crate::typed_kind!(SCHEMA, ListenerRuleProps);
    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        task.status(&format!("creating listener rule {}", r.name));
        let p: &ListenerRuleProps = &from_props(&r.props)?;
        let c = &ctx.clients.elbv2;
        let values = header_values(ctx, r, p).await?;
        let create = async {
            let out = create_request(c, p, &values)?
                .send()
                .await
                .map_err(aws("elbv2:CreateRule"))?;
            Ok(out
                .rules()
                .first()
                .and_then(SdkRule::rule_arn)
                .required(
                    "elbv2:CreateRule",
                    format!("no rule ARN returned for {}", r.name),
                )?
                .to_string())
        };
        // A priority holds one rule (AWS answers PriorityInUse): the rule there is adopted
        // when it is ours (our own lost create made it), its settings then the next plan's.
        let arn = adopt_on_exists(&r.id.to_string(), create, || async {
            let listener = p.listener_arn.require("listener_arn")?.to_string();
            let out = found(
                c.describe_rules()
                    .listener_arn(listener)
                    .send()
                    .await
                    .map_err(aws("elbv2:DescribeRules")),
            )?;
            let at = out.and_then(|o| {
                o.rules()
                    .iter()
                    .find(|x| x.priority() == Some(p.priority.to_string().as_str()))
                    .cloned()
            });
            match at.as_ref().and_then(SdkRule::rule_arn) {
                Some(a) => existing_at(ctx, r, Some(a)).await,
                None => Ok(Existing::Missing),
            }
        })
        .await?;
        Ok(rule_attrs(&arn))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let (prior, changed) = (u.prior, u.changed);
        let p: &ListenerRuleProps = &from_props(&u.desired.props)?;
        let c = &ctx.clients.elbv2;
        let arn = prior.physical_id.as_str();
        if changed.contains("conditions")
            || changed.contains("target_groups")
            || changed.contains("origin_header")
        {
            task.status("modifying the listener rule (its weights stay ECS's)");
            let values = header_values(ctx, u.desired, p).await?;
            modify_request(c, arn, p, &values)?
                .send()
                .await
                .map_err(aws("elbv2:ModifyRule"))?;
        }
        if changed.contains("tags") {
            let before = from_props::<ListenerRuleProps>(&prior.props)?;
            sync_tags(&ElbTags(c), arn, &before.tags, &p.tags).await?;
        }
        Ok(rule_attrs(arn))
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        gone_ok(
            ctx.clients
                .elbv2
                .delete_rule()
                .rule_arn(&o.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws("elbv2:DeleteRule")),
        )
    }
}

//! `web_acl`: the kind — its typed props (built by [`expand`] and by [`observed`] alike), its
//! pure request builders, and create / update / delete.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CountAction, DefaultAction, LoggingConfiguration,
    ManagedRuleGroupStatement, NoneAction, OverrideAction, RateBasedStatement,
    RateBasedStatementAggregateKeyType, Rule, RuleAction, Statement, Tag, VisibilityConfig,
    WebAcl as AwsWebAcl,
};
use aws_sdk_wafv2::Client;
use serde::{Deserialize, Serialize};

use super::{scope, web_acl_id, web_acl_name, WafTags, WEB_ACL};
use crate::aws::{aws, AwsError, ErrorKind, Required};
use crate::model::{tags_for, Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{self, from_props, sync_tags, to_props, try_tag_list, Link};
use crate::reconcile::{Ctx, Kind, Update};
use crate::spec::Spec;

pub static SCHEMA: KindSchema = KindSchema::replaced_on(WEB_ACL, &["name"]);

/// The vendor of AWS's managed rule groups.
pub const AWS_VENDOR: &str = "AWS";
/// The rate-based rule's evaluation window (AWS's default, the "5 minutes" of the spec).
pub const RATE_WINDOW_SECONDS: i64 = 300;

/// The rules rtech writes, by name: (name, priority, managed rule group or None for the
/// rate-based rule).
pub const RULES: &[(&str, i64, Option<&str>)] = &[
    ("rate-limit", 0, None),
    (
        "aws-ip-reputation",
        1,
        Some("AWSManagedRulesAmazonIpReputationList"),
    ),
    (
        "aws-known-bad-inputs",
        2,
        Some("AWSManagedRulesKnownBadInputsRuleSet"),
    ),
    ("aws-common", 3, Some("AWSManagedRulesCommonRuleSet")),
];

/// `web_acl` props. Field names are the plan's property keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebAclProps {
    pub name: String,
    pub description: String,
    /// `allow` or `block`.
    pub default_action: String,
    pub visibility: Visibility,
    /// By rule name.
    pub rules: BTreeMap<String, RuleProps>,
    /// The log group the logging configuration delivers to (None: no logging configuration).
    pub logging: Option<Link>,
    pub tags: BTreeMap<String, String>,
}

/// CloudWatch metrics and sampled requests, of the ACL or of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visibility {
    pub metric_name: String,
    pub cloudwatch_metrics: bool,
    pub sampled_requests: bool,
}

/// One rule: a managed rule group or a rate-based rule (what rtech writes), or any other
/// statement a live ACL has (drift).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProps {
    pub priority: i64,
    /// `managed <vendor>/<group>`, `rate-based IP`, or `other`.
    pub statement: String,
    /// The rate-based rule's requests per window and per client IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// A managed group's override action (`none`: the group's own actions; `count`), or a
    /// rule's action (`block`, `allow`, `count`, …).
    pub action: String,
    pub visibility: Visibility,
}

/// The log group the ACL logs to (the logs service's `log_group/waf`).
pub fn waf_logs_id() -> ResourceId {
    ResourceId::new("log_group", "waf")
}

/// CloudWatch metric names take letters, digits, `-` and `_`.
pub fn metric_name(project: &str, env: &str, what: &str) -> String {
    format!("{project}-{env}-{what}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn visible(metric_name: String) -> Visibility {
    Visibility {
        metric_name,
        cloudwatch_metrics: true,
        sampled_requests: true,
    }
}

/// The four rules for a rate limit (pure).
pub fn rules(project: &str, env: &str, rate_limit: i64) -> BTreeMap<String, RuleProps> {
    RULES
        .iter()
        .map(|(name, priority, group)| {
            let r = match group {
                Some(g) => RuleProps {
                    priority: *priority,
                    statement: format!("managed {AWS_VENDOR}/{g}"),
                    limit: None,
                    window_seconds: None,
                    action: "none".into(),
                    visibility: visible(metric_name(project, env, name)),
                },
                None => RuleProps {
                    priority: *priority,
                    statement: "rate-based IP".into(),
                    limit: Some(rate_limit),
                    window_seconds: Some(RATE_WINDOW_SECONDS),
                    action: "block".into(),
                    visibility: visible(metric_name(project, env, name)),
                },
            };
            (name.to_string(), r)
        })
        .collect()
}

/// The ACL's description (deterministic).
pub fn description(project: &str, env: &str) -> String {
    format!("rtech {project}-{env}: the CloudFront distribution's web ACL")
}

/// Spec → Desired (pure): the web ACL, only with `[edge.waf]` (which needs `[edge.cloudfront]`).
pub fn expand(spec: &Spec) -> Vec<Resource> {
    let Some(waf) = spec.edge.as_ref().and_then(|e| e.waf.as_ref()) else {
        return vec![];
    };
    let (p, e) = (spec.project.as_str(), spec.env.as_str());
    let id = web_acl_id();
    let name = web_acl_name(p, e);
    let props = WebAclProps {
        name: name.clone(),
        description: description(p, e),
        default_action: "allow".into(),
        visibility: visible(metric_name(p, e, "edge")),
        rules: rules(p, e, waf.rate_limit_per_5min),
        logging: Some(Link::to(&waf_logs_id(), "arn")),
        tags: tags_for(p, e, &id, &name, &spec.tags),
    };
    vec![Resource::new(id, &name).with_props(to_props(&props))]
}

// ---------------------------------------------------------------------------------------------
// observe: a live ACL → the same shape (pure)

fn visibility_of(v: Option<&VisibilityConfig>) -> Visibility {
    match v {
        Some(v) => Visibility {
            metric_name: v.metric_name().to_string(),
            cloudwatch_metrics: v.cloud_watch_metrics_enabled(),
            sampled_requests: v.sampled_requests_enabled(),
        },
        None => Visibility {
            metric_name: String::new(),
            cloudwatch_metrics: false,
            sampled_requests: false,
        },
    }
}

fn rule_action_name(a: &RuleAction) -> &'static str {
    if a.block().is_some() {
        "block"
    } else if a.allow().is_some() {
        "allow"
    } else if a.count().is_some() {
        "count"
    } else if a.captcha().is_some() {
        "captcha"
    } else if a.challenge().is_some() {
        "challenge"
    } else {
        "other"
    }
}

/// One live rule → its props (pure).
pub fn rule_props(r: &Rule) -> RuleProps {
    let st = r.statement();
    let (statement, limit, window_seconds) = match (
        st.and_then(Statement::managed_rule_group_statement),
        st.and_then(Statement::rate_based_statement),
    ) {
        (Some(m), _) => (
            format!("managed {}/{}", m.vendor_name(), m.name()),
            None,
            None,
        ),
        (None, Some(rb)) => {
            let window = match rb.evaluation_window_sec() {
                // Absent: AWS's default window.
                0 => RATE_WINDOW_SECONDS,
                w => w,
            };
            (
                format!("rate-based {}", rb.aggregate_key_type().as_str()),
                Some(rb.limit()),
                Some(window),
            )
        }
        (None, None) => ("other".to_string(), None, None),
    };
    let action = match (r.override_action(), r.action()) {
        (Some(o), _) if o.count().is_some() => "count".to_string(),
        (Some(_), _) => "none".to_string(),
        (None, Some(a)) => rule_action_name(a).to_string(),
        (None, None) => "none".to_string(),
    };
    RuleProps {
        priority: r.priority() as i64,
        statement,
        limit,
        window_seconds,
        action,
        visibility: visibility_of(r.visibility_config()),
    }
}

/// A live ACL, its logging configuration and its tags → the ACL's props (pure).
pub fn web_acl_props(
    acl: &AwsWebAcl,
    logging: Option<&LoggingConfiguration>,
    tags: &BTreeMap<String, String>,
) -> WebAclProps {
    let default_action = match acl.default_action() {
        Some(d) if d.block().is_some() => "block",
        _ => "allow",
    };
    WebAclProps {
        name: acl.name().to_string(),
        description: acl.description().unwrap_or_default().to_string(),
        default_action: default_action.into(),
        visibility: visibility_of(acl.visibility_config()),
        rules: acl
            .rules()
            .iter()
            .map(|r| (r.name().to_string(), rule_props(r)))
            .collect(),
        logging: logging
            .and_then(|l| l.log_destination_configs().first())
            .map(|d| Link::from(d.as_str())),
        tags: tags.clone(),
    }
}

pub fn attrs(id: &str, arn: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), id.to_string());
    a.insert("arn".into(), arn.to_string());
    a.insert("name".into(), name.to_string());
    a
}

/// One ACL of ours → `Observed` (pure). It depends on its log group (destroy deletes the ACL
/// first).
pub fn observed(
    acl: &AwsWebAcl,
    logging: Option<&LoggingConfiguration>,
    tags: &BTreeMap<String, String>,
) -> Observed {
    let mut o = Observed::new(web_acl_id(), acl.id())
        .with_props(to_props(&web_acl_props(acl, logging, tags)));
    o.attrs = attrs(acl.id(), acl.arn(), acl.name());
    o.deps.insert(waf_logs_id());
    o
}

// ---------------------------------------------------------------------------------------------
// requests (pure)

fn build_err(
    what: &str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError + '_ {
    move |e| AwsError::new("wafv2", "InvalidRequest", format!("{what}: {e}"))
}

fn invalid(what: String) -> AwsError {
    AwsError::new("wafv2", "InvalidRequest", what)
}

pub fn sdk_visibility(v: &Visibility) -> Result<VisibilityConfig, AwsError> {
    VisibilityConfig::builder()
        .metric_name(&v.metric_name)
        .cloud_watch_metrics_enabled(v.cloudwatch_metrics)
        .sampled_requests_enabled(v.sampled_requests)
        .build()
        .map_err(build_err("visibility config"))
}

pub fn sdk_default_action(a: &str) -> DefaultAction {
    match a {
        "block" => DefaultAction::builder()
            .block(BlockAction::builder().build())
            .build(),
        _ => DefaultAction::builder()
            .allow(AllowAction::builder().build())
            .build(),
    }
}

/// One rule's request shape (pure): a managed rule group with its override action, or a
/// rate-based rule per client IP with its action.
pub fn sdk_rule(name: &str, r: &RuleProps) -> Result<Rule, AwsError> {
    let b = Rule::builder()
        .name(name)
        .priority(r.priority as i32)
        .visibility_config(sdk_visibility(&r.visibility)?);
    let b = if let Some(group) = r.statement.strip_prefix("managed ") {
        let (vendor, group) = group
            .split_once('/')
            .ok_or_else(|| invalid(format!("rules.{name}.statement: {:?}", r.statement)))?;
        let statement = Statement::builder()
            .managed_rule_group_statement(
                ManagedRuleGroupStatement::builder()
                    .vendor_name(vendor)
                    .name(group)
                    .build()
                    .map_err(build_err("managed rule group statement"))?,
            )
            .build();
        let over = match r.action.as_str() {
            "count" => OverrideAction::builder()
                .count(CountAction::builder().build())
                .build(),
            _ => OverrideAction::builder()
                .none(NoneAction::builder().build())
                .build(),
        };
        b.statement(statement).override_action(over)
    } else if let Some(key) = r.statement.strip_prefix("rate-based ") {
        let limit = r
            .limit
            .ok_or_else(|| invalid(format!("rules.{name}.limit: missing")))?;
        let statement = Statement::builder()
            .rate_based_statement(
                RateBasedStatement::builder()
                    .limit(limit)
                    .evaluation_window_sec(r.window_seconds.unwrap_or(RATE_WINDOW_SECONDS))
                    .aggregate_key_type(RateBasedStatementAggregateKeyType::from(key))
                    .build()
                    .map_err(build_err("rate-based statement"))?,
            )
            .build();
        let action = match r.action.as_str() {
            "count" => RuleAction::builder().count(CountAction::builder().build()),
            "allow" => RuleAction::builder().allow(AllowAction::builder().build()),
            _ => RuleAction::builder().block(BlockAction::builder().build()),
        }
        .build();
        b.statement(statement).action(action)
    } else {
        return Err(invalid(format!(
            "rules.{name}: rtech writes managed rule groups and rate-based rules only, not {:?}",
            r.statement
        )));
    };
    b.build().map_err(build_err("rule"))
}

/// Every rule, in priority order (pure).
pub fn sdk_rules(p: &WebAclProps) -> Result<Vec<Rule>, AwsError> {
    let mut rules: Vec<(&String, &RuleProps)> = p.rules.iter().collect();
    rules.sort_by_key(|(n, r)| (r.priority, n.as_str()));
    rules.into_iter().map(|(n, r)| sdk_rule(n, r)).collect()
}

pub fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    try_tag_list(tags, "wafv2:TagResource", |k, v| {
        Tag::builder().key(k).value(v).build()
    })
}

/// The logging configuration for the ACL (pure): every log to the group.
pub fn logging_configuration(
    acl_arn: &str,
    group_arn: &str,
) -> Result<LoggingConfiguration, AwsError> {
    LoggingConfiguration::builder()
        .resource_arn(acl_arn)
        .log_destination_configs(group_arn)
        .build()
        .map_err(build_err("logging configuration"))
}

/// The CreateWebACL request (pure).
pub fn create_request(
    c: &Client,
    p: &WebAclProps,
) -> Result<aws_sdk_wafv2::operation::create_web_acl::builders::CreateWebACLFluentBuilder, AwsError>
{
    Ok(c.create_web_acl()
        .name(&p.name)
        .scope(scope())
        .description(&p.description)
        .default_action(sdk_default_action(&p.default_action))
        .visibility_config(sdk_visibility(&p.visibility)?)
        .set_rules(Some(sdk_rules(p)?))
        .set_tags(Some(sdk_tags(&p.tags)?)))
}

/// The UpdateWebACL request for the ACL `id` at `lock_token` (pure): the whole desired ACL
/// (WAFv2 replaces the rules, default action, description and visibility in one call).
pub fn update_request(
    c: &Client,
    id: &str,
    lock_token: &str,
    p: &WebAclProps,
) -> Result<aws_sdk_wafv2::operation::update_web_acl::builders::UpdateWebACLFluentBuilder, AwsError>
{
    Ok(c.update_web_acl()
        .name(&p.name)
        .scope(scope())
        .id(id)
        .lock_token(lock_token)
        .description(&p.description)
        .default_action(sdk_default_action(&p.default_action))
        .visibility_config(sdk_visibility(&p.visibility)?)
        .set_rules(Some(sdk_rules(p)?)))
}

// ---------------------------------------------------------------------------------------------
// AWS calls

/// GetWebACL: the ACL and its LockToken.
pub async fn get(c: &Client, name: &str, id: &str) -> Result<(AwsWebAcl, String), AwsError> {
    const OP: &str = "wafv2:GetWebACL";
    let out = c
        .get_web_acl()
        .name(name)
        .scope(scope())
        .id(id)
        .send()
        .await
        .map_err(aws(OP))?;
    let acl = out
        .web_acl()
        .cloned()
        .required(OP, format!("no web ACL returned for {name}"))?;
    let token = out
        .lock_token()
        .map(str::to_string)
        .required(OP, format!("no LockToken returned for {name}"))?;
    Ok((acl, token))
}

/// GetLoggingConfiguration (None: the ACL has none).
pub async fn get_logging(c: &Client, arn: &str) -> Result<Option<LoggingConfiguration>, AwsError> {
    let r = c
        .get_logging_configuration()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("wafv2:GetLoggingConfiguration"));
    Ok(kit::found(r)?.and_then(|o| o.logging_configuration().cloned()))
}

async fn put_logging(c: &Client, acl_arn: &str, group: &Link) -> Result<(), AwsError> {
    let group_arn = group.require("logging")?;
    c.put_logging_configuration()
        .logging_configuration(logging_configuration(acl_arn, group_arn)?)
        .send()
        .await
        .map_err(aws("wafv2:PutLoggingConfiguration"))?;
    Ok(())
}

async fn delete_logging(c: &Client, acl_arn: &str) -> Result<(), AwsError> {
    kit::gone_ok(
        c.delete_logging_configuration()
            .resource_arn(acl_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws("wafv2:DeleteLoggingConfiguration")),
    )
}

/// How long an update or delete retries a stale LockToken (someone else is changing the ACL),
/// and a delete waits for the distribution to let go of the ACL.
const LOCK_RETRY: Duration = Duration::from_secs(5 * 60);

/// The ACL with our name, read back after a `WAFDuplicateItemException`.
async fn read_back(ctx: &Ctx, name: &str) -> Result<kit::Existing<(String, String)>, AwsError> {
    let c = &ctx.clients.wafv2_us_east_1;
    let all = super::list(c).await?;
    let Some(s) = all.iter().find(|s| s.name() == Some(name)) else {
        return Ok(kit::Existing::Missing);
    };
    let (Some(arn), Some(id)) = (s.arn(), s.id()) else {
        return Ok(kit::Existing::Missing);
    };
    let tags = kit::found(super::list_tags(c, arn).await)?;
    Ok(kit::Existing::of(
        ctx,
        &web_acl_id(),
        tags,
        (id.to_string(), arn.to_string()),
    ))
}

pub struct WebAcl;

#[async_trait]
impl Kind for WebAcl {
    crate::typed_kind!(SCHEMA, WebAclProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let p: WebAclProps = from_props(&r.props)?;
        let c = &ctx.clients.wafv2_us_east_1;
        task.status(&format!("creating web ACL {}", p.name));
        let create = async {
            let out = create_request(c, &p)?
                .send()
                .await
                .map_err(aws("wafv2:CreateWebACL"))?;
            let s = out.summary().required(
                "wafv2:CreateWebACL",
                format!("no summary returned for {}", p.name),
            )?;
            Ok((
                s.id().unwrap_or_default().to_string(),
                s.arn().unwrap_or_default().to_string(),
            ))
        };
        // Names are unique per scope: a retried create whose first attempt succeeded adopts
        // the ACL when it is ours.
        let (id, arn) =
            kit::adopt_on_exists(&r.id.to_string(), create, || read_back(ctx, &p.name)).await?;
        if let Some(group) = &p.logging {
            task.status("turning logging on");
            put_logging(c, &arn, group).await?;
        }
        Ok(attrs(&id, &arn, &p.name))
    }

    /// UpdateWebACL (with a fresh LockToken, retried when someone changed the ACL since the
    /// Get) when anything but the tags and the logging changed; PutLoggingConfiguration or
    /// DeleteLoggingConfiguration when the logging did; the tags when they did.
    async fn update(&self, ctx: &Ctx, u: Update<'_>, task: &Task) -> Result<Attrs, AwsError> {
        let p: WebAclProps = from_props(&u.desired.props)?;
        let c = &ctx.clients.wafv2_us_east_1;
        let id = u.prior.physical_id.as_str();
        let arn = u.prior.attrs.get("arn").cloned().unwrap_or_default();
        if u.changed.iter().any(|k| k != "tags" && k != "logging") {
            task.status(&format!("updating web ACL {}", p.name));
            kit::retry_while(&[ErrorKind::Conflict], &[], LOCK_RETRY, || async {
                let (_, token) = get(c, &p.name, id).await?;
                update_request(c, id, &token, &p)?
                    .send()
                    .await
                    .map_err(aws("wafv2:UpdateWebACL"))
            })
            .await?;
        }
        if u.changed("logging") {
            match &p.logging {
                Some(group) => put_logging(c, &arn, group).await?,
                None => delete_logging(c, &arn).await?,
            }
        }
        if u.changed("tags") {
            let before = from_props::<WebAclProps>(&u.prior.props)?.tags;
            sync_tags(&WafTags(c), &arn, &before, &p.tags).await?;
        }
        Ok(Attrs::new())
    }

    /// DeleteLoggingConfiguration, then DeleteWebACL with a fresh LockToken; retried on a stale
    /// token and while the distribution still holds the ACL. One already gone is done.
    async fn delete(&self, ctx: &Ctx, o: &Observed, task: &Task) -> Result<(), AwsError> {
        let c = &ctx.clients.wafv2_us_east_1;
        let id = o.physical_id.as_str();
        let name = o
            .attrs
            .get("name")
            .cloned()
            .unwrap_or_else(|| web_acl_name(&ctx.project, &ctx.env));
        if let Some(arn) = o.attrs.get("arn") {
            delete_logging(c, arn).await?;
        }
        task.status(&format!("deleting web ACL {name}"));
        kit::gone_ok(
            kit::retry_while(
                &[ErrorKind::Conflict, ErrorKind::InUse],
                &[],
                LOCK_RETRY,
                || async {
                    let (_, token) = get(c, &name, id).await?;
                    c.delete_web_acl()
                        .name(&name)
                        .scope(scope())
                        .id(id)
                        .lock_token(token)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(aws("wafv2:DeleteWebACL"))
                },
            )
            .await,
        )
    }
}

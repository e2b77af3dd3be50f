//! AWS WAF (WAFv2): the env's web ACL in front of the CloudFront distribution, only with
//! `[edge.waf]`.
//!
//! `web_acl/main`: `{project}-{env}-edge`, scope `CLOUDFRONT` (so every call goes to us-east-1,
//! like the distribution's ACM certificate), default action allow, and four rules, each with
//! CloudWatch metrics and sampled requests on ([`web_acl::rules`]):
//! - `rate-limit` (priority 0): a rate-based rule that blocks a client IP past
//!   `edge.waf.rate_limit_per_5min` requests in a 5-minute window;
//! - `aws-ip-reputation` (1), `aws-known-bad-inputs` (2), `aws-common` (3): AWS's managed rule
//!   groups `AWSManagedRulesAmazonIpReputationList`, `AWSManagedRulesKnownBadInputsRuleSet` and
//!   `AWSManagedRulesCommonRuleSet`, with the groups' own actions (override action none).
//!
//! Its logs go to `log_group/waf` (`aws-waf-logs-{project}-{env}`, managed by the logs service;
//! AWS WAF takes only groups named `aws-waf-logs-…`), through PutLoggingConfiguration. The
//! distribution's `web_acl_id` links to the ACL's ARN (WAFv2's form of `WebACLId`), so the
//! distribution is created and updated after the ACL, and deleted (or updated to drop it)
//! before the ACL is deleted.
//!
//! Rules are a map keyed by rule name with typed fields, so a changed rate limit is one field
//! (`rules.rate-limit.limit`); rules and priorities are compared as AWS reports them.
//!
//! Observe (read-only), API calls: when the env's region is us-east-1 (where AWS lists
//! CLOUDFRONT-scoped ACLs in the tag index) and the index lists our ACL, GetWebACL and
//! GetLoggingConfiguration at once by its ARN's name and id: 2 calls. Otherwise ListWebACLs
//! (scope CLOUDFRONT, 100 a page); then, for the ACL with our name, its tags (the index's, or
//! ListTagsForResource for one it does not list) and for ours the same two reads: 1 call
//! without an ACL, 4 with one in another region's env. A same-named ACL without our tags is
//! foreign: a conflict, never touched.
//!
//! Apply: CreateWebACL with the tags in the call (names are unique per scope: a retried create
//! whose first attempt succeeded meets `WAFDuplicateItemException` and adopts the ACL when its
//! tags are ours), then PutLoggingConfiguration. Update: GetWebACL for the LockToken, then
//! UpdateWebACL with the whole desired ACL; a `WAFOptimisticLockException` (someone changed it
//! since the Get) is retried with a fresh Get ([`crate::reconcile::kit::retry_while`]). Delete:
//! DeleteLoggingConfiguration, then GetWebACL and DeleteWebACL with its LockToken, the same
//! retry on a stale token, and on `WAFAssociatedItemException` while the distribution still
//! lets go of it.

mod iam;
pub mod web_acl;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_wafv2::types::{Scope, WebAclSummary};
use aws_sdk_wafv2::Client;

use crate::aws::{aws, AwsError};
use crate::model::{tag_pairs, Observed, Ownership, Resource, ResourceId};
use crate::reconcile::kit::{self, is_ours};
use crate::reconcile::{Ctx, Kind, Service};

pub const WEB_ACL: &str = "web_acl";

pub fn web_acl_id() -> ResourceId {
    ResourceId::new(WEB_ACL, "main")
}

/// `{project}-{env}-edge`.
pub fn web_acl_name(project: &str, env: &str) -> String {
    format!("{project}-{env}-edge")
}

/// Where CLOUDFRONT-scoped web ACLs are managed (and listed by the tagging API).
pub const WAF_REGION: &str = "us-east-1";

/// CloudFront web ACLs are global, managed through us-east-1.
pub fn scope() -> Scope {
    Scope::Cloudfront
}

pub struct Waf;

const KINDS: &[&dyn Kind] = &[&web_acl::WebAcl];

#[async_trait]
impl Service for Waf {
    crate::service_basics!("wafv2", KINDS, web_acl::expand, iam::GRANTS);

    async fn observe(&self, ctx: &Ctx, _desired: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        // The name is deterministic: destroy (no desired) finds the ACL too.
        let c = &ctx.clients.wafv2_us_east_1;
        let name = web_acl_name(&ctx.project, &ctx.env);
        // The env's tag index lists the ACL with its tags when the env's region is us-east-1
        // (AWS lists CLOUDFRONT-scoped ACLs there), and its ARN names it: then it is read at
        // once, without ListWebACLs (names are unique in a scope, so no one else's ACL can
        // hold ours). One the index lists that is gone (deleted since) is looked for by name.
        if ctx.region == WAF_REGION {
            let index = ctx.tag_index().await?;
            let indexed = index.with_prefix("arn:").find_map(|(arn, tags)| {
                let (region, acl, id) = acl_of_arn(arn)?;
                (region == WAF_REGION
                    && acl == name
                    && is_ours(tags, &ctx.project, &ctx.env, &web_acl_id()))
                .then(|| (arn.to_string(), id.to_string(), tags.clone()))
            });
            if let Some((arn, id, tags)) = indexed {
                if let Some(o) = read_ours(c, &name, &id, &arn, &tags).await? {
                    return Ok(vec![o]);
                }
            }
        }
        let all = list(c).await?;
        let mut out = vec![];
        for s in all.iter().filter(|s| s.name() == Some(name.as_str())) {
            let (Some(arn), Some(id)) = (s.arn(), s.id()) else {
                continue;
            };
            // Not in the index (someone else's under our name, ours tagged too recently for
            // it, or another region's env): one tag read. Deleted between the list and the
            // read: none.
            let indexed = if ctx.region == WAF_REGION {
                ctx.tag_index().await?.tags(arn).cloned()
            } else {
                None
            };
            let tags = match indexed {
                Some(t) => t,
                None => match kit::found(list_tags(c, arn).await)? {
                    Some(t) => t,
                    None => continue,
                },
            };
            if !is_ours(&tags, &ctx.project, &ctx.env, &web_acl_id()) {
                let mut o = Observed::new(web_acl_id(), id);
                o.ownership = Ownership::Foreign;
                o.attrs = web_acl::attrs(id, arn, &name);
                out.push(o);
                continue;
            }
            out.extend(read_ours(c, &name, id, arn, &tags).await?);
        }
        Ok(out)
    }
}

/// Our ACL and its logging configuration, read at once (None: it is gone).
async fn read_ours(
    c: &Client,
    name: &str,
    id: &str,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Option<Observed>, AwsError> {
    let (acl, logging) = tokio::join!(web_acl::get(c, name, id), web_acl::get_logging(c, arn));
    let Some((acl, _lock)) = kit::found(acl)? else {
        return Ok(None);
    };
    Ok(Some(web_acl::observed(&acl, logging?.as_ref(), tags)))
}

/// `(region, name, id)` of a web ACL's ARN,
/// `arn:<partition>:wafv2:<region>:<account>:global/webacl/<name>/<id>` (pure; None for any
/// other ARN, a regional ACL's included).
pub fn acl_of_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || p[2] != "wafv2" {
        return None;
    }
    let (name, id) = p[5].strip_prefix("global/webacl/")?.split_once('/')?;
    (!name.is_empty() && !id.is_empty() && !id.contains('/')).then_some((p[3], name, id))
}

/// Every CloudFront-scoped web ACL (ListWebACLs, 100 a page, following NextMarker).
async fn list(c: &Client) -> Result<Vec<WebAclSummary>, AwsError> {
    let mut out = vec![];
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .list_web_acls()
            .scope(scope())
            .limit(100)
            .set_next_marker(marker.clone())
            .send()
            .await
            .map_err(aws("wafv2:ListWebACLs"))?;
        out.extend(page.web_acls().iter().cloned());
        match page.next_marker() {
            // An empty page with a marker would loop for ever: stop at the first empty page.
            Some(m) if !m.is_empty() && !page.web_acls().is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// The ACL's tags (ListTagsForResource).
pub(crate) async fn list_tags(c: &Client, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let out = c
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(aws("wafv2:ListTagsForResource"))?;
    Ok(tag_pairs(
        out.tag_info_for_resource()
            .map(|t| t.tag_list())
            .unwrap_or_default()
            .iter()
            .map(|t| (Some(t.key()), Some(t.value()))),
    ))
}

// WAFv2's tag calls (TagResource / UntagResource on the ACL's ARN).
crate::tag_api!(WafTags, Client,
    untag "wafv2:UntagResource" => |c, arn, keys| c.untag_resource()
        .resource_arn(arn).set_tag_keys(Some(keys)),
    tag "wafv2:TagResource" => |c, arn, tags| c.tag_resource()
        .resource_arn(arn).set_tags(Some(web_acl::sdk_tags(&tags)?)));

#[cfg(test)]
mod tests;

//! The env's tag index: every resource tagged `rtech:project` = project and `rtech:env` = env
//! in the region, with all of its tags, from the Resource Groups Tagging API
//! (`tag:GetResources`, TagFilters on both keys, 100 resources a page). Read once per observe, at
//! its start (`Ctx::tag_index`), and shared by every service: it stands in for the per-resource
//! tag reads of kinds whose Describe carries no tags (alarms, log groups, DocumentDB, ElastiCache,
//! load balancers and target groups, S3 buckets, ACM certificates, ECR repositories, EC2 subnets
//! (the ids Redis and ECS hold), the SNS topic, the scalable
//! target; and, when the env's region is us-east-1, where AWS lists them, the CloudFront
//! distribution and the WAF's CLOUDFRONT-scoped web ACL). Observe starts it beside the
//! identity call, before any service asks for it.
//!
//! It only ever answers "ours, with these tags". A resource a service describes whose ARN is
//! not in the index (someone else's under one of our names, untagged, or tagged too recently
//! for the index to show it) is still read with the service's own tag call, and ownership is
//! decided from those tags exactly as before: the index removes calls, never the check.

use std::collections::BTreeMap;

use crate::aws::{aws, AwsError, Clients};
use crate::model::{TAG_ENV, TAG_PROJECT};
use crate::reconcile::kit::tags::tag_map;

/// Resources per page: the API's maximum. AWS recommends it over `TagsPerPage`, whose 500-tag
/// maximum holds fewer resources than this (about 70 of ours, which carry 6–8 tags each).
pub const RESOURCES_PER_PAGE: i32 = 100;

/// ARN → tags of every resource tagged as this env's.
#[derive(Debug, Default, Clone)]
pub struct TagIndex {
    by_arn: BTreeMap<String, BTreeMap<String, String>>,
}

/// An ARN as the index keys it: CloudWatch Logs' DescribeLogGroups says `…:log-group:NAME:*`
/// where the tagging API says `…:log-group:NAME`.
fn key(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

impl TagIndex {
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, BTreeMap<String, String>)>,
    ) -> TagIndex {
        TagIndex {
            by_arn: pairs
                .into_iter()
                .map(|(arn, tags)| (key(&arn).to_string(), tags))
                .collect(),
        }
    }

    /// The resource's tags, when the index lists it (it is tagged as this env's).
    pub fn tags(&self, arn: &str) -> Option<&BTreeMap<String, String>> {
        self.by_arn.get(key(arn))
    }

    /// Every indexed resource whose ARN starts with `prefix` (`arn:aws:sns:us-east-1:`).
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)> + 'a {
        self.by_arn
            .range(prefix.to_string()..)
            .take_while(move |(a, _)| a.starts_with(prefix))
            .map(|(a, t)| (a.as_str(), t))
    }

    /// The indexed resource `arn:<partition>:<service>:<region>:<account>:<resource>`, whatever
    /// its partition and account (a name derived from the env, found without the account).
    pub fn find(
        &self,
        service: &str,
        region: &str,
        resource: &str,
    ) -> Option<(&str, &BTreeMap<String, String>)> {
        self.resources(service, Some(region), resource)
            .find(|(rest, _, _)| rest.is_empty())
            .map(|(_, a, t)| (a, t))
    }

    /// Every indexed resource `arn:<partition>:<service>:<region>:<account>:<prefix><rest>`, in
    /// `region` (any, for a global service's empty one, when None), whatever its partition and
    /// account: (rest, ARN, tags). `rest` is the name or id the resource's own API takes.
    pub fn resources<'a, 'p>(
        &'a self,
        service: &'p str,
        region: Option<&'p str>,
        prefix: &'p str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a BTreeMap<String, String>)> + use<'a, 'p> {
        self.by_arn.iter().filter_map(move |(arn, tags)| {
            let p: Vec<&str> = arn.splitn(6, ':').collect();
            let here = p.len() == 6 && p[2] == service && region.is_none_or(|r| p[3] == r);
            let rest = here.then(|| p[5].strip_prefix(prefix)).flatten()?;
            Some((rest, arn.as_str(), tags))
        })
    }

    pub fn len(&self) -> usize {
        self.by_arn.len()
    }
}

/// GetResources filtered by the env's two ownership tags, every page.
pub async fn fetch(clients: &Clients, project: &str, env: &str) -> Result<TagIndex, AwsError> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let mut pairs = vec![];
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .tagging
            .get_resources()
            .tag_filters(filter(TAG_PROJECT, project))
            .tag_filters(filter(TAG_ENV, env))
            .resources_per_page(RESOURCES_PER_PAGE)
            .set_pagination_token(token)
            .send()
            .await
            .map_err(aws("tag:GetResources"))?;
        for m in page.resource_tag_mapping_list() {
            if let Some(arn) = m.resource_arn() {
                let tags = tag_map(m.tags().iter().map(|t| (Some(t.key()), Some(t.value()))));
                pairs.push((arn.to_string(), tags));
            }
        }
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(TagIndex::from_pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> BTreeMap<String, String> {
        [("rtech:id".to_string(), id.to_string())].into()
    }

    #[test]
    fn log_group_arns_match_with_or_without_the_star_and_prefixes_select() {
        let i = TagIndex::from_pairs([
            (
                "arn:aws:logs:us-east-1:1:log-group:/ecs/a".into(),
                t("log_group/app"),
            ),
            (
                "arn:aws:sns:us-east-1:1:alerts".into(),
                t("sns_topic/alerts"),
            ),
            ("arn:aws:sns:us-east-1:1:b".into(), t("x/b")),
        ]);
        assert_eq!(
            i.tags("arn:aws:logs:us-east-1:1:log-group:/ecs/a:*"),
            Some(&t("log_group/app"))
        );
        assert!(i
            .tags("arn:aws:logs:us-east-1:1:log-group:/ecs/b:*")
            .is_none());
        let sns: Vec<&str> = i.with_prefix("arn:aws:sns:").map(|(a, _)| a).collect();
        assert_eq!(
            sns,
            [
                "arn:aws:sns:us-east-1:1:alerts",
                "arn:aws:sns:us-east-1:1:b"
            ]
        );
        assert_eq!(i.len(), 3);
        assert_eq!(
            i.find("sns", "us-east-1", "alerts").map(|(a, _)| a),
            Some("arn:aws:sns:us-east-1:1:alerts")
        );
        assert!(i.find("sns", "eu-west-1", "alerts").is_none());
        assert!(i.find("sns", "us-east-1", "alert").is_none());
    }
}

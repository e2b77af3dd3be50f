//! `flow_log/main`: the VPC's flow log (`[network] flow_logs = "reject" | "all"`), delivered to
//! the CloudWatch Logs group `log_group/vpc-flow-logs` with the role `iam_role/vpc-flow-logs`.
//!
//! A flow log cannot be modified: every property but its tags forces a replace, and the
//! replace deletes first (AWS refuses a second flow log of the same VPC to the same group,
//! `FlowLogAlreadyExists`). Observe: one DescribeFlowLogs filtered by our tags (it returns
//! them). Create sends the tags and an EC2 `ClientToken`, so a retried create whose first
//! response was lost returns the first flow log. CreateFlowLogs and DeleteFlowLogs report a
//! failure for one id in `Unsuccessful` rather than as an error: both are read.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::operation::create_flow_logs::builders::CreateFlowLogsFluentBuilder;
use aws_sdk_ec2::types::{
    FlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType, UnsuccessfulItem,
};
use serde::{Deserialize, Serialize};

use super::{attrs, tag_map, tag_spec, update_tags, FLOW_LOG};
use crate::aws::{aws, AwsError, Required};
use crate::model::{Attrs, Observed, Resource, ResourceId};
use crate::plan::KindSchema;
use crate::progress::Task;
use crate::reconcile::kit::{ctx_token, from_props, gone_ok, to_props, Link};
use crate::reconcile::{Ctx, Kind, Update};

pub static SCHEMA: KindSchema = KindSchema::replaced_on(
    FLOW_LOG,
    &[
        "resource_id",
        "traffic_type",
        "log_destination_type",
        "log_group_name",
        "deliver_logs_permission_arn",
        "max_aggregation_interval",
    ],
);

/// Where flow logs go: CloudWatch Logs.
pub const CLOUD_WATCH_LOGS: &str = "cloud-watch-logs";
/// Seconds over which a flow log record aggregates packets: 600 (AWS's default) rather than 60.
/// Flow logs of rejected traffic serve investigations, not real-time alerting, and ten-minute
/// records are fewer log events to ingest and pay for.
pub const MAX_AGGREGATION_INTERVAL: i64 = 600;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogProps {
    pub tags: BTreeMap<String, String>,
    /// The VPC it records.
    pub resource_id: Link,
    /// `REJECT` or `ALL`.
    pub traffic_type: String,
    pub log_destination_type: String,
    /// The log group's name (`log_group/vpc-flow-logs`).
    pub log_group_name: Link,
    /// The role it delivers with (`iam_role/vpc-flow-logs`).
    pub deliver_logs_permission_arn: Link,
    pub max_aggregation_interval: i64,
}

/// The flow log of the spec, when `[network] flow_logs` is on (pure).
pub fn desired(
    traffic_type: &str,
    vpc: &ResourceId,
    tags: BTreeMap<String, String>,
) -> FlowLogProps {
    FlowLogProps {
        tags,
        resource_id: Link::to(vpc, "id"),
        traffic_type: traffic_type.to_string(),
        log_destination_type: CLOUD_WATCH_LOGS.to_string(),
        log_group_name: Link::to(&crate::reconcile::logs::flow_logs_id(), "name"),
        deliver_logs_permission_arn: Link::to(
            &crate::reconcile::iam::role_id(crate::reconcile::iam::FLOW_LOGS),
            "arn",
        ),
        max_aggregation_interval: MAX_AGGREGATION_INTERVAL,
    }
}

impl FlowLogProps {
    /// A live flow log as DescribeFlowLogs returns it (pure).
    pub fn observed(f: &FlowLog) -> Self {
        FlowLogProps {
            tags: tag_map(f.tags()),
            resource_id: f.resource_id().unwrap_or_default().into(),
            traffic_type: f
                .traffic_type()
                .map(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            log_destination_type: f
                .log_destination_type()
                .map(|t| t.as_str())
                // AWS's default destination, when a response leaves it out.
                .unwrap_or(CLOUD_WATCH_LOGS)
                .to_string(),
            log_group_name: f.log_group_name().unwrap_or_default().into(),
            deliver_logs_permission_arn: f.deliver_logs_permission_arn().unwrap_or_default().into(),
            max_aggregation_interval: f
                .max_aggregation_interval()
                .map(i64::from)
                .unwrap_or(MAX_AGGREGATION_INTERVAL),
        }
    }
}

/// A live flow log → `Observed`: its props, and what destroy must delete after it (the VPC it
/// records, the group it writes to, the role it writes with; a group deleted first would be
/// recreated by the delivery, untagged).
pub fn observed(rid: ResourceId, f: &FlowLog, vpc: Option<ResourceId>) -> Observed {
    let mut o = Observed::new(rid, f.flow_log_id().unwrap_or_default());
    o.props = to_props(&FlowLogProps::observed(f));
    o.deps.extend(vpc);
    o.deps.insert(crate::reconcile::logs::flow_logs_id());
    o.deps.insert(crate::reconcile::iam::role_id(
        crate::reconcile::iam::FLOW_LOGS,
    ));
    o
}

/// The CreateFlowLogs request for resolved props (pure): one VPC, tags in the call, and the
/// idempotency `token`.
pub fn create_request(
    c: &aws_sdk_ec2::Client,
    p: &FlowLogProps,
    token: &str,
) -> Result<CreateFlowLogsFluentBuilder, crate::reconcile::kit::PropsError> {
    Ok(c.create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(p.resource_id.require("resource_id")?)
        .traffic_type(TrafficType::from(p.traffic_type.as_str()))
        .log_destination_type(LogDestinationType::from(p.log_destination_type.as_str()))
        .log_group_name(p.log_group_name.require("log_group_name")?)
        .deliver_logs_permission_arn(
            p.deliver_logs_permission_arn
                .require("deliver_logs_permission_arn")?,
        )
        .max_aggregation_interval(p.max_aggregation_interval as i32)
        .tag_specifications(tag_spec(ResourceType::VpcFlowLog, &p.tags))
        .client_token(token))
}

/// The first `Unsuccessful` item as an error of `op` naming the id it was about.
fn unsuccessful(op: &str, items: &[UnsuccessfulItem]) -> Option<AwsError> {
    let item = items.first()?;
    let (code, message) = item
        .error()
        .map(|e| {
            (
                e.code().unwrap_or("Unsuccessful").to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_else(|| ("Unsuccessful".into(), String::new()));
    let id = item.resource_id().unwrap_or("?");
    Some(AwsError::new(op, code, format!("{id}: {message}")))
}

pub struct FlowLogKind;

#[async_trait]
impl Kind for FlowLogKind {
    crate::typed_kind!(SCHEMA, FlowLogProps);

    async fn create(&self, ctx: &Ctx, r: &Resource, _task: &Task) -> Result<Attrs, AwsError> {
        let p: FlowLogProps = from_props(&r.props)?;
        // A retried create (lost response) returns the flow log the first attempt made.
        let out = create_request(&ctx.clients.ec2, &p, &ctx_token(ctx, &r.id, 32))?
            .send()
            .await
            .map_err(aws("ec2:CreateFlowLogs"))?;
        if let Some(e) = unsuccessful("ec2:CreateFlowLogs", out.unsuccessful()) {
            return Err(e);
        }
        let fid = out
            .flow_log_ids()
            .first()
            .required("ec2:CreateFlowLogs", "no flow log id returned")?;
        Ok(attrs(fid))
    }

    async fn update(&self, ctx: &Ctx, u: Update<'_>, _task: &Task) -> Result<Attrs, AwsError> {
        update_tags(ctx, u).await
    }

    async fn delete(&self, ctx: &Ctx, o: &Observed, _task: &Task) -> Result<(), AwsError> {
        let fid = o.physical_id.as_str();
        gone_ok(
            async {
                let out = ctx
                    .clients
                    .ec2
                    .delete_flow_logs()
                    .flow_log_ids(fid)
                    .send()
                    .await
                    .map_err(aws("ec2:DeleteFlowLogs"))?;
                // A missing id comes back as `InvalidFlowLogId.NotFound` in `Unsuccessful`.
                match unsuccessful("ec2:DeleteFlowLogs", out.unsuccessful()) {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{Tag, UnsuccessfulItemError};

    fn vpc() -> ResourceId {
        ResourceId::new("vpc", "main")
    }

    fn resolved() -> FlowLogProps {
        FlowLogProps {
            tags: BTreeMap::from([("rtech:id".to_string(), "flow_log/main".to_string())]),
            resource_id: "vpc-1".into(),
            traffic_type: "REJECT".into(),
            log_destination_type: CLOUD_WATCH_LOGS.into(),
            log_group_name: "/vpc/rtech-prod/flow-logs".into(),
            deliver_logs_permission_arn: "arn:aws:iam::1:role/rtech-prod-vpc-flow-logs".into(),
            max_aggregation_interval: 600,
        }
    }

    #[test]
    fn desired_links_the_vpc_the_group_and_the_role() {
        let p = desired("ALL", &vpc(), BTreeMap::new());
        assert_eq!(p.resource_id, Link::to(&vpc(), "id"));
        assert_eq!(
            p.log_group_name,
            Link::to(&ResourceId::new("log_group", "vpc-flow-logs"), "name")
        );
        assert_eq!(
            p.deliver_logs_permission_arn,
            Link::to(&ResourceId::new("iam_role", "vpc-flow-logs"), "arn")
        );
        assert_eq!(p.traffic_type, "ALL");
        assert_eq!(p.log_destination_type, "cloud-watch-logs");
        assert_eq!(p.max_aggregation_interval, 600);
    }

    #[test]
    fn the_create_request_carries_every_field_the_tags_and_the_token() {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .build();
        let c = aws_sdk_ec2::Client::from_conf(conf);
        let req = create_request(&c, &resolved(), "tok").unwrap();
        let i = req.as_input();
        assert_eq!(i.get_resource_type(), &Some(FlowLogsResourceType::Vpc));
        assert_eq!(i.get_resource_ids(), &Some(vec!["vpc-1".to_string()]));
        assert_eq!(i.get_traffic_type(), &Some(TrafficType::Reject));
        assert_eq!(
            i.get_log_destination_type(),
            &Some(LogDestinationType::CloudWatchLogs)
        );
        assert_eq!(
            i.get_log_group_name().as_deref(),
            Some("/vpc/rtech-prod/flow-logs")
        );
        assert_eq!(
            i.get_deliver_logs_permission_arn().as_deref(),
            Some("arn:aws:iam::1:role/rtech-prod-vpc-flow-logs")
        );
        assert_eq!(i.get_max_aggregation_interval(), &Some(600));
        assert_eq!(i.get_client_token().as_deref(), Some("tok"));
        let specs = i.get_tag_specifications().as_ref().unwrap();
        assert_eq!(specs[0].resource_type(), Some(&ResourceType::VpcFlowLog));
        assert_eq!(specs[0].tags()[0].key(), Some("rtech:id"));

        // An unresolved reference is never sent as an empty string.
        let mut p = resolved();
        p.deliver_logs_permission_arn = Link::to(&vpc(), "arn");
        let e = create_request(&c, &p, "tok").unwrap_err();
        assert!(e.to_string().contains("deliver_logs_permission_arn"), "{e}");
    }

    #[test]
    fn a_live_flow_log_normalises_to_the_desired_props() {
        let live = FlowLog::builder()
            .flow_log_id("fl-1")
            .resource_id("vpc-1")
            .traffic_type(TrafficType::Reject)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name("/vpc/rtech-prod/flow-logs")
            .deliver_logs_permission_arn("arn:aws:iam::1:role/rtech-prod-vpc-flow-logs")
            .max_aggregation_interval(600)
            .tags(
                Tag::builder()
                    .key("rtech:id")
                    .value("flow_log/main")
                    .build(),
            )
            .build();
        assert_eq!(FlowLogProps::observed(&live), resolved());
        let o = observed(ResourceId::new(FLOW_LOG, "main"), &live, Some(vpc()));
        assert_eq!(o.physical_id, "fl-1");
        assert!(o.deps.contains(&vpc()));
        assert!(o
            .deps
            .contains(&ResourceId::new("log_group", "vpc-flow-logs")));
        assert!(o
            .deps
            .contains(&ResourceId::new("iam_role", "vpc-flow-logs")));
    }

    #[test]
    fn an_unsuccessful_item_is_an_error_naming_the_id_and_code() {
        assert!(unsuccessful("ec2:DeleteFlowLogs", &[]).is_none());
        let item = UnsuccessfulItem::builder()
            .resource_id("fl-9")
            .error(
                UnsuccessfulItemError::builder()
                    .code("InvalidFlowLogId.NotFound")
                    .message("not found")
                    .build(),
            )
            .build();
        let e = unsuccessful("ec2:DeleteFlowLogs", &[item]).unwrap();
        assert!(e.is("InvalidFlowLogId.NotFound"));
        assert!(e.is_not_found());
        assert!(e.to_string().contains("fl-9"), "{e}");
    }
}

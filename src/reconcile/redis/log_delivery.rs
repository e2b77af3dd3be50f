//! The replication group's log delivery: the `log_delivery` property, a map of log type →
//! where its entries go ([`LogDelivery`]), as the spec wants it and as AWS reports it, and the
//! requests that turn one into the other.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{
    CloudWatchLogsDestinationDetails, DestinationDetails, DestinationType,
    KinesisFirehoseDestinationDetails, LogDeliveryConfigurationRequest,
    LogDeliveryConfigurationStatus, LogFormat, LogType, ReplicationGroup,
};
use serde::{Deserialize, Serialize};

pub const SLOW_LOG: &str = "slow-log";
pub const CLOUDWATCH_LOGS: &str = "cloudwatch-logs";
pub const KINESIS_FIREHOSE: &str = "kinesis-firehose";

/// One log type's delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogDelivery {
    pub destination_type: String,
    /// The log group, or the Firehose delivery stream.
    pub destination: String,
    pub log_format: String,
}

/// Log type (`slow-log`, `engine-log`) → its delivery.
pub type Deliveries = BTreeMap<String, LogDelivery>;

/// One log type's delivery.
pub fn delivery(destination_type: &str, destination: &str, log_format: &str) -> LogDelivery {
    LogDelivery {
        destination_type: destination_type.to_string(),
        destination: destination.to_string(),
        log_format: log_format.to_string(),
    }
}

/// The spec's delivery: the slow log to the given CloudWatch Logs group, as JSON.
pub fn slow_log_delivery(log_group: &str) -> Deliveries {
    BTreeMap::from([(
        SLOW_LOG.to_string(),
        delivery(CLOUDWATCH_LOGS, log_group, "json"),
    )])
}

/// The live delivery configurations, in the shape of [`slow_log_delivery`] (pure). One AWS is
/// turning off, or reports in `error`, counts as not delivering (so the plan shows it).
pub fn observe_log_delivery(g: &ReplicationGroup) -> Deliveries {
    let mut m = BTreeMap::new();
    for c in g.log_delivery_configurations() {
        // Being turned off, or failing (a missing log group policy): not delivering.
        if matches!(
            c.status(),
            Some(LogDeliveryConfigurationStatus::Disabling | LogDeliveryConfigurationStatus::Error)
        ) {
            continue;
        }
        let Some(log_type) = c.log_type() else {
            continue;
        };
        let details = c.destination_details();
        let destination = details
            .and_then(|d| d.cloud_watch_logs_details())
            .and_then(|d| d.log_group())
            .or(details
                .and_then(|d| d.kinesis_firehose_details())
                .and_then(|d| d.delivery_stream()))
            .unwrap_or_default();
        m.insert(
            log_type.as_str().to_string(),
            delivery(
                c.destination_type().map(|t| t.as_str()).unwrap_or_default(),
                destination,
                c.log_format().map(|f| f.as_str()).unwrap_or_default(),
            ),
        );
    }
    m
}

/// The requests that turn `live` delivery into `want`: every wanted log type (enabled), and
/// `Enabled = false` for each live type `want` no longer has.
pub fn log_delivery_requests(
    want: &Deliveries,
    live: &Deliveries,
) -> Vec<LogDeliveryConfigurationRequest> {
    let mut out: Vec<LogDeliveryConfigurationRequest> = want
        .iter()
        .map(|(log_type, d)| {
            let target = d.destination.clone();
            let details = match d.destination_type.as_str() {
                KINESIS_FIREHOSE => DestinationDetails::builder()
                    .kinesis_firehose_details(
                        KinesisFirehoseDestinationDetails::builder()
                            .delivery_stream(target)
                            .build(),
                    )
                    .build(),
                _ => DestinationDetails::builder()
                    .cloud_watch_logs_details(
                        CloudWatchLogsDestinationDetails::builder()
                            .log_group(target)
                            .build(),
                    )
                    .build(),
            };
            LogDeliveryConfigurationRequest::builder()
                .log_type(LogType::from(log_type.as_str()))
                .destination_type(DestinationType::from(d.destination_type.as_str()))
                .destination_details(details)
                .log_format(LogFormat::from(d.log_format.as_str()))
                .enabled(true)
                .build()
        })
        .collect();
    for log_type in live.keys() {
        if !want.contains_key(log_type) {
            out.push(
                LogDeliveryConfigurationRequest::builder()
                    .log_type(LogType::from(log_type.as_str()))
                    .enabled(false)
                    .build(),
            );
        }
    }
    out
}

//! The log buckets' policy: who may deliver ELB access logs into the ALB's bucket (the
//! regional ELB account, or the log-delivery service principal), with the caller's account as
//! the [`ACCOUNT`] placeholder on both sides of the diff.

use serde_json::{json, Value as J};

use super::{bucket_arn, partition, ACCOUNT, ALB_LOGS, ELB_LOG_DELIVERY};
use crate::model::policy;
use crate::model::Value;

/// The regions' own ELB accounts that write access logs (regions opened before August 2022;
/// later ones use [`ELB_LOG_DELIVERY`]).
pub const ELB_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
    ("cn-north-1", "638102146993"),
    ("cn-northwest-1", "037604701340"),
];

/// The regional ELB account, for the regions that have one.
pub fn elb_account(region: &str) -> Option<&'static str> {
    ELB_ACCOUNTS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, a)| *a)
}

/// Who delivers ELB access logs in `region`, as a policy principal.
pub fn elb_principal(region: &str) -> J {
    match elb_account(region) {
        Some(a) => json!({"AWS": format!("arn:{}:iam::{a}:root", partition(region))}),
        None => json!({"Service": ELB_LOG_DELIVERY}),
    }
}

/// The bucket policy (with [`ACCOUNT`] for the caller's account): for the ALB's bucket, ELB
/// log delivery may put objects under `AWSLogs/<account>/`; the CloudFront bucket has none
/// (CloudFront's standard logging writes through the bucket ACL).
pub fn bucket_policy(role: &str, region: &str, name: &str) -> Option<J> {
    if role != ALB_LOGS {
        return None;
    }
    let arn = bucket_arn(region, name);
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ElbLogDelivery",
            "Effect": "Allow",
            "Principal": elb_principal(region),
            "Action": "s3:PutObject",
            "Resource": format!("{arn}/AWSLogs/{ACCOUNT}/*")
        }]
    }))
}

/// The desired `policy` property: the canonical document (model::policy::iam), or null.
pub fn desired_policy(role: &str, region: &str, name: &str) -> J {
    bucket_policy(role, region, name)
        .map(|p| policy::iam(&p).to_json())
        .unwrap_or(J::Null)
}

/// A live policy in the desired shape: canonical (model::policy::iam), with the caller's
/// account under `AWSLogs/` written as [`ACCOUNT`]. A policy that is not JSON stays text.
pub fn policy_value(text: Option<&str>, account: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    let text = match account.filter(|a| !a.is_empty()) {
        Some(a) => text.replace(&format!("/AWSLogs/{a}/"), &format!("/AWSLogs/{ACCOUNT}/")),
        None => text.to_string(),
    };
    policy::iam_text(&text).unwrap_or(Value::Str(text))
}

/// The policy text PutBucketPolicy is sent: the desired document with the account filled in.
pub fn policy_text(v: &J, account: &str) -> String {
    v.to_string().replace(ACCOUNT, account)
}

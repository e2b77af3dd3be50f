//! A tag map in an SDK's shape when that SDK's tag builder can fail (ECR, IAM, SNS: key and
//! value are required fields there).

use std::collections::BTreeMap;

use crate::aws::AwsError;

/// Each tag built with `build` (the SDK's `Tag::builder().key(k).value(v).build()`); a
/// refusal is an `InvalidTag` error of `op`.
pub fn try_tag_list<T, E: std::fmt::Display>(
    m: &BTreeMap<String, String>,
    op: &str,
    build: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<Vec<T>, AwsError> {
    m.iter()
        .map(|(k, v)| build(k, v).map_err(|e| AwsError::new(op, "InvalidTag", e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_is_built_and_a_refusal_names_the_call() {
        let m: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "".into())].into();
        let ok = try_tag_list(&m, "svc:TagResource", |k, v| {
            Ok::<_, String>(format!("{k}={v}"))
        });
        assert_eq!(ok.unwrap(), ["a=1", "b="]);
        let e = try_tag_list(&m, "svc:TagResource", |k, v| {
            if v.is_empty() {
                Err(format!("{k}: value missing"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(
            (e.op.as_str(), e.code.as_str()),
            ("svc:TagResource", "InvalidTag")
        );
        assert!(e.message.contains("b: value missing"), "{e}");
    }
}

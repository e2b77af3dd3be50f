//! Tags: one reader from any SDK's key/value pairs (AWS's own `aws:` tags are never ours to
//! manage, so they are dropped on read) and one sync, spoken through each service's API.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::AwsError;
pub use crate::model::{tag_delta, tag_pairs as tag_map};

/// A service's tag calls for one resource (TagResource / UntagResource, AddTags /
/// RemoveTags…). Each service implements it once over its SDK client.
#[async_trait]
pub trait TagApi: Send + Sync {
    async fn untag(&self, resource: &str, keys: Vec<String>) -> Result<(), AwsError>;
    async fn tag(&self, resource: &str, tags: BTreeMap<String, String>) -> Result<(), AwsError>;
}

/// A service's read of one resource's tags, by the name its tag calls take (None: the
/// resource is gone).
#[async_trait]
pub trait TagRead: Send + Sync {
    async fn read(&self, resource: &str) -> Result<Option<BTreeMap<String, String>>, AwsError>;
}

/// [`TagApi`] over one SDK client, as a struct `$name<'a>(&'a Client)`: each side names its
/// operation (for errors) and builds the request from the client, the resource and the keys
/// or tags; the macro sends it.
///
/// ```ignore
/// tag_api!(EcsTags, aws_sdk_ecs::Client,
///     untag "ecs:UntagResource" => |c, arn, keys| c.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)),
///     tag "ecs:TagResource" => |c, arn, tags| c.tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(&tags))));
/// ```
///
/// With a third side, `read "op" => |c, arn| request, |answer| tags`, the struct is also the
/// service's [`TagRead`]: NotFound reads as None.
#[macro_export]
macro_rules! tag_api {
    ($name:ident, $client:ty,
     untag $untag_op:literal => |$c1:ident, $r1:ident, $keys:ident| $untag:expr,
     tag $tag_op:literal => |$c2:ident, $r2:ident, $tags:ident| $tag:expr,
     read $read_op:literal => |$c3:ident, $r3:ident| $read:expr, |$out:ident| $read_tags:expr $(,)?) => {
        $crate::tag_api!($name, $client,
            untag $untag_op => |$c1, $r1, $keys| $untag,
            tag $tag_op => |$c2, $r2, $tags| $tag);

        #[async_trait::async_trait]
        impl $crate::reconcile::kit::TagRead for $name<'_> {
            async fn read(
                &self,
                $r3: &str,
            ) -> Result<Option<std::collections::BTreeMap<String, String>>, $crate::aws::AwsError>
            {
                let $c3 = self.0;
                let r = $read.send().await.map_err($crate::aws::aws($read_op));
                Ok($crate::reconcile::kit::found(r)?.map(|$out| $read_tags))
            }
        }
    };
    ($name:ident, $client:ty,
     untag $untag_op:literal => |$c1:ident, $r1:ident, $keys:ident| $untag:expr,
     tag $tag_op:literal => |$c2:ident, $r2:ident, $tags:ident| $tag:expr $(,)?) => {
        /// The service's tag calls for one resource, for [`kit::sync_tags`](crate::reconcile::kit::sync_tags).
        pub(crate) struct $name<'a>(pub &'a $client);

        #[async_trait::async_trait]
        impl $crate::reconcile::kit::TagApi for $name<'_> {
            async fn untag(
                &self,
                $r1: &str,
                $keys: Vec<String>,
            ) -> Result<(), $crate::aws::AwsError> {
                let $c1 = self.0;
                $untag
                    .send()
                    .await
                    .map(|_| ())
                    .map_err($crate::aws::aws($untag_op))
            }
            async fn tag(
                &self,
                $r2: &str,
                $tags: std::collections::BTreeMap<String, String>,
            ) -> Result<(), $crate::aws::AwsError> {
                let $c2 = self.0;
                $tag.send()
                    .await
                    .map(|_| ())
                    .map_err($crate::aws::aws($tag_op))
            }
        }
    };
}

/// Turn the live tags `before` into `after`: remove the keys no longer wanted, then set the
/// new and changed ones (no call when there is nothing to do).
pub async fn sync_tags(
    api: &dyn TagApi,
    resource: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let d = tag_delta(before, after);
    if !d.removed.is_empty() {
        api.untag(resource, d.removed).await?;
    }
    if !d.set.is_empty() {
        api.tag(resource, d.set.into_iter().collect()).await?;
    }
    Ok(())
}

/// Add `tags` to a resource whose live tags are `before` (what `rtech import` does): every
/// other tag stays as it is.
pub async fn add_tags(
    api: &dyn TagApi,
    resource: &str,
    before: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let mut after = before.clone();
    after.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    sync_tags(api, resource, before, &after).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl TagApi for Recorder {
        async fn untag(&self, r: &str, keys: Vec<String>) -> Result<(), AwsError> {
            self.0.lock().unwrap().push(format!("untag {r} {keys:?}"));
            Ok(())
        }
        async fn tag(&self, r: &str, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
            self.0.lock().unwrap().push(format!("tag {r} {tags:?}"));
            Ok(())
        }
    }

    fn m(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn sync_removes_then_sets_and_is_silent_when_equal() {
        let r = Recorder::default();
        sync_tags(
            &r,
            "arn",
            &m(&[("a", "1"), ("b", "2")]),
            &m(&[("b", "3"), ("c", "4")]),
        )
        .await
        .unwrap();
        assert_eq!(
            *r.0.lock().unwrap(),
            vec![
                r#"untag arn ["a"]"#.to_string(),
                r#"tag arn {"b": "3", "c": "4"}"#.to_string()
            ]
        );
        let r = Recorder::default();
        sync_tags(&r, "arn", &m(&[("a", "1")]), &m(&[("a", "1")]))
            .await
            .unwrap();
        assert!(r.0.lock().unwrap().is_empty());
    }

    #[test]
    fn the_reader_drops_aws_tags() {
        let t = tag_map([
            (Some("aws:cloudformation:stack"), Some("x")),
            (Some("k"), Some("v")),
        ]);
        assert_eq!(t, m(&[("k", "v")]));
    }
}

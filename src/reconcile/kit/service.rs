//! The `Service` methods every service writes the same way, inside its `impl Service`: its
//! name, its kinds, its expand (a pure function of the spec) and its IAM grants.

/// `name`, `kinds`, `expand` (and `iam`, given the grants) of a `Service`:
/// `service_basics!("sns", KINDS, expand, iam::GRANTS)`.
#[macro_export]
macro_rules! service_basics {
    // With `outputs: [(output, kind, name, attribute), …]`: outputs that are each one
    // attribute of one resource.
    ($name:literal, $kinds:expr, $expand:path, $grants:expr, outputs: [$($row:expr),* $(,)?]) => {
        $crate::service_basics!($name, $kinds, $expand, $grants);
        fn outputs(
            &self,
            observed: &[$crate::model::Observed],
        ) -> Vec<$crate::reconcile::kit::outputs::Output> {
            $crate::reconcile::kit::outputs::attrs(observed, &[$($row),*])
        }
    };
    ($name:literal, $kinds:expr, $expand:path, $grants:expr) => {
        $crate::service_basics!($name, $kinds, $expand);
        fn iam(&self) -> &'static [$crate::reconcile::iam_policy::Grant] {
            $grants
        }
    };
    ($name:literal, $kinds:expr, $expand:path) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn kinds(&self) -> &'static [&'static dyn $crate::reconcile::Kind] {
            $kinds
        }
        fn expand(&self, spec: &$crate::spec::Spec) -> Vec<$crate::model::Resource> {
            $expand(spec)
        }
    };
}

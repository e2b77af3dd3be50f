//! The three `Service` methods every service writes the same way, inside its `impl Service`:
//! its name, its kinds and its expand (a pure function of the spec).

/// `name`, `kinds` and `expand` of a `Service`: `service_basics!("sns", KINDS, expand)`.
#[macro_export]
macro_rules! service_basics {
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

//! AWS failures, classified once when they are made.
//!
//! Every AWS error carries the operation (`ec2:CreateVpc`), the AWS error code, the message
//! and, when AWS sent one, the request id. Its [`ErrorKind`] is decided here from the code, so
//! callers ask `e.kind() == ErrorKind::NotFound` instead of matching on the code's text.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The small closed set of failure classes rtech acts on. The code stays available for the
/// few cases where one specific code matters (e.g. `ClusterContainsServicesException`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource does not exist (`InvalidVpcID.NotFound`, `DBClusterNotFoundFault`,
    /// `ResourceNotFoundException`, `NoSuchBucket`, `NoSuchEntity`…).
    NotFound,
    /// A create met an existing resource of that name (`…AlreadyExists…`, `EntityAlreadyExists`,
    /// `BucketAlreadyOwnedByYou`, `ResourceExistsException`…).
    AlreadyExists,
    /// The resource is still used by another (`DependencyViolation`, `ResourceInUse…`,
    /// `…InUse…`, `ClusterContains…Exception`).
    InUse,
    /// Somebody else is changing it, or a precondition moved (`ConcurrentModification…`,
    /// `OperationAborted`, `PriorRequestNotComplete`, `PreconditionFailed`,
    /// `InvalidIfMatchVersion`, `UpdateInProgressException`).
    Conflict,
    /// AWS asked us to slow down (`Throttling`, `RequestLimitExceeded`, `TooManyRequests…`,
    /// `SlowDown`).
    Throttled,
    /// The caller may not do this (`AccessDenied…`, `UnauthorizedOperation`, `AuthFailure`).
    AccessDenied,
    /// The request itself is wrong (`Invalid…`, `Validation…`, `…LimitExceeded`).
    Invalid,
    Other,
}

impl ErrorKind {
    /// The class of an AWS error code.
    pub fn of(code: &str) -> ErrorKind {
        let c = code;
        let has = |s: &str| c.contains(s);
        if has("NotFound")
            || c.starts_with("NoSuch")
            || c == "ResourceNotFoundException"
            || c == "WAFNonexistentItemException"
        {
            ErrorKind::NotFound
        } else if has("AlreadyExist")
            || has("AlreadyOwnedByYou")
            || c == "ResourceExistsException"
            || c == "DuplicateListener"
            || c == "DuplicateLoadBalancerName"
            || c == "DuplicateTargetGroupName"
            || c == "RepositoryAlreadyExistsException"
            || c == "HostedZoneAlreadyExists"
            || c == "InvalidGroup.Duplicate"
            || c == "InvalidPermission.Duplicate"
            // A subnet's CIDR is taken (by the subnet a lost create made), a subnet is
            // associated with a route table already.
            || c == "InvalidSubnet.Conflict"
            || c == "Resource.AlreadyAssociated"
            || c == "WAFDuplicateItemException"
            // A listener rule's priority is taken (by the rule a lost create made).
            || c == "PriorityInUse"
        {
            ErrorKind::AlreadyExists
        } else if c == "DependencyViolation"
            || has("InUse")
            || has("StillInUse")
            || (c.starts_with("ClusterContains") && c.ends_with("Exception"))
            // A web ACL still associated with a resource (a CloudFront distribution).
            || c == "WAFAssociatedItemException"
        {
            ErrorKind::InUse
        } else if has("ConcurrentModification")
            || c == "OperationAborted"
            || c == "PriorRequestNotComplete"
            || c == "PreconditionFailed"
            || c == "InvalidIfMatchVersion"
            || c == "UpdateInProgressException"
            || c == "ConflictException"
            // A WAF LockToken older than the resource's last change.
            || c == "WAFOptimisticLockException"
        {
            ErrorKind::Conflict
        } else if c.starts_with("Throttl")
            || c == "RequestLimitExceeded"
            || c.starts_with("TooManyRequests")
            || c == "SlowDown"
            || c == "RequestThrottled"
            || c == "RequestThrottledException"
            || c == "ProvisionedThroughputExceededException"
        {
            ErrorKind::Throttled
        } else if c.starts_with("AccessDenied")
            || c == "UnauthorizedOperation"
            || c == "AuthFailure"
            || c == "UnrecognizedClientException"
            || c == "InvalidClientTokenId"
        {
            ErrorKind::AccessDenied
        } else if c.starts_with("Invalid")
            || c.starts_with("WAFInvalid")
            || has("Validation")
            || has("LimitExceeded")
            || c == "MalformedPolicyDocument"
            || c == "MissingParameter"
        {
            ErrorKind::Invalid
        } else {
            ErrorKind::Other
        }
    }
}

/// An AWS failure: the operation, the AWS error code and its message.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    pub op: String,
    pub code: String,
    pub message: String,
    /// The request id AWS gave the failed call, when it sent one (for AWS support).
    pub request_id: Option<String>,
    kind: ErrorKind,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.op, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        // What AWS support asks for first.
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// What an AWS response must carry: the value, or an `InvalidResponse` error naming the call
/// and what was missing.
pub trait Required<T> {
    fn required(self, op: &str, missing: impl Into<String>) -> Result<T, AwsError>;
}

impl<T> Required<T> for Option<T> {
    fn required(self, op: &str, missing: impl Into<String>) -> Result<T, AwsError> {
        self.ok_or_else(|| AwsError::new(op, "InvalidResponse", missing))
    }
}

impl AwsError {
    pub fn new(op: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        AwsError {
            op: op.into(),
            kind: ErrorKind::of(&code),
            code,
            message: message.into(),
            request_id: None,
        }
    }

    /// The failure's class, decided from the code when the error was made.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The same failure with another message (context added by the caller).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn from_sdk<E, R>(op: &str, e: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let chain = |e: &dyn std::error::Error| {
            let mut s = e.to_string();
            let mut src = e.source();
            while let Some(x) = src {
                let m = x.to_string();
                if !s.contains(&m) {
                    s.push_str(": ");
                    s.push_str(&m);
                }
                src = x.source();
            }
            s
        };
        match &e {
            SdkError::ServiceError(se) => {
                let err = se.err();
                let mut out = AwsError::new(
                    op,
                    err.code().unwrap_or("Unknown"),
                    err.message().unwrap_or("").to_string(),
                );
                out.request_id = err
                    .meta()
                    .extra("aws_request_id")
                    .or_else(|| err.meta().extra("request_id"))
                    .map(str::to_string);
                out
            }
            SdkError::DispatchFailure(df) => {
                let text = chain(&e);
                if df.is_io() || df.is_timeout() {
                    AwsError::new(op, "EndpointUnreachable", text)
                } else if text.contains("credentials") {
                    AwsError::new(op, "NoCredentials", NO_CREDENTIALS)
                } else {
                    AwsError::new(op, "DispatchFailure", text)
                }
            }
            SdkError::TimeoutError(_) => AwsError::new(op, "Timeout", chain(&e)),
            SdkError::ConstructionFailure(_) => {
                let text = chain(&e);
                if text.contains("credentials") {
                    AwsError::new(op, "NoCredentials", NO_CREDENTIALS)
                } else {
                    AwsError::new(op, "ConstructionFailure", text)
                }
            }
            _ => AwsError::new(op, "InvalidResponse", chain(&e)),
        }
    }

    pub(super) fn with_endpoint(mut self, endpoint: Option<&str>) -> Self {
        if self.code == "EndpointUnreachable" {
            self.message = format!(
                "cannot reach the AWS endpoint {}: {}",
                endpoint.unwrap_or("(default)"),
                self.message
            );
        }
        self
    }

    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

const NO_CREDENTIALS: &str = "no AWS credentials found (tried the environment, the shared config and credentials files, SSO, web identity, ECS and instance metadata): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`";

/// `result.map_err(aws("CreateVpc"))`.
pub fn aws<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    move |e| AwsError::from_sdk(op, e)
}

/// An SDK call's future, finished as rtech's: `client.op().send().done("svc:Op").await` for a
/// call whose output nothing reads (a delete, a tag, an attribute change).
pub trait Call<T, E, R>: std::future::Future<Output = Result<T, SdkError<E, R>>> + Sized
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    fn done(
        self,
        op: &'static str,
    ) -> impl std::future::Future<Output = Result<(), AwsError>> + Send
    where
        Self: Send,
    {
        async move { self.await.map(|_| ()).map_err(aws(op)) }
    }
}

impl<F, T, E, R> Call<T, E, R> for F
where
    F: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_once() {
        use ErrorKind::*;
        for (code, kind) in [
            ("InvalidVpcID.NotFound", NotFound),
            ("DBClusterNotFoundFault", NotFound),
            ("ResourceNotFoundException", NotFound),
            ("ReplicationGroupNotFoundFault", NotFound),
            ("NoSuchBucket", NotFound),
            ("NoSuchEntity", NotFound),
            ("NoSuchHostedZone", NotFound),
            ("EntityAlreadyExists", AlreadyExists),
            ("DBClusterAlreadyExistsFault", AlreadyExists),
            ("ResourceExistsException", AlreadyExists),
            ("BucketAlreadyOwnedByYou", AlreadyExists),
            ("DuplicateLoadBalancerName", AlreadyExists),
            ("InvalidSubnet.Conflict", AlreadyExists),
            ("Resource.AlreadyAssociated", AlreadyExists),
            ("PriorityInUse", AlreadyExists),
            ("DependencyViolation", InUse),
            ("ResourceInUseException", InUse),
            ("CacheSubnetGroupInUse", InUse),
            ("ClusterContainsServicesException", InUse),
            ("ConcurrentModificationException", Conflict),
            ("PriorRequestNotComplete", Conflict),
            ("PreconditionFailed", Conflict),
            ("Throttling", Throttled),
            ("ThrottlingException", Throttled),
            ("RequestLimitExceeded", Throttled),
            ("TooManyRequestsException", Throttled),
            ("AccessDenied", AccessDenied),
            ("AccessDeniedException", AccessDenied),
            ("UnauthorizedOperation", AccessDenied),
            ("InvalidParameterValue", Invalid),
            ("ValidationError", Invalid),
            ("InvalidParameterCombination", Invalid),
            ("VpcLimitExceeded", Invalid),
            ("InternalFailure", Other),
            ("Unknown", Other),
        ] {
            assert_eq!(ErrorKind::of(code), kind, "{code}");
            assert_eq!(AwsError::new("x:Y", code, "").kind(), kind, "{code}");
        }
    }

    #[test]
    fn a_missing_response_field_is_an_invalid_response_naming_the_call() {
        assert_eq!(Some(3).required("svc:Op", "x").unwrap(), 3);
        let e = None::<i32>
            .required("elbv2:CreateListener", "no listener ARN returned for http")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "elbv2:CreateListener failed: InvalidResponse: no listener ARN returned for http"
        );
    }

    #[test]
    fn error_display_names_op_and_code() {
        let e = AwsError::new("ec2:CreateVpc", "VpcLimitExceeded", "too many");
        assert_eq!(
            e.to_string(),
            "ec2:CreateVpc failed: VpcLimitExceeded: too many"
        );
        // AWS's request id, when the response had one, ends the line: a support case starts
        // from it.
        let mut e = e;
        e.request_id = Some("7c1e2d3f-0000-4a5b-9c8d-0123456789ab".into());
        assert_eq!(
            e.to_string(),
            "ec2:CreateVpc failed: VpcLimitExceeded: too many (request id 7c1e2d3f-0000-4a5b-9c8d-0123456789ab)"
        );
    }
}

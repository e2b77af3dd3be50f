//! NotFound as an answer rather than a failure: a delete of something already gone has done
//! its job (another run, a person or AWS itself removed it since the plan looked), and a read
//! of something absent is simply "none".

use crate::aws::AwsError;

/// A delete whose target is already gone is success.
pub fn gone_ok<T: Default>(r: Result<T, AwsError>) -> Result<T, AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(T::default()),
        other => other,
    }
}

/// A read of something absent is `None`.
pub fn found<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The other way round: an answer with nothing in it (a read by id or name that answers an
/// empty list, where other APIs answer NotFound) as AWS's NotFound error `code` of `op`.
pub trait OrNotFound<T> {
    fn or_not_found(self, op: &str, code: &str, message: impl Into<String>) -> Result<T, AwsError>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, op: &str, code: &str, message: impl Into<String>) -> Result<T, AwsError> {
        self.ok_or_else(|| AwsError::new(op, code, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> AwsError {
        AwsError::new("svc:Op", code, "m")
    }

    #[test]
    fn not_found_is_done_and_anything_else_is_kept() {
        assert_eq!(gone_ok::<()>(Err(err("NoSuchEntity"))).unwrap(), ());
        assert_eq!(gone_ok(Ok(3)).unwrap(), 3);
        assert!(gone_ok::<()>(Err(err("AccessDenied"))).is_err());
        assert_eq!(
            found::<u8>(Err(err("ResourceNotFoundException"))).unwrap(),
            None
        );
        assert_eq!(found(Ok(1)).unwrap(), Some(1));
        assert!(found::<u8>(Err(err("Throttling"))).is_err());
        let e = None::<u8>
            .or_not_found("ec2:DescribeVpcs", "InvalidVpcID.NotFound", "no vpc-1")
            .unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(Some(2).or_not_found("svc:Op", "NotFound", "m").unwrap(), 2);
    }
}

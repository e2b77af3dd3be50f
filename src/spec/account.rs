//! Where an env may run: the account pin (`account_id = "…"` or `allowed_account_ids = […]`,
//! top-level keys) and the `[lock]` section (the S3 bucket holding the env's lock).
//!
//! The pin is compared with `sts:GetCallerIdentity` before any other AWS call; a spec with
//! neither key runs in whatever account the credentials are for.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Errors;
use crate::spec::Spanned;

/// AWS's documentation example account id. The shipped staging and prod specs carry it as the
/// placeholder for their real account: a mismatch against it says how to set the real one.
pub const PLACEHOLDER_ACCOUNT: &str = "123456789012";

/// Which accounts the env may be applied in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccountPin {
    /// No pin: any account.
    #[default]
    Any,
    /// Exactly these accounts (one for `account_id`).
    Only {
        ids: Vec<String>,
        /// The spec key that set it (`account_id` or `allowed_account_ids`), for messages.
        key: &'static str,
        /// Where it was set (the spec file, or the saved plan).
        source: String,
    },
}

/// The credentials are for an account the spec does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", mismatch_message(.actual, .allowed, .key, .source_file))]
pub struct AccountMismatch {
    /// The caller's account (sts:GetCallerIdentity).
    pub actual: String,
    /// What the spec allows.
    pub allowed: Vec<String>,
    pub key: &'static str,
    pub source_file: String,
}

fn mismatch_message(actual: &str, allowed: &[String], key: &str, source: &str) -> String {
    let wanted = match allowed {
        [one] => format!("account {one}"),
        many => format!("accounts {}", many.join(", ")),
    };
    let mut msg = format!(
        "the credentials are for account {actual}, but {source} allows only {wanted} ({key}); refusing to make any other AWS call"
    );
    if allowed.iter().any(|a| a == PLACEHOLDER_ACCOUNT) {
        msg.push_str(&format!(
            ". {PLACEHOLDER_ACCOUNT} is AWS's example id, left as a placeholder: set {key} in {source} to the id of the account this env runs in (`aws sts get-caller-identity --query Account`)"
        ));
    }
    msg
}

impl AccountPin {
    /// Refuse an account the pin does not allow.
    pub fn check(&self, actual: &str) -> Result<(), AccountMismatch> {
        match self {
            AccountPin::Any => Ok(()),
            AccountPin::Only { ids, .. } if ids.iter().any(|i| i == actual) => Ok(()),
            AccountPin::Only { ids, key, source } => Err(AccountMismatch {
                actual: actual.to_string(),
                allowed: ids.clone(),
                key,
                source_file: source.clone(),
            }),
        }
    }

    /// The pin of a saved plan: the account it was made in.
    pub fn saved_plan(account: &str, file: &str) -> AccountPin {
        AccountPin::Only {
            ids: vec![account.to_string()],
            key: "the account it was made in",
            source: format!("the saved plan {file}"),
        }
    }

    /// The one account the env is pinned to, unless that is the shipped placeholder.
    pub fn single(&self) -> Option<&str> {
        match self {
            AccountPin::Only { ids, .. } if ids.len() == 1 && !self.is_placeholder() => {
                Some(ids[0].as_str())
            }
            _ => None,
        }
    }

    /// Whether the pin still holds the shipped placeholder.
    pub fn is_placeholder(&self) -> bool {
        matches!(self, AccountPin::Only { ids, .. } if ids.iter().any(|i| i == PLACEHOLDER_ACCOUNT))
    }
}

/// `[lock]`: where the env's lock lives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLock {
    /// The S3 bucket holding the env's lock, a valid bucket name (default `<project>-rtech-<account
    /// id>-<region>`).
    pub bucket: Option<Spanned<String>>,
}

/// `[lock]`: where the env's lock lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    /// The lock bucket; `None`: `<project>-rtech-<account id>-<region>`.
    pub bucket: Option<String>,
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

const ACCOUNT_ID_FORM: &str = "must be a 12-digit AWS account id (quoted, e.g. \"123456789012\")";

/// Validate the pin keys: 12-digit ids, not both keys, no empty list.
pub fn validate_pin(
    errs: &mut Errors,
    one: Option<&Spanned<String>>,
    many: Option<&Spanned<Vec<Spanned<String>>>>,
) -> AccountPin {
    let source = errs.src.file.to_string();
    match (one, many) {
        (None, None) => AccountPin::Any,
        (Some(_), Some(m)) => {
            errs.push(
                m.span(),
                "allowed_account_ids",
                "set account_id or allowed_account_ids, not both",
            );
            AccountPin::Any
        }
        (Some(id), None) => {
            if !is_account_id(id.get_ref()) {
                errs.push(
                    id.span(),
                    "account_id",
                    format!("{:?} {ACCOUNT_ID_FORM}", id.get_ref()),
                );
            }
            AccountPin::Only {
                ids: vec![id.get_ref().clone()],
                key: "account_id",
                source,
            }
        }
        (None, Some(list)) => {
            if list.get_ref().is_empty() {
                errs.push(
                    list.span(),
                    "allowed_account_ids",
                    "lists no account: name at least one, or remove the key to allow any",
                );
            }
            for (i, id) in list.get_ref().iter().enumerate() {
                if !is_account_id(id.get_ref()) {
                    errs.push(
                        id.span(),
                        &format!("allowed_account_ids[{i}]"),
                        format!("{:?} {ACCOUNT_ID_FORM}", id.get_ref()),
                    );
                }
            }
            AccountPin::Only {
                ids: list.get_ref().iter().map(|s| s.get_ref().clone()).collect(),
                key: "allowed_account_ids",
                source,
            }
        }
    }
}

/// Validate `[lock]`: a bucket name S3 accepts.
pub fn validate_lock(errs: &mut Errors, raw: Option<&Spanned<RawLock>>) -> Lock {
    let Some(bucket) = raw.and_then(|r| r.get_ref().bucket.as_ref()) else {
        return Lock::default();
    };
    let b = bucket.get_ref();
    let chars_ok = b
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&b.len()) || !chars_ok || !ends_ok || b.contains("..") {
        errs.push(
            bucket.span(),
            "lock.bucket",
            format!("{b:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit)"),
        );
    }
    Lock {
        bucket: Some(b.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{parse, Spec, SpecError};

    const HEAD: &str = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n";
    const NETWORK: &str = "\n[network]\ncidr = \"10.0.0.0/16\"\n";

    fn spec(keys: &str, tables: &str) -> Result<Spec, Vec<SpecError>> {
        parse(
            "envs/dev.toml",
            &format!("{HEAD}{keys}{NETWORK}{tables}"),
            "dev",
        )
    }

    fn one_error(keys: &str, tables: &str) -> String {
        let e = spec(keys, tables).expect_err("an error");
        assert_eq!(e.len(), 1, "{e:?}");
        e[0].to_string()
    }

    #[test]
    fn no_pin_allows_any_account_and_the_lock_bucket_defaults() {
        let s = spec("", "").unwrap();
        assert_eq!(s.account, AccountPin::Any);
        assert_eq!(s.account.check("999999999999"), Ok(()));
        assert_eq!(s.lock, Lock::default());
    }

    #[test]
    fn account_id_pins_one_account() {
        let s = spec("account_id = \"111122223333\"\n", "").unwrap();
        assert_eq!(s.account.check("111122223333"), Ok(()));
        let e = s.account.check("999999999999").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the credentials are for account 999999999999, but envs/dev.toml allows only account 111122223333 (account_id); refusing to make any other AWS call"
        );
    }

    #[test]
    fn allowed_account_ids_pins_a_set() {
        let s = spec(
            "allowed_account_ids = [\"111122223333\", \"444455556666\"]\n",
            "",
        )
        .unwrap();
        assert_eq!(s.account.check("444455556666"), Ok(()));
        let e = s.account.check("999999999999").unwrap_err().to_string();
        assert!(
            e.contains("account 999999999999")
                && e.contains("accounts 111122223333, 444455556666 (allowed_account_ids)"),
            "{e}"
        );
    }

    #[test]
    fn single_is_the_one_real_pinned_account() {
        let only = |ids: &[&str]| AccountPin::Only {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            key: "account_id",
            source: "envs/prod.toml".into(),
        };
        assert_eq!(only(&["111122223333"]).single(), Some("111122223333"));
        assert_eq!(only(&[PLACEHOLDER_ACCOUNT]).single(), None);
        assert_eq!(only(&["111122223333", "444455556666"]).single(), None);
        assert_eq!(AccountPin::Any.single(), None);
    }

    #[test]
    fn the_placeholder_is_valid_and_a_mismatch_says_how_to_set_it() {
        let s = spec("account_id = \"123456789012\"\n", "").unwrap();
        assert!(s.account.is_placeholder());
        let e = s.account.check("999999999999").unwrap_err().to_string();
        assert!(
            e.contains("AWS's example id, left as a placeholder: set account_id in envs/dev.toml")
                && e.contains("aws sts get-caller-identity --query Account"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "one line: {e}");
    }

    #[test]
    fn malformed_account_ids_are_located() {
        assert_eq!(
            one_error("account_id = \"1234\"\n", ""),
            "envs/dev.toml:4:14: account_id: \"1234\" must be a 12-digit AWS account id (quoted, e.g. \"123456789012\")"
        );
        assert_eq!(
            one_error("allowed_account_ids = [\"111122223333\", \"x\"]\n", ""),
            "envs/dev.toml:4:40: allowed_account_ids[1]: \"x\" must be a 12-digit AWS account id (quoted, e.g. \"123456789012\")"
        );
        assert!(one_error("allowed_account_ids = []\n", "")
            .contains("envs/dev.toml:4:23: allowed_account_ids: lists no account"));
        assert!(one_error("account_id = 123456789012\n", "")
            .starts_with("envs/dev.toml:4:14: account_id:"));
    }

    #[test]
    fn both_pin_keys_are_an_error_at_the_second() {
        assert_eq!(
            one_error(
                "account_id = \"111122223333\"\nallowed_account_ids = [\"111122223333\"]\n",
                ""
            ),
            "envs/dev.toml:5:23: allowed_account_ids: set account_id or allowed_account_ids, not both"
        );
    }

    #[test]
    fn the_lock_bucket_is_checked_as_an_s3_name() {
        let s = spec("", "\n[lock]\nbucket = \"acme-locks.prod\"\n").unwrap();
        assert_eq!(s.lock.bucket.as_deref(), Some("acme-locks.prod"));
        assert!(
            one_error("", "\n[lock]\nbucket = \"Acme_Locks\"\n").starts_with(
                "envs/dev.toml:9:10: lock.bucket: \"Acme_Locks\" is not an S3 bucket name"
            )
        );
        assert!(one_error("", "\n[lock]\nbuckets = \"x\"\n").contains("lock.buckets"));
    }
}

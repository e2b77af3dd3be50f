//! `[docdb]`, `[redis]` and `[secrets]`: the data tier.
//! Each section is optional; without it the env has no such service.

use schemars::JsonSchema;
use serde::Deserialize;

use super::windows::{backup_and_maintenance, WindowField};
use super::Errors;
use crate::spec::Spanned;

/// `[docdb]`: the DocumentDB cluster and its instances.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocdb {
    /// `db.<family>.<size>`: family `t3`, `t4g`, `r5`, `r6g`, `r6gd` or `r8g`; size
    /// `micro`…`xlarge` or `<n>xlarge` (default `db.t3.medium`).
    pub instance_class: Option<Spanned<String>>,
    /// Instances in the cluster, round-robin over the AZs (1–16; default 1).
    pub instances: Option<Spanned<i64>>,
    /// `4.0.0` or `5.0.0` (default `5.0.0`). An upgrade is applied in place, a downgrade replaces
    /// the cluster.
    pub engine_version: Option<Spanned<String>>,
    /// 1–63 letters and digits, starting with a letter; not `admin`, `root` or `serviceadmin`
    /// (default `rtechadmin`). Changing it replaces the cluster.
    pub master_username: Option<Spanned<String>>,
    /// Days automated backups are kept (1–35; default 7).
    pub backup_retention_days: Option<Spanned<i64>>,
    /// Daily backup window `hh:mm-hh:mm` UTC, at least 30 minutes (default `03:00-04:00`).
    pub backup_window: Option<Spanned<String>>,
    /// Weekly maintenance window `ddd:hh:mm-ddd:hh:mm` UTC, at least 30 minutes, not overlapping
    /// `backup_window` (default `sun:04:00-sun:05:00`).
    pub maintenance_window: Option<Spanned<String>>,
    /// While on, rtech refuses any plan that deletes or replaces the cluster (default false).
    pub deletion_protection: Option<Spanned<bool>>,
    /// Delete the cluster without the final snapshot `<cluster>-final-<UTC yyyymmddHHMMSS>`
    /// (default false).
    pub skip_final_snapshot: Option<Spanned<bool>>,
    /// Copy the cluster's tags to its automated, manual and final snapshots (default true).
    pub copy_tags_to_snapshot: Option<Spanned<bool>>,
    /// Instance class changes and engine upgrades happen now instead of in the maintenance window
    /// (default false).
    pub apply_immediately: Option<Spanned<bool>>,
    /// The `audit_logs` parameter and the CloudWatch Logs export `audit` (default true).
    pub audit_logs: Option<Spanned<bool>>,
    /// The `profiler` parameter and the CloudWatch Logs export `profiler` (default true).
    pub profiler_logs: Option<Spanned<bool>>,
    /// The `tls` parameter: clients must connect with TLS (default true).
    pub tls: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Docdb {
    pub instance_class: String,
    pub instances: u8,
    pub engine_version: String,
    pub master_username: String,
    pub backup_retention_days: i64,
    pub backup_window: String,
    pub maintenance_window: String,
    pub deletion_protection: bool,
    pub skip_final_snapshot: bool,
    /// Snapshots (automated, manual, final) carry the cluster's tags.
    pub copy_tags_to_snapshot: bool,
    pub apply_immediately: bool,
    pub audit_logs: bool,
    pub profiler_logs: bool,
    pub tls: bool,
}

/// `[redis]`: the ElastiCache Redis replication group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// `cache.<family>.<size>`, families `t2`, `t3`, `t4g`, `m5`, `m6g`, `m7g`, `r5`, `r6g`,
    /// `r6gd`, `r7g` (default `cache.t3.micro`).
    pub node_type: Option<Spanned<String>>,
    /// Replicas beside the primary (0–5; default 0). 1 or more turns on automatic failover and
    /// Multi-AZ.
    pub replicas: Option<Spanned<i64>>,
    /// Redis 7.x (default `7.1`). A live engine newer than this is a replace, never a downgrade in
    /// place.
    pub engine_version: Option<Spanned<String>>,
    /// Days automatic snapshots are kept (0–35, 0: none; default 1).
    pub snapshot_retention_days: Option<Spanned<i64>>,
    /// Daily snapshot window `hh:mm-hh:mm` UTC, not overlapping `maintenance_window` (default
    /// `05:00-06:00`).
    pub snapshot_window: Option<Spanned<String>>,
    /// Weekly maintenance window `ddd:hh:mm-ddd:hh:mm` UTC (default `sun:06:00-sun:07:00`).
    pub maintenance_window: Option<Spanned<String>>,
    /// TLS, with an AUTH token generated into the secret `{project}/{env}/redis` (default true).
    /// Changing it replaces the group.
    pub transit_encryption: Option<Spanned<bool>>,
    /// Encryption at rest (default true). Changing it replaces the group.
    pub at_rest_encryption: Option<Spanned<bool>>,
    /// Delete the group without the final snapshot `<group>-final-<UTC yyyymmddHHMMSS>` (default
    /// false).
    pub skip_final_snapshot: Option<Spanned<bool>>,
    /// Changes happen now instead of in the maintenance window (default false).
    pub apply_immediately: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redis {
    pub node_type: String,
    /// Replicas beside the primary: 0 is a single node; 1+ turns on failover and Multi-AZ.
    pub replicas: u8,
    pub engine_version: String,
    pub snapshot_retention_days: i64,
    pub snapshot_window: String,
    pub maintenance_window: String,
    pub transit_encryption: bool,
    pub at_rest_encryption: bool,
    pub skip_final_snapshot: bool,
    pub apply_immediately: bool,
}

/// `[backup]`: an AWS Backup plan for the DocumentDB cluster (needs `[docdb]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// Days each recovery point is kept (1–36500; default 35).
    pub retention_days: Option<Spanned<i64>>,
    /// An AWS Backup `cron(minutes hours day-of-month month day-of-week year)` expression in UTC
    /// (default `cron(0 5 ? * * *)`, daily at 05:00).
    pub schedule: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// Days each recovery point is kept (the rule's lifecycle DeleteAfterDays).
    pub retention_days: i64,
    /// The rule's schedule, an AWS Backup `cron(…)` expression in UTC.
    pub schedule: String,
}

/// A daily backup at 05:00 UTC.
pub const DEFAULT_BACKUP_SCHEDULE: &str = "cron(0 5 ? * * *)";

pub(super) fn validate_backup(errs: &mut Errors, raw: &Spanned<RawBackup>, docdb: bool) -> Backup {
    let r = raw.get_ref();
    if !docdb {
        errs.push(
            raw.span(),
            "backup",
            "AWS Backup protects the DocumentDB cluster: add a [docdb] section or remove [backup]",
        );
    }
    let retention_days = int_in(
        errs,
        &r.retention_days,
        "backup.retention_days",
        1..=36500,
        35,
    );
    let schedule = str_checked(
        errs,
        &r.schedule,
        "backup.schedule",
        |s| {
            s.strip_prefix("cron(")
                .and_then(|x| x.strip_suffix(')'))
                .is_some_and(|x| x.split_whitespace().count() == 6)
        },
        "is not an AWS Backup schedule: cron(minutes hours day-of-month month day-of-week year), e.g. \"cron(0 5 ? * * *)\"",
        || DEFAULT_BACKUP_SCHEDULE.to_string(),
    );
    Backup {
        retention_days,
        schedule,
    }
}

/// `[secrets]`: how the data tier's secrets are deleted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    /// Days a secret deleted by `destroy` can still be restored (7–30; default 7).
    pub recovery_window_days: Option<Spanned<i64>>,
    /// Delete at once, without a recovery window (default false).
    pub force_delete: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secrets {
    /// Days a deleted secret can still be restored (7–30).
    pub recovery_window_days: i64,
    /// Delete without a recovery window (sensible for dev only).
    pub force_delete: bool,
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets {
            recovery_window_days: 7,
            force_delete: false,
        }
    }
}

pub(super) fn flag(v: &Option<Spanned<bool>>, default: bool) -> bool {
    v.as_ref().map(|b| *b.get_ref()).unwrap_or(default)
}

pub(super) fn int_in(
    errs: &mut Errors,
    v: &Option<Spanned<i64>>,
    path: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> i64 {
    match v {
        Some(n) if !range.contains(n.get_ref()) => {
            errs.push(
                n.span(),
                path,
                format!(
                    "{} is out of range: {} to {}",
                    n.get_ref(),
                    range.start(),
                    range.end()
                ),
            );
            default
        }
        Some(n) => *n.get_ref(),
        None => default,
    }
}

/// A string key: its value, with an error at its span when `valid` refuses it (`why` completes
/// "\"value\" …"); `default` when the key is absent.
pub(super) fn str_checked(
    errs: &mut Errors,
    v: &Option<Spanned<String>>,
    path: &str,
    valid: impl Fn(&str) -> bool,
    why: &str,
    default: impl FnOnce() -> String,
) -> String {
    match v {
        Some(s) => {
            if !valid(s.get_ref()) {
                errs.push(s.span(), path, format!("{:?} {why}", s.get_ref()));
            }
            s.get_ref().clone()
        }
        None => default(),
    }
}

/// `prefix.family.size`, e.g. `db.r6g.large`, `cache.t3.micro`.
fn class(
    errs: &mut Errors,
    v: &Option<Spanned<String>>,
    path: &str,
    prefix: &str,
    families: &[&str],
    default: &str,
) -> String {
    let Some(s) = v else {
        return default.to_string();
    };
    let text = s.get_ref();
    let parts: Vec<&str> = text.split('.').collect();
    let size_ok = |p: &str| {
        matches!(p, "micro" | "small" | "medium" | "large" | "xlarge")
            || p.strip_suffix("xlarge")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let ok =
        parts.len() == 3 && parts[0] == prefix && families.contains(&parts[1]) && size_ok(parts[2]);
    if !ok {
        errs.push(
            s.span(),
            path,
            format!("{text:?} is not a {prefix} instance class of the form {prefix}.<family>.<size> (families: {})", families.join(", ")),
        );
    }
    text.clone()
}

const DOCDB_FAMILIES: &[&str] = &["t3", "t4g", "r5", "r6g", "r6gd", "r8g"];
const CACHE_FAMILIES: &[&str] = &[
    "t2", "t3", "t4g", "m5", "m6g", "m7g", "r5", "r6g", "r6gd", "r7g",
];

pub(super) fn validate_docdb(errs: &mut Errors, raw: &Spanned<RawDocdb>) -> Docdb {
    let r = raw.get_ref();
    let instance_class = class(
        errs,
        &r.instance_class,
        "docdb.instance_class",
        "db",
        DOCDB_FAMILIES,
        "db.t3.medium",
    );
    let instances = int_in(errs, &r.instances, "docdb.instances", 1..=16, 1) as u8;
    let engine_version = str_checked(
        errs,
        &r.engine_version,
        "docdb.engine_version",
        |v| ["4.0.0", "5.0.0"].contains(&v),
        "is not a DocumentDB engine version (4.0.0 or 5.0.0)",
        || "5.0.0".to_string(),
    );
    let master_username = match &r.master_username {
        Some(u) => {
            let s = u.get_ref();
            let ok = (1..=63).contains(&s.len())
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                errs.push(
                    u.span(),
                    "docdb.master_username",
                    format!("{s:?} must be 1 to 63 letters and digits, starting with a letter"),
                );
            } else if ["admin", "root", "serviceadmin"].contains(&s.to_lowercase().as_str()) {
                errs.push(
                    u.span(),
                    "docdb.master_username",
                    format!("{s:?} is reserved by DocumentDB"),
                );
            }
            s.clone()
        }
        None => "rtechadmin".to_string(),
    };
    let backup_retention_days = int_in(
        errs,
        &r.backup_retention_days,
        "docdb.backup_retention_days",
        1..=35,
        7,
    );
    let (backup_window, maintenance_window) = backup_and_maintenance(
        errs,
        "docdb",
        raw.span(),
        (
            "backup",
            WindowField {
                key: "backup_window",
                value: &r.backup_window,
                default: "03:00-04:00",
            },
        ),
        WindowField {
            key: "maintenance_window",
            value: &r.maintenance_window,
            default: "sun:04:00-sun:05:00",
        },
    );
    Docdb {
        instance_class,
        instances,
        engine_version,
        master_username,
        backup_retention_days,
        backup_window,
        maintenance_window,
        deletion_protection: flag(&r.deletion_protection, false),
        skip_final_snapshot: flag(&r.skip_final_snapshot, false),
        copy_tags_to_snapshot: flag(&r.copy_tags_to_snapshot, true),
        apply_immediately: flag(&r.apply_immediately, false),
        audit_logs: flag(&r.audit_logs, true),
        profiler_logs: flag(&r.profiler_logs, true),
        tls: flag(&r.tls, true),
    }
}

pub(super) fn validate_redis(errs: &mut Errors, raw: &Spanned<RawRedis>) -> Redis {
    let r = raw.get_ref();
    let node_type = class(
        errs,
        &r.node_type,
        "redis.node_type",
        "cache",
        CACHE_FAMILIES,
        "cache.t3.micro",
    );
    let replicas = int_in(errs, &r.replicas, "redis.replicas", 0..=5, 0) as u8;
    let engine_version = match &r.engine_version {
        Some(v) => {
            let s = v.get_ref();
            let ok = s.split('.').next().is_some_and(|m| m == "7")
                && s.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                errs.push(
                    v.span(),
                    "redis.engine_version",
                    format!("{s:?} is not a Redis 7.x engine version (e.g. 7.1)"),
                );
            }
            s.clone()
        }
        None => "7.1".to_string(),
    };
    let snapshot_retention_days = int_in(
        errs,
        &r.snapshot_retention_days,
        "redis.snapshot_retention_days",
        0..=35,
        1,
    );
    let (snapshot_window, maintenance_window) = backup_and_maintenance(
        errs,
        "redis",
        raw.span(),
        (
            "snapshot",
            WindowField {
                key: "snapshot_window",
                value: &r.snapshot_window,
                default: "05:00-06:00",
            },
        ),
        WindowField {
            key: "maintenance_window",
            value: &r.maintenance_window,
            default: "sun:06:00-sun:07:00",
        },
    );
    Redis {
        node_type,
        replicas,
        engine_version,
        snapshot_retention_days,
        snapshot_window,
        maintenance_window,
        transit_encryption: flag(&r.transit_encryption, true),
        at_rest_encryption: flag(&r.at_rest_encryption, true),
        skip_final_snapshot: flag(&r.skip_final_snapshot, false),
        apply_immediately: flag(&r.apply_immediately, false),
    }
}

pub(super) fn validate_secrets(errs: &mut Errors, raw: &Spanned<RawSecrets>) -> Secrets {
    let r = raw.get_ref();
    Secrets {
        recovery_window_days: int_in(
            errs,
            &r.recovery_window_days,
            "secrets.recovery_window_days",
            7..=30,
            7,
        ),
        force_delete: flag(&r.force_delete, false),
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{parse, SpecError};

    const BASE: &str = "project = \"rtech\"\nenv = \"dev\"\nregion = \"us-east-1\"\n\n[network]\ncidr = \"10.0.0.0/16\"\n";

    fn errs(extra: &str) -> Vec<SpecError> {
        parse("envs/dev.toml", &format!("{BASE}{extra}"), "dev").expect_err("invalid")
    }

    fn one(extra: &str) -> SpecError {
        let e = errs(extra);
        assert_eq!(e.len(), 1, "{e:?}");
        e.into_iter().next().unwrap()
    }

    fn at(e: &SpecError, line: usize, col: usize, path: &str) {
        assert_eq!((e.line, e.col, e.path.as_str()), (line, col, path), "{e}");
    }

    #[test]
    fn sections_are_optional_and_defaults_follow_the_production_plan() {
        let s = parse("envs/dev.toml", BASE, "dev").unwrap();
        assert!(s.docdb.is_none() && s.redis.is_none());
        let s = parse(
            "envs/dev.toml",
            &format!("{BASE}\n[docdb]\n\n[redis]\n"),
            "dev",
        )
        .unwrap();
        let d = s.docdb.unwrap();
        assert_eq!(
            (d.engine_version.as_str(), d.backup_retention_days),
            ("5.0.0", 7)
        );
        assert_eq!(
            (d.backup_window.as_str(), d.maintenance_window.as_str()),
            ("03:00-04:00", "sun:04:00-sun:05:00")
        );
        assert!(d.tls && d.audit_logs && d.profiler_logs && !d.deletion_protection);
        let r = s.redis.unwrap();
        assert_eq!(
            (r.node_type.as_str(), r.replicas, r.engine_version.as_str()),
            ("cache.t3.micro", 0, "7.1")
        );
        assert!(r.transit_encryption && r.at_rest_encryption);
        assert_eq!(s.secrets.recovery_window_days, 7);
    }

    #[test]
    fn an_unknown_instance_class_pattern_is_located() {
        let e = one("\n[docdb]\ninstance_class = \"db.x9.huge\"\n");
        at(&e, 9, 18, "docdb.instance_class");
        assert!(e.message.contains("db.<family>.<size>"), "{e}");
        let e = one("\n[redis]\nnode_type = \"m5.large\"\n");
        at(&e, 9, 13, "redis.node_type");
    }

    #[test]
    fn retention_out_of_range_is_located() {
        let e = one("\n[docdb]\nbackup_retention_days = 36\n");
        at(&e, 9, 25, "docdb.backup_retention_days");
        assert!(e.message.contains("1 to 35"), "{e}");
        let e = one("\n[docdb]\nbackup_retention_days = 0\n");
        at(&e, 9, 25, "docdb.backup_retention_days");
        let e = one("\n[redis]\nsnapshot_retention_days = 40\n");
        assert!(e.message.contains("0 to 35"), "{e}");
    }

    #[test]
    fn malformed_windows_are_located() {
        let e = one("\n[docdb]\nbackup_window = \"3am-4am\"\n");
        at(&e, 9, 17, "docdb.backup_window");
        assert!(e.message.contains("hh:mm-hh:mm"), "{e}");
        let e = one("\n[docdb]\nmaintenance_window = \"sunday 04:00\"\n");
        at(&e, 9, 22, "docdb.maintenance_window");
        assert!(e.message.contains("ddd:hh:mm-ddd:hh:mm"), "{e}");
        let e = one("\n[redis]\nsnapshot_window = \"05:00-05:10\"\n");
        assert!(e.message.contains("at least 30 minutes"), "{e}");
    }

    #[test]
    fn overlapping_backup_and_maintenance_windows_are_refused() {
        let e = one("\n[docdb]\nbackup_window = \"03:00-04:00\"\nmaintenance_window = \"wed:03:30-wed:04:30\"\n");
        at(&e, 10, 22, "docdb.maintenance_window");
        assert!(e.message.contains("overlaps the backup window"), "{e}");
        let e = one("\n[redis]\nsnapshot_window = \"06:00-07:00\"\n");
        assert!(e.message.contains("overlaps the snapshot window"), "{e}");
    }

    #[test]
    fn other_bad_values_are_located() {
        let e = one("\n[docdb]\ninstances = 17\n");
        at(&e, 9, 13, "docdb.instances");
        let e = one("\n[docdb]\nmaster_username = \"admin\"\n");
        assert!(e.message.contains("reserved"), "{e}");
        let e = one("\n[docdb]\nengine_version = \"3.6\"\n");
        at(&e, 9, 18, "docdb.engine_version");
        let e = one("\n[redis]\nengine_version = \"6.2\"\n");
        at(&e, 9, 18, "redis.engine_version");
        let e = one("\n[redis]\nreplicas = 6\n");
        at(&e, 9, 12, "redis.replicas");
        let e = one("\n[secrets]\nrecovery_window_days = 3\n");
        at(&e, 9, 24, "secrets.recovery_window_days");
        let e = one("\n[docdb]\ninstance = 2\n");
        at(&e, 9, 1, "docdb.instance");
        assert!(e.message.contains("unknown field"), "{e}");
    }
}

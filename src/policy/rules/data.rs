//! The data tier's rules: DocumentDB, ElastiCache Redis and their backups.

use super::*;

pub(super) fn docdb_1(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "storage_encrypted", is_true)
}

/// AWS's default minimum retention for DocumentDB.2.
const MIN_BACKUP_DAYS: i64 = 7;

pub(super) fn docdb_2(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "backup_retention_period", |x| {
        int(x).is_some_and(|d| d >= MIN_BACKUP_DAYS)
    })
}

pub(super) fn docdb_4(v: &View) -> Vec<Evidence> {
    each(
        v,
        "docdb_cluster",
        "enabled_cloudwatch_logs_exports",
        |x| matches!(x, Some(Value::List(l)) if l.iter().any(|e| e.as_str() == Some("audit"))),
    )
}

pub(super) fn docdb_5(v: &View) -> Vec<Evidence> {
    each(v, "docdb_cluster", "deletion_protection", is_true)
}

pub(super) fn elasticache_1(v: &View) -> Vec<Evidence> {
    each(v, "redis", "snapshot_retention_limit", |x| {
        int(x).is_some_and(|d| d >= 1)
    })
}

pub(super) fn elasticache_3(v: &View) -> Vec<Evidence> {
    each(v, "redis", "automatic_failover", is_true)
}

pub(super) fn elasticache_4(v: &View) -> Vec<Evidence> {
    each(v, "redis", "at_rest_encryption", is_true)
}

pub(super) fn elasticache_5(v: &View) -> Vec<Evidence> {
    each(v, "redis", "transit_encryption", is_true)
}

/// rtech's own: in prod, 7 days of DocumentDB backups and of Redis snapshots.
pub(super) fn rtech_backups(v: &View) -> Vec<Evidence> {
    if !v.is_prod() {
        return vec![];
    }
    let at_least = |x: Option<&Value>| int(x).is_some_and(|d| d >= MIN_BACKUP_DAYS);
    let mut out = each(v, "docdb_cluster", "backup_retention_period", at_least);
    out.extend(each(v, "redis", "snapshot_retention_limit", at_least));
    out
}

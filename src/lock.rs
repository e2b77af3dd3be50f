//! The env's lock: one S3 object, `s3://<lock bucket>/<project>/<env>.lock`, as Terraform's S3
//! backend locks since 1.10.
//!
//! - Taken with PutObject `If-None-Match: *`: S3 writes it only if no such object exists, so of
//!   two runs exactly one gets it; the other reads who holds it and fails at once, or, with
//!   `--lock-timeout`, polls until it is free.
//! - Its body records the holder ([`LockInfo`]: the caller's ARN, host, pid, command, rtech
//!   version, start time) and a random id.
//! - Released with DeleteObject `If-Match: <ETag>`: it deletes only the object this run wrote,
//!   never somebody else's lock. `force-unlock` reads the lock, checks the id it is given and
//!   deletes with the ETag it read.
//! - The bucket is made by `rtech bootstrap`, never here: no bucket is [`LockError::NoBucket`].

use std::time::{Duration, Instant, SystemTime};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::aws::{aws, AwsError};

/// Who holds a lock: the body of the lock object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random: what `force-unlock` must be given.
    pub id: String,
    /// The caller's ARN (sts:GetCallerIdentity).
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// `rtech apply`, `rtech destroy`, …
    pub command: String,
    /// rtech's version.
    pub version: String,
    /// RFC 3339, UTC, whole seconds.
    pub started: String,
}

impl LockInfo {
    /// This process's lock body for `command` as `who`, with a new random id.
    pub fn new(who: &str, command: &str) -> LockInfo {
        LockInfo {
            id: new_id(),
            who: who.to_string(),
            host: host_name(),
            pid: std::process::id(),
            command: command.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started: rfc3339(SystemTime::now()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a lock body serialises")
    }

    /// A lock object's body. One that is not rtech's JSON still names what it holds, and its
    /// id is `unreadable` (what force-unlock must then be given).
    pub fn parse(body: &str) -> LockInfo {
        serde_json::from_str(body).unwrap_or_else(|_| LockInfo {
            id: "unreadable".into(),
            who: format!(
                "an unreadable lock object ({:?})",
                body.chars().take(60).collect::<String>()
            ),
            host: "?".into(),
            pid: 0,
            command: "?".into(),
            version: "?".into(),
            started: "?".into(),
        })
    }

    /// `arn:… (rtech apply, pid 4711 on runner-3) since 2026-12-01T10:02:11Z`.
    pub fn holder(&self) -> String {
        format!(
            "{} ({}, pid {} on {}) since {}",
            self.who, self.command, self.pid, self.host, self.started
        )
    }
}

/// A 128-bit random id in UUID v4 form.
fn new_id() -> String {
    let mut b: [u8; 16] = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The machine's name, for the lock body.
fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !name.is_empty() {
                return name;
            }
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "an unknown host".into())
}

/// RFC 3339 in UTC, whole seconds: `2026-12-01T10:02:11Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// The lock object's key: `<project>/<env>.lock`.
pub fn key(project: &str, env: &str) -> String {
    format!("{project}/{env}.lock")
}

/// The default lock bucket, one per project, account and region:
/// `<project>-rtech-<account id>-<region>` (at most 20 + 7 + 12 + 15 characters: S3's 63 hold it).
pub fn default_bucket(project: &str, account: &str, region: &str) -> String {
    format!("{project}-rtech-{account}-{region}")
}

/// `--lock-timeout`: `0`, `90s`, `5m`, `1h`, `1m30s`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 30s, 5m, 1h, 1m30s)");
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `5m`, `1m30s`, `45s`: a duration as the flag takes it.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Why a lock was not taken, released or removed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Somebody holds it (and `--lock-timeout` was 0).
    #[error("env {env} is locked by {}; wait, or run rtech force-unlock --env {env} {} if that run is dead", .holder.holder(), .holder.id)]
    Held { env: String, holder: LockInfo },
    /// Still held when `--lock-timeout` ran out.
    #[error("env {env} is still locked after waiting {}, by {}; wait longer (--lock-timeout), or run rtech force-unlock --env {env} {} if that run is dead", show_duration(*.waited), .holder.holder(), .holder.id)]
    Timeout {
        env: String,
        holder: LockInfo,
        waited: Duration,
    },
    /// The lock bucket does not exist: `rtech bootstrap` makes it.
    #[error("the lock bucket {bucket} does not exist; create it once per account and region with rtech bootstrap --env {env}")]
    NoBucket { bucket: String, env: String },
    /// force-unlock was given another id than the lock's.
    #[error("refusing to unlock env {env}: its lock id is {}, not {given}; it is held by {}", .holder.id, .holder.holder())]
    WrongId {
        env: String,
        given: String,
        holder: LockInfo,
    },
    /// force-unlock found no lock.
    #[error("env {env} is not locked (there is no s3://{bucket}/{key})")]
    NotLocked {
        env: String,
        bucket: String,
        key: String,
    },
    /// The lock this run held was replaced meanwhile (a force-unlock, then another run's lock):
    /// left alone.
    #[error("the lock on env {env} (s3://{bucket}/{key}) was replaced while this run held it (force-unlock?); it was left as it is")]
    Lost {
        env: String,
        bucket: String,
        key: String,
    },
    /// The lock was not released (the run itself is over): it must be removed by hand.
    #[error("could not release the lock on env {env}: {source}; once no rtech runs on it, run rtech force-unlock --env {env} {id}")]
    NotReleased {
        env: String,
        id: String,
        #[source]
        source: AwsError,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Where an env's lock lives.
#[derive(Clone, Debug)]
pub struct Place {
    pub bucket: String,
    pub key: String,
    pub env: String,
}

/// A lock this process holds.
#[derive(Debug)]
pub struct Held {
    pub place: Place,
    pub info: LockInfo,
    etag: String,
}

/// What a wait for the lock reports, each poll.
pub struct Waiting<'a> {
    pub holder: &'a LockInfo,
    pub waited: Duration,
    pub timeout: Duration,
}

/// The first poll's delay; each next waits 1.5 times as long, up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(500);
const MAX_POLL: Duration = Duration::from_secs(5);

/// Take the lock: write it if absent; else fail at once with its holder (`timeout` zero), or
/// poll until it is free or `timeout` has passed, calling `waiting` each poll.
pub async fn acquire(
    s3: &aws_sdk_s3::Client,
    place: &Place,
    info: LockInfo,
    timeout: Duration,
    waiting: &mut (dyn FnMut(Waiting<'_>) + Send),
) -> Result<Held, LockError> {
    let start = Instant::now();
    let mut delay = FIRST_POLL;
    loop {
        let put = s3
            .put_object()
            .bucket(&place.bucket)
            .key(&place.key)
            .content_type("application/json")
            .if_none_match("*")
            .body(info.to_json().into_bytes().into())
            .send()
            .await
            .map_err(aws("s3:PutObject"));
        let e = match put {
            Ok(out) => {
                return Ok(Held {
                    place: place.clone(),
                    info,
                    etag: out.e_tag().unwrap_or_default().to_string(),
                })
            }
            Err(e) => e,
        };
        if e.is("NoSuchBucket") {
            return Err(LockError::NoBucket {
                bucket: place.bucket.clone(),
                env: place.env.clone(),
            });
        }
        // 412: it exists. 409: another conditional write of it is in progress (S3 asks to retry).
        if !(e.is("PreconditionFailed") || e.is("ConditionalRequestConflict")) {
            return Err(e.into());
        }
        let holder = match read(s3, place).await? {
            // Our own write: it succeeded, its response was lost and the SDK's retry of it
            // found the object there. The lock is ours.
            Some((h, etag)) if h.id == info.id => {
                return Ok(Held {
                    place: place.clone(),
                    info,
                    etag,
                })
            }
            Some((h, _)) => h,
            // Released between our write and our read: try again at once.
            None => continue,
        };
        let waited = start.elapsed();
        if timeout.is_zero() {
            return Err(LockError::Held {
                env: place.env.clone(),
                holder,
            });
        }
        if waited >= timeout {
            return Err(LockError::Timeout {
                env: place.env.clone(),
                holder,
                waited,
            });
        }
        waiting(Waiting {
            holder: &holder,
            waited,
            timeout,
        });
        tokio::time::sleep(delay.min(timeout - waited)).await;
        delay = (delay * 3 / 2).min(MAX_POLL);
    }
}

/// The lock's holder and ETag, or `None` when there is no lock.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    place: &Place,
) -> Result<Option<(LockInfo, String)>, LockError> {
    let out = match s3
        .get_object()
        .bucket(&place.bucket)
        .key(&place.key)
        .send()
        .await
        .map_err(aws("s3:GetObject"))
    {
        Ok(o) => o,
        Err(e) if e.is("NoSuchKey") || e.is("NotFound") => return Ok(None),
        Err(e) if e.is("NoSuchBucket") => {
            return Err(LockError::NoBucket {
                bucket: place.bucket.clone(),
                env: place.env.clone(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::new("s3:GetObject", "ReadFailed", e.to_string()))?;
    let text = String::from_utf8_lossy(&body.into_bytes()).into_owned();
    Ok(Some((LockInfo::parse(&text), etag)))
}

/// Delete the lock object only if it is still the one with `etag`.
async fn delete_if(s3: &aws_sdk_s3::Client, place: &Place, etag: &str) -> Result<(), LockError> {
    match s3
        .delete_object()
        .bucket(&place.bucket)
        .key(&place.key)
        .if_match(etag)
        .send()
        .await
        .map_err(aws("s3:DeleteObject"))
    {
        // Gone already: our delete went through and its response was lost (the SDK's retry
        // finds nothing), or the lock was force-unlocked since. Either way nobody holds it.
        Ok(_) => Ok(()),
        Err(e) if e.is("NoSuchKey") || e.is("NotFound") => Ok(()),
        Err(e) if e.is("PreconditionFailed") => Err(LockError::Lost {
            env: place.env.clone(),
            bucket: place.bucket.clone(),
            key: place.key.clone(),
        }),
        Err(e) => Err(e.into()),
    }
}

impl Held {
    /// Release the lock: delete it if it is still ours (If-Match on the ETag we wrote).
    pub async fn release(self, s3: &aws_sdk_s3::Client) -> Result<(), LockError> {
        match delete_if(s3, &self.place, &self.etag).await {
            Err(LockError::Aws(source)) => Err(LockError::NotReleased {
                env: self.place.env.clone(),
                id: self.info.id.clone(),
                source,
            }),
            other => other,
        }
    }
}

/// `force-unlock`: remove the env's lock if its id is `id`; returns who held it.
pub async fn force_unlock(
    s3: &aws_sdk_s3::Client,
    place: &Place,
    id: &str,
) -> Result<LockInfo, LockError> {
    let Some((holder, etag)) = read(s3, place).await? else {
        return Err(LockError::NotLocked {
            env: place.env.clone(),
            bucket: place.bucket.clone(),
            key: place.key.clone(),
        });
    };
    if holder.id != id {
        return Err(LockError::WrongId {
            env: place.env.clone(),
            given: id.to_string(),
            holder,
        });
    }
    delete_if(s3, place, &etag).await?;
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> LockInfo {
        LockInfo {
            id: "3f2c…".into(),
            who: "arn:aws:sts::123456789012:assumed-role/ci/run-7".into(),
            host: "runner-3".into(),
            pid: 4711,
            command: "rtech apply".into(),
            version: "0.1.0".into(),
            started: "2026-12-01T10:02:11Z".into(),
        }
    }

    #[test]
    fn a_lock_body_round_trips_and_names_its_holder() {
        let i = LockInfo::new("arn:aws:sts::123456789012:user/ci", "rtech apply");
        assert_eq!(LockInfo::parse(&i.to_json()), i);
        assert_eq!(i.pid, std::process::id());
        assert_eq!(i.version, env!("CARGO_PKG_VERSION"));
        assert!(!i.host.is_empty());
        // RFC 3339, UTC, whole seconds.
        assert_eq!(i.started.len(), 20, "{}", i.started);
        assert!(i.started.ends_with('Z') && i.started.as_bytes()[10] == b'T');
        let j: serde_json::Value = serde_json::from_str(&i.to_json()).unwrap();
        for k in ["id", "who", "host", "pid", "command", "version", "started"] {
            assert!(j.get(k).is_some(), "{k} in {j}");
        }
    }

    #[test]
    fn lock_ids_are_random_uuids() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "version 4: {a}");
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn an_unreadable_lock_still_names_itself() {
        let i = LockInfo::parse("not json");
        assert_eq!(i.id, "unreadable");
        assert!(i.who.contains("not json"), "{}", i.who);
    }

    #[test]
    fn rfc3339_is_utc_whole_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_119_331_500);
        assert_eq!(rfc3339(t), "2026-12-01T10:02:11Z");
    }

    #[test]
    fn the_held_message_is_the_documented_one() {
        let e = LockError::Held {
            env: "prod".into(),
            holder: info(),
        };
        assert_eq!(
            e.to_string(),
            "env prod is locked by arn:aws:sts::123456789012:assumed-role/ci/run-7 (rtech apply, pid 4711 on runner-3) since 2026-12-01T10:02:11Z; wait, or run rtech force-unlock --env prod 3f2c… if that run is dead"
        );
        let t = LockError::Timeout {
            env: "prod".into(),
            holder: info(),
            waited: Duration::from_secs(300),
        };
        assert!(
            t.to_string()
                .starts_with("env prod is still locked after waiting 5m, by arn:"),
            "{t}"
        );
    }

    #[test]
    fn no_bucket_and_wrong_id_are_one_line_naming_what_to_do() {
        let e = LockError::NoBucket {
            bucket: "rtech-rtech-123456789012-us-east-1".into(),
            env: "dev".into(),
        };
        assert_eq!(
            e.to_string(),
            "the lock bucket rtech-rtech-123456789012-us-east-1 does not exist; create it once per account and region with rtech bootstrap --env dev"
        );
        let w = LockError::WrongId {
            env: "prod".into(),
            given: "nope".into(),
            holder: info(),
        };
        assert_eq!(
            w.to_string(),
            "refusing to unlock env prod: its lock id is 3f2c…, not nope; it is held by arn:aws:sts::123456789012:assumed-role/ci/run-7 (rtech apply, pid 4711 on runner-3) since 2026-12-01T10:02:11Z"
        );
    }

    #[test]
    fn the_default_bucket_and_key() {
        assert_eq!(
            default_bucket("rtech", "123456789012", "us-east-1"),
            "rtech-rtech-123456789012-us-east-1"
        );
        // The longest project (20) and region names still fit S3's 63 characters.
        assert!(default_bucket(&"p".repeat(20), "123456789012", "ap-southeast-3").len() <= 63);
        assert_eq!(key("rtech", "prod"), "rtech/prod.lock");
    }

    #[test]
    fn durations_parse_as_the_flag_documents() {
        let d = |s| parse_duration(s).unwrap().as_secs();
        assert_eq!(d("0"), 0);
        assert_eq!(d("45"), 45);
        assert_eq!(d("90s"), 90);
        assert_eq!(d("5m"), 300);
        assert_eq!(d("1h"), 3600);
        assert_eq!(d("1m30s"), 90);
        for bad in ["", "5x", "m", "5m3", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show_duration(Duration::from_secs(300)), "5m");
        assert_eq!(show_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(show_duration(Duration::from_secs(7)), "7s");
    }
}

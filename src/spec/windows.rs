//! AWS maintenance and backup windows: `hh:mm-hh:mm` (daily) and `ddd:hh:mm-ddd:hh:mm`
//! (weekly), validated with their location, and overlap checks between them.

use super::Errors;
use crate::spec::Spanned;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEK: u32 = 7 * 24 * 60;

/// A window as minutes from Monday 00:00 (weekly) or from midnight (daily), end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
    pub weekly: bool,
}

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn day_hhmm(s: &str) -> Option<u32> {
    let (d, t) = s.split_once(':')?;
    let day = DAYS.iter().position(|x| *x == d)? as u32;
    Some(day * 24 * 60 + hhmm(t)?)
}

/// Parse a daily window `hh:mm-hh:mm` (UTC).
pub fn daily(s: &str) -> Result<Window, String> {
    let bad = || format!("{s:?} is not a daily window of the form hh:mm-hh:mm (UTC)");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (start, end) = (hhmm(a).ok_or_else(bad)?, hhmm(b).ok_or_else(bad)?);
    let len = (end + 24 * 60 - start) % (24 * 60);
    if len < 30 {
        return Err(format!("{s:?} must be at least 30 minutes long"));
    }
    Ok(Window {
        start,
        end,
        weekly: false,
    })
}

/// Parse a weekly window `ddd:hh:mm-ddd:hh:mm` (UTC; days mon..sun).
pub fn weekly(s: &str) -> Result<Window, String> {
    let bad = || {
        format!("{s:?} is not a weekly window of the form ddd:hh:mm-ddd:hh:mm (UTC, ddd one of mon..sun)")
    };
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (start, end) = (day_hhmm(a).ok_or_else(bad)?, day_hhmm(b).ok_or_else(bad)?);
    let len = (end + WEEK - start) % WEEK;
    if len < 30 {
        return Err(format!("{s:?} must be at least 30 minutes long"));
    }
    Ok(Window {
        start,
        end,
        weekly: true,
    })
}

/// The minutes of the week a window covers, as up to 7 (start, end) intervals.
fn intervals(w: &Window) -> Vec<(u32, u32)> {
    let (period, reps) = if w.weekly { (WEEK, 1) } else { (24 * 60, 7) };
    let len = (w.end + period - w.start) % period;
    (0..reps)
        .flat_map(|d| {
            let s = w.start + d * 24 * 60;
            let e = s + len;
            if e <= WEEK {
                vec![(s, e)]
            } else {
                vec![(s, WEEK), (0, e - WEEK)]
            }
        })
        .collect()
}

/// Whether a daily backup window and a weekly maintenance window overlap.
pub fn overlap(a: &Window, b: &Window) -> bool {
    let ia = intervals(a);
    let ib = intervals(b);
    ia.iter()
        .any(|(s1, e1)| ib.iter().any(|(s2, e2)| s1 < e2 && s2 < e1))
}

/// Validate an optional window field with `parse` ([`daily`] or [`weekly`]), falling back to
/// `default`; a malformed value is reported at its span and kept as written.
fn window_field(
    errs: &mut Errors,
    v: &Option<Spanned<String>>,
    path: &str,
    default: &str,
    parse: fn(&str) -> Result<Window, String>,
) -> (String, Option<Window>) {
    match v {
        Some(s) => match parse(s.get_ref()) {
            Ok(w) => (s.get_ref().clone(), Some(w)),
            Err(m) => {
                errs.push(s.span(), path, m);
                (s.get_ref().clone(), None)
            }
        },
        None => (default.to_string(), parse(default).ok()),
    }
}

/// One optional window setting: its spec key, its value and the default used without it.
pub struct WindowField<'a> {
    pub key: &'a str,
    pub value: &'a Option<Spanned<String>>,
    pub default: &'a str,
}

/// A section's daily backup window (called `noun`: "backup", "snapshot") and weekly
/// `maintenance` window, each validated and defaulted, and refused when they overlap (at the
/// maintenance window, else the daily one, else the section). Returns both as written.
pub fn backup_and_maintenance(
    errs: &mut Errors,
    section: &str,
    section_span: std::ops::Range<usize>,
    (noun, backup): (&str, WindowField<'_>),
    maintenance: WindowField<'_>,
) -> (String, String) {
    let path = |f: &WindowField<'_>| format!("{section}.{}", f.key);
    let (b, bw) = window_field(errs, backup.value, &path(&backup), backup.default, daily);
    let (m, mw) = window_field(
        errs,
        maintenance.value,
        &path(&maintenance),
        maintenance.default,
        weekly,
    );
    if let (Some(bw), Some(mw)) = (bw, mw) {
        if overlap(&bw, &mw) {
            let span = maintenance
                .value
                .as_ref()
                .or(backup.value.as_ref())
                .map(|s| s.span())
                .unwrap_or(section_span);
            errs.push(
                span,
                &path(&maintenance),
                format!("{m:?} overlaps the {noun} window {b:?}"),
            );
        }
    }
    (b, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_windows() {
        assert_eq!(
            daily("03:00-04:00").unwrap(),
            Window {
                start: 180,
                end: 240,
                weekly: false
            }
        );
        assert!(daily("3:00-04:00").is_err());
        assert!(daily("03:00-03:10")
            .unwrap_err()
            .contains("at least 30 minutes"));
        assert!(daily("25:00-26:00").is_err());
        assert_eq!(weekly("sun:04:00-sun:05:00").unwrap().start, 6 * 1440 + 240);
        assert!(weekly("sunday:04:00-sun:05:00").is_err());
        assert!(weekly("03:00-04:00").is_err());
    }

    #[test]
    fn overlap_between_daily_backup_and_weekly_maintenance() {
        let backup = daily("03:00-04:00").unwrap();
        assert!(
            !overlap(&backup, &weekly("sun:04:00-sun:05:00").unwrap()),
            "back to back is fine"
        );
        assert!(overlap(&backup, &weekly("tue:03:30-tue:04:30").unwrap()));
        // A daily window across midnight against a Monday-morning maintenance.
        assert!(overlap(
            &daily("23:30-00:30").unwrap(),
            &weekly("mon:00:00-mon:01:00").unwrap()
        ));
        // Maintenance wrapping from Sunday into Monday.
        assert!(overlap(
            &daily("00:00-01:00").unwrap(),
            &weekly("sun:23:30-mon:00:30").unwrap()
        ));
    }
}

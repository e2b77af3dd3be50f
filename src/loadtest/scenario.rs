//! The load-test scenarios and each virtual user's schedule (pure).
//!
//! A scenario is a list of stages, each moving the number of virtual users linearly from one
//! count to another over its duration (a constant stage has both counts equal). User `k`
//! (from 0) joins when the count first reaches `k + 1` and stays to the end: scenarios never
//! ramp down. Users present from the start spread their first request evenly over one think
//! time, so they do not all fire at once.
//!
//! Each user follows a fixed schedule, the open model: its next request is due one think time
//! after its previous one was *due*, whether or not that one was answered in time. Latency is
//! measured from the due time, so a slow or stalled server shows up as the queueing it causes
//! (no coordinated omission).

use std::time::Duration;

/// One stage: `from` users at its start, `to` at its end, linear in between.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    pub from: u32,
    pub to: u32,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A named list of stages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scenario {
    pub name: String,
    pub stages: Vec<Stage>,
}

/// The scenario names `--scenario` takes.
pub const NAMES: &[&str] = &["baseline", "peak", "stress", "spike"];

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Scenario {
    /// The platform's scenarios: baseline 100 users for 5 minutes, peak 500 for 15, stress
    /// 1,000 for 10; spike: 1 minute at 100, up to 1,000 within the next minute, 3 minutes at
    /// 1,000.
    pub fn named(name: &str) -> Option<Scenario> {
        let hold = |m, n| Stage {
            duration: minutes(m),
            from: n,
            to: n,
        };
        let stages = match name {
            "baseline" => vec![hold(5, 100)],
            "peak" => vec![hold(15, 500)],
            "stress" => vec![hold(10, 1000)],
            "spike" => vec![
                hold(1, 100),
                Stage {
                    duration: minutes(1),
                    from: 100,
                    to: 1000,
                },
                hold(3, 1000),
            ],
            _ => return None,
        };
        Some(Scenario {
            name: name.into(),
            stages,
        })
    }

    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The most users at once.
    pub fn peak_users(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .max()
            .unwrap_or(0)
    }

    /// The scenario scaled down (or up) for a smoke run: `duration` stretches every stage in
    /// proportion so that the whole lasts that long; `users` scales every stage's counts in
    /// proportion so that the peak is that many (each at least 1).
    pub fn scaled(&self, duration: Option<Duration>, users: Option<u32>) -> Scenario {
        let total = self.duration().as_secs_f64();
        let peak = self.peak_users().max(1) as f64;
        let stages = self
            .stages
            .iter()
            .map(|s| {
                let d = match duration {
                    Some(d) if total > 0.0 => s.duration.mul_f64(d.as_secs_f64() / total),
                    _ => s.duration,
                };
                let n = |v: u32| match users {
                    Some(u) => ((v as f64 * u as f64 / peak).round() as u32).max(1),
                    None => v,
                };
                Stage {
                    duration: d,
                    from: n(s.from),
                    to: n(s.to),
                }
            })
            .collect();
        Scenario {
            name: self.name.clone(),
            stages,
        }
    }

    /// How many users are present at `t` from the start (fractional during a ramp).
    pub fn users_at(&self, t: Duration) -> f64 {
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let end = start + s.duration;
            if t < end {
                let f = (t - start).as_secs_f64() / s.duration.as_secs_f64().max(f64::MIN_POSITIVE);
                return s.from as f64 + (s.to as f64 - s.from as f64) * f;
            }
            start = end;
        }
        self.stages.last().map(|s| s.to as f64).unwrap_or(0.0)
    }

    /// When user `k` (from 0) joins: the first time the count reaches `k + 1`. None: never.
    pub fn joins_at(&self, k: u32) -> Option<Duration> {
        let want = (k + 1) as f64;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let (a, b) = (s.from as f64, s.to as f64);
            // At the start, or a step up between stages: in at the stage's start.
            if a >= want {
                return Some(start);
            }
            if b >= want {
                let f = (want - a) / (b - a);
                return Some(start + s.duration.mul_f64(f));
            }
            start += s.duration;
        }
        None
    }

    /// Every user's schedule under `think` time: when its first request is due, from the start.
    pub fn schedules(&self, think: Duration) -> Vec<UserPlan> {
        let initial = self.stages.first().map(|s| s.from).unwrap_or(0).max(1);
        (0..self.peak_users())
            .filter_map(|k| {
                let joins = self.joins_at(k)?;
                let first_due = if joins.is_zero() {
                    think.mul_f64(k as f64 / initial as f64)
                } else {
                    joins
                };
                Some(UserPlan { user: k, first_due })
            })
            .collect()
    }
}

/// One virtual user's schedule: its first request is due at `first_due` after the start, each
/// next one a think time after the previous one was due, up to the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPlan {
    pub user: u32,
    pub first_due: Duration,
}

impl UserPlan {
    /// When request `n` (from 0) is due, from the start.
    pub fn due(&self, n: u32, think: Duration) -> Duration {
        self.first_due + think * n
    }

    /// How many requests fall due before `end`.
    pub fn requests(&self, think: Duration, end: Duration) -> u64 {
        if self.first_due >= end || think.is_zero() {
            return 0;
        }
        let span = (end - self.first_due).as_nanos();
        span.div_ceil(think.as_nanos()) as u64
    }
}

/// How many requests a whole run is due to send.
pub fn expected_requests(plans: &[UserPlan], think: Duration, end: Duration) -> u64 {
    plans.iter().map(|p| p.requests(think, end)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_four_scenarios_have_the_platforms_users_and_durations() {
        let got: Vec<(String, u32, u64)> = NAMES
            .iter()
            .map(|n| {
                let s = Scenario::named(n).unwrap();
                (s.name.clone(), s.peak_users(), s.duration().as_secs())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("baseline".into(), 100, 300),
                ("peak".into(), 500, 900),
                ("stress".into(), 1000, 600),
                ("spike".into(), 1000, 300),
            ]
        );
        assert!(Scenario::named("soak").is_none());
        let spike = Scenario::named("spike").unwrap();
        // From 100 to 1,000 within one minute.
        assert_eq!(spike.users_at(Duration::from_secs(59)), 100.0);
        assert_eq!(spike.users_at(Duration::from_secs(90)), 550.0);
        assert_eq!(spike.users_at(Duration::from_secs(120)), 1000.0);
    }

    #[test]
    fn a_smoke_run_scales_stages_in_proportion() {
        let spike = Scenario::named("spike")
            .unwrap()
            .scaled(Some(Duration::from_secs(30)), Some(10));
        let got: Vec<(u64, u32, u32)> = spike
            .stages
            .iter()
            .map(|s| (s.duration.as_millis() as u64, s.from, s.to))
            .collect();
        assert_eq!(got, [(6000, 1, 1), (6000, 1, 10), (18000, 10, 10)]);
        assert_eq!(spike.duration(), Duration::from_secs(30));
        // Neither flag: unchanged.
        let b = Scenario::named("baseline").unwrap();
        assert_eq!(b.scaled(None, None), b);
        // Users only: the duration stays.
        let b3 = b.scaled(None, Some(3));
        assert_eq!((b3.peak_users(), b3.duration().as_secs()), (3, 300));
    }

    #[test]
    fn users_present_at_the_start_spread_their_first_request_over_one_think_time() {
        let s = Scenario::named("baseline").unwrap().scaled(None, Some(4));
        let firsts: Vec<u128> = s
            .schedules(S)
            .iter()
            .map(|p| p.first_due.as_millis())
            .collect();
        assert_eq!(firsts, [0, 250, 500, 750]);
    }

    /// A scenario of `(seconds, from, to)` stages.
    fn stages(stages: &[(u32, u32, u32)]) -> Scenario {
        let stage = |&(secs, from, to): &(u32, u32, u32)| Stage {
            duration: secs * S,
            from,
            to,
        };
        Scenario {
            name: "t".into(),
            stages: stages.iter().map(stage).collect(),
        }
    }

    #[test]
    fn ramped_users_join_when_the_count_reaches_them() {
        // 1 user for 10 s, then 1 → 5 over 40 s: users 1..4 join every 10 s of the ramp.
        let s = stages(&[(10, 1, 1), (40, 1, 5)]);
        let joins: Vec<u64> = s
            .schedules(S)
            .iter()
            .map(|p| p.first_due.as_secs())
            .collect();
        assert_eq!(joins, [0, 20, 30, 40, 50]);
        // A step up between stages lets users in at once.
        let step = stages(&[(10, 1, 1), (10, 3, 3)]);
        assert_eq!(step.joins_at(2), Some(10 * S));
        assert_eq!(step.joins_at(3), None);
    }

    #[test]
    fn the_next_request_is_due_a_think_time_after_the_previous_was_due() {
        let p = UserPlan {
            user: 0,
            first_due: Duration::from_millis(250),
        };
        assert_eq!(p.due(0, S), Duration::from_millis(250));
        assert_eq!(p.due(3, S), Duration::from_millis(3250));
        // Due at 0.25, 1.25, 2.25, 3.25, 4.25 before a 5 s end.
        assert_eq!(p.requests(S, 5 * S), 5);
        assert_eq!(p.requests(S, Duration::from_millis(250)), 0);
        let plans = Scenario::named("baseline")
            .unwrap()
            .scaled(Some(5 * S), Some(4))
            .schedules(S);
        assert_eq!(expected_requests(&plans, S, 5 * S), 20);
    }
}

//! The executor with a fake reconciler: real concurrency within the bound, dependency order,
//! and a failure that stops new work while keeping what succeeded.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::execute;
use crate::aws::{AwsError, AwsOpts, Clients};
use crate::model::Props;
use crate::model::{Attrs, Observed, Resource, ResourceId, Value};
use crate::plan::{Action, Change, KindSchema, Plan};
use crate::progress::{Progress, Task};
use crate::reconcile::kit::PropsError;
use crate::reconcile::{Ctx, Kind, Registry, Service, Update};
use crate::spec::Spec;

static SCHEMA: KindSchema = KindSchema {
    kind: "fake",
    force_new: &[],
    new_attrs_on_update: false,
    create_before_destroy: false,
};

/// The one service of these tests: a single kind, `fake`.
struct FakeService(&'static [&'static dyn Kind]);

#[async_trait]
impl Service for FakeService {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn kinds(&self) -> &'static [&'static dyn Kind] {
        self.0
    }
    fn expand(&self, _: &Spec) -> Vec<Resource> {
        vec![]
    }
    async fn observe(&self, _: &Ctx, _: &[Resource]) -> Result<Vec<Observed>, AwsError> {
        Ok(vec![])
    }
    fn iam(&self) -> &'static [crate::reconcile::iam_policy::Grant] {
        &[]
    }
}

/// A fake that lives as long as the executor's tasks may hold it.
fn leak(f: Fake) -> &'static Fake {
    Box::leak(Box::new(f))
}

/// A registry of the fake alone.
fn registry(fake: &'static Fake) -> Registry {
    let kinds: &'static [&'static dyn Kind] = Box::leak(vec![fake as &dyn Kind].into_boxed_slice());
    let services: &'static [&'static dyn Service] =
        Box::leak(vec![Box::leak(Box::new(FakeService(kinds))) as &dyn Service].into_boxed_slice());
    Registry::of(services)
}

#[derive(Default)]
struct Fake {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    log: Mutex<Vec<String>>,
    fail: Option<&'static str>,
    /// The change that, its work done, waits for its resource to settle (two polls pending).
    waits: Option<&'static str>,
}

#[async_trait]
impl Kind for Fake {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }
    fn round_trip(&self, p: &Props) -> Result<Props, PropsError> {
        Ok(p.clone())
    }
    async fn settle(&self, _: &Ctx, o: &Observed, _: &Task) -> Result<Attrs, AwsError> {
        self.log.lock().unwrap().push(format!("settle {}", o.id));
        let mut a = o.attrs.clone();
        a.insert("endpoint".into(), format!("phys-{}.ready", o.id.name));
        Ok(a)
    }
    async fn delete(&self, _: &Ctx, o: &Observed, _: &Task) -> Result<(), AwsError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("delete {}", o.physical_id));
        Ok(())
    }
    async fn update(&self, _: &Ctx, _: Update<'_>, _: &Task) -> Result<Attrs, AwsError> {
        panic!("no updates here")
    }
    async fn create(&self, _: &Ctx, r: &Resource, task: &Task) -> Result<Attrs, AwsError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push(format!("start {}", r.id));
        // Simulated AWS work, long enough for the others to overlap.
        tokio::time::sleep(Duration::from_millis(40)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(format!("end {}", r.id));
        if Some(r.id.name.as_str()) == self.waits {
            let mut states = ["creating", "creating", "available"].into_iter();
            let poll = crate::reconcile::kit::Poll {
                op: "fake:Describe",
                what: "fake",
                pending: &["creating"],
                target: &["available"],
                timeout: Duration::from_secs(60),
            };
            crate::reconcile::kit::until(poll, task, || {
                let state = states.next().expect("three polls").to_string();
                async move { Ok((state, ())) }
            })
            .await?;
            self.log.lock().unwrap().push(format!("settled {}", r.id));
        }
        if Some(r.id.name.as_str()) == self.fail {
            return Err(AwsError::new("fake:Create", "LimitExceeded", "no more"));
        }
        let mut a = Attrs::new();
        a.insert("id".into(), format!("phys-{}", r.id.name));
        // The reference was resolved before the call.
        if let Some(v) = r.props.get("parent") {
            assert!(
                matches!(v, Value::Str(s) if s.starts_with("phys-")),
                "{v:?}"
            );
        }
        Ok(a)
    }
}

fn create(name: &str, parent: Option<&str>) -> Change {
    let mut r = Resource::new(ResourceId::new("fake", name), name);
    if let Some(p) = parent {
        r = r.prop(
            "parent",
            Value::reference(&ResourceId::new("fake", p), "id"),
        );
    }
    Change {
        id: r.id.clone(),
        action: Action::Create,
        reason: None,
        name: name.into(),
        fields: vec![],
        desired: Some(r),
        prior: None,
        create_first: false,
    }
}

fn plan(changes: Vec<Change>) -> Plan {
    crate::testutil::plan_of("p", "e", changes, vec![])
}

async fn ctx() -> Arc<Ctx> {
    let opts = AwsOpts {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    Arc::new(Ctx {
        project: "p".into(),
        env: "e".into(),
        region: "us-east-1".into(),
        identity: crate::aws::known_identity(crate::aws::Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/t".into(),
        }),
        clients: Clients::new(&opts, "us-east-1").await,
        tag_index: Default::default(),
        zone: None,
        no_wait: false,
        deploy_followed: false,
        nonce: 1,
        round: Default::default(),
    })
}

/// Execute `p` with `fake` alone, ten at a time; it must succeed. The report and fake's log.
async fn run_all(p: &Plan, fake: &'static Fake) -> (super::Report, Vec<String>) {
    run_all_over(p, fake, &[]).await
}

/// [`run_all`] with `observed` as the live state the plan was made against.
async fn run_all_over(
    p: &Plan,
    fake: &'static Fake,
    observed: &[Observed],
) -> (super::Report, Vec<String>) {
    let regs = registry(fake);
    let report = execute(
        p,
        regs,
        ctx().await,
        observed,
        10,
        &Progress::new(true, false),
    )
    .await;
    assert!(report.ok(), "{report:?}");
    let log = fake.log.lock().unwrap().clone();
    (report, log)
}

#[tokio::test]
async fn independent_changes_run_concurrently_within_the_bound() {
    let fake = leak(Fake::default());
    let regs = registry(fake);
    let p = plan((0..6).map(|i| create(&format!("r{i}"), None)).collect());
    let report = execute(&p, regs, ctx().await, &[], 3, &Progress::new(true, false)).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.done.len(), 6);
    assert_eq!(
        fake.max_in_flight.load(Ordering::SeqCst),
        3,
        "three at once, never more"
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_waiting_for_aws_to_settle_does_not_hold_its_slot() {
    let fake = leak(Fake {
        waits: Some("slow"),
        ..Default::default()
    });
    let regs = registry(fake);
    let p = plan(vec![
        create("slow", None),
        create("fast1", None),
        create("fast2", None),
    ]);
    let report = execute(&p, regs, ctx().await, &[], 1, &Progress::new(true, false)).await;
    assert!(report.ok(), "{report:?}");
    let log = fake.log.lock().unwrap().clone();
    // One change at work at a time; the others run during slow's 3 s of waiting, not after it.
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(
        log,
        vec![
            "start fake/slow",
            "end fake/slow",
            "start fake/fast1",
            "end fake/fast1",
            "start fake/fast2",
            "end fake/fast2",
            "settled fake/slow",
        ]
    );
}

#[tokio::test]
async fn dependants_start_after_their_dependencies_finish() {
    let fake = leak(Fake::default());
    let p = plan(vec![
        create("child", Some("parent")),
        create("parent", None),
    ]);
    let (_, log) = run_all(&p, fake).await;
    assert_eq!(
        log,
        vec![
            "start fake/parent",
            "end fake/parent",
            "start fake/child",
            "end fake/child"
        ]
    );
}

#[tokio::test]
async fn a_failure_stops_new_work_and_keeps_what_succeeded() {
    let fake = leak(Fake {
        fail: Some("a"),
        ..Default::default()
    });
    let regs = registry(fake);
    // b runs beside a; c waits for a and never starts.
    let p = plan(vec![
        create("a", None),
        create("b", None),
        create("c", Some("a")),
    ]);
    let report = execute(&p, regs, ctx().await, &[], 10, &Progress::new(true, false)).await;
    assert!(!report.ok());
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].id, ResourceId::new("fake", "a"));
    assert!(
        matches!(&report.failures[0].error, super::EngineError::Aws(e) if e.code == "LimitExceeded"),
        "{:?}",
        report.failures[0].error
    );
    assert_eq!(
        report.done,
        vec![(ResourceId::new("fake", "b"), Action::Create)]
    );
    assert_eq!(report.not_started, 1);
    let started: BTreeSet<String> = fake
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("start"))
        .cloned()
        .collect();
    assert!(!started.contains("start fake/c"));
}

#[tokio::test]
async fn a_referenced_live_resource_that_is_not_ready_is_settled_first() {
    let fake = leak(Fake::default());
    let regs = registry(fake);
    // fake/db exists (unchanged by the plan) but has no endpoint yet (still creating).
    let db = Observed::new(ResourceId::new("fake", "db"), "phys-db");
    let mut r = Resource::new(ResourceId::new("fake", "app"), "app");
    r = r.prop("parent", Value::reference(&db.id, "endpoint"));
    let c = Change {
        id: r.id.clone(),
        action: Action::Create,
        reason: None,
        name: "app".into(),
        fields: vec![],
        desired: Some(r),
        prior: None,
        create_first: false,
    };
    let report = execute(
        &plan(vec![c]),
        regs,
        ctx().await,
        &[db],
        10,
        &Progress::new(true, false),
    )
    .await;
    assert!(report.ok(), "{report:?}");
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec!["settle fake/db", "start fake/app", "end fake/app"]
    );
}

#[tokio::test]
async fn a_replace_that_creates_first_deletes_the_old_one_last_and_users_get_the_new_one() {
    let fake = leak(Fake::default());
    let mut cert = create("cert", None);
    cert.action = Action::Replace;
    cert.create_first = true;
    let mut old = Observed::new(cert.id.clone(), "old-cert");
    old.attrs.insert("id".into(), "old-cert".into());
    cert.prior = Some(old.clone());
    // Users of the certificate: their `parent` must resolve to the new one (Fake checks
    // `phys-…`; the old one's id, live before the apply, is `old-cert`).
    let p = plan(vec![
        cert,
        create("listener", Some("cert")),
        create("later", Some("listener")),
    ]);
    let (report, log) = run_all_over(&p, fake, &[old]).await;
    assert_eq!(
        log,
        vec![
            "start fake/cert",
            "end fake/cert",
            "start fake/listener",
            "end fake/listener",
            "start fake/later",
            "end fake/later",
            "delete old-cert",
        ]
    );
    assert_eq!(
        report.done,
        vec![
            (ResourceId::new("fake", "cert"), Action::Replace),
            (ResourceId::new("fake", "listener"), Action::Create),
            (ResourceId::new("fake", "later"), Action::Create),
        ]
    );
}

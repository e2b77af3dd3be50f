//! The executor's bound on changes at work (`--parallelism`), as slots: a change holds one while
//! it calls AWS and gives it back while it only waits for AWS to settle (a NAT gateway's
//! minutes, a DocumentDB instance's ten), so a slow wait never keeps a ready change from
//! starting. The engine takes a slot before it starts a change and runs the change inside
//! [`Slot::run`]; the kit's waits sleep inside [`idle`]. Both sides share this module, so
//! neither depends on the other.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of one run.
#[derive(Clone)]
pub struct Slots(Arc<Semaphore>);

/// One change's claim on a slot; while it waits, the claim holds no slot.
pub struct Slot {
    slots: Arc<Semaphore>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

tokio::task_local! {
    static HELD: Arc<Slot>;
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Slots(Arc::new(Semaphore::new(n.max(1))))
    }

    /// A slot if one is free now.
    pub fn try_take(&self) -> Option<Slot> {
        self.0
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|p| self.slot(p))
    }

    /// A slot, once one is free (first come, first served with changes coming back from a
    /// wait).
    pub async fn take(&self) -> Slot {
        let p = self
            .0
            .clone()
            .acquire_owned()
            .await
            .expect("slots are never closed");
        self.slot(p)
    }

    /// Slots free now.
    #[cfg(test)]
    pub fn free(&self) -> usize {
        self.0.available_permits()
    }

    fn slot(&self, p: OwnedSemaphorePermit) -> Slot {
        Slot {
            slots: self.0.clone(),
            permit: Mutex::new(Some(p)),
        }
    }
}

impl Slot {
    /// Run `fut` (a change) holding this slot; the slot is free again when it ends.
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        HELD.scope(Arc::new(self), fut).await
    }
}

/// Await `fut` (a pause between polls, an SDK waiter) without holding the current change's
/// slot, then take a slot again before going on. Outside a change (observe, a test), or inside
/// another `idle`, it just awaits `fut`. Dropped before `fut` ends (the other branch of a
/// `select!` won), it takes a slot back if one is free at once; else the change goes on
/// without one. Wrap the whole `select!` in `idle` to keep the bound exact.
pub async fn idle<F: Future>(fut: F) -> F::Output {
    let held = HELD.try_with(Arc::clone).ok();
    let released = held
        .as_ref()
        .and_then(|h| h.permit.lock().expect("slot lock").take());
    let (Some(permit), Some(holder)) = (released, held) else {
        return fut.await;
    };
    drop(permit);
    let mut back = Back(Some(holder));
    let out = fut.await;
    let holder = back.0.take().expect("taken once");
    let p = holder
        .slots
        .clone()
        .acquire_owned()
        .await
        .expect("slots are never closed");
    *holder.permit.lock().expect("slot lock") = Some(p);
    out
}

/// Takes a free slot back for a change whose [`idle`] was dropped mid-wait.
struct Back(Option<Arc<Slot>>);

impl Drop for Back {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            if let Ok(p) = h.slots.clone().try_acquire_owned() {
                *h.permit.lock().expect("slot lock") = Some(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_waiting_change_gives_its_slot_back_and_takes_one_again() {
        let slots = Slots::new(1);
        let slot = slots.try_take().expect("one free");
        assert!(slots.try_take().is_none());
        let s2 = slots.clone();
        slot.run(async move {
            assert_eq!(s2.free(), 0, "held while working");
            idle(async {
                assert_eq!(s2.free(), 1, "free while waiting");
                // Nested: still free, and not taken twice on the way out.
                idle(tokio::time::sleep(Duration::from_secs(1))).await;
                assert_eq!(s2.free(), 1);
            })
            .await;
            assert_eq!(s2.free(), 0, "held again after the wait");
        })
        .await;
        assert_eq!(slots.free(), 1, "free when the change ends");
        // Outside a change: nothing to give back.
        idle(async {}).await;
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn coming_back_from_a_wait_queues_for_a_slot() {
        let slots = Slots::new(1);
        let a = slots.try_take().unwrap();
        let s = slots.clone();
        let waiter = tokio::spawn(a.run(async move {
            idle(tokio::time::sleep(Duration::from_secs(5))).await;
            s.free()
        }));
        tokio::task::yield_now().await;
        // Another change takes the freed slot and keeps it past the wait's end.
        let b = slots.try_take().expect("freed by the wait");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!waiter.is_finished(), "the waiter needs a slot to go on");
        drop(b);
        assert_eq!(waiter.await.unwrap(), 0);
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_dropped_half_way_takes_a_free_slot_back() {
        let slots = Slots::new(1);
        let s = slots.clone();
        slots
            .try_take()
            .unwrap()
            .run(async move {
                tokio::select! {
                    _ = idle(tokio::time::sleep(Duration::from_secs(60))) => unreachable!(),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                assert_eq!(s.free(), 0, "held again after the select");
            })
            .await;
        assert_eq!(slots.free(), 1);
    }
}

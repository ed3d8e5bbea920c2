//! Cancellation: the engine's `stop --now` reaching a running stage.
//!
//! Input: a [`CancelTrigger`] the engine keeps. Output: [`Cancel`] handles a
//! runner awaits. Invariant: once fired, every handle (also those cloned
//! later) reports cancelled; a handle whose trigger was dropped unfired never
//! does.

use tokio::sync::watch;

/// A cheap, clonable view of one cancellation.
#[derive(Clone, Debug)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
}

/// The side the engine fires.
#[derive(Debug)]
pub struct CancelTrigger {
    tx: watch::Sender<bool>,
}

impl Cancel {
    /// A trigger and its first handle.
    pub fn new() -> (CancelTrigger, Cancel) {
        let (tx, rx) = watch::channel(false);
        (CancelTrigger { tx }, Cancel { rx })
    }

    /// A handle that is never cancelled.
    pub fn never() -> Cancel {
        Cancel::new().1
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once cancelled; pends forever if the trigger is gone unfired.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        loop {
            if *rx.borrow_and_update() {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl CancelTrigger {
    /// Cancels every handle. Idempotent.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Another handle on this trigger.
    pub fn handle(&self) -> Cancel {
        Cancel {
            rx: self.tx.subscribe(),
        }
    }
}

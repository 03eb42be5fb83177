//! The drain signal: set once when shutdown begins, watched by every wait for a workflow or an
//! update, so that a drain answers waiting requests at once ("still running", as when their
//! wait runs out) instead of leaving them to be cut when the grace period ends.

use std::sync::Arc;

use tokio::sync::watch;

/// Whether shutdown has begun. Cheap to clone; every clone sees the same signal.
#[derive(Clone, Debug)]
pub(crate) struct Drain {
    started: Arc<watch::Sender<bool>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain that has not begun.
    pub(crate) fn new() -> Self {
        Self {
            started: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Begins the drain: every wait in progress ends, and later ones do not wait.
    pub(crate) fn start(&self) {
        self.started.send_replace(true);
    }

    /// Whether the drain has begun.
    pub(crate) fn is_draining(&self) -> bool {
        *self.started.borrow()
    }

    /// Resolves when the drain begins (at once if it has).
    pub(crate) async fn started(&self) {
        let mut started = self.started.subscribe();
        // The sender lives as long as `self`, so this ends only when the drain begins.
        let _ = started.wait_for(|started| *started).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_drain_begin() {
        let drain = Drain::new();
        let waiting = tokio::spawn({
            let drain = drain.clone();
            async move { drain.started().await }
        });
        assert!(!drain.is_draining());

        drain.clone().start();

        assert!(drain.is_draining());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the wait ends when the drain begins")
            .unwrap();
        // Begun once, begun for good: later waits end at once.
        tokio::time::timeout(Duration::from_millis(100), drain.started())
            .await
            .expect("a wait after the drain began ends at once");
    }
}

//! Bounds on open event streams: in total and per client (`api.events.*`). A stream holds a
//! [`StreamSlot`] for as long as it is open; dropping it, whatever ends the stream, frees it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use flowgate_config::EventStreamSettings;

use crate::{error::ApiError, metrics::ApiMetrics};

/// Counts of open streams. Cheap to clone.
#[derive(Clone)]
pub(crate) struct StreamLimits {
    inner: Arc<Inner>,
}

struct Inner {
    max_total: usize,
    max_per_client: usize,
    open: Mutex<Open>,
    metrics: ApiMetrics,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<String, usize>,
}

/// One open stream, counted until dropped.
pub(crate) struct StreamSlot {
    limits: StreamLimits,
    client: String,
}

impl StreamLimits {
    /// Limits as `settings` says, counted in `metrics`.
    pub(crate) fn new(settings: &EventStreamSettings, metrics: ApiMetrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_total: settings.max_streams,
                max_per_client: settings.max_streams_per_client,
                open: Mutex::new(Open::default()),
                metrics,
            }),
        }
    }

    /// A slot for one more stream of `client`, or 429 when it holds its share or all are taken.
    pub(crate) fn open(&self, client: &str) -> Result<StreamSlot, ApiError> {
        let mut open = self.inner.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.inner.max_total {
            return Err(ApiError::TooManyStreams(format!(
                "{} event streams are open, as many as this replica serves; retry shortly",
                self.inner.max_total
            )));
        }
        let mine = open.by_client.entry(client.to_owned()).or_default();
        if *mine >= self.inner.max_per_client {
            return Err(ApiError::TooManyStreams(format!(
                "this client has {} event streams open, as many as one client may; close one",
                self.inner.max_per_client
            )));
        }
        *mine += 1;
        open.total += 1;
        self.inner.metrics.stream_opened();
        Ok(StreamSlot {
            limits: self.clone(),
            client: client.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let inner = &self.limits.inner;
        let mut open = inner.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                open.by_client.remove(&self.client);
            }
        }
        inner.metrics.stream_closed();
    }
}

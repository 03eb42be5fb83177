//! A supervised connection to Temporal: connect with back-off, then check reachability on a
//! fixed period and publish it, so callers fail fast while Temporal is away.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use flowgate_config::TemporalSettings;
use futures::FutureExt;
use rand::Rng;
use temporalio_client::{
    Client, grpc::WorkflowService, request_extensions::NoRetryOnMatching, tonic,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
use tokio::{sync::watch, task::AbortHandle, time::MissedTickBehavior};

use crate::{Direct, Resolved};

/// Where the link stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet; the last attempt's error, if one failed.
    Connecting {
        /// Why the last attempt failed.
        last_error: Option<String>,
    },
    /// Connected, and the last reachability check was answered in time.
    Up,
    /// Connected once, but the last reachability check failed.
    Down {
        /// Why the check failed.
        error: String,
    },
}

/// Temporal cannot be used right now. Answered as 503 by the API.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Temporal is unavailable: {reason}")]
pub struct Unavailable {
    /// What went wrong (may name Temporal's address and the transport error): for logs only,
    /// never for answers to clients.
    pub reason: String,
}

impl Unavailable {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// A shared, supervised connection to Temporal. Cheap to clone; the background task stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct TemporalLink {
    inner: Arc<Inner>,
}

struct Inner {
    state: watch::Sender<LinkState>,
    client: Arc<OnceLock<Connected>>,
    summary: crate::resolve::Summary,
    task: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TemporalLink {
    /// Starts connecting in the background. Must be called inside a tokio runtime.
    pub fn start(resolved: Resolved, settings: &TemporalSettings) -> Self {
        let (state, _) = watch::channel(LinkState::Connecting { last_error: None });
        let client = Arc::new(OnceLock::new());
        let supervisor = Supervisor {
            resolved: resolved.clone(),
            settings: settings.clone(),
            state: state.clone(),
            client: client.clone(),
        };
        let task = tokio::spawn(supervisor.run()).abort_handle();
        Self {
            inner: Arc::new(Inner {
                state,
                client,
                summary: resolved.summary,
                task,
            }),
        }
    }

    /// Current state.
    pub fn state(&self) -> LinkState {
        self.inner.state.borrow().clone()
    }

    /// Whether Temporal answered the last check.
    pub fn is_up(&self) -> bool {
        matches!(*self.inner.state.borrow(), LinkState::Up)
    }

    /// Where and how the link connects (no secrets).
    pub fn summary(&self) -> &crate::resolve::Summary {
        &self.inner.summary
    }

    /// A subscription to state changes.
    pub fn subscribe(&self) -> watch::Receiver<LinkState> {
        self.inner.state.subscribe()
    }

    /// The client, if Temporal is reachable now.
    pub fn client(&self) -> Result<Client, Unavailable> {
        self.connected_now().map(|c| c.client.clone())
    }

    /// The lean path for a request's calls ([`Direct`]), if Temporal is reachable now.
    pub fn direct(&self) -> Result<Direct, Unavailable> {
        self.connected_now().map(|c| c.direct.clone())
    }

    fn connected_now(&self) -> Result<&Connected, Unavailable> {
        match &*self.inner.state.borrow() {
            LinkState::Up => {}
            LinkState::Connecting { last_error } => {
                return Err(Unavailable::new(match last_error {
                    Some(e) => format!("not connected yet: {e}"),
                    None => "not connected yet".to_owned(),
                }));
            }
            LinkState::Down { error } => return Err(Unavailable::new(error.clone())),
        }
        self.inner
            .client
            .get()
            .ok_or_else(|| Unavailable::new("not connected yet"))
    }

    /// Waits for the first successful connection and returns the client.
    pub async fn connected(&self) -> Client {
        let mut rx = self.subscribe();
        loop {
            if let Some(connected) = self.inner.client.get() {
                return connected.client.clone();
            }
            if rx.changed().await.is_err() {
                // The supervisor never stops while a link exists; park instead of spinning.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs `call`, bounded by `timeout` and cut short as soon as a reachability check fails,
    /// so no caller waits for the SDK's own, much longer, retries.
    pub fn bounded<F: Future>(
        &self,
        timeout: Duration,
        call: F,
    ) -> impl Future<Output = Result<F::Output, Unavailable>> {
        tokio::time::timeout(timeout, self.unless_down(call)).map(move |answer| {
            answer.unwrap_or_else(|_| {
                Err(Unavailable::new(format!(
                    "no answer within {}",
                    humanize(timeout)
                )))
            })
        })
    }

    /// Runs `call` until it finishes or a reachability check fails, whichever comes first.
    /// For long polls that the caller bounds itself.
    ///
    /// `call` is held in place, not moved into a wrapping `async fn` (which would keep a second
    /// copy of it: a Temporal call's future is several KiB).
    pub fn unless_down<F: Future>(
        &self,
        call: F,
    ) -> impl Future<Output = Result<F::Output, Unavailable>> {
        let mut rx = self.subscribe();
        UnlessDown {
            call,
            down: async move {
                let _ = rx.wait_for(|s| *s != LinkState::Up).await;
                Unavailable::new(match self.state() {
                    LinkState::Down { error } => error,
                    _ => "connection lost".to_owned(),
                })
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// `call`'s output, or `down`'s error once it is ready; `call` is polled first.
    struct UnlessDown<F, D> {
        #[pin]
        call: F,
        #[pin]
        down: D,
    }
}

impl<F: Future, D: Future<Output = Unavailable>> Future for UnlessDown<F, D> {
    type Output = Result<F::Output, Unavailable>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.call.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        this.down.poll(cx).map(Err)
    }
}

/// The connection once made: the SDK client, and the lean path on its channel.
struct Connected {
    client: Client,
    direct: Direct,
}

struct Supervisor {
    resolved: Resolved,
    settings: TemporalSettings,
    state: watch::Sender<LinkState>,
    client: Arc<OnceLock<Connected>>,
}

impl Supervisor {
    async fn run(self) {
        let client = self.connect().await;
        let _ = self.client.set(Connected {
            direct: Direct::new(&client),
            client: client.clone(),
        });
        self.state.send_replace(LinkState::Up);
        tracing::info!(address = %self.resolved.summary.address, namespace = %self.resolved.summary.namespace, "connected to Temporal");
        self.watch_health(client).await;
    }

    async fn connect(&self) -> Client {
        let s = &self.settings;
        let mut backoff = s.reconnect_min_backoff;
        loop {
            let attempt = Client::connect(
                self.resolved.connection.clone(),
                self.resolved.client.clone(),
            );
            let error = match tokio::time::timeout(s.connect_timeout, attempt).await {
                Ok(Ok(client)) => return client,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {}", humanize(s.connect_timeout)),
            };
            let delay = jitter(backoff);
            tracing::warn!(address = %self.resolved.summary.address, %error, retry_in_ms = delay.as_millis() as u64, "cannot connect to Temporal");
            self.state.send_replace(LinkState::Connecting {
                last_error: Some(error),
            });
            tokio::time::sleep(delay).await;
            backoff = (backoff * 2).min(s.reconnect_max_backoff);
        }
    }

    async fn watch_health(&self, client: Client) {
        let s = &self.settings;
        let mut ticker = tokio::time::interval(s.health_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failures: u32 = 0;
        loop {
            ticker.tick().await;
            let error =
                match tokio::time::timeout(s.health_timeout, ping(&client, s.health_timeout)).await
                {
                    Ok(Ok(())) => None,
                    Ok(Err(status)) => Some(format!("{:?}: {}", status.code(), status.message())),
                    Err(_) => Some(format!("no answer within {}", humanize(s.health_timeout))),
                };
            // Down only after consecutive failures: one slow answer must not end every wait.
            let next = match error {
                None => {
                    failures = 0;
                    LinkState::Up
                }
                Some(error) => {
                    failures = failures.saturating_add(1);
                    if failures < s.health_failure_threshold.max(1) {
                        tracing::debug!(%error, failures, "a Temporal reachability check failed");
                        continue;
                    }
                    LinkState::Down { error }
                }
            };
            self.state.send_if_modified(|current| {
                if *current == next {
                    return false;
                }
                match &next {
                    LinkState::Up => tracing::info!("Temporal is reachable again"),
                    LinkState::Down { error } => tracing::warn!(%error, "Temporal is unreachable"),
                    LinkState::Connecting { .. } => {}
                }
                *current = next.clone();
                true
            });
        }
    }
}

async fn ping(client: &Client, timeout: Duration) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(GetSystemInfoRequest::default());
    request.set_timeout(timeout);
    // A health check reports what it sees; the SDK's retries would only hide an outage.
    request.extensions_mut().insert(NoRetryOnMatching {
        predicate: |_| true,
    });
    WorkflowService::get_system_info(&mut client.clone(), request)
        .await
        .map(|_| ())
}

/// Up to 20 % random spread, so many processes do not reconnect in lock-step.
fn jitter(base: Duration) -> Duration {
    base.mul_f64(rand::rng().random_range(0.8..=1.2))
}

fn humanize(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

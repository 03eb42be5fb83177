//! The lean path for the calls a request makes: Temporal's generated `WorkflowService` client
//! on the SDK connection's channel, without the SDK client's layers above it.
//!
//! The SDK's `Client` wraps every call in its retry machinery (which copies the request and its
//! metadata for each attempt), type-erased call shims, and its client interceptors; that costs
//! an API request more than the HTTP server does. [`Direct`] keeps what a call needs from the
//! connection below those layers — the channel with its TLS, API key and headers (the SDK's
//! connection interceptor still adds them) — and adds the namespace header and the bounded,
//! idempotent retries itself.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rand::Rng as _;
use temporalio_client::{
    Client, NamespacedClient as _,
    grpc::WorkflowService,
    tonic::{self, Code, metadata::AsciiMetadataValue},
};

/// The header Temporal's frontend routes and authorises calls by.
const NAMESPACE_HEADER: &str = "temporal-namespace";
/// First wait before a transient refusal is tried again; doubled up to [`RETRY_MAX`].
const RETRY_INITIAL: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_millis(800);

/// One call of the `WorkflowService`, as [`Direct::call`] makes it.
pub type Method<Req, Resp> =
    for<'a> fn(
        &'a mut dyn WorkflowService,
        tonic::Request<Req>,
    ) -> BoxFuture<'a, Result<tonic::Response<Resp>, tonic::Status>>;

/// The generated `WorkflowService` client of a connected [`Client`], bound to its namespace.
/// Cheap to clone (one small allocation).
#[derive(Clone)]
pub struct Direct {
    service: Box<dyn WorkflowService>,
    namespace: String,
    namespace_header: AsciiMetadataValue,
    identity: String,
}

impl Direct {
    /// The lean path of `client`'s connection, in `client`'s namespace and with its identity.
    pub fn new(client: &Client) -> Self {
        Self::over(
            client.connection().workflow_service(),
            client.namespace(),
            client.identity(),
        )
    }

    fn over(service: Box<dyn WorkflowService>, namespace: String, identity: String) -> Self {
        Self {
            service,
            // A namespace that is no header value cannot be served by Temporal anyway; an empty
            // header makes Temporal say so, as the SDK does.
            namespace_header: namespace
                .parse()
                .unwrap_or_else(|_| AsciiMetadataValue::from_static("")),
            namespace,
            identity,
        }
    }

    /// The namespace every call is made in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The identity Temporal records for starts and signals.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Sends the request `make` builds through `method`, within `timeout` in all.
    ///
    /// A transient refusal (`Unavailable`, `ResourceExhausted`, `Aborted`: the call was not
    /// carried out) or a call that got no answer ([`no_answer`]: its connection failed first)
    /// is sent again, rebuilt by `make`, after a short jittered back-off, while the time left
    /// allows another attempt; so only idempotent calls go through here (a start with a fixed
    /// request id, a read). Any other answer is returned as it is.
    pub async fn call<Req, Resp>(
        &mut self,
        method: Method<Req, Resp>,
        timeout: Duration,
        mut make: impl FnMut() -> Req,
    ) -> Result<tonic::Response<Resp>, tonic::Status> {
        let deadline = Instant::now() + timeout;
        let mut backoff = RETRY_INITIAL;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut request = tonic::Request::new(make());
            request.set_timeout(left);
            request
                .metadata_mut()
                .insert(NAMESPACE_HEADER, self.namespace_header.clone());
            let status = match method(&mut *self.service, request).await {
                Err(status) if retryable(&status) => status,
                answer => return answer,
            };
            let delay = backoff.mul_f64(rand::rng().random_range(0.5..=1.0));
            if Instant::now() + delay >= deadline {
                return Err(status);
            }
            tracing::debug!(code = ?status.code(), retry_in_ms = delay.as_millis() as u64, "Temporal refused a call for now; trying again");
            tokio::time::sleep(delay).await;
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    }
}

/// Refusals that say the call was not carried out and may succeed if made again, and calls
/// that got no answer.
fn retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::ResourceExhausted | Code::Aborted
    ) || no_answer(status)
}

/// Whether `status` is the client's own report that the call got no answer: its connection
/// failed (reset, closed) before Temporal answered. Temporal's own answers carry no source
/// error; these do, with `Unknown` (or `Internal` for a broken HTTP/2 stream) as their code.
pub fn no_answer(status: &tonic::Status) -> bool {
    matches!(status.code(), Code::Unknown | Code::Internal)
        && std::error::Error::source(status).is_some()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use temporalio_common::protos::temporal::api::workflowservice::v1::{
        DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse,
    };

    use super::*;

    /// A `WorkflowService` that answers describes from a script and records what it was sent:
    /// the retry loop's own behaviour, which a real server cannot be made to show on demand.
    #[derive(Clone, Default)]
    struct Scripted {
        answers: Arc<Mutex<Vec<Option<Code>>>>,
        /// The namespace header of every request received.
        seen: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl WorkflowService for Scripted {
        fn describe_workflow_execution(
            &mut self,
            request: tonic::Request<DescribeWorkflowExecutionRequest>,
        ) -> BoxFuture<'_, Result<tonic::Response<DescribeWorkflowExecutionResponse>, tonic::Status>>
        {
            let namespace = request
                .metadata()
                .get(NAMESPACE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            self.seen.lock().unwrap().push(namespace);
            // `None`: the connection is reset before an answer.
            let code = self.answers.lock().unwrap().remove(0);
            Box::pin(async move {
                match code {
                    Some(Code::Ok) => Ok(tonic::Response::new(Default::default())),
                    Some(code) => Err(tonic::Status::new(code, "scripted")),
                    None => Err(reset()),
                }
            })
        }
    }

    fn direct(answers: &[Option<Code>]) -> (Direct, Scripted) {
        let scripted = Scripted::default();
        scripted.answers.lock().unwrap().extend_from_slice(answers);
        let direct = Direct::over(
            Box::new(scripted.clone()),
            "orders".to_owned(),
            "me".to_owned(),
        );
        (direct, scripted)
    }

    async fn describe(direct: &mut Direct, timeout: Duration) -> Result<(), Code> {
        let request = DescribeWorkflowExecutionRequest {
            namespace: "orders".to_owned(),
            execution: Some(Default::default()),
        };
        direct
            .call(
                |s, r| s.describe_workflow_execution(r),
                timeout,
                || request.clone(),
            )
            .await
            .map(|_| ())
            .map_err(|status| status.code())
    }

    #[tokio::test]
    async fn a_transient_refusal_is_sent_again_in_the_namespace_until_answered() {
        let (mut direct, scripted) = direct(&[
            Some(Code::Unavailable),
            None,
            Some(Code::ResourceExhausted),
            Some(Code::Ok),
        ]);
        assert_eq!(describe(&mut direct, Duration::from_secs(10)).await, Ok(()));
        let seen = scripted.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(
            seen.iter().all(|ns| ns.as_deref() == Some("orders")),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn any_other_answer_is_returned_at_once() {
        let (mut direct, scripted) = direct(&[Some(Code::NotFound), Some(Code::Ok)]);
        assert_eq!(
            describe(&mut direct, Duration::from_secs(10)).await,
            Err(Code::NotFound)
        );
        assert_eq!(scripted.seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refusals_are_not_retried_past_the_time_allowed() {
        // The first back-off (25-50 ms) would end past a 20 ms budget: the refusal is the answer.
        let (mut direct, scripted) = direct(&[Some(Code::Unavailable), Some(Code::Ok)]);
        assert_eq!(
            describe(&mut direct, Duration::from_millis(20)).await,
            Err(Code::Unavailable)
        );
        assert_eq!(scripted.seen.lock().unwrap().len(), 1);
    }

    /// What the client reports when the connection is reset under a call.
    fn reset() -> tonic::Status {
        tonic::Status::from_error(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )))
    }

    #[test]
    fn only_refusals_that_did_nothing_and_calls_without_answer_are_retried() {
        for code in [Code::Unavailable, Code::ResourceExhausted, Code::Aborted] {
            assert!(retryable(&tonic::Status::new(code, "")), "{code:?}");
        }
        let reset = reset();
        assert_eq!(reset.code(), Code::Unknown);
        assert!(no_answer(&reset) && retryable(&reset));
        for code in [
            Code::Ok,
            Code::NotFound,
            Code::AlreadyExists,
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::Unknown,
            Code::FailedPrecondition,
        ] {
            let answer = tonic::Status::new(code, "answered by Temporal");
            assert!(!retryable(&answer) && !no_answer(&answer), "{code:?}");
        }
    }
}

//! Who may call each route, declared where the route is defined.
//!
//! Routes are added through [`ApiRouter::route`], which takes the route's [`Access`]: there is
//! no way to add one without saying who may call it. An [`Access::Open`] route (probes, the API
//! documentation) is served to anyone, without limits. Every other route runs behind one guard
//! ([`Gate::admit`]), in this order:
//!
//! 1. with authentication on, an address that failed to authenticate too often recently is
//!    answered 429 before its credentials are looked at (`limits.failed_auth_per_minute`);
//! 2. the key or token becomes a [`Principal`], or 401 (which counts as a failure of the address);
//! 3. the client's rate limit (429), then a concurrency slot of its own and of the process (503);
//! 4. within `api.request_timeout` (504): the permission check (403, which may describe the
//!    workflow the path names, after checking its id), then the handler.
//!
//! A route whose path or method is unknown is answered 404 or 405 by the router's fallbacks,
//! which run no handler.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Router,
    extract::{FromRequestParts as _, RawPathParams, Request},
    handler::Handler,
    http::{Method, request::Parts},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter, Route, on},
};
use flowgate_config::Action;
use futures::future::BoxFuture;
use tower::{Layer, Service, ServiceExt as _};

use crate::{
    auth::{Authenticator, Principal},
    error::ApiError,
    extract::{RunIdQuery, check_workflow_id, is_internal_id},
    metrics::RejectReason,
    protect::Protection,
    state::AppState,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, without credentials or limits: health, probes and the API documentation.
    Open,
    /// A principal with a permission for this action on this target (with authentication off,
    /// any client, within the limits).
    Requires(Action, On),
}

/// What a route acts on, for its permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    /// Workflows of every type (list).
    Every,
    /// The registered workflow of this name (the guide's shopping routes).
    Workflow(&'static str),
    /// The registered workflow named by the `{workflow_id}` path segment (a `/v1` start).
    NamedInPath,
    /// The latest run of the workflow whose id is the `{workflow_id}` path segment; its type is
    /// looked up.
    IdInPath,
    /// Like [`On::IdInPath`], for routes that read one run: the run `?run_id=` names, if any
    /// (describe and result). Other routes act on the latest run, and so does their check.
    RunInPath,
}

/// A route as declared: method, path template and access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// HTTP method.
    pub method: Method,
    /// Path template, as given to the router (`/v1/workflows/{workflow_id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// What a request acts on, once its path is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Workflows of every type.
    Every,
    /// Workflows of this route name (a start).
    Named(String),
    /// The workflow with this id (checked), whose type is known only after a describe: its
    /// latest run, or the run `?run_id=` names (runs of one id may be of different types when
    /// clients other than Flowgate start them).
    Id {
        /// The workflow id.
        workflow_id: String,
        /// The run asked for, if any.
        run_id: Option<String>,
    },
}

/// The routes of the API, each with its [`Access`]; [`ApiRouter::into_router`] puts the guarded
/// ones behind a [`Gate`].
#[derive(Default)]
pub(crate) struct ApiRouter {
    routes: Vec<(Declared, MethodRouter<AppState>)>,
    open: Router<AppState>,
}

impl ApiRouter {
    /// No routes yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for `method` on `path`, callable as `access` says.
    pub(crate) fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} cannot be routed"));
        let declared = Declared {
            method,
            path,
            access,
        };
        self.routes.push((declared, on(filter, handler)));
        self
    }

    /// Adds a router whose every route is open (the documentation UI).
    pub(crate) fn open(mut self, router: Router<AppState>) -> Self {
        self.open = self.open.merge(router);
        self
    }

    /// Every route declared with [`ApiRouter::route`].
    pub(crate) fn declared(&self) -> impl Iterator<Item = &Declared> {
        self.routes.iter().map(|(declared, _)| declared)
    }

    /// The routes, those not open behind `gate`.
    pub(crate) fn into_router(self, gate: &Arc<Gate>) -> Router<AppState> {
        let mut router = self.open;
        for (declared, mut endpoint) in self.routes {
            if let Access::Requires(..) = declared.access {
                endpoint = endpoint.layer(Guard {
                    gate: gate.clone(),
                    access: declared.access,
                });
            }
            router = router.route(declared.path, endpoint);
        }
        router
    }
}

/// Who a request comes from, as limits count clients: the principal's key or subject, or the
/// client's address without authentication. Set on every guarded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientKey(pub String);

/// What guards every non-open route: authentication, limits, permissions.
pub(crate) struct Gate {
    state: AppState,
    auth: Option<Arc<Authenticator>>,
    protection: Protection,
}

impl Gate {
    /// The guard of `state`'s settings: authentication when `auth.enabled`, `limits.*`.
    pub(crate) fn new(state: AppState, auth: Option<Arc<Authenticator>>) -> Arc<Self> {
        let protection = Protection::new(&state.settings, state.metrics.clone());
        Arc::new(Self {
            state,
            auth,
            protection,
        })
    }

    /// Lets `request` through to `next` if its client may make it now, as the module says.
    async fn admit(&self, access: Access, request: Request, next: Route) -> Response {
        let address = self.protection.address_of(&request);
        let principal = match &self.auth {
            None => None,
            Some(auth) => {
                if let Err(error) = self.protection.may_try_credentials(&address) {
                    return error.into_response();
                }
                match auth.principal(request.headers()).await {
                    Ok(principal) => Some(principal),
                    Err(error) => {
                        if matches!(error, ApiError::Unauthenticated(_)) {
                            self.protection.failed_credentials(&address);
                            self.state.metrics.rejected(RejectReason::Unauthenticated);
                        }
                        return error.into_response();
                    }
                }
            }
        };
        let client = principal.as_ref().map_or(address, Principal::bucket);
        if let Err(error) = self.protection.rate(&client) {
            return error.into_response();
        }
        // Held until the response head is produced; dropped with the request if the client
        // goes away.
        let _slots = match self.protection.slots(&client) {
            Ok(slots) => slots,
            Err(error) => return error.into_response(),
        };
        let checked = async {
            let (mut parts, body) = request.into_parts();
            if let Some(principal) = &principal
                && let Access::Requires(action, on) = access
            {
                let target = target(&mut parts, on).await?;
                if let Err(error) = principal.check(action, target, &self.state).await {
                    if matches!(error, ApiError::Forbidden(_)) {
                        self.state.metrics.rejected(RejectReason::Forbidden);
                    }
                    return Err(error);
                }
            }
            if let Some(principal) = principal {
                parts.extensions.insert(principal);
            }
            parts.extensions.insert(ClientKey(client.clone()));
            let Ok(response) = next.oneshot(Request::from_parts(parts, body)).await;
            Ok::<_, ApiError>(response)
        };
        self.protection
            .within_timeout(checked)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    }
}

/// The guard of every non-open route: [`Gate::admit`] with the route's [`Access`], around the
/// route's handler. A plain service rather than `from_fn`: one boxed future per request, into
/// which the handler's call is inlined, instead of three boxes.
#[derive(Clone)]
struct Guard {
    gate: Arc<Gate>,
    access: Access,
}

impl Layer<Route> for Guard {
    type Service = Guarded;

    fn layer(&self, handler: Route) -> Guarded {
        Guarded {
            guard: self.clone(),
            handler,
        }
    }
}

/// A route's handler behind its [`Guard`].
#[derive(Clone)]
struct Guarded {
    guard: Guard,
    handler: Route,
}

impl Service<Request> for Guarded {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A route is always ready; the handler's readiness is awaited by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Guard { gate, access } = self.guard.clone();
        let handler = self.handler.clone();
        Box::pin(async move { Ok(gate.admit(access, request, handler).await) })
    }
}

/// What the request acts on: ids in the path are checked before anything is looked up.
async fn target(parts: &mut Parts, on: On) -> Result<Target, ApiError> {
    let segment = match on {
        On::Every => return Ok(Target::Every),
        On::Workflow(name) => return Ok(Target::Named(name.to_owned())),
        On::NamedInPath | On::IdInPath | On::RunInPath => {
            let params = RawPathParams::from_request_parts(parts, &())
                .await
                .map_err(|e| ApiError::InvalidPath(e.body_text()))?;
            // A workflow name is `{name}` (or, on the start's alias, the `{workflow_id}` slot).
            let wanted: &[&str] = if on == On::NamedInPath {
                &["name", "workflow_id"]
            } else {
                &["workflow_id"]
            };
            wanted
                .iter()
                .find_map(|wanted| params.iter().find(|(name, _)| name == wanted))
                .map(|(_, value)| value.to_owned())
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no {wanted:?} in the route")))?
        }
    };
    if on == On::NamedInPath {
        return Ok(Target::Named(segment));
    }
    check_workflow_id(&segment)
        .map_err(|problem| ApiError::InvalidPath(format!("workflow id {problem}")))?;
    if is_internal_id(&segment) {
        return Err(ApiError::WorkflowNotFound(segment));
    }
    let run_id = match on {
        On::RunInPath => RunIdQuery::from_request_parts(parts, &()).await?.0,
        _ => None,
    };
    Ok(Target::Id {
        workflow_id: segment,
        run_id,
    })
}

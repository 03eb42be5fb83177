//! Authentication, protection and the shared problem responses in the OpenAPI document: the
//! `bearerAuth` and `apiKey` schemes, required globally, lifted (`security: []`) on the open
//! routes; 401/403 on every protected operation; the answers of the protection layer (429 with
//! `Retry-After`, 503 when Temporal is unavailable or load is shed, 504 past
//! `api.request_timeout`) on every limited operation; and 413/415 on every operation that takes a
//! body. Each is one response in `components.responses`, referenced, never copied. Whether keys are
//! enforced and limits set is configuration; the document always describes the protected shape.

use crate::access::{Access, ApiRouter};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
    Type,
    path::Operation,
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
};

/// Adds the schemes, the global requirement, the exemptions of the routes declared open in
/// `routes`, and the 401/403 responses.
pub(super) fn document(doc: &mut OpenApi, routes: &ApiRouter) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`auth.api_keys`) or a JWT (`auth.jwt`) as `Authorization: Bearer <value>`.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "apiKey",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An API key as `X-API-Key: <key>`.",
        ))),
    );
    for (name, description) in [
        (
            "Unauthenticated",
            "No API key or token, an API key that is not configured, or a token that is not valid (only when auth.enabled)",
        ),
        (
            "Forbidden",
            "The API key or token has no permission for this action on this workflow type",
        ),
    ] {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(problem(description, false)));
    }
    components.responses.insert(
        "InvalidPath".to_owned(),
        RefOr::T(problem(
            "A workflow id in the path that is blank, longer than 255 characters or has control characters (checked before Temporal is asked), or an undecodable path",
            false,
        )),
    );
    components.responses.insert(
        "RateLimited".to_owned(),
        RefOr::T(problem(
            "Over the client's rate limit (limits.rate_per_second, limits.burst), or too many failed authentications from the client's address (limits.failed_auth_per_minute); retry after Retry-After seconds",
            true,
        )),
    );
    components.responses.insert(
        "Unavailable".to_owned(),
        RefOr::T(problem(
            "Temporal is unavailable, or the API is overloaded: limits.max_concurrent_requests are in flight, or the client has limits.max_concurrent_per_client in flight, or the token signing keys cannot be fetched; retry after Retry-After seconds",
            true,
        )),
    );
    components.responses.insert(
        "PayloadTooLarge".to_owned(),
        RefOr::T(problem(
            "The body is larger than api.body_limit_bytes (refused from Content-Length before it is read)",
            false,
        )),
    );
    components.responses.insert(
        "UnsupportedMediaType".to_owned(),
        RefOr::T(problem(
            "A body not declared as JSON (Content-Type: application/json, or another +json type)",
            false,
        )),
    );
    components.responses.insert(
        "RequestTimeout".to_owned(),
        RefOr::T(problem(
            "The request took longer than api.request_timeout",
            false,
        )),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
        SecurityRequirement::new("apiKey", Vec::<String>::new()),
    ]);
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = routes
            .declared()
            .any(|route| route.access == Access::Open && route.path == path);
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ]
        .into_iter()
        .flatten()
        {
            if open {
                operation.security = Some(Vec::new());
                continue;
            }
            for (status, name) in [
                ("401", "Unauthenticated"),
                ("403", "Forbidden"),
                ("429", "RateLimited"),
            ] {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
            also(
                operation,
                "503",
                "Unavailable",
                "or overloaded (limits.max_concurrent_requests, or the client's limits.max_concurrent_per_client), or the token signing keys cannot be fetched; retry after Retry-After seconds",
            );
            if operation.request_body.is_some() {
                for (status, name) in [("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]
                {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
            if path.contains("{workflow_id}") {
                also(
                    operation,
                    "400",
                    "InvalidPath",
                    "or a workflow id in the path that is blank, longer than 255 characters or has control characters",
                );
            }
            also(
                operation,
                "504",
                "RequestTimeout",
                "or the request took longer than api.request_timeout",
            );
        }
    }
}

/// A problem+json response, with a `Retry-After` header if `retry_after`.
fn problem(description: &str, retry_after: bool) -> Response {
    let mut builder = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    if retry_after {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    builder.build()
}

/// Documents `status` from the protection layer: the shared response if the route has none,
/// else the route's own description extended by `or`.
fn also(operation: &mut Operation, status: &str, shared: &str, or: &str) {
    match operation.responses.responses.get_mut(status) {
        None => {
            operation.responses.responses.insert(
                status.to_owned(),
                RefOr::Ref(Ref::from_response_name(shared)),
            );
        }
        Some(RefOr::T(own)) => {
            own.description = format!("{}; {or}", own.description);
        }
        Some(RefOr::Ref(_)) => {}
    }
}

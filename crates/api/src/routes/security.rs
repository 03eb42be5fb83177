//! The API keys in the OpenAPI document: the `bearerAuth` and `apiKey` schemes, required
//! globally, lifted (`security: []`) on the open routes, and 401/403 on every protected
//! operation. Whether keys are enforced is configuration (`auth.enabled`); the document always
//! describes the protected shape.

use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
    security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    },
};

const OPEN_PATHS: [&str; 3] = ["/", "/livez", "/readyz"];

/// Adds the schemes, the global requirement, the exemptions and the 401/403 responses.
pub(super) fn document(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearerAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key as `Authorization: Bearer <key>`."))
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
            "No API key, or one that is not configured (only when auth.enabled)",
        ),
        (
            "Forbidden",
            "The API key has no permission for this action on this workflow type",
        ),
    ] {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
    doc.security = Some(vec![
        SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
        SecurityRequirement::new("apiKey", Vec::<String>::new()),
    ]);
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = OPEN_PATHS.contains(&path.as_str());
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
            for (status, name) in [("401", "Unauthenticated"), ("403", "Forbidden")] {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
        }
    }
}

//! The measured paths: Flowgate's API routes and, for comparison, the floor's two handlers.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::wrk::HttpRequest;

/// A workflow id the null frontend describes as completed (every id is).
const DONE_ID: &str = "capacity-done";

/// One measured path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CapacityPath {
    /// The bare axum handler: parses the start body, no call.
    Bare,
    /// The floor: parses the start body, one gRPC start.
    Floor,
    /// `POST /v1/workflow-types/shopping/start`, answered at once.
    AsyncStart,
    /// The guide's `POST /workflows/shopping`: start, then wait for the result.
    SyncStart,
    /// `GET /v1/workflows/{id}/result` of a completed run.
    Result,
    /// `GET /v1/workflows/{id}`.
    Describe,
    /// `POST /v1/workflow-types/shopping/start` with authentication on and an API key.
    AuthStart,
}

impl CapacityPath {
    /// Every path, in report order.
    pub(crate) const ALL: [Self; 7] = [
        Self::Bare,
        Self::Floor,
        Self::AsyncStart,
        Self::SyncStart,
        Self::Result,
        Self::Describe,
        Self::AuthStart,
    ];

    /// Its name in options and files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Floor => "floor",
            Self::AsyncStart => "async-start",
            Self::SyncStart => "sync-start",
            Self::Result => "result",
            Self::Describe => "describe",
            Self::AuthStart => "auth-start",
        }
    }

    /// The path named `name`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name.trim())
    }

    /// For tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Bare => "Bare axum handler (no call)",
            Self::Floor => "Floor: minimal handler + gRPC start",
            Self::AsyncStart => "Async start `POST /v1/workflow-types/shopping/start`",
            Self::SyncStart => "Sync start `POST /workflows/shopping`",
            Self::Result => "Result read `GET /v1/workflows/{id}/result`",
            Self::Describe => "Describe `GET /v1/workflows/{id}`",
            Self::AuthStart => "Async start, API key",
        }
    }

    /// One request of the path (`api_key` for the authenticated one).
    pub(crate) fn request(self, api_key: &str) -> HttpRequest {
        let list = json!({"items": [{"fruit": "APPLE", "amount": 1}]});
        let post = |path: &str, body: serde_json::Value| HttpRequest {
            method: "POST",
            path: path.to_owned(),
            body: Some(body.to_string()),
            headers: Vec::new(),
        };
        let get = |path: String| HttpRequest {
            method: "GET",
            path,
            body: None,
            headers: Vec::new(),
        };
        match self {
            Self::Bare => post(
                "/bare/v1/workflow-types/shopping/start",
                json!({"input": list}),
            ),
            Self::Floor | Self::AsyncStart => {
                post("/v1/workflow-types/shopping/start", json!({"input": list}))
            }
            Self::SyncStart => post("/workflows/shopping", list),
            Self::Result => get(format!("/v1/workflows/{DONE_ID}/result")),
            Self::Describe => get(format!("/v1/workflows/{DONE_ID}")),
            Self::AuthStart => {
                let mut request = post("/v1/workflow-types/shopping/start", json!({"input": list}));
                request
                    .headers
                    .push(("Authorization", format!("Bearer {api_key}")));
                request
            }
        }
    }

    /// The status every answer must have.
    pub(crate) fn expected_status(self) -> u16 {
        match self {
            Self::Bare | Self::Floor | Self::AsyncStart | Self::AuthStart => 202,
            Self::SyncStart | Self::Result | Self::Describe => 200,
        }
    }

    /// A text the first answer must contain.
    pub(crate) fn expected_text(self) -> &'static str {
        match self {
            Self::Bare | Self::Floor | Self::AsyncStart | Self::AuthStart => "shopping-workflow-",
            Self::SyncStart | Self::Result => "\"completed\"",
            Self::Describe => "\"ShoppingWorkflow\"",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_found_by_its_name() {
        for path in CapacityPath::ALL {
            assert_eq!(CapacityPath::parse(path.name()), Some(path));
        }
        assert_eq!(CapacityPath::parse("nope"), None);
    }

    #[test]
    fn only_the_authenticated_path_sends_the_key() {
        for path in CapacityPath::ALL {
            let request = path.request("k");
            assert_eq!(
                !request.headers.is_empty(),
                path == CapacityPath::AuthStart,
                "{path:?}"
            );
        }
    }
}

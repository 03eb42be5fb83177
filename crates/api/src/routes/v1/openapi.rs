//! The registry's part of the OpenAPI document: a start path per registered workflow (its
//! input in the request, its output in the result), and a path per registered signal, query and
//! update (its argument and result). The generic handlers' documented operations are the
//! templates; only their schemas and path parameters change.

use std::collections::BTreeMap;

use flowgate_workflows::registry::{Message, Payload, WorkflowDef, registry};
use serde_json::json;
use utoipa::{
    PartialSchema, Path as _,
    openapi::{
        OpenApi, RefOr, Required,
        content::ContentBuilder,
        path::{HttpMethod, Operation, ParameterIn, PathItem},
        request_body::RequestBodyBuilder,
        schema::{ObjectBuilder, OneOfBuilder, Ref, Schema, Type},
    },
};

use super::{
    messages::{self, MessageOut},
    start::{self, StartIn},
};
use crate::routes::run::RunOut;

/// The registered messages one message path documents (several workflows may share a name).
type Targets = Vec<(WorkflowDef, Message)>;

/// What a message is, in the words of its path (`signals`) and of one of them (`signal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Signal,
    Query,
    Update,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Self::Signal => "signals",
            Self::Query => "queries",
            Self::Update => "updates",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::Query => "query",
            Self::Update => "update",
        }
    }
}

/// Adds every registered workflow's start path and message paths, with their schemas.
pub(crate) fn extend(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut schemas = Vec::new();
    let mut message_paths: BTreeMap<String, (Kind, Targets)> = BTreeMap::new();
    let defs = registry().all();
    let mut progress = Vec::new();
    let mut progress_refs = Vec::new();
    for def in defs {
        def.input.schemas(&mut schemas);
        def.output.schemas(&mut schemas);
        if let Some(payload) = &def.progress {
            payload.schemas(&mut schemas);
            progress_refs.push(payload.schema_name());
            progress.push(format!(
                "`{}`: [`{}`](#/components/schemas/{})",
                def.name,
                payload.schema_name(),
                payload.schema_name()
            ));
        }
        let pascal = pascal(def.name);
        schemas.push((format!("Start{pascal}In"), start_schema(def)));
        schemas.push((
            format!("{pascal}RunOut"),
            with_property("result", RunOut::schema(), Some(&def.output)),
        ));
        for (kind, list) in [
            (Kind::Signal, &def.signals),
            (Kind::Query, &def.queries),
            (Kind::Update, &def.updates),
        ] {
            for message in list {
                message
                    .input
                    .iter()
                    .chain(&message.output)
                    .for_each(|p| p.schemas(&mut schemas));
                let path = format!(
                    "/v1/workflows/{{workflow_id}}/{}/{}",
                    kind.plural(),
                    message.name
                );
                message_paths
                    .entry(path)
                    .or_insert((kind, Vec::new()))
                    .1
                    .push((def.clone(), message.clone()));
            }
        }
        let start = start_operation(def, &pascal);
        let mut alias = start.clone();
        alias.operation_id = Some(format!("start_{}_alias", def.name.replace('-', "_")));
        alias.summary = Some(format!(
            "Start {} (alias of /v1/workflow-types/{}/start)",
            def.name, def.name
        ));
        alias.deprecated = Some(utoipa::openapi::Deprecated::True);
        doc.paths.paths.insert(
            format!("/v1/workflow-types/{}/start", def.name),
            PathItem::new(HttpMethod::Post, start),
        );
        doc.paths.paths.insert(
            format!("/v1/workflows/{}", def.name),
            PathItem::new(HttpMethod::Post, alias),
        );
    }
    if let Some(events) = doc
        .paths
        .paths
        .get_mut("/v1/workflows/{workflow_id}/events")
        .and_then(|item| item.get.as_mut())
    {
        let declared = if progress.is_empty() {
            "none".to_owned()
        } else {
            progress.join(", ")
        };
        events.description = Some(format!(
            "{} The `progress` of a `progress` event, by workflow: {declared}.",
            events.description.as_deref().unwrap_or_default()
        ));
    }
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    progress_refs.sort();
    progress_refs.dedup();
    flatten_events(components, &progress_refs);
    for (path, (kind, targets)) in message_paths {
        doc.paths.paths.insert(
            path,
            PathItem::new(HttpMethod::Post, message_operation(kind, &targets)),
        );
    }
}

/// Declares on every start operation the completion webhook it may trigger, as an OpenAPI
/// `callbacks` object: the signed `WebhookNotification` POST to each URL of the body's
/// `callbacks`. utoipa types an operation's `callbacks` as a string, so they are added to the
/// serialised document.
pub(crate) fn declare_callbacks(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(operation) = item.get_mut("post") else {
            continue;
        };
        let starts = operation["operationId"]
            .as_str()
            .is_some_and(|id| id.starts_with("start_"));
        if starts {
            operation["callbacks"] = json!({ "workflowClosed": workflow_closed() });
        }
    }
}

/// The callback path item: the notification Flowgate POSTs to a callback's URL.
fn workflow_closed() -> serde_json::Value {
    let header = |name: &str, description: &str, example: &str| {
        json!({
            "name": name,
            "in": "header",
            "required": true,
            "description": description,
            "schema": {"type": "string"},
            "example": example,
        })
    };
    json!({
        "{$request.body#/callbacks/0/url}": {
            "post": {
                "summary": "The workflow closed (sent to each URL in `callbacks`)",
                "description": "Sent to every callback URL of the start (this expression names the first) whose `events` include how the run closed. Signed per Standard Webhooks; retried with back-off until a 2xx, for the deployment's `webhooks.retry_for`, with the same `webhook-id` on every attempt. Redirects are not followed.",
                "parameters": [
                    header("webhook-id", "The notification's id, the same on every attempt: drop duplicates by it.", "msg_2f1c0d7e9a4b4c1e8d3f6a5b7c9e0d12"),
                    header("webhook-timestamp", "When this attempt was signed, in seconds since the Unix epoch.", "1796558403"),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per signing secret, space separated.", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
                ],
                "requestBody": {
                    "required": true,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/WebhookNotification"}
                        }
                    }
                },
                "responses": {
                    "2XX": {"description": "Delivered: no further attempt."},
                    "default": {"description": "Not delivered: retried with back-off."}
                }
            }
        }
    })
}

fn start_operation(def: &WorkflowDef, pascal: &str) -> Operation {
    let mut operation = start::__path_start_workflow::operation();
    drop_path_parameters(&mut operation);
    operation.operation_id = Some(format!("start_{}", def.name.replace('-', "_")));
    operation.tags = Some(vec!["v1".to_owned()]);
    operation.summary = Some(format!("Start {} ({})", def.name, def.temporal_type));
    operation.description = Some(format!(
        "{}\n\n{}",
        def.description,
        super::callbacks::START_DESCRIPTION
    ));
    operation.request_body = Some(
        RequestBodyBuilder::new()
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(format!("Start{pascal}In"))))
                    .example(Some(json!({ "input": (def.example)() })))
                    .build(),
            )
            .required(Some(Required::True))
            .build(),
    );
    set_response_schema(&mut operation, &["200", "202"], &format!("{pascal}RunOut"));
    operation
}

fn message_operation(kind: Kind, targets: &[(WorkflowDef, Message)]) -> Operation {
    let mut operation = match kind {
        Kind::Signal => messages::__path_send_signal::operation(),
        Kind::Query => messages::__path_run_query::operation(),
        Kind::Update => messages::__path_run_update::operation(),
    };
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .retain(|p| p.name != "name");
    let (_, first) = &targets[0];
    let name = first.name;
    operation.operation_id = Some(format!("{}_{}", kind.singular(), name.replace('-', "_")));
    operation.tags = Some(vec!["v1".to_owned()]);
    operation.summary = Some(format!("{} `{name}`", kind.singular()));
    operation.description = Some(
        targets
            .iter()
            .map(|(def, m)| {
                format!(
                    "{} (workflow `{}`, type `{}`)",
                    m.description, def.name, def.temporal_type
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    );
    let inputs: Vec<_> = targets.iter().filter_map(|(_, m)| m.input).collect();
    operation.request_body = (!inputs.is_empty()).then(|| {
        RequestBodyBuilder::new()
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(one_of(&inputs))).build(),
            )
            .required(Some(if inputs.len() == targets.len() {
                Required::True
            } else {
                Required::False
            }))
            .build()
    });
    let outputs: Vec<_> = targets.iter().filter_map(|(_, m)| m.output).collect();
    if kind != Kind::Signal && !outputs.is_empty() {
        let schema = match MessageOut::schema() {
            RefOr::T(Schema::Object(mut object)) => {
                object
                    .properties
                    .insert("result".to_owned(), one_of(&outputs));
                RefOr::T(Schema::Object(object))
            }
            other => other,
        };
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("200")
            && let Some(content) = response.content.get_mut("application/json")
        {
            content.schema = Some(schema);
        }
    }
    operation
}

/// `StartIn` with `input` of the workflow's input type.
fn start_schema(def: &WorkflowDef) -> RefOr<Schema> {
    let mut schema = with_property("input", StartIn::schema(), Some(&def.input));
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        // The messages a start may carry are the workflow's own.
        for (field, messages, updates) in [
            ("signal", &def.signals, false),
            ("update", &def.updates, true),
        ] {
            match message_property(messages, updates) {
                Some(property) => {
                    object.properties.insert(field.to_owned(), property);
                }
                None => {
                    object.properties.shift_remove(field);
                }
            }
        }
        object.description = Some(format!(
            "Start {}: its input and the start options.",
            def.name
        ));
        object.example = Some(json!({ "input": (def.example)() }));
    }
    schema
}

/// A start's `signal` or `update`: one of `messages`, by name; `None` when the workflow declares
/// none. The argument's schema is the message's own path's (one object, not a `oneOf` per
/// message, which generators of test data handle badly).
fn message_property(messages: &[Message], updates: bool) -> Option<RefOr<Schema>> {
    if messages.is_empty() {
        return None;
    }
    let kind = if updates { "update" } else { "signal" };
    let names: Vec<&str> = messages.iter().map(|m| m.name).collect();
    let mut object = ObjectBuilder::new()
        .description(Some(format!(
            "The {kind} to send with the start: {}.",
            messages
                .iter()
                .map(|m| format!("`{}` (its argument as `POST /v1/workflows/{{workflow_id}}/{kind}s/{}` takes it)", m.name, m.name))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .property(
            "name",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .required("name")
        .property(
            "input",
            ObjectBuilder::new().description(Some("Its argument (leave it out for none).")),
        );
    if updates {
        object = object.property(
            "update_id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The update's id (default: a random one); an update id runs once per run.",
                )),
        );
    }
    Some(
        object
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .into(),
    )
}

/// `schema` (an object) with property `name` replaced by `payload`'s type (nullable when
/// `payload` is the result of a run, which is null until it completes).
fn with_property(name: &str, schema: RefOr<Schema>, payload: Option<&Payload>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    if let Some(payload) = payload {
        let reference = Ref::from_schema_name(payload.schema_name());
        let property: RefOr<Schema> = if name == "result" {
            OneOfBuilder::new()
                .item(reference)
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .into()
        } else {
            reference.into()
        };
        object.properties.insert(name.to_owned(), property);
    }
    RefOr::T(Schema::Object(object))
}

fn one_of(payloads: &[Payload]) -> RefOr<Schema> {
    let mut names: Vec<_> = payloads.iter().map(Payload::schema_name).collect();
    names.dedup();
    if names.len() == 1 {
        return Ref::from_schema_name(names.remove(0)).into();
    }
    names
        .into_iter()
        .fold(OneOfBuilder::new(), |b, n| b.item(Ref::from_schema_name(n)))
        .into()
}

fn drop_path_parameters(operation: &mut Operation) {
    if let Some(parameters) = &mut operation.parameters {
        parameters.retain(|p| p.parameter_in != ParameterIn::Path);
    }
}

fn set_response_schema(operation: &mut Operation, statuses: &[&str], schema_name: &str) {
    for status in statuses {
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
            && let Some(content) = response.content.get_mut("application/json")
        {
            content.schema = Some(Ref::from_schema_name(schema_name).into());
        }
    }
}

/// `order-approval` → `OrderApproval`.
fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `EventOut` as one object per event type: the common fields (`event_id`, `run_id`, `time`)
/// and the type's own, as the stream sends them, rather than the `allOf` of the common object
/// and the `oneOf` of the types (which client generators cannot take). A `progress` event's
/// `progress` is one of the progress types the registry declares.
fn flatten_events(components: &mut utoipa::openapi::Components, progress: &[String]) {
    let (Some(RefOr::T(Schema::OneOf(kinds))), Some(RefOr::T(Schema::AllOf(out)))) = (
        components.schemas.remove("EventKind"),
        components.schemas.remove("EventOut"),
    ) else {
        panic!("EventKind is a oneOf and EventOut an allOf");
    };
    let Some(common) = out.items.iter().find_map(|item| match item {
        RefOr::T(Schema::Object(common)) => Some(common),
        _ => None,
    }) else {
        panic!("EventOut has its common fields");
    };
    let mut flat = OneOfBuilder::new().description(out.description.clone());
    for kind in kinds.items {
        let RefOr::T(Schema::Object(mut kind)) = kind else {
            panic!("every event type is an object");
        };
        let own = std::mem::take(&mut kind.properties);
        kind.properties = common.properties.clone();
        kind.properties.extend(own);
        let own = std::mem::take(&mut kind.required);
        kind.required = common.required.clone();
        kind.required.extend(own);
        let is_progress = kind.properties.get("type").is_some_and(|t| {
            serde_json::to_value(t).is_ok_and(|t| t["enum"] == json!(["progress"]))
        });
        if is_progress && !progress.is_empty() {
            let mut one_of =
                OneOfBuilder::new().description(Some("The progress, as the workflow reported it."));
            for name in progress {
                one_of = one_of.item(Ref::from_schema_name(name.clone()));
            }
            kind.properties.insert(
                "progress".to_owned(),
                RefOr::T(Schema::OneOf(one_of.build())),
            );
        }
        flat = flat.item(RefOr::T(Schema::Object(kind)));
    }
    components
        .schemas
        .insert("EventOut".to_owned(), RefOr::T(Schema::OneOf(flat.build())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique_and_spelled_from_their_kind() {
        let document = crate::openapi();
        let mut ids = Vec::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                ids.push(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(ids.contains(&"query_status".to_owned()), "{ids:?}");
    }

    #[test]
    fn names_become_pascal_case() {
        assert_eq!(pascal("order-approval"), "OrderApproval");
        assert_eq!(pascal("shopping"), "Shopping");
    }

    #[test]
    fn every_registered_workflow_has_a_typed_start_path() {
        let doc = crate::routes::openapi();
        if std::env::var_os("FLOWGATE_PRINT_OPENAPI").is_some() {
            eprintln!("{}", serde_json::to_string_pretty(&doc).unwrap());
        }
        for def in registry().all() {
            let op = &doc["paths"][format!("/v1/workflows/{}", def.name)]["post"];
            let pascal = pascal(def.name);
            assert_eq!(
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/Start{pascal}In"),
                "{op}"
            );
            let start = &doc["components"]["schemas"][format!("Start{pascal}In")];
            assert_eq!(
                start["properties"]["input"]["$ref"],
                format!("#/components/schemas/{}", def.input.schema_name()),
                "{start}"
            );
            assert!(
                doc["components"]["schemas"][def.output.schema_name()].is_object(),
                "{}",
                def.name
            );
        }
    }
}

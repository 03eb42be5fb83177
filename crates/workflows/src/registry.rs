//! The workflows Flowgate exposes over REST, each declared once: its Temporal type, task queue,
//! id prefix, input and output types (with their JSON Schemas under the `openapi` feature), and
//! the signals, queries and updates it answers. The API derives its `/v1` routes, request
//! validation and OpenAPI document from [`registry`].
//!
//! Adding a workflow: a module declaring its types and a `definition()` built with
//! [`WorkflowDef::new`], and one line in [`registry`].

use std::fmt::Write as _;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::wording::client_terms;

/// Where a workflow's tasks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskQueue {
    /// The Flowgate worker's own queue (`worker.task_queue` of the configuration).
    Worker,
    /// A queue served by another worker (any Temporal SDK).
    Named(&'static str),
}

/// One offending part of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputIssue {
    /// JSON pointer into the body (RFC 6901), `""` for the whole body.
    pub pointer: String,
    /// What is wrong there.
    pub detail: String,
}

impl InputIssue {
    /// An issue at `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// What a deployment allows in workflow inputs, from its configuration (`shopping.max_items`,
/// `shopping.max_amount`): every route that takes an input checks it against these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// The shopping workflow's limits.
    pub shopping: crate::shopping::ShoppingLimits,
}

impl Limits {
    /// No limit beyond each type's own rules: what workflow code checks, since a limit of the
    /// configuration may change between a run and its replay.
    pub const UNBOUNDED: Self = Self {
        shopping: crate::shopping::ShoppingLimits {
            max_items: usize::MAX,
            max_amount: u32::MAX,
        },
    };
}

/// The memo field a workflow upserts to report its progress (see [`WorkflowDef::progress`]).
pub const PROGRESS_MEMO_KEY: &str = "progress";

/// Rules a payload type checks beyond its shape (ranges, lengths, cross-field rules, the
/// deployment's [`Limits`]).
pub trait Validate {
    /// Every problem of `self` under `limits`, empty when it is valid.
    fn issues(&self, limits: &Limits) -> Vec<InputIssue> {
        let _ = limits;
        Vec::new()
    }
}

macro_rules! no_rules {
    ($($t:ty),*) => { $(impl Validate for $t {})* };
}
// Plain values need no rules beyond their type.
no_rules!(String, bool, u32, u64, i32, i64, f64);

/// A type a payload may have: JSON in and out, checked, and (with `openapi`) documented.
#[cfg(feature = "openapi")]
pub trait PayloadType:
    DeserializeOwned + Serialize + Validate + utoipa::ToSchema + 'static
{
}
#[cfg(feature = "openapi")]
impl<T: DeserializeOwned + Serialize + Validate + utoipa::ToSchema + 'static> PayloadType for T {}

/// A type a payload may have: JSON in and out, checked, and (with `openapi`) documented.
#[cfg(not(feature = "openapi"))]
pub trait PayloadType: DeserializeOwned + Serialize + Validate + 'static {}
#[cfg(not(feature = "openapi"))]
impl<T: DeserializeOwned + Serialize + Validate + 'static> PayloadType for T {}

/// A JSON payload of a declared type, type-erased so definitions can sit in one list.
#[derive(Clone, Copy)]
pub struct Payload {
    decode: fn(&Value, &Limits) -> Result<Value, Vec<InputIssue>>,
    #[cfg(feature = "openapi")]
    schema_name: fn() -> String,
    #[cfg(feature = "openapi")]
    schemas: fn(
        &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ),
    #[cfg(feature = "openapi")]
    schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload").finish_non_exhaustive()
    }
}

impl Payload {
    /// A payload of type `T`.
    pub fn of<T: PayloadType>() -> Self {
        Self {
            decode: decode::<T>,
            #[cfg(feature = "openapi")]
            schema_name: || T::name().into_owned(),
            #[cfg(feature = "openapi")]
            schemas: |out| {
                out.push((T::name().into_owned(), T::schema()));
                T::schemas(out);
            },
            #[cfg(feature = "openapi")]
            schema: || T::schema(),
        }
    }

    /// Checks `json` against the type and its rules under `limits`: the normalised JSON (what
    /// the workflow receives), or every issue found, each at its JSON pointer.
    pub fn decode(&self, json: &Value, limits: &Limits) -> Result<Value, Vec<InputIssue>> {
        (self.decode)(json, limits)
    }

    /// Name of the type's schema in the OpenAPI components.
    #[cfg(feature = "openapi")]
    pub fn schema_name(&self) -> String {
        (self.schema_name)()
    }

    /// The type's schema and every schema it refers to, for the OpenAPI components.
    #[cfg(feature = "openapi")]
    pub fn schemas(
        &self,
        out: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        (self.schemas)(out);
    }

    /// The type's own schema.
    #[cfg(feature = "openapi")]
    pub fn schema(&self) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        (self.schema)()
    }
}

fn decode<T: PayloadType>(json: &Value, limits: &Limits) -> Result<Value, Vec<InputIssue>> {
    let typed: T = serde_path_to_error::deserialize(json).map_err(|error| {
        let mut pointer = pointer_of(error.path());
        let worded = client_terms(&error.into_inner().to_string());
        if let Some(field) = worded.field {
            // A missing field is reported at its object; an unknown one at itself.
            let token = format!("/{}", escape(&field));
            if !pointer.ends_with(&token) {
                pointer.push_str(&token);
            }
        }
        let first = InputIssue::new(pointer, worded.detail);
        // Serde stops at the first error; the type's schema finds the others.
        #[cfg(feature = "openapi")]
        {
            let mut every = shape_issues::<T>(json);
            if !every.iter().any(|issue| issue.pointer == first.pointer) {
                every.insert(0, first);
            }
            every
        }
        #[cfg(not(feature = "openapi"))]
        vec![first]
    })?;
    let normalised =
        serde_json::to_value(&typed).map_err(|e| vec![InputIssue::new("", e.to_string())])?;
    let mut issues = Vec::new();
    unknown_fields(json, &normalised, &mut String::new(), &mut issues);
    let unknown = issues.len();
    if unknown > MAX_UNKNOWN_FIELDS {
        issues.truncate(MAX_UNKNOWN_FIELDS);
        issues.push(InputIssue::new(
            "",
            format!("and {} more unknown fields", unknown - MAX_UNKNOWN_FIELDS),
        ));
    }
    issues.extend(typed.issues(limits));
    if issues.is_empty() {
        Ok(normalised)
    } else {
        Err(issues)
    }
}

/// Every shape error of `json` against `T`'s JSON Schema.
#[cfg(feature = "openapi")]
fn shape_issues<T: PayloadType>(json: &Value) -> Vec<InputIssue> {
    let mut named = Vec::new();
    named.push((T::name().into_owned(), T::schema()));
    T::schemas(&mut named);
    let defs = named
        .into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect();
    match serde_json::to_value(T::schema()) {
        Ok(schema) => crate::shape::issues(json, &schema, &defs),
        Err(_) => Vec::new(),
    }
}

/// Unknown fields reported one by one; beyond, their number: an answer is never much larger
/// than its request.
const MAX_UNKNOWN_FIELDS: usize = 20;

/// Every field of `sent` that the type did not take (absent from its normalised form, and not
/// null): unknown fields are refused, so a misspelt optional field is not silently ignored.
/// Workflow code itself stays lenient with what other SDKs send.
fn unknown_fields(sent: &Value, kept: &Value, at: &mut String, issues: &mut Vec<InputIssue>) {
    match (sent, kept) {
        (Value::Object(sent), Value::Object(kept)) => {
            for (name, value) in sent {
                let len = at.len();
                push_token(at, name);
                match kept.get(name) {
                    Some(inner) => unknown_fields(value, inner, at, issues),
                    None if value.is_null() => {}
                    None => {
                        let known: Vec<&str> = kept.keys().map(String::as_str).collect();
                        issues.push(InputIssue::new(
                            at.clone(),
                            format!("is not a known field (known: {})", known.join(", ")),
                        ));
                    }
                }
                at.truncate(len);
            }
        }
        (Value::Array(sent), Value::Array(kept)) if sent.len() == kept.len() => {
            for (i, (value, inner)) in sent.iter().zip(kept).enumerate() {
                let len = at.len();
                let _ = write!(at, "/{i}");
                unknown_fields(value, inner, at, issues);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// Appends `name` to the JSON pointer `at` as one more token, without allocating (every field
/// of every input passes here).
fn push_token(at: &mut String, name: &str) {
    at.push('/');
    push_escaped(at, name);
}

/// A name as one JSON pointer token (RFC 6901).
pub(crate) fn escape(name: &str) -> String {
    let mut token = String::with_capacity(name.len());
    push_escaped(&mut token, name);
    token
}

/// Appends `name` to `out` with `~` and `/` escaped as RFC 6901 says.
fn push_escaped(out: &mut String, name: &str) {
    for c in name.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// `items[0].amount` as the JSON pointer `/items/0/amount`.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// A signal, query or update a workflow handles.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its Temporal name (also the route segment).
    pub name: &'static str,
    /// What it does, for the API documentation.
    pub description: &'static str,
    /// Its argument; `None` takes none.
    pub input: Option<Payload>,
    /// What it returns (queries and updates); `None` returns nothing.
    pub output: Option<Payload>,
}

impl Message {
    /// A message named `name` without argument or result.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            input: None,
            output: None,
        }
    }

    /// Takes an argument of type `T`.
    #[must_use]
    pub fn input<T: PayloadType>(mut self) -> Self {
        self.input = Some(Payload::of::<T>());
        self
    }

    /// Returns a `T`.
    #[must_use]
    pub fn output<T: PayloadType>(mut self) -> Self {
        self.output = Some(Payload::of::<T>());
        self
    }
}

/// A workflow exposed over REST.
#[derive(Debug, Clone)]
pub struct WorkflowDef {
    /// Route name: `POST /v1/workflow-types/{name}/start` starts one (lower-case, `-` separated).
    pub name: &'static str,
    /// Temporal workflow type name.
    pub temporal_type: &'static str,
    /// Where its tasks go.
    pub task_queue: TaskQueue,
    /// Prefix of generated workflow ids (`<prefix><uuid>`).
    pub id_prefix: &'static str,
    /// What it does, for the API documentation.
    pub description: &'static str,
    /// Its input (the workflow's one argument).
    pub input: Payload,
    /// Its result.
    pub output: Payload,
    /// An example input, for the documentation.
    pub example: fn() -> Value,
    /// Signals it handles.
    pub signals: Vec<Message>,
    /// Queries it answers.
    pub queries: Vec<Message>,
    /// Updates it accepts.
    pub updates: Vec<Message>,
    /// What it reports of its own progress while it runs (the memo field [`PROGRESS_MEMO_KEY`]),
    /// streamed as `progress` events; set with [`WorkflowDef::progress`].
    pub progress: Option<Payload>,
    /// Registers the implementation on a worker (feature `worker`): set with
    /// [`WorkflowDef::implemented_by`]. The Flowgate worker registers every workflow declared on
    /// its queue from here, so none can be declared and forgotten.
    #[cfg(feature = "worker")]
    pub register: Option<Register>,
}

/// Registers a workflow implementation on worker options.
#[cfg(feature = "worker")]
pub type Register =
    fn(&mut temporalio_sdk::WorkerOptions) -> Result<(), temporalio_sdk::WorkflowRegistrationError>;

impl WorkflowDef {
    /// A workflow taking an `I` and returning an `O`, without signals, queries or updates.
    pub fn new<I: PayloadType, O: PayloadType>(
        name: &'static str,
        temporal_type: &'static str,
        id_prefix: &'static str,
        description: &'static str,
        example: fn() -> Value,
    ) -> Self {
        Self {
            name,
            temporal_type,
            task_queue: TaskQueue::Worker,
            id_prefix,
            description,
            input: Payload::of::<I>(),
            output: Payload::of::<O>(),
            example,
            signals: Vec::new(),
            queries: Vec::new(),
            updates: Vec::new(),
            progress: None,
            #[cfg(feature = "worker")]
            register: None,
        }
    }

    /// The workflow's implementation, registered by the worker that serves its queue.
    #[cfg(feature = "worker")]
    #[must_use]
    pub fn implemented_by<W>(mut self) -> Self
    where
        W: temporalio_workflow::workflows::WorkflowImplementation,
        <W::Run as temporalio_common::WorkflowDefinition>::Input: Send,
    {
        self.register = Some(|options| options.register_workflow::<W>().map(|_| ()));
        self
    }

    /// Runs on another worker's `queue`.
    #[must_use]
    pub fn task_queue(mut self, queue: &'static str) -> Self {
        self.task_queue = TaskQueue::Named(queue);
        self
    }

    /// Handles signal `message`.
    #[must_use]
    pub fn signal(mut self, message: Message) -> Self {
        self.signals.push(message);
        self
    }

    /// Answers query `message`.
    #[must_use]
    pub fn query(mut self, message: Message) -> Self {
        self.queries.push(message);
        self
    }

    /// Accepts update `message`.
    #[must_use]
    pub fn update(mut self, message: Message) -> Self {
        self.updates.push(message);
        self
    }

    /// Reports its progress as a `P`: the workflow upserts memo field [`PROGRESS_MEMO_KEY`], and
    /// each upsert is a `progress` event of `GET /v1/workflows/{id}/events`.
    #[must_use]
    pub fn progress<P: PayloadType>(mut self) -> Self {
        self.progress = Some(Payload::of::<P>());
        self
    }

    /// The task queue to start it on, given the Flowgate worker's queue.
    pub fn queue<'a>(&'a self, worker_queue: &'a str) -> &'a str {
        match self.task_queue {
            TaskQueue::Worker => worker_queue,
            TaskQueue::Named(queue) => queue,
        }
    }
}

/// Every workflow Flowgate exposes, built once, looked up by route name or Temporal type.
#[derive(Debug)]
pub struct Registry {
    defs: Vec<WorkflowDef>,
}

impl Registry {
    /// Every definition, in registration order.
    pub fn all(&self) -> &[WorkflowDef] {
        &self.defs
    }

    /// The workflow whose route name (`shopping`) or Temporal type (`ShoppingWorkflow`) is
    /// `name`: users know their workflows by either.
    pub fn get(&self, name: &str) -> Option<&WorkflowDef> {
        self.defs
            .iter()
            .find(|def| def.name == name)
            .or_else(|| self.by_type(name))
    }

    /// The workflow of Temporal type `temporal_type`.
    pub fn by_type(&self, temporal_type: &str) -> Option<&WorkflowDef> {
        self.defs
            .iter()
            .find(|def| def.temporal_type == temporal_type)
    }

    /// The route names, comma separated (for errors that list them).
    pub fn names(&self) -> String {
        self.defs
            .iter()
            .map(|def| def.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The registry. Adding a workflow: one line here.
pub fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        defs: vec![
            crate::shopping::definition(),
            crate::approval::definition(),
            crate::cart::definition(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_unique_lower_case_and_temporal_types_unique() {
        let defs = registry().all();
        let mut names: Vec<_> = defs.iter().map(|d| d.name).collect();
        let mut types: Vec<_> = defs.iter().map(|d| d.temporal_type).collect();
        for name in &names {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
        names.sort_unstable();
        names.dedup();
        types.sort_unstable();
        types.dedup();
        assert_eq!(names.len(), defs.len());
        assert_eq!(types.len(), defs.len());
    }

    #[test]
    fn every_example_is_a_valid_input() {
        for def in registry().all() {
            let example = (def.example)();
            assert!(
                def.input.decode(&example, &Limits::default()).is_ok(),
                "{}: {example}",
                def.name
            );
        }
    }

    #[test]
    fn plain_values_can_be_message_payloads() {
        let message = Message::new("count", "A number.")
            .input::<String>()
            .output::<u32>();
        let input = message.input.unwrap();
        let limits = Limits::default();
        assert_eq!(input.decode(&serde_json::json!("x"), &limits).unwrap(), "x");
        assert!(input.decode(&serde_json::json!(1), &limits).is_err());
        assert!(
            message
                .output
                .unwrap()
                .decode(&serde_json::json!(-1), &limits)
                .is_err()
        );
    }

    #[test]
    fn bad_input_is_reported_at_its_pointer() {
        let shopping = registry().get("shopping").unwrap();
        assert_eq!(
            registry().get("ShoppingWorkflow").map(|def| def.name),
            Some("shopping"),
            "found by Temporal type too"
        );
        let issues = shopping
            .input
            .decode(
                &serde_json::json!({"items": [{"fruit": "KIWI", "amount": 1}]}),
                &Limits::default(),
            )
            .unwrap_err();
        assert_eq!(issues[0].pointer, "/items/0/fruit");
        let issues = shopping
            .input
            .decode(&serde_json::json!({"items": []}), &Limits::default())
            .unwrap_err();
        assert_eq!(issues[0].pointer, "/items");
    }

    #[test]
    fn every_duration_field_takes_a_number_of_seconds() {
        let limits = Limits::default();
        let approval = registry().get("order-approval").unwrap();
        let request = serde_json::json!({"customer": "A", "items": [{"fruit": "APPLE", "amount": 1}], "approval_timeout": 90});
        assert_eq!(
            approval.input.decode(&request, &limits).unwrap()["approval_timeout"],
            "90"
        );
        let cart = registry().get("cart").unwrap();
        let request = serde_json::json!({"customer": "A", "checkout_after": 0.5});
        let issues = cart.input.decode(&request, &limits).unwrap_err();
        assert_eq!(issues[0].pointer, "/checkout_after");
        assert_eq!(issues[0].detail, "must be at least 1 second");
    }

    #[test]
    fn unknown_and_missing_fields_are_reported_at_the_field() {
        let shopping = registry().get("shopping").unwrap();
        let limits = Limits::default();
        let issues = shopping
            .input
            .decode(
                &serde_json::json!({"items": [{"fruit": "APPLE", "amount": 1, "colour": "red"}], "note": null}),
                &limits,
            )
            .unwrap_err();
        assert_eq!(issues[0].pointer, "/items/0/colour");
        assert!(
            issues[0].detail.contains("known: amount, fruit"),
            "{issues:?}"
        );
        let issues = shopping
            .input
            .decode(&serde_json::json!({"items": [{"fruit": "APPLE"}]}), &limits)
            .unwrap_err();
        assert_eq!(issues[0].pointer, "/items/0/amount");
        assert_eq!(issues[0].detail, "is required");
        let issues = shopping
            .input
            .decode(
                &serde_json::json!({"items": [{"fruit": "APPLE", "amount": 1}], "a/b~c": 1}),
                &limits,
            )
            .unwrap_err();
        assert_eq!(
            issues[0].pointer, "/a~1b~0c",
            "one RFC 6901 token: {issues:?}"
        );
    }
}

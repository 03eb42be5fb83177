use serde_json::{Value, json};

use super::*;
use crate::registry::{InputIssue, Limits, Validate, registry};

fn request(body: Value) -> ApprovalRequest {
    serde_json::from_value(body).expect("well-formed request")
}

fn pointers(issues: &[InputIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.pointer.as_str()).collect()
}

fn valid() -> Value {
    json!({"customer": "ACME Corp", "items": [{"fruit": "APPLE", "amount": 5}]})
}

#[test]
fn a_request_without_timeout_is_valid_and_waits_24_hours() {
    let request = request(valid());
    assert!(
        request.issues(&Limits::default()).is_empty(),
        "{:?}",
        request.issues(&Limits::default())
    );
    assert_eq!(
        request.timeout(),
        Ok(std::time::Duration::from_secs(24 * 3600))
    );
}

#[test]
fn human_durations_from_one_second_to_thirty_days_are_accepted() {
    for (text, seconds) in [
        ("1s", 1),
        ("30s", 30),
        ("15m", 900),
        ("1h 30m", 5400),
        ("30d", 2_592_000),
    ] {
        let mut body = valid();
        body["approval_timeout"] = json!(text);
        let request = request(body);
        assert!(
            request.issues(&Limits::default()).is_empty(),
            "{text}: {:?}",
            request.issues(&Limits::default())
        );
        assert_eq!(request.timeout().unwrap().as_secs(), seconds, "{text}");
    }
}

#[test]
fn timeouts_out_of_range_or_not_durations_are_reported_at_approval_timeout() {
    for (text, detail) in [
        ("0s", "at least 1 second"),
        ("500ms", "at least 1 second"),
        ("31d", "at most 30 days"),
        ("soon", "must be a number of seconds (30) or a duration"),
        ("-5", "must be a number of seconds (30) or a duration"),
    ] {
        let mut body = valid();
        body["approval_timeout"] = json!(text);
        let issues = request(body).issues(&Limits::default());
        assert_eq!(pointers(&issues), ["/approval_timeout"], "{text}");
        assert!(
            issues[0].detail.contains(detail),
            "{text}: {}",
            issues[0].detail
        );
    }
}

#[test]
fn blank_or_long_customers_empty_lists_and_zero_amounts_are_each_reported() {
    let issues = request(json!({
        "customer": "  ",
        "items": [{"fruit": "APPLE", "amount": 0}],
        "approval_timeout": "2 fortnights"
    }))
    .issues(&Limits::default());
    assert_eq!(
        pointers(&issues),
        ["/customer", "/items/0/amount", "/approval_timeout"]
    );

    let long = "x".repeat(201);
    let issues = request(json!({"customer": long, "items": []})).issues(&Limits::default());
    assert_eq!(pointers(&issues), ["/customer", "/items"]);
    assert!(issues[0].detail.contains("200 characters"));
    // 200 characters, some of them multi-byte, are fine.
    assert!(
        request(json!({"customer": "é".repeat(200), "items": [{"fruit": "CHERRY", "amount": 1}]}))
            .issues(&Limits::default())
            .is_empty()
    );
}

#[test]
fn signal_and_note_arguments_need_non_blank_bounded_texts() {
    let approval = Approval {
        approver: " ".into(),
    };
    assert_eq!(
        pointers(&approval.issues(&Limits::default())),
        ["/approver"]
    );
    let rejection = Rejection {
        approver: "bob".into(),
        reason: "r".repeat(501),
    };
    assert_eq!(pointers(&rejection.issues(&Limits::default())), ["/reason"]);
    let note = Note {
        text: String::new(),
    };
    assert_eq!(pointers(&note.issues(&Limits::default())), ["/text"]);
    assert!(
        Note {
            text: "n".repeat(500)
        }
        .issues(&Limits::default())
        .is_empty()
    );
}

#[test]
fn notes_are_refused_when_blank_or_once_decided() {
    let note = Note {
        text: "call first".into(),
    };
    assert_eq!(note_rejection(ApprovalState::Pending, &note), None);
    let blank = Note { text: " ".into() };
    assert_eq!(
        note_rejection(ApprovalState::Pending, &blank).as_deref(),
        Some("note text must not be blank")
    );
    for state in [
        ApprovalState::Approved,
        ApprovalState::Rejected,
        ApprovalState::Expired,
    ] {
        let refusal = note_rejection(state, &note).unwrap();
        assert!(refusal.contains(state.as_str()), "{refusal}");
    }
}

#[test]
fn order_approval_is_registered_with_exactly_its_signals_query_and_update() {
    let def = registry().get("order-approval").expect("registered");
    assert_eq!(def.temporal_type, "OrderApprovalWorkflow");
    assert_eq!(def.id_prefix, "order-approval-");
    assert_eq!(def.task_queue, crate::registry::TaskQueue::Worker);
    let names = |messages: &[crate::registry::Message]| -> Vec<&str> {
        messages.iter().map(|m| m.name).collect()
    };
    assert_eq!(names(&def.signals), ["approve", "reject"]);
    assert_eq!(names(&def.queries), ["status"]);
    assert_eq!(names(&def.updates), ["add_note"]);

    let examples = [
        ("approve", json!({"approver": "alice"})),
        (
            "reject",
            json!({"approver": "bob", "reason": "over budget"}),
        ),
        ("add_note", json!({"text": "deliver on Monday"})),
    ];
    let messages = def.signals.iter().chain(&def.updates);
    for message in messages {
        let (_, example) = examples
            .iter()
            .find(|(name, _)| *name == message.name)
            .expect("an example per message");
        let input = message.input.expect("takes an argument");
        assert_eq!(
            input.decode(example, &Limits::default()).as_ref(),
            Ok(example),
            "{}",
            message.name
        );
        assert!(
            input.decode(&json!({}), &Limits::default()).is_err(),
            "{}",
            message.name
        );
    }
    let status = &def.queries[0];
    assert!(status.input.is_none());
    let output = status.output.expect("status returns the status");
    let pending = serde_json::to_value(ApprovalStatus::default()).unwrap();
    assert_eq!(
        output.decode(&pending, &Limits::default()).unwrap()["state"],
        "pending"
    );
    let count = def.updates[0].output.expect("add_note returns the count");
    assert_eq!(count.decode(&json!(1), &Limits::default()), Ok(json!(1)));
}

#[test]
fn outcomes_and_states_use_the_documented_wire_format() {
    let status = ApprovalStatus {
        state: ApprovalState::Approved,
        decided_by: Some("alice".into()),
        notes: vec!["n".into()],
        ..ApprovalStatus::default()
    };
    let outcome = status.outcome(Some("Ordered 5 Apples...".into()));
    assert_eq!(
        serde_json::to_value(outcome).unwrap(),
        json!({
            "state": "approved", "order_lines": "Ordered 5 Apples...", "decided_by": "alice",
            "reason": null, "notes": ["n"]
        })
    );
    for state in [ApprovalState::Pending, ApprovalState::Expired] {
        assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
    }
}

#[cfg(feature = "openapi")]
#[test]
fn the_schemas_document_fields_and_carry_valid_examples() {
    let def = definition();
    assert_eq!(def.input.schema_name(), "ApprovalRequest");
    let schema = serde_json::to_value(def.input.schema()).unwrap();
    let timeout = &schema["properties"]["approval_timeout"]["oneOf"][1];
    assert!(
        timeout["description"].as_str().unwrap().contains("30 days"),
        "{timeout}"
    );
    assert_eq!(schema["required"], json!(["customer", "items"]), "{schema}");
    let example = schema["example"].clone();
    assert_eq!(
        def.input.decode(&example, &Limits::default()).as_ref(),
        Ok(&example)
    );
    for message in def.signals.iter().chain(&def.updates) {
        let input = message.input.unwrap();
        let example = serde_json::to_value(input.schema()).unwrap()["example"].clone();
        assert!(
            input.decode(&example, &Limits::default()).is_ok(),
            "{}: {example}",
            message.name
        );
    }
}

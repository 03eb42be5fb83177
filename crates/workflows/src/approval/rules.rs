//! The checks on every payload of the workflow, shared by the API (through [`Validate`]) and the
//! workflow code (which re-checks what clients other than the API send).

use std::time::Duration;

use super::{
    Approval, ApprovalOutcome, ApprovalRequest, ApprovalState, ApprovalStatus,
    DEFAULT_APPROVAL_TIMEOUT, Note, NoteCount, Rejection,
};
use crate::{
    registry::{InputIssue, Limits, Validate},
    rules::{parse_timeout, text_issue},
    shopping::item_issues,
};

const MAX_CUSTOMER_CHARS: usize = 200;
const MAX_APPROVER_CHARS: usize = 200;
const MAX_TEXT_CHARS: usize = 500;

impl ApprovalRequest {
    /// How long the order waits for a decision (the default when unset).
    pub fn timeout(&self) -> Result<Duration, String> {
        parse_timeout(
            self.approval_timeout
                .as_deref()
                .unwrap_or(DEFAULT_APPROVAL_TIMEOUT),
        )
    }
}

impl Validate for ApprovalRequest {
    fn issues(&self, limits: &Limits) -> Vec<InputIssue> {
        let mut issues = Vec::new();
        issues.extend(text_issue("/customer", &self.customer, MAX_CUSTOMER_CHARS));
        issues.extend(item_issues(&self.items, &limits.shopping));
        if let Err(detail) = self.timeout() {
            issues.push(InputIssue::new("/approval_timeout", detail));
        }
        issues
    }
}

impl Validate for Approval {
    fn issues(&self, _: &Limits) -> Vec<InputIssue> {
        text_issue("/approver", &self.approver, MAX_APPROVER_CHARS)
            .into_iter()
            .collect()
    }
}

impl Validate for Rejection {
    fn issues(&self, _: &Limits) -> Vec<InputIssue> {
        let approver = text_issue("/approver", &self.approver, MAX_APPROVER_CHARS);
        let reason = text_issue("/reason", &self.reason, MAX_TEXT_CHARS);
        approver.into_iter().chain(reason).collect()
    }
}

impl Validate for Note {
    fn issues(&self, _: &Limits) -> Vec<InputIssue> {
        text_issue("/text", &self.text, MAX_TEXT_CHARS)
            .into_iter()
            .collect()
    }
}

impl Validate for NoteCount {}
impl Validate for ApprovalStatus {}
impl Validate for ApprovalOutcome {}

/// Why update `add_note` must be rejected for an order in `state`, or `None` to accept it: the
/// workflow's update validator, so a rejected note never reaches the workflow history.
pub fn note_rejection(state: ApprovalState, note: &Note) -> Option<String> {
    if state != ApprovalState::Pending {
        return Some(format!(
            "the order is already {}: notes are closed",
            state.as_str()
        ));
    }
    note.issues(&Limits::UNBOUNDED)
        .into_iter()
        .next()
        .map(|issue| format!("note text {}", issue.detail))
}

//! The README's five-minute tour runs as written: each `curl` of it against a real stack, its
//! answer checked against the one the README shows (status, fields, and every value the README
//! spells out in full). A tour that drifts from the API fails here.

use std::path::PathBuf;

use flowgate_testkit::TestEnv;
use serde_json::Value;
use tokio::process::Command;

/// One command of the tour and the answer the README shows for it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Option<String>,
}

/// The tour's section of the README: every `curl`, with the answer shown after it (a `# …`
/// comment, or the ```json block that follows).
fn tour() -> Vec<Step> {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md is readable");
    let section = readme
        .split("## Five-minute tour")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a five-minute tour");
    let mut steps: Vec<Step> = Vec::new();
    let mut block: Option<&str> = None;
    let mut command = String::new();
    for line in section.lines() {
        if let Some(language) = line.strip_prefix("```") {
            block = match block {
                None => Some(language.trim()),
                Some(_) => None,
            };
            continue;
        }
        match block {
            Some("json") => {
                if let Some(last) = steps.last_mut() {
                    last.expected.get_or_insert_with(String::new).push_str(line);
                }
            }
            Some("bash") => {
                if !command.is_empty() || line.starts_with("curl ") {
                    command.push_str(line.trim_end_matches('\\'));
                    command.push(' ');
                    if !line.ends_with('\\') {
                        steps.push(Step {
                            command: std::mem::take(&mut command),
                            expected: None,
                        });
                    }
                } else if let Some(comment) = line.strip_prefix("# ") {
                    // The first comment after a command is its answer; `#     Location:` lines
                    // and the like add nothing to check.
                    if let Some(last) = steps.last_mut()
                        && last.expected.is_none()
                    {
                        last.expected = Some(comment.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    steps
}

/// The status code and JSON the README shows: `202 {…}`, or `{…}` (text after the closing
/// brace is commentary).
fn shown(expected: &str) -> (Option<u16>, Option<Value>, bool) {
    let text = expected.trim();
    let (status, rest) = match text.split_once(' ') {
        Some((code, rest)) if code.len() == 3 && code.parse::<u16>().is_ok() => {
            (code.parse().ok(), rest.trim())
        }
        _ => (None, text),
    };
    let end = rest.rfind('}').map_or(rest.len(), |i| i + 1);
    let commentary = !rest[end..].trim().is_empty();
    (status, serde_json::from_str(&rest[..end]).ok(), commentary)
}

/// Whether `actual` has every field `shown` has, with the same value wherever the README spells
/// the value out in full (no `…`).
fn matches(shown: &Value, actual: &Value, values_too: bool) -> Result<(), String> {
    let (Value::Object(shown), Value::Object(actual)) = (shown, actual) else {
        return Err(format!("expected an object, got {actual}"));
    };
    for (key, value) in shown {
        let Some(got) = actual.get(key) else {
            return Err(format!("no {key:?} in {actual:?}"));
        };
        // Generated ids differ from run to run: the README's is an example.
        let generated = value
            .as_str()
            .is_some_and(|text| text.starts_with("shopping-workflow-"));
        let spelled_out = !generated && !value.to_string().contains('…');
        if values_too && spelled_out && got != value {
            return Err(format!(
                "{key}: the README shows {value}, the API answered {got}"
            ));
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_readme_tour_runs_as_written() {
    let env = TestEnv::start().await;
    let base = env.url("");
    let steps = tour();
    assert!(steps.len() >= 6, "the tour's commands: {steps:?}");
    let mut workflow_id = String::new();
    for step in steps {
        // The tour's placeholders are the ids of the workflows it started.
        let command = step
            .command
            .replace("http://localhost:8000", &base)
            .replace("shopping-workflow-…", &workflow_id);
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{command} -sS -w '\\n%{{http_code}}'"))
            .output()
            .await
            .expect("sh runs curl");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{command}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (body, code) = stdout.rsplit_once('\n').expect("curl printed the status");
        let code: u16 = code.trim().parse().expect("a status code");
        assert!(code < 400, "{command}: {code} {body}");
        let answer: Value = serde_json::from_str(body).expect("a JSON answer");
        if let Some(id) = answer["workflow_id"].as_str()
            && id.starts_with("shopping-workflow-")
        {
            workflow_id = id.to_owned();
        }
        let Some(expected) = step.expected else {
            continue;
        };
        let (status, shown_json, commentary) = shown(&expected);
        if let Some(status) = status {
            assert_eq!(code, status, "{command}: {body}");
        }
        let shown_json = shown_json.unwrap_or_else(|| panic!("the README's answer {expected:?}"));
        // An answer followed by commentary (`(COMPLETED once it ends)`) may differ in values.
        if let Err(problem) = matches(&shown_json, &answer, !commentary) {
            panic!("{command}: {problem}");
        }
    }
}

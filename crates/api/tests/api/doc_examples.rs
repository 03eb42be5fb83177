//! The docs' examples run as written: each `curl` of the README's five-minute tour and of the
//! API reference against a real stack, its answer checked against the one the document shows
//! (status, fields, and every value it spells out in full). An example that drifts from the API
//! fails here.

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

/// The examples of `section` of a document: every `curl`, with the answer shown after it (a
/// `# …` comment, or a ```json block that follows the command's block directly).
fn examples(section: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut block: Option<&str> = None;
    let mut command = String::new();
    // Whether prose came between the last command block and this point.
    let mut prose = true;
    for line in section.lines() {
        if let Some(language) = line.strip_prefix("```") {
            block = match block {
                None => Some(language.trim()),
                Some(_) => None,
            };
            continue;
        }
        match block {
            Some("json") if !prose => {
                if let Some(last) = steps.last_mut()
                    && last.expected.as_ref().is_none_or(|e| !e.starts_with('#'))
                {
                    last.expected.get_or_insert_with(String::new).push_str(line);
                }
            }
            Some("bash") => {
                prose = false;
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
                        last.expected = Some(format!("#{comment}"));
                    }
                }
            }
            None if !line.trim().is_empty() => prose = true,
            _ => {}
        }
    }
    steps
}

/// A document of the repository.
fn document(path: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap_or_else(|e| panic!("{path} is readable: {e}"))
}

/// The status code and JSON a document shows: `202 {…}`, or `{…}` (text after the closing
/// brace is commentary; JSON shortened with `…` is not checked).
fn shown(expected: &str) -> (Option<u16>, Option<Value>, bool) {
    let text = expected.trim_start_matches('#').trim();
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

/// Runs `steps` in order against `env`: each succeeds, and answers as shown.
async fn run(env: &TestEnv, steps: Vec<Step>) {
    let base = env.url("");
    let mut workflow_id = String::new();
    for step in steps {
        // The placeholders are the ids of the workflows the examples started; `-i` (headers) is
        // for readers.
        let command = step
            .command
            .replace("http://localhost:8000", &base)
            // The webhook examples' receiver: nothing listens there, the deliveries stay pending.
            .replace("https://hooks.example.com", "http://127.0.0.1:9")
            .replace("shopping-workflow-…", &workflow_id)
            .replace("curl -i ", "curl ");
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
        if command.starts_with("curl -N ") {
            // An event stream, watched until the workflow's last event ends it.
            let events: Vec<&str> = body
                .lines()
                .filter_map(|line| line.strip_prefix("event: "))
                .collect();
            assert_eq!(
                events.first(),
                Some(&"workflow_started"),
                "{command}: {body}"
            );
            assert_eq!(
                events.last(),
                Some(&"workflow_completed"),
                "{command}: {body}"
            );
            assert!(events.contains(&"progress"), "{command}: {body}");
            continue;
        }
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
        // An answer followed by commentary (`(COMPLETED once it ends)`) may differ in values.
        if let Some(shown_json) = shown_json
            && let Err(problem) = matches(&shown_json, &answer, !commentary)
        {
            panic!("{command}: {problem}");
        }
    }
}

#[tokio::test]
async fn the_readme_tour_runs_as_written() {
    let readme = document("README.md");
    let tour = readme
        .split("## Five-minute tour")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a five-minute tour");
    let steps = examples(tour);
    assert!(steps.len() >= 6, "the tour's commands: {steps:?}");
    run(&TestEnv::start().await, steps).await;
}

#[tokio::test]
async fn the_api_references_examples_run_as_written() {
    let steps = examples(&document("docs/api.md"));
    assert!(steps.len() >= 6, "the reference's commands: {steps:?}");
    let env = TestEnv::builder()
        .settings(|s| {
            s.webhooks.allow_private_addresses = true;
            s.webhooks.allow_http = true;
        })
        .start()
        .await;
    run(&env, steps).await;
}

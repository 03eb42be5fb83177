//! The browser-facing parts in a real browser (headless chromium): a page on another origin that
//! watches a workflow with `EventSource`, and the Swagger UI at `/docs` with "Try it out".

use std::{path::Path, time::Duration};

use flowgate_testkit::{
    TestEnv,
    browser::{self, Browser, Site},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    json,
    v1_support::{get, post, shopping_start},
};

/// The API reference's `EventSource` page (`docs/api.md`, "Watching a workflow") as written,
/// but for its stream's URL, which it reads from its query string (`?stream=`).
fn events_page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
    let doc = std::fs::read_to_string(&path).expect("docs/api.md is readable");
    let section = &doc[doc.find("### Watching a workflow").expect("the section")..];
    let start = section.find("```html\n").expect("its page") + "```html\n".len();
    let page = &section[start..start + section[start..].find("```").expect("the page's end")];
    let example = r#""http://localhost:8000/v1/workflows/order-44/events""#;
    assert!(page.contains(example), "the page watches {example}: {page}");
    page.replace(
        example,
        r#"new URLSearchParams(location.search).get("stream")"#,
    )
}

/// The lines of the page's event list, as text.
const SHOWN: &str = "[...document.querySelectorAll('#events li')].map(li => li.textContent)";

/// Three items ordered one after another, a second each: the workflow runs about three seconds
/// and reports its progress a second apart.
const ITEMS: [(&str, i64); 3] = [("APPLE", 2), ("BANANA", 1), ("CHERRY", 3)];

/// A stack whose shopping workflows order one item at a time, slowly, and that lets `origin`
/// call it from a browser; `adjust` changes more.
async fn slow_orders_for(
    origin: String,
    adjust: impl FnOnce(&mut flowgate_config::Settings),
) -> TestEnv {
    TestEnv::builder()
        .settings(|s| {
            s.cors.allowed_origins = vec![origin];
            s.shopping.order_delay = Duration::from_secs(1);
            s.worker.max_concurrent_activities = 1;
            adjust(s);
        })
        .start()
        .await
}

async fn start_order(env: &TestEnv) -> String {
    let out = json(
        post(
            env,
            "/v1/workflow-types/shopping/start",
            Some(&shopping_start(&ITEMS)),
            &[],
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    out["workflow_id"].as_str().unwrap().to_owned()
}

/// Opens the events page on `site` watching workflow `id` of `env`.
async fn watch(browser: &Browser, site: &Site, env: &TestEnv, id: &str) {
    let stream = env.url(&format!("/v1/workflows/{id}/events"));
    let query = utf8_percent_encode(&stream, NON_ALPHANUMERIC);
    browser.open(&site.url(&format!("/?stream={query}"))).await;
}

/// Waits until the page shows the workflow's completion; returns every line as `(type, data)`.
async fn shown_until_completed(browser: &Browser) -> Vec<(String, Value)> {
    browser
        .wait_for(
            "the workflow's completion on the page",
            Duration::from_secs(60),
            &format!("{SHOWN}.some(l => l.startsWith('workflow_completed: '))"),
        )
        .await;
    parse(&browser.eval(SHOWN).await)
}

fn parse(lines: &Value) -> Vec<(String, Value)> {
    lines
        .as_array()
        .expect("a list of lines")
        .iter()
        .map(|line| {
            let line = line.as_str().expect("text");
            let (kind, data) = line.split_once(": ").expect("`type: data`");
            let data = serde_json::from_str(data).unwrap_or_else(|e| panic!("{line}: {e}"));
            (kind.to_owned(), data)
        })
        .collect()
}

/// Asserts the page shows each of the order's events once, in order: its start, an item ordered
/// per progress report counting up, and its completion with the workflow's result.
async fn assert_whole_order_shown(env: &TestEnv, id: &str, shown: &[(String, Value)]) {
    let ids: Vec<u64> = shown
        .iter()
        .map(|(_, d)| d["event_id"].as_u64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "each event once, in order: {shown:?}"
    );
    let kinds: Vec<&str> = shown.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"workflow_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"workflow_completed"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "activity_completed").count(),
        3,
        "{kinds:?}"
    );
    let progress: Vec<&Value> = shown
        .iter()
        .filter(|(k, _)| k == "progress")
        .map(|(_, d)| &d["progress"])
        .collect();
    assert_eq!(
        progress,
        [
            &json!({"ordered": 1, "total": 3}),
            &json!({"ordered": 2, "total": 3}),
            &json!({"ordered": 3, "total": 3})
        ],
        "{kinds:?}"
    );
    let result = json(
        get(env, &format!("/v1/workflows/{id}/result"), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(
        shown.last().unwrap().1["result"],
        result["result"],
        "{result}"
    );
    assert_eq!(
        result["result"], "Ordered 2 Apples...Ordered 1 Bananas...Ordered 3 Cherries...",
        "{result}"
    );
}

#[tokio::test]
async fn a_page_on_another_origin_shows_a_workflows_events_while_it_runs() {
    let Some(chromium) = browser::binary_or_skip() else {
        return;
    };
    let site = Site::serve(events_page()).await;
    let env = slow_orders_for(site.origin(), |_| {}).await;
    let browser = Browser::launch(&chromium).await;
    let id = start_order(&env).await;

    watch(&browser, &site, &env, &id).await;

    // Live: the first item's progress is on the page while the workflow is still ordering.
    let first = browser
        .wait_for(
            "the first progress event on the page",
            Duration::from_secs(30),
            &format!("{SHOWN}.some(l => l.startsWith('progress: ')) && {SHOWN}"),
        )
        .await;
    let described = json(
        get(&env, &format!("/v1/workflows/{id}"), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        described["status"], "running",
        "progress shown before the end: {described}"
    );
    let first = parse(&first);
    assert_eq!(first[0].0, "workflow_started", "{first:?}");
    assert!(
        first.iter().all(|(k, _)| k != "workflow_completed"),
        "{first:?}"
    );

    let shown = shown_until_completed(&browser).await;
    assert_whole_order_shown(&env, &id, &shown).await;
    let console = browser.console();
    assert!(console.iter().all(|l| !l.contains("CORS")), "{console:#?}");
}

#[tokio::test]
async fn a_page_whose_stream_ends_mid_workflow_resumes_by_itself_and_shows_each_event_once() {
    let Some(chromium) = browser::binary_or_skip() else {
        return;
    };
    let site = Site::serve(events_page()).await;
    // Streams end after 1.5 s: the page's EventSource reconnects with Last-Event-ID, at least
    // once during the three seconds of ordering.
    let env = slow_orders_for(site.origin(), |s| {
        s.api.events.max_age = Duration::from_millis(1500);
    })
    .await;
    let browser = Browser::launch(&chromium).await;
    let id = start_order(&env).await;

    watch(&browser, &site, &env, &id).await;

    let shown = shown_until_completed(&browser).await;
    assert_whole_order_shown(&env, &id, &shown).await;
    let stream = env.url(&format!("/v1/workflows/{id}/events"));
    let opened = browser.requests().iter().filter(|u| **u == stream).count();
    assert!(
        opened >= 2,
        "the stream was resumed: {:#?}",
        browser.requests()
    );
}

/// The Swagger UI's operation for `POST /v1/workflow-types/shopping/start` (tag `v1`,
/// operation id `start_shopping`).
const SHOPPING_START: &str = "document.getElementById('operations-v1-start_shopping')";

#[tokio::test]
async fn the_swagger_ui_loads_from_the_api_alone_and_starts_a_workflow_with_try_it_out() {
    let Some(chromium) = browser::binary_or_skip() else {
        return;
    };
    let env = TestEnv::start().await;
    let browser = Browser::launch(&chromium).await;
    // Under a host name, as a person opens it (the Swagger UI treats `localhost` and 127.0.0.1
    // apart).
    let origin = env.url("").replace("127.0.0.1", "flowgate.test");

    browser.open(&format!("{origin}/docs/")).await;
    let paths = browser
        .wait_for(
            "the operations list",
            Duration::from_secs(30),
            "(() => { const paths = [...document.querySelectorAll('.opblock-summary-path')]
                .map(e => e.dataset.path || e.textContent); return paths.length && paths })()",
        )
        .await;
    let paths: Vec<&str> = paths
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for path in [
        "/v1/workflow-types/shopping/start",
        "/v1/workflows/{workflow_id}/events",
    ] {
        assert!(paths.contains(&path), "{path} is listed: {paths:?}");
    }

    // Try it out: expand the operation, switch to editing, run the example as it is.
    browser
        .eval(&format!(
            "(() => {{ const op = {SHOPPING_START};
                (op.querySelector('.opblock-summary-control') || op.querySelector('.opblock-summary')).click() }})()"
        ))
        .await;
    click(&browser, "the Try it out button", ".try-out__btn").await;
    let body = browser
        .wait_for(
            "the example body in the editor",
            Duration::from_secs(10),
            &format!("{SHOPPING_START}.querySelector('textarea.body-param__text')?.value"),
        )
        .await;
    let body: Value = serde_json::from_str(body.as_str().unwrap()).expect("a JSON body");
    assert_eq!(
        body,
        shopping_start(&[("APPLE", 5), ("BANANA", 3)]),
        "the documented example"
    );
    click(&browser, "the Execute button", ".execute").await;
    let code = browser
        .wait_for(
            "the server's response",
            Duration::from_secs(30),
            &format!(
                "{SHOPPING_START}.querySelector('.live-responses-table tr.response .response-col_status')?.textContent.trim()"
            ),
        )
        .await;
    let answer = browser
        .eval(&format!(
            "{SHOPPING_START}.querySelector('.live-responses-table tr.response .response-col_description pre')?.textContent"
        ))
        .await;
    assert!(
        code.as_str().unwrap().starts_with('2'),
        "a 2xx on the page: {code} {answer}\n{:#?}",
        browser.console()
    );
    let answer: Value =
        serde_json::from_str(answer.as_str().expect("a response body")).expect("JSON");
    let id = answer["workflow_id"]
        .as_str()
        .expect("a workflow_id on the page");

    // The workflow exists, and ends as the example's order.
    let result = json(
        get(&env, &format!("/v1/workflows/{id}/result?wait=20"), &[]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        result["result"], "Ordered 5 Apples...Ordered 3 Bananas...",
        "{result}"
    );

    // Nothing came from anywhere but the API: no CDN, no online validator.
    let requests = browser.requests();
    let elsewhere: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with(&format!("{origin}/")) && !u.starts_with("data:"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "requests beyond the API: {elsewhere:#?}"
    );
    for asked in [
        "/docs/",
        "/openapi.json",
        "/v1/workflow-types/shopping/start",
    ] {
        let url = format!("{origin}{asked}");
        assert!(requests.contains(&url), "{url} in {requests:#?}");
    }
}

/// Waits for `selector` in the shopping start operation and clicks it.
async fn click(browser: &Browser, what: &str, selector: &str) {
    browser
        .wait_for(
            what,
            Duration::from_secs(10),
            &format!(
                "(() => {{ const el = {SHOPPING_START}.querySelector('{selector}'); \
                 if (!el || el.disabled) return null; el.click(); return true }})()"
            ),
        )
        .await;
}

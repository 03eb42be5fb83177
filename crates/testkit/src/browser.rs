//! A real headless browser for tests: Debian's `chromium`, started by the test with a fresh
//! profile in a temporary directory, driven over the Chrome DevTools Protocol, and killed with
//! every process it started when the [`Browser`] is dropped.
//!
//! A test finds the binary with [`binary_or_skip`] (which prints `SKIPPED: …` and returns `None`
//! where chromium is missing, unless `FLOWGATE_REQUIRE_BROWSER=1`, as in CI), [`Browser::launch`]es
//! it, opens pages with [`Browser::open`], reads them with [`Browser::eval`] and waits for what a
//! person would see with [`Browser::wait_for`], never for a time. [`Browser::requests`] lists
//! every URL the page asked for. Host names ending in `.test` resolve to 127.0.0.1, so a page can
//! be opened under a name as a person would, not only as `127.0.0.1`. [`Site`] serves a test's
//! own page from another origin.

mod cdp;
mod site;

use std::{
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

pub use site::Site;

/// Set to `1` to make a missing chromium a test failure instead of a skip.
pub const REQUIRE_ENV: &str = "FLOWGATE_REQUIRE_BROWSER";

/// Overrides where the browser is (default: `chromium`, else `chromium-browser`, on `PATH`).
pub const BINARY_ENV: &str = "FLOWGATE_CHROMIUM";

const INSTALL: &str = "apt-get install --no-install-recommends chromium";

/// The chromium binary; `None` (after saying so) when it is missing and not required.
pub fn binary_or_skip() -> Option<PathBuf> {
    let found = match std::env::var_os(BINARY_ENV) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH").and_then(|paths| {
            ["chromium", "chromium-browser"].iter().find_map(|name| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        }),
    };
    if found.is_none() {
        flowgate_devserver::skip::missing_tool("chromium", INSTALL, REQUIRE_ENV);
    }
    found
}

/// A headless chromium with one page, driven over the DevTools Protocol.
pub struct Browser {
    // Dropped in this order: the connection, then the processes, then their profile.
    page: cdp::Cdp,
    _process: Group,
    _dir: tempfile::TempDir,
}

/// The browser's process, leader of its own group: dropping it kills the browser with its
/// renderers and helpers, and nothing else.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

impl Browser {
    /// Starts `bin` headless on `about:blank` with a fresh profile and connects to its page,
    /// recording the page's requests, console and errors from the start.
    pub async fn launch(bin: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let profile = dir.path().join("profile");
        let log = dir.path().join("chromium.log");
        let output = std::fs::File::create(&log).expect("log file");
        let mut process = Group(
            std::process::Command::new(bin)
                .args([
                    "--headless=new",
                    // As root (containers, CI) chromium refuses to start with its sandbox.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--host-resolver-rules=MAP *.test 127.0.0.1",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("log file"))
                .stderr(output)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
        );
        let port = devtools_port(&mut process.0, &profile, &log).await;
        let page = cdp::Cdp::connect(&page_socket(port).await).await;
        for domain in ["Page", "Runtime", "Network", "Log"] {
            page.call(&format!("{domain}.enable"), json!({})).await;
        }
        Browser {
            page,
            _process: process,
            _dir: dir,
        }
    }

    /// Opens `url` in the page and waits until it has loaded (its `load` event).
    pub async fn open(&self, url: &str) {
        let loads = || self.events("Page.loadEventFired").len();
        let before = loads();
        let navigated = self.page.call("Page.navigate", json!({"url": url})).await;
        assert!(
            navigated["errorText"].is_null(),
            "{url} opens: {}",
            navigated["errorText"]
        );
        self.wait_until(&format!("{url} to load"), Duration::from_secs(30), || {
            (loads() > before).then_some(())
        })
        .await;
    }

    /// The value of a JavaScript expression in the page (a promise is awaited); `null` for
    /// `undefined`. Panics, with the page's console, when the expression throws.
    pub async fn eval(&self, expression: &str) -> Value {
        let answer = self
            .page
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            answer["exceptionDetails"].is_null(),
            "`{expression}` threw: {}\n{}",
            answer["exceptionDetails"],
            self.console().join("\n")
        );
        answer["result"]["value"].clone()
    }

    /// Polls `expression` until its value is truthy in JavaScript, and returns that value;
    /// panics after `timeout` naming `what`, with the page's console.
    pub async fn wait_for(&self, what: &str, timeout: Duration, expression: &str) -> Value {
        let truthy = format!(
            "(async () => {{ const value = await ({expression}); return value || null }})()"
        );
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let value = self.eval(&truthy).await;
            if !value.is_null() {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} (`{expression}`)\n--- console ---\n{}",
                self.console().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls `check` over the recorded events until it returns `Some`.
    async fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn() -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n--- console ---\n{}",
                self.console().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every URL the page requested since the browser started, in order (refused ones too:
    /// a request blocked by the page's Content-Security-Policy is still listed).
    pub fn requests(&self) -> Vec<String> {
        self.events("Network.requestWillBeSent")
            .iter()
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// What the page logged: console calls, uncaught exceptions and the browser's own messages
    /// (refused loads, CORS and Content-Security-Policy errors), one line each.
    pub fn console(&self) -> Vec<String> {
        self.page
            .events()
            .iter()
            .filter_map(|event| {
                let params = &event["params"];
                match event["method"].as_str()? {
                    "Runtime.consoleAPICalled" => {
                        let args: Vec<String> = params["args"]
                            .as_array()?
                            .iter()
                            .map(|a| match &a["value"] {
                                Value::String(s) => s.clone(),
                                Value::Null => a["description"].as_str().unwrap_or("").to_owned(),
                                other => other.to_string(),
                            })
                            .collect();
                        Some(format!("console.{}: {}", params["type"], args.join(" ")))
                    }
                    "Runtime.exceptionThrown" => {
                        let details = &params["exceptionDetails"];
                        let text = details["exception"]["description"]
                            .as_str()
                            .or(details["text"].as_str())?;
                        Some(format!("uncaught: {text}"))
                    }
                    "Log.entryAdded" => {
                        let entry = &params["entry"];
                        Some(format!(
                            "{} {}: {} {}",
                            entry["source"].as_str()?,
                            entry["level"].as_str()?,
                            entry["text"].as_str()?,
                            entry["url"].as_str().unwrap_or("")
                        ))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn events(&self, method: &str) -> Vec<Value> {
        let mut events = self.page.events();
        events.retain(|e| e["method"] == method);
        events
    }
}

/// The DevTools port chromium chose, from `DevToolsActivePort` in its profile.
async fn devtools_port(process: &mut Child, profile: &Path, log: &Path) -> u16 {
    let file = profile.join("DevToolsActivePort");
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = process.try_wait() {
            panic!("chromium exited ({status}):\n{}", log());
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // The first line is the port; the file is complete once the second is written too.
        if let [port, _path] = text.lines().collect::<Vec<_>>()[..] {
            return port.parse().expect("a port in DevToolsActivePort");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromium did not open its DevTools port:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The WebSocket of the browser's page, from the DevTools HTTP endpoint's target list.
async fn page_socket(port: u16) -> String {
    let http = reqwest::Client::new();
    crate::eventually(Duration::from_secs(30), "chromium's page", || async {
        let targets =
            crate::wait::json_at(&http, &format!("http://127.0.0.1:{port}/json/list")).await?;
        targets
            .as_array()?
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .map(str::to_owned)
    })
    .await
}

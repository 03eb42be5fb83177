//! The one-command local run, end to end, with the real `flowgate-dev` binary on its default
//! ports: the HTTP API guide's client examples (`examples/guide`) run unchanged with their real
//! toolchains, Ctrl-C (SIGINT) stops everything with exit status 0 and leaves no process behind,
//! and the workflows survive a restart on the same state directory (stopped with SIGTERM).
//!
//! Needs the default ports free: 8000 (API), 7233 (Temporal gRPC), 7243 (Temporal HTTP), 8080
//! (Temporal UI) and 8081 (worker probe). Toolchains: `bash` + `curl`, `python3` with the
//! `requests` package, `node` >= 18 (global `fetch`), `go`. A missing toolchain skips its
//! examples, unless `FLOWGATE_REQUIRE_GUIDE_CLIENTS=1` (CI), which makes it a failure.
//!
//! Every wait is bounded and the whole test is under [`TEST_TIMEOUT`]; the local run is
//! SIGKILLed when its guard drops (and by the kernel if this test process dies), which in turn
//! takes its Temporal server with it.

use std::{
    ffi::OsString,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{ExitStatus, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const API: &str = "http://localhost:8000";
const UI: &str = "http://localhost:8080";
/// The ports the local run takes by default.
const PORTS: [(u16, &str); 5] = [
    (8000, "API"),
    (7233, "Temporal gRPC"),
    (7243, "Temporal HTTP API"),
    (8080, "Temporal UI"),
    (8081, "worker probe"),
];
/// Env var that turns a missing client toolchain from a skip into a failure.
const REQUIRE_CLIENTS_ENV: &str = "FLOWGATE_REQUIRE_GUIDE_CLIENTS";
/// The first run ever may `pip install` the Temporal CLI.
const READY_TIMEOUT: Duration = Duration::from_secs(240);
/// The brief's bound on a signalled shutdown.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// `go run` compiles; the others take about a second.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(240);
const TOOL_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const TEST_TIMEOUT: Duration = Duration::from_secs(1200);

const APPLES_AND_BANANAS: &str = "Ordered 5 Apples...Ordered 3 Bananas...";

#[tokio::test]
async fn the_local_run_serves_the_guide_examples_stops_cleanly_and_keeps_its_state() {
    let started = Instant::now();
    match tokio::time::timeout(TEST_TIMEOUT, local_run_end_to_end()).await {
        Ok(Ok(())) => eprintln!("local run test passed in {:.1?}", started.elapsed()),
        Ok(Err(error)) => panic!("{error:#}"),
        Err(_) => panic!("the local run test did not finish within {TEST_TIMEOUT:?}"),
    }
}

async fn local_run_end_to_end() -> anyhow::Result<()> {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guide");
    let guide = guide
        .canonicalize()
        .with_context(|| format!("examples directory {} is missing", guide.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("flowgate-local-run-")
        .tempdir()?;
    let state = tmp.path().join("state");
    let runnable = runnable_examples().await?;
    for (port, what) in PORTS {
        ensure!(
            !port_taken(port),
            "port {port} ({what}) is already in use: the local run needs its default ports \
             8000, 7233, 7243, 8080 and 8081 (the guide's examples hard-code localhost:8000). \
             Stop whatever listens there (see `ss -ltnp 'sport = :{port}'`), e.g. another \
             `flowgate-dev`, and run the test again"
        );
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()?;

    // --- First run: banner, UI, the guide's examples, Ctrl-C. ---
    let t = Instant::now();
    let mut run = LocalRun::start(&state, tmp.path().join("flowgate-dev-1.log"))?;
    run.wait_ready(&http).await?;
    eprintln!("local run ready in {:.1?}", t.elapsed());
    let banner = run.wait_banner().await?;
    for (label, url) in [
        ("API:", API.to_owned()),
        ("API docs:", format!("{API}/docs")),
        ("Temporal UI:", UI.to_owned()),
    ] {
        ensure!(
            banner_value(&banner, label) == Some(url.as_str()),
            "the banner should show `{label} {url}`; it printed:\n{banner}"
        );
    }
    // The UI may come up a moment after the Temporal frontend.
    for url in [
        UI.to_owned(),
        "http://localhost:8080".to_owned(),
        format!("{API}/docs"),
    ] {
        wait_for_200(&http, &url, Duration::from_secs(30)).await?;
    }
    let root: Value = http.get(format!("{API}/")).send().await?.json().await?;
    ensure!(
        root == json!({"service": "Temporal Workflow API", "status": "running", "temporal_connected": true}),
        "GET / is not the guide's health answer: {root}"
    );

    // A workflow of our own, whatever toolchains are present, to look for after the restart.
    let mine = http
        .post(format!("{API}/workflows/shopping"))
        .json(
            &json!({"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}),
        )
        .send()
        .await?;
    ensure!(
        mine.status() == 200,
        "POST /workflows/shopping answered {}",
        mine.status()
    );
    let mine: Value = mine.json().await?;
    ensure!(
        mine["status"] == "completed" && mine["result"] == APPLES_AND_BANANAS,
        "unexpected sync answer: {mine}"
    );
    let mut remembered = vec![(str_field(&mine, "workflow_id")?, APPLES_AND_BANANAS)];

    let go_env = if runnable.iter().any(|e| e.tool() == Tool::Go) {
        go_env(tmp.path()).await
    } else {
        Vec::new()
    };
    for example in runnable {
        let t = Instant::now();
        let output = example.run(&guide, &go_env).await?;
        if let Some(id) = example.check(&output)? {
            remembered.push((id, "Ordered 3 Bananas..."));
        }
        eprintln!("{} passed in {:.1?}", example.file(), t.elapsed());
    }

    let owned = run.owned_processes(&state)?;
    run.stop(Signal::SIGINT, &owned).await?;

    // --- Second run on the same state: the workflows are still known. SIGTERM. ---
    ensure!(
        state.join("temporal.db").is_file(),
        "no Temporal database in {}",
        state.display()
    );
    let t = Instant::now();
    let mut run = LocalRun::start(&state, tmp.path().join("flowgate-dev-2.log"))?;
    run.wait_ready(&http).await?;
    eprintln!("local run restarted and ready in {:.1?}", t.elapsed());
    for (id, result) in &remembered {
        let url = format!("{API}/workflows/{id}/status");
        let answer = http.get(&url).send().await?;
        let code = answer.status();
        let body = answer.text().await?;
        ensure!(
            code == 200,
            "after a restart GET {url} answered {code}: {body}"
        );
        let body: Value = serde_json::from_str(&body)?;
        ensure!(
            body["workflow_id"] == id.as_str() && body["status"] == "COMPLETED",
            "after a restart {id} is not COMPLETED: {body}"
        );
        let url = format!("{API}/workflows/{id}/result?wait=0");
        let answer = http.get(&url).send().await?;
        ensure!(
            answer.status() == 200,
            "GET {url} answered {}",
            answer.status()
        );
        let body: Value = answer.json().await?;
        ensure!(
            body["status"] == "completed" && body["result"] == *result,
            "after a restart {id} lost its result: {body}"
        );
    }
    let owned = run.owned_processes(&state)?;
    run.stop(Signal::SIGTERM, &owned).await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The local run process.

/// A running `flowgate-dev`; SIGKILLed and reaped when dropped.
struct LocalRun {
    child: Child,
    pid: i32,
    log: PathBuf,
}

impl LocalRun {
    /// Starts the real binary with `--state-dir state` and default ports, output to `log`.
    fn start(state: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowgate-dev"));
        // Default ports and settings: nothing inherited may move them. Only where the Temporal
        // CLI comes from is kept.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let keep = matches!(&*name, "FLOWGATE_TEMPORAL_CLI" | "FLOWGATE_CACHE_DIR");
            if !keep
                && (name.starts_with("FLOWGATE_")
                    || name.starts_with("TEMPORAL_")
                    || name == "API_PORT"
                    || name == "RUST_LOG")
            {
                command.env_remove(&*name);
            }
        }
        command
            .arg("--state-dir")
            .arg(state)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        die_with_this_thread(&mut command);
        let child = command.spawn().context("cannot start flowgate-dev")?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .context("flowgate-dev has no pid")?;
        Ok(Self { child, pid, log })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log.display())
    }

    /// Fails if the process has exited (with its log).
    fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "flowgate-dev exited early with {status}\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Polls `GET /readyz` until 200.
    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{API}/readyz");
        loop {
            self.ensure_running()?;
            let last = match http.get(&url).timeout(Duration::from_secs(2)).send().await {
                Ok(answer) if answer.status() == 200 => return Ok(()),
                Ok(answer) => format!("{} {}", answer.status(), answer.text().await?),
                Err(error) => format!("{error:#}"),
            };
            ensure!(
                Instant::now() < deadline,
                "GET {url} not 200 within {READY_TIMEOUT:?} (last: {last})\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the whole banner is in the log; returns the log so far.
    async fn wait_banner(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.log_text();
            if text.contains("Press Ctrl-C to stop.") {
                return Ok(text);
            }
            self.ensure_running()?;
            ensure!(
                Instant::now() < deadline,
                "no banner printed\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every process the local run started (its descendants), checking that its Temporal
    /// dev server on `state` is among them.
    fn owned_processes(&self, state: &Path) -> anyhow::Result<Vec<Proc>> {
        let owned = descendants(self.pid);
        let servers = temporal_servers(state);
        ensure!(
            !servers.is_empty(),
            "no `temporal server start-dev` process for {} found in /proc",
            state.display()
        );
        for server in &servers {
            ensure!(
                owned.iter().any(|p| p.pid == server.pid),
                "Temporal server {} ({}) is not a child of flowgate-dev {}",
                server.pid,
                server.cmdline,
                self.pid
            );
        }
        eprintln!(
            "flowgate-dev {} runs: {}",
            self.pid,
            owned
                .iter()
                .map(|p| format!("{} {}", p.pid, p.cmdline))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(owned)
    }

    /// Sends `signal`; expects exit status 0 within [`EXIT_TIMEOUT`], none of `owned` left,
    /// and every default port closed.
    async fn stop(&mut self, signal: Signal, owned: &[Proc]) -> anyhow::Result<()> {
        self.ensure_running()?;
        let t = Instant::now();
        kill(Pid::from_raw(self.pid), signal).with_context(|| format!("sending {signal}"))?;
        let status = self.wait_exit(EXIT_TIMEOUT).await.with_context(|| {
            format!("flowgate-dev did not exit within {EXIT_TIMEOUT:?} of {signal}")
        })?;
        let took = t.elapsed();
        ensure!(
            status.code() == Some(0),
            "flowgate-dev exited with {status} after {signal}, expected 0\n{}",
            self.log_tail()
        );
        eprintln!("flowgate-dev exited 0 {took:.1?} after {signal}");
        let alive_at_exit: Vec<&Proc> = owned.iter().filter(|p| p.is_alive()).collect();
        if !alive_at_exit.is_empty() {
            eprintln!("note: still alive when flowgate-dev exited: {alive_at_exit:?}");
        }
        // A process killed as its parent dies (PR_SET_PDEATHSIG) may take a moment to vanish.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let left: Vec<&Proc> = owned.iter().filter(|p| p.is_alive()).collect();
            if left.is_empty() {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "after flowgate-dev exited ({signal}) these processes it started are still \
                 running: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (port, what) in PORTS {
            ensure!(
                !port_open(port),
                "port {port} ({what}) still accepts connections after flowgate-dev exited"
            );
        }
        Ok(())
    }

    async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!("still running after {timeout:?}\n{}", self.log_tail()),
        }
    }
}

impl Drop for LocalRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("killed flowgate-dev {}\n{}", self.pid, self.log_tail());
    }
}

/// Makes the kernel SIGKILL the child if the thread that started it (this test) dies without
/// running destructors, so an aborted test leaves no local run holding the ports.
#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; the hook only makes async-signal-safe syscalls (prctl, getppid)"
)]
fn die_with_this_thread(command: &mut Command) {
    let parent = std::process::id();
    let hook = move || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        if std::os::unix::process::parent_id() != parent {
            return Err(std::io::Error::other("parent exited during spawn"));
        }
        Ok(())
    };
    // SAFETY: the hook allocates nothing and only calls async-signal-safe syscalls.
    unsafe {
        command.pre_exec(hook);
    }
}

/// Polls `GET url` (redirects followed) until it answers 200.
async fn wait_for_200(http: &reqwest::Client, url: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match http.get(url).timeout(Duration::from_secs(5)).send().await {
            Ok(answer) if answer.status() == 200 => return Ok(()),
            Ok(answer) => answer.status().to_string(),
            Err(error) => format!("{error:#}"),
        };
        ensure!(
            Instant::now() < deadline,
            "GET {url} did not answer 200 within {timeout:?} (last: {last})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value after `label` on a banner line (`  API:          http://localhost:8000`).
fn banner_value<'a>(banner: &'a str, label: &str) -> Option<&'a str> {
    banner
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
}

// ------------------------------------------------------------------------------------------
// Ports and processes.

fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Something listens on the port, or it cannot be bound on all interfaces (as the API does).
fn port_taken(port: u16) -> bool {
    port_open(port) || TcpListener::bind(("0.0.0.0", port)).is_err()
}

/// A process, identified by pid and start time (so a reused pid is not mistaken for it).
#[derive(Debug, Clone)]
struct Proc {
    pid: i32,
    start_time: u64,
    cmdline: String,
}

impl Proc {
    /// Still running: same process, not a zombie.
    fn is_alive(&self) -> bool {
        stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }
}

struct Stat {
    state: char,
    ppid: i32,
    start_time: u64,
}

/// Fields of `/proc/<pid>/stat` (see proc(5)); the command name may contain spaces and ')'.
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

fn cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn proc_of(pid: i32) -> Option<Proc> {
    let stat = stat(pid)?;
    Some(Proc {
        pid,
        start_time: stat.start_time,
        cmdline: cmdline(pid).join(" "),
    })
}

/// Every live descendant of `root`.
fn descendants(root: i32) -> Vec<Proc> {
    let parents: Vec<(i32, i32)> = all_pids()
        .into_iter()
        .filter_map(|pid| stat(pid).filter(|s| s.state != 'Z').map(|s| (pid, s.ppid)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.into_iter().skip(1).filter_map(proc_of).collect()
}

/// `temporal server start-dev` processes whose arguments mention `state`.
fn temporal_servers(state: &Path) -> Vec<Proc> {
    let state = state.to_string_lossy();
    all_pids()
        .into_iter()
        .filter(|pid| {
            let args = cmdline(*pid);
            args.first().is_some_and(|bin| bin.ends_with("temporal"))
                && args
                    .windows(2)
                    .any(|w| w[0] == "server" && w[1] == "start-dev")
                && args.iter().any(|arg| arg.contains(&*state))
        })
        .filter_map(proc_of)
        .filter(Proc::is_alive)
        .collect()
}

// ------------------------------------------------------------------------------------------
// The guide's examples.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Curl,
    PythonRequests,
    Node,
    Go,
}

impl Tool {
    const ALL: [Self; 4] = [Self::Curl, Self::PythonRequests, Self::Node, Self::Go];

    fn name(self) -> &'static str {
        match self {
            Self::Curl => "bash + curl",
            Self::PythonRequests => "python3 with the `requests` package",
            Self::Node => "node >= 18 (global fetch)",
            Self::Go => "go",
        }
    }

    /// `Ok` when the toolchain works, otherwise why not.
    async fn probe(self) -> Result<(), String> {
        let checks: &[(&str, &[&str])] = match self {
            Self::Curl => &[("bash", &["--version"]), ("curl", &["--version"])],
            Self::PythonRequests => &[("python3", &["-c", "import requests"])],
            Self::Node => &[(
                "node",
                &["-e", "process.exit(typeof fetch === 'function' ? 0 : 1)"],
            )],
            Self::Go => &[("go", &["version"])],
        };
        for (program, args) in checks {
            let mut command = Command::new(program);
            command.args(*args);
            match output(command, TOOL_PROBE_TIMEOUT).await {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(format!(
                        "`{program} {}` failed ({}): {}",
                        args.join(" "),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Err(error) => return Err(format!("{program}: {error:#}")),
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Example {
    Curl,
    Requests,
    ProvidedClient,
    Fetch,
    Go,
}

impl Example {
    const ALL: [Self; 5] = [
        Self::Curl,
        Self::Requests,
        Self::ProvidedClient,
        Self::Fetch,
        Self::Go,
    ];

    fn file(self) -> &'static str {
        match self {
            Self::Curl => "curl.sh",
            Self::Requests => "requests_example.py",
            Self::ProvidedClient => "provided_client_example.py",
            Self::Fetch => "fetch_example.mjs",
            Self::Go => "go/main.go",
        }
    }

    fn tool(self) -> Tool {
        match self {
            Self::Curl => Tool::Curl,
            Self::Requests | Self::ProvidedClient => Tool::PythonRequests,
            Self::Fetch => Tool::Node,
            Self::Go => Tool::Go,
        }
    }

    /// Runs the example as its README says, from `examples/guide` (`go/` for Go).
    async fn run(self, guide: &Path, go_env: &[(&str, OsString)]) -> anyhow::Result<Output> {
        let (program, args, dir): (&str, &[&str], PathBuf) = match self {
            Self::Curl => ("bash", &["curl.sh"], guide.to_owned()),
            Self::Requests => ("python3", &["requests_example.py"], guide.to_owned()),
            Self::ProvidedClient => ("python3", &["provided_client_example.py"], guide.to_owned()),
            Self::Fetch => ("node", &["fetch_example.mjs"], guide.to_owned()),
            Self::Go => ("go", &["run", "."], guide.join("go")),
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&dir)
            // The examples talk to localhost: never through a proxy from the environment.
            .env("NO_PROXY", "localhost,127.0.0.1,::1")
            .env("no_proxy", "localhost,127.0.0.1,::1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if let Self::Go = self {
            command.envs(go_env.iter().map(|(k, v)| (k, v)));
        }
        let out = output(command, EXAMPLE_TIMEOUT).await.with_context(|| {
            format!(
                "running `{program} {}` in {}",
                args.join(" "),
                dir.display()
            )
        })?;
        ensure!(
            out.status.success(),
            "`{program} {}` ({}) failed with {}\n{}",
            args.join(" "),
            self.file(),
            out.status,
            show(&out)
        );
        Ok(out)
    }

    /// Checks the example's output; returns a workflow id worth looking for after a restart.
    fn check(self, out: &Output) -> anyhow::Result<Option<String>> {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        let printed = |line: &str| lines.contains(&line);
        let context = || format!("unexpected output of {}:\n{}", self.file(), show(out));
        match self {
            Self::Curl => {
                let answers: Vec<Value> = lines
                    .iter()
                    .filter(|l| l.starts_with('{'))
                    .map(|l| serde_json::from_str(l))
                    .collect::<Result<_, _>>()
                    .with_context(context)?;
                let [sync, started, status, result] = answers.as_slice() else {
                    bail!("expected 4 JSON answers; {}", context());
                };
                let id = str_field(started, "workflow_id")?;
                let ok = sync["status"] == "completed"
                    && sync["result"] == "Ordered 5 Apples..."
                    && id.starts_with("shopping-workflow-")
                    && started["status"] == "started"
                    && started["result"].is_null()
                    && status["workflow_id"] == id.as_str()
                    && (status["status"] == "RUNNING" || status["status"] == "COMPLETED")
                    && status["start_time"].is_string()
                    && result["workflow_id"] == id.as_str()
                    && result["status"] == "completed"
                    && result["result"] == "Ordered 3 Bananas...";
                ensure!(ok, "{}", context());
                Ok(Some(id))
            }
            Self::Requests | Self::Fetch => {
                let id_line = lines
                    .iter()
                    .any(|l| l.starts_with("Workflow ID: shopping-workflow-"));
                ensure!(
                    id_line && printed(&format!("Result: {APPLES_AND_BANANAS}")),
                    "{}",
                    context()
                );
                Ok(None)
            }
            Self::ProvidedClient => {
                ensure!(
                    lines == ["Ordered 5 Apples...", "Ordered 3 Bananas..."],
                    "{}",
                    context()
                );
                Ok(None)
            }
            Self::Go => {
                // The builtin println writes to standard error.
                let stderr = String::from_utf8_lossy(&out.stderr);
                let expected = format!("Result: {APPLES_AND_BANANAS}");
                ensure!(
                    stderr
                        .lines()
                        .chain(stdout.lines())
                        .any(|l| l.trim() == expected),
                    "{}",
                    context()
                );
                Ok(None)
            }
        }
    }
}

/// The examples whose toolchain works. A missing one is skipped with a note, or is an error
/// naming every missing toolchain when [`REQUIRE_CLIENTS_ENV`] is `1`.
async fn runnable_examples() -> anyhow::Result<Vec<Example>> {
    let required = std::env::var(REQUIRE_CLIENTS_ENV).is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    for tool in Tool::ALL {
        if let Err(why) = tool.probe().await {
            missing.push((tool, why));
        }
    }
    if required && !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(tool, why)| format!("{} ({why})", tool.name()))
            .collect();
        bail!(
            "{REQUIRE_CLIENTS_ENV}=1 but these toolchains for the guide's examples are missing: {}",
            list.join("; ")
        );
    }
    let mut runnable = Vec::new();
    for example in Example::ALL {
        match missing.iter().find(|(tool, _)| *tool == example.tool()) {
            Some((tool, why)) => {
                eprintln!(
                    "skipping {}: {} not found ({why})",
                    example.file(),
                    tool.name()
                );
            }
            None => runnable.push(example),
        }
    }
    Ok(runnable)
}

/// Settings for `go run`: modules from go.mod only, no toolchain download, no network; the
/// build cache and GOPATH in `tmp` when the defaults are unusable (no usable HOME).
async fn go_env(tmp: &Path) -> Vec<(&'static str, OsString)> {
    let mut env = vec![
        ("GOFLAGS", OsString::from("-mod=mod")),
        ("GOTOOLCHAIN", OsString::from("local")),
        ("GOPROXY", OsString::from("off")),
    ];
    let mut command = Command::new("go");
    command.args(["env", "GOCACHE", "GOPATH"]);
    let usable = match output(command, TOOL_PROBE_TIMEOUT).await {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let dirs: Vec<&str> = text.lines().map(str::trim).collect();
            dirs.len() == 2
                && dirs
                    .iter()
                    .all(|d| d.starts_with('/') && std::fs::create_dir_all(d).is_ok())
        }
        _ => false,
    };
    if !usable {
        eprintln!("go: default GOCACHE/GOPATH unusable; using temporary ones");
        env.push(("GOCACHE", tmp.join("gocache").into_os_string()));
        env.push(("GOPATH", tmp.join("gopath").into_os_string()));
    }
    env
}

/// Runs `command` to completion with its output captured, killing it after `timeout`.
async fn output(mut command: Command, timeout: Duration) -> anyhow::Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("not found on PATH"),
        _ => anyhow::Error::new(error),
    })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => Ok(out?),
        Err(_) => bail!("did not finish within {timeout:?} (killed)"),
    }
}

fn show(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout).trim_end(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    )
}

fn str_field(value: &Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no string `{name}` in {value}"))
}

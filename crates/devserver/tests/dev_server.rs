//! Real dev-server lifecycle tests: the pinned Temporal CLI, real processes, no mocks.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use flowgate_devserver::temporal_cli::provision_async;
use flowgate_devserver::{DevServer, DevServerOptions};
use tokio::process::Command;

/// Runs a `temporal` client command against `server` over gRPC; returns its stdout.
async fn temporal(cli: &Path, server: &DevServer, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(cli)
        .args(args)
        .args(["--address", &server.address(), "--command-timeout", "10s"])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "temporal {args:?} failed: {stderr}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn process_is_gone(pid: u32) -> bool {
    // Gone, or a zombie nobody reaped yet (it no longer runs or holds ports).
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

fn port_is_closed(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

fn options(cli: PathBuf, dir: &Path) -> DevServerOptions {
    DevServerOptions {
        db_file: Some(dir.join("temporal.db")),
        log_file: Some(dir.join("server.log")),
        ..DevServerOptions::new(cli)
    }
}

#[tokio::test]
async fn a_killed_server_restarts_on_its_ports_with_its_data_and_leaves_no_process_when_dropped()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cli = provision_async().await?;
    let started = Instant::now();
    let mut server = DevServer::start(options(cli.clone(), dir.path())).await?;
    eprintln!("dev server ready in {:?}", started.elapsed());
    assert_eq!(server.ui_url(), None, "headless by default");
    let (grpc, http) = (server.grpc_port(), server.http_port());
    assert_eq!(server.address(), format!("127.0.0.1:{grpc}"));
    let start = [
        "workflow",
        "start",
        "--type",
        "Probe",
        "--task-queue",
        "q",
        "--workflow-id",
        "wf-1",
    ];
    temporal(&cli, &server, &start).await?;

    let pid = server.pid().context("running server has a pid")?;
    server.kill().await?;
    assert_eq!(server.pid(), None);
    assert!(
        process_is_gone(pid),
        "process {pid} still running after kill()"
    );
    assert!(
        port_is_closed(grpc),
        "gRPC port {grpc} still open after kill()"
    );

    let started = Instant::now();
    server.restart().await?;
    eprintln!("dev server restarted in {:?}", started.elapsed());
    assert_eq!((server.grpc_port(), server.http_port()), (grpc, http));
    let described = temporal(
        &cli,
        &server,
        &["workflow", "describe", "--workflow-id", "wf-1"],
    )
    .await?;
    assert!(
        described.contains("Probe"),
        "workflow lost across restart: {described}"
    );

    let pid = server.pid().context("restarted server has a pid")?;
    drop(server);
    assert!(
        process_is_gone(pid),
        "process {pid} still running after drop"
    );
    assert!(
        port_is_closed(grpc),
        "gRPC port {grpc} still open after drop"
    );
    Ok(())
}

#[tokio::test]
async fn stop_shuts_the_server_down_gracefully_and_is_idempotent() -> anyhow::Result<()> {
    let cli = provision_async().await?;
    let mut server = DevServer::start(DevServerOptions::new(cli.clone())).await?;
    temporal(
        &cli,
        &server,
        &["operator", "namespace", "describe", "-n", "default"],
    )
    .await?;
    let (pid, grpc) = (server.pid().context("pid")?, server.grpc_port());
    let started = Instant::now();
    server.stop().await?;
    eprintln!("dev server stopped in {:?}", started.elapsed());
    assert!(process_is_gone(pid) && port_is_closed(grpc));
    server.stop().await?;
    server.kill().await?;
    Ok(())
}

#[tokio::test]
async fn a_custom_namespace_is_created_and_waited_for() -> anyhow::Result<()> {
    let cli = provision_async().await?;
    let opts = DevServerOptions {
        namespace: "flowgate-test".to_owned(),
        ..DevServerOptions::new(cli.clone())
    };
    let server = DevServer::start(opts).await?;
    assert_eq!(server.namespace(), "flowgate-test");
    let out = temporal(
        &cli,
        &server,
        &["operator", "namespace", "describe", "-n", "flowgate-test"],
    )
    .await?;
    assert!(out.contains("flowgate-test"), "{out}");
    Ok(())
}

#[tokio::test]
async fn a_server_that_cannot_bind_its_port_fails_with_the_tail_of_its_log() -> anyhow::Result<()> {
    let cli = provision_async().await?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let opts = DevServerOptions {
        port: Some(port),
        ..DevServerOptions::new(cli)
    };
    let err = DevServer::start(opts).await.expect_err("port is taken");
    let message = format!("{err:#}");
    assert!(message.contains("exited"), "{message}");
    assert!(message.contains("address already in use"), "{message}");
    Ok(())
}

#[test]
fn a_server_is_killed_when_the_thread_that_started_it_exits() -> anyhow::Result<()> {
    let cli = tokio::runtime::Runtime::new()?.block_on(provision_async())?;
    let pid = std::thread::spawn(move || -> anyhow::Result<u32> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let server = runtime.block_on(DevServer::start(DevServerOptions::new(cli)))?;
        let pid = server.pid().context("pid")?;
        // Simulate a parent that dies without running destructors.
        std::mem::forget(server);
        Ok(pid)
    })
    .join()
    .expect("starter thread panicked")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_is_gone(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} survived its parent thread"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[tokio::test]
async fn a_restart_keeps_its_grpc_address_when_another_process_took_its_http_port()
-> anyhow::Result<()> {
    let cli = provision_async().await?;
    let dir = tempfile::tempdir()?;
    let mut server = DevServer::start(options(cli.clone(), dir.path())).await?;
    let (address, http_port) = (server.address(), server.http_port());
    server.stop().await?;
    // Someone else binds the HTTP API port while the server is down.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", http_port))?;

    server.restart().await?;

    assert_eq!(server.address(), address, "clients find it where they did");
    assert_ne!(server.http_port(), http_port);
    temporal(
        &cli,
        &server,
        &["operator", "namespace", "describe", "default"],
    )
    .await?;
    drop(squatter);
    Ok(())
}

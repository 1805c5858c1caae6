//! Drives the emulator with the official stripe-python client (`tests/python/drive.py`).
//!
//! The interpreter comes from `KASSA_PYTHON` (`scripts/python-env` prints a venv's python with
//! stripe==16.1.0). Without it the test is skipped, except under CI (`CI` set), where it fails.

use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_python_drives_the_emulator() {
    let Some(python) = std::env::var_os("KASSA_PYTHON").filter(|p| !p.is_empty()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "KASSA_PYTHON is not set (run scripts/python-env and export its output)"
        );
        eprintln!("skipped: KASSA_PYTHON is not set (see scripts/python-env)");
        return;
    };
    let (addr, emu, _task) = kassa_stripe_emulator::spawn("127.0.0.1:0").await.unwrap();
    emu.set_webhook_retry(50, 3);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/drive.py");
    let base = format!("http://{addr}");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("drive.py timed out")
        .unwrap()
        .expect("cannot start KASSA_PYTHON");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "drive.py failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

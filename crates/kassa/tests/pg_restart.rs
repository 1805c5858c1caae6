//! PostgreSQL restarted under load: a `kassa serve` taking payments (every request under its own
//! Idempotency-Key, retried until answered) while its database is stopped as by a crash
//! (`pg_ctl stop -m immediate`: no shutdown checkpoint, crash recovery on start; two seconds
//! down) and later restarted cleanly (`-m fast`). The same server process recovers by itself — no restart of
//! Kassa — and afterwards the books agree with the emulator's: nothing lost, nothing doubled, and
//! every payment a client was told is captured is captured (an outcome the crash lost, committed
//! without waiting for the disk, is finished from Stripe by the reconciler).
//!
//! The test runs its own PostgreSQL cluster (initdb in a temporary folder, a free port), so the
//! machine's server and the other tests on it are not disturbed. It runs on the suite's
//! PostgreSQL pass; it needs PostgreSQL's server binaries (`initdb`, `pg_ctl`), and under CI
//! fails without them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::load::{check_load, free_port, kassa, reconcile, stored_cards, wait_up, Load};
use common::Proc;
use kassa_storage::testing::TestDb;
use kassa_testkit::{reqwest, Emulator, TestApp};
use serde_json::json;

/// A PostgreSQL cluster of the test's own, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root: then its commands run as the `postgres` user.
    run_as: Option<String>,
    _dir: tempfile::TempDir,
}

fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let bin = server_bin()?;
        let dir = tempfile::tempdir().unwrap();
        let run_as = if is_root() {
            Some("postgres".to_string())
        } else {
            None
        };
        if run_as.is_some() {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &dir.path().display().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the cluster's folder to postgres");
        }
        let data = dir.path().join("data");
        let c = Cluster {
            bin,
            data,
            port: free_port(),
            run_as,
            _dir: dir,
        };
        c.run(
            "initdb",
            &[
                "-D",
                &c.data_str(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        c.pg_ctl(&["start"]);
        Some(c)
    }

    fn data_str(&self) -> String {
        self.data.display().to_string()
    }

    /// One of PostgreSQL's tools, run as the user the cluster belongs to.
    fn tool(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .tool(tool)
            .args(args)
            .current_dir(self.data.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl ACTION` on the cluster, waiting until it is done; the server listens on
    /// 127.0.0.1 only, its socket in the data folder.
    fn pg_ctl(&self, action: &[&str]) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=on",
            self.port,
            self.data_str()
        );
        let log = self.data.join("server.log").display().to_string();
        let data = self.data_str();
        let mut args: Vec<&str> = vec!["-D", &data, "-w", "-t", "60", "-l", &log, "-o", &opts];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_str();
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_database_restarts_mid_load_recovers_by_itself_and_loses_nothing() {
    if TestDb::configured_url().is_none() {
        return; // the PostgreSQL pass runs it
    }
    let Some(cluster) = Cluster::start() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql"
        );
        eprintln!("skipped: no PostgreSQL server binaries");
        return;
    };
    const PAYMENTS: usize = 90;
    let db = TestDb::create_postgres_untemplated(cluster.url())
        .await
        .unwrap();
    let app = TestApp::spawn_on(db, kassa_api::app).await;
    let emu = Emulator::spawn().await;
    let (_, group) = app.emulator_gateway(&emu, json!({})).await;
    let cards = stored_cards(&app, group, 6).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let server = Proc(
        kassa(&app)
            .env("KASSA_IDEMPOTENCY_LEASE_SECS", "2")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .spawn()
            .unwrap(),
    );
    wait_up(&http, &base).await;
    let (acct, pm) = cards[0];
    let load = Load::start(&base, &app.api_key, cards, PAYMENTS, 4);
    // A crash of the database a third of the way in, down for two seconds; a clean restart at
    // two thirds.
    for (at, mode) in [(PAYMENTS / 3, "immediate"), (2 * PAYMENTS / 3, "fast")] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while load.started() < at {
            assert!(
                Instant::now() < deadline,
                "the load stalled at {}",
                load.started()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cluster.pg_ctl(&["-m", mode, "stop"]);
        if mode == "immediate" {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        cluster.pg_ctl(&["start"]);
        assert!(
            load.running(),
            "the database came back after the load ended"
        );
        eprintln!(
            "PostgreSQL stopped (-m {mode}) and started after {} payments started",
            load.started()
        );
    }
    let retried = load.retried.clone();
    let answers = load.answers().await;
    let retried = retried.load(std::sync::atomic::Ordering::Relaxed);
    // Most requests just wait for a connection while the database is away (the pool tests each
    // before handing it out); those caught on a dying connection fail and are sent again.
    eprintln!("{retried} requests failed while the database was away and were sent again");
    // The same process answers normally again: a new payment goes straight through.
    let r = http
        .post(format!("{base}/v1/payments"))
        .bearer_auth(&app.api_key)
        .json(&json!({"acct_no": acct, "payment_method_no": pm, "amount": 500, "currency": "usd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "a payment after the restarts");
    drop(server);
    // Outcomes commit without waiting for the disk (the default): the crash may have lost some
    // that clients were already told; the payment is then as its claim left it, and the
    // reconciler restores the answer (`check_load` holds every "captured" answer to it).
    let before = common::all_payments(&app).await;
    let lost = answers
        .iter()
        .filter(|(_, id, answered)| {
            answered == "captured"
                && before
                    .iter()
                    .any(|p| p["id"] == id.as_str() && p["status"] != "captured")
        })
        .count();
    eprintln!("{lost} answered outcomes were lost in the crash and left to the reconciler");
    reconcile(&app);
    let not_processed = check_load(&app, &emu, &answers, PAYMENTS).await;
    eprintln!("{not_processed} payments cut off before reaching Stripe; settled as not processed");
}

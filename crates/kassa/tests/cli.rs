//! The `kassa` binary as an operator runs it: first start, key files, clients, PostgreSQL.

use kassa_storage::testing::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kassa");

fn kassa(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("KASSA_DATABASE_URL")
        .env_remove("KASSA_MASTER_KEY")
        .env_remove("KASSA_MASTER_KEY_FILE")
        .env_remove("KASSA_LISTEN")
        .env("KASSA_LOG", "info");
    c
}

/// A running `kassa serve`: its address, what it printed on stdout, and its stderr lines.
struct Server {
    child: Child,
    addr: String,
    stdout: String,
    stderr: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(cmd: Command) -> Server {
    serve_with(cmd, &[])
}

fn serve_with(mut cmd: Command, extra: &[&str]) -> Server {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kassa serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("kassa serve did not start");
        lines.push(line.clone());
        if let Some(i) = line.find("listen=") {
            break line[i + 7..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
        }
    };
    // stdout is only written before the server starts listening.
    let mut stdout = String::new();
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        let mut first = String::new();
        // Non-empty only on a first start.
        let (otx, orx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = reader.read_line(&mut first);
            let _ = otx.send(first);
        });
        if let Ok(s) = orx.recv_timeout(Duration::from_millis(500)) {
            stdout = s;
        }
    }
    Server {
        child,
        addr,
        stdout,
        stderr: lines,
    }
}

fn get(addr: &str, path: &str, key: Option<&str>) -> (u16, String) {
    // A tiny HTTP/1.1 client: the binary's tests need no HTTP library.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, buf)
}

fn json_line(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not one JSON line: {s:?}: {e}"))
}

#[test]
fn first_start_on_sqlite_makes_key_file_and_client_one() {
    if TestDb::configured_url().is_some() {
        return; // SQLite defaults only; the PostgreSQL start-up is tested below.
    }
    let dir = tempfile::tempdir().unwrap();
    let first = serve(kassa(dir.path()));
    let created = json_line(&first.stdout);
    assert_eq!(created["client_no"], 1);
    let key = created["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("kassa_sk_"));
    assert!(
        first
            .stderr
            .iter()
            .any(|l| l.contains("created master key file")),
        "{:?}",
        first.stderr
    );
    assert!(
        dir.path().join("kassa.db").exists(),
        "default database is kassa.db in the working directory"
    );
    let key_file = dir.path().join("kassa.db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(get(&first.addr, "/healthz", None).0, 200);
    assert_eq!(get(&first.addr, "/v1/gateways", Some(&key)).0, 200);
    assert_eq!(
        get(&first.addr, "/v1/gateways", Some("kassa_sk_nope")).0,
        401
    );
    // Logs never show the key.
    assert!(!first.stderr.iter().any(|l| l.contains(&key)));

    // A client created while the server runs works against the running server.
    let out = kassa(dir.path())
        .args(["clients", "create", "--name", "Second"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = json_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(second["client_no"], 2);
    assert_eq!(
        get(&first.addr, "/v1/gateways", second["api_key"].as_str()).0,
        200
    );
    drop(first);

    // The second start says nothing new: same key file, no new client.
    let again = serve(kassa(dir.path()));
    assert_eq!(again.stdout.trim(), "");
    assert!(!again
        .stderr
        .iter()
        .any(|l| l.contains("created master key file")));
    assert_eq!(get(&again.addr, "/v1/gateways", Some(&key)).0, 200);
    drop(again);

    // The database only holds the keys' hashes.
    let db = std::fs::read(dir.path().join("kassa.db")).unwrap();
    let wal = std::fs::read(dir.path().join("kassa.db-wal")).unwrap_or_default();
    let hay = String::from_utf8_lossy(&[db, wal].concat()).into_owned();
    assert!(!hay.contains(&key[9..]));
}

#[test]
fn a_different_master_key_is_refused() {
    if TestDb::configured_url().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(serve(kassa(dir.path())));
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let out = kassa(dir.path())
        .env("KASSA_MASTER_KEY", other)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match"), "{err}");
    let out = kassa(dir.path())
        .env("KASSA_MASTER_KEY", "c2hvcnQ=")
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 bytes"));
}

#[test]
fn postgres_without_a_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = kassa(dir.path())
        .env("KASSA_DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KASSA_MASTER_KEY"), "{err}");
}

#[test]
fn serves_on_the_configured_database() {
    // On the PostgreSQL run this is PostgreSQL; on the SQLite run a file given by URL.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let migrate = kassa(dir.path())
        .env("KASSA_DATABASE_URL", &db.url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let server = serve({
        let mut c = kassa(dir.path());
        c.env("KASSA_DATABASE_URL", &db.url)
            .env("KASSA_MASTER_KEY", key);
        c
    });
    let created = json_line(&server.stdout);
    let (status, body) = get(&server.addr, "/healthz", None);
    assert_eq!(status, 200);
    let expected = if db.url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert!(body.contains(expected), "{body}");
    assert_eq!(
        get(
            &server.addr,
            "/v1/audit_events",
            created["api_key"].as_str()
        )
        .0,
        200
    );
    let out = kassa(dir.path())
        .env("KASSA_DATABASE_URL", &db.url)
        .args(["clients", "create", "--name", "Another"])
        .output()
        .unwrap();
    assert_eq!(
        json_line(&String::from_utf8_lossy(&out.stdout))["client_no"],
        2
    );
    let out = kassa(dir.path())
        .env("KASSA_DATABASE_URL", &db.url)
        .args(["clients", "create", "--name", "  "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    drop(server);
    drop(db);
}

#[test]
fn demo_runs_the_emulator_and_sets_up_a_gateway() {
    if TestDb::configured_url().is_some() {
        return; // The demo is the embedded default: SQLite.
    }
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        kassa(dir.path()),
        &["--demo", "--emulator-listen", "127.0.0.1:0"],
    );
    let key = json_line(&server.stdout)["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let ready = server
        .stderr
        .iter()
        .find(|l| l.contains("demo ready"))
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", server.stderr));
    let emulator = ready
        .split("Stripe emulator at ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let (status, body) = get(&server.addr, "/v1/gateways/1", Some(&key));
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("\"api_base_url\":\"{emulator}\"")),
        "{body}"
    );
    assert!(body.contains("\"type\":\"stripe_v2\""));
    let (status, body) = get(&server.addr, "/v1/collection_groups/1", Some(&key));
    assert_eq!(status, 200, "{body}");
    // The emulator answers as Stripe does.
    let addr = emulator.trim_start_matches("http://");
    let (status, body) = get(
        addr,
        "/v1/customers/cus_missing",
        Some("sk_test_demo123456"),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("resource_missing"), "{body}");
}

/// `serve` refuses a bad value of `flag` naming it (and each of `named`), and starts with `env`
/// set to a good one.
fn refuses_bad_and_serves_with(flag: &str, bad: &str, named: &[&str], env: (&str, &str)) {
    let dir = tempfile::tempdir().unwrap();
    let out = kassa(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", flag, bad])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(flag), "{err}");
    for n in named {
        assert!(err.contains(n), "{n}: {err}");
    }
    let mut cmd = kassa(dir.path());
    cmd.env(env.0, env.1);
    let server = serve_with(cmd, &[]);
    assert_eq!(get(&server.addr, "/healthz", None).0, 200);
}

#[test]
fn webhook_tolerance_is_configurable_and_checked() {
    if TestDb::configured_url().is_some() {
        return;
    }
    refuses_bad_and_serves_with(
        "--webhook-tolerance",
        "0",
        &[],
        ("KASSA_WEBHOOK_TOLERANCE_SECS", "600"),
    );
}

#[test]
fn outcome_commit_is_configurable_and_checked() {
    if TestDb::configured_url().is_some() {
        return;
    }
    refuses_bad_and_serves_with(
        "--outcome-commit",
        "never",
        &["async", "sync"],
        ("KASSA_OUTCOME_COMMIT", "sync"),
    );
}

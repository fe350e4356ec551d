//! The real binary on a loopback port: traffic, SIGTERM, restart on the same data
//! directory — nothing acknowledged is lost.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data_dir: &std::path::Path) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--window",
                "2s",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(port, "GET", "/ready", "") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become ready on port {port}");
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WINE: &str = r#"{"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0, "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0, "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51, "sulphates": 0.56, "alcohol_pct_vol": 9.4}"#;

fn rows_since(port: u16, start_s: i64) -> u64 {
    let (status, body) = http(
        port,
        "GET",
        &format!("/profiles?format=json&start={start_s}"),
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["rows"].as_u64().unwrap()
}

#[test]
fn a_restart_on_the_same_data_directory_loses_nothing() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start_s = sextant::time::now_ms() / 1000 - 1;

    let server = Server::start(&dir);
    for i in 0..150 {
        let (status, body) = http(server.port, "POST", "/predict", WINE).unwrap();
        assert_eq!(status, 200, "request {i}: {body}");
        if i == 75 {
            // Let at least one window close and be stored while traffic goes on.
            std::thread::sleep(Duration::from_millis(2100));
        }
    }
    let (status, _) = http(server.port, "POST", "/predict", r#"{"ph": "sour"}"#).unwrap();
    assert_eq!(status, 422);
    assert_eq!(rows_since(server.port, start_s), 150);
    server.stop();

    let server = Server::start(&dir);
    assert_eq!(
        rows_since(server.port, start_s),
        150,
        "rows lost across the restart"
    );
    for _ in 0..10 {
        assert_eq!(http(server.port, "POST", "/predict", WINE).unwrap().0, 200);
    }
    assert_eq!(rows_since(server.port, start_s), 160);
    // The horizon (drift, metrics) was reloaded from the store too.
    let (_, metrics) = http(server.port, "GET", "/metrics", "").unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("sextant_profile_rows{scope=\"horizon\"}"))
        .unwrap();
    assert!(line.ends_with(" 160"), "{line}");
    server.stop();
}

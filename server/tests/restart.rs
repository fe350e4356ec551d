//! The real binary on a loopback port: traffic, SIGTERM, restart on the same data
//! directory — nothing acknowledged is lost.

mod common;

use common::{Server, TempDir, WINE, http};
use std::time::Duration;

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
    let dir = TempDir::new("restart");
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
    // The rotation thread stores each window that closes while the server runs (it
    // ticks every second: waited for, within 5 s).
    let stored = || {
        let (status, body) = http(server.port, "GET", "/profiles/windows", "").unwrap();
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] == "closed")
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stored() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(stored() >= 1, "no window stored while serving");
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

#[test]
fn a_client_that_never_finishes_its_request_does_not_keep_the_server_from_stopping() {
    let dir = TempDir::new("drain");
    let start_s = sextant::time::now_ms() / 1000 - 1;
    let server = Server::start_with(&dir, &[("SEXTANT_DRAIN_TIMEOUT", "1s")]);
    for _ in 0..20 {
        assert_eq!(http(server.port, "POST", "/predict", WINE).unwrap().0, 200);
    }
    // A body announced as 300 bytes, of which 9 ever arrive.
    let mut stuck = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    std::io::Write::write_all(
        &mut stuck,
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 300\r\n\r\n{\"ph\": 3.",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Without the drain timeout, graceful shutdown waited for that body for ever (and
    // an orchestrator's SIGKILL then lost the open window); `stop` allows 15 s.
    let stopping = std::time::Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "took {:?} to stop",
        stopping.elapsed()
    );
    drop(stuck);
    let server = Server::start(&dir);
    assert_eq!(
        rows_since(server.port, start_s),
        20,
        "rows lost at the stop"
    );
    server.stop();
}

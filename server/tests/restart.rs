//! The real binary on a loopback port: traffic, SIGTERM, restart on the same data
//! directory — nothing acknowledged is lost.

mod common;

use common::{Server, WINE, http};
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

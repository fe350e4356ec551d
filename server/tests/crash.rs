//! The prediction log against real crashes and real replicas: `kill -9` under load, then
//! a restart; and two server processes sharing one secret.

mod common;

use common::{Server, WINE, http};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn db(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join(sextant_server::predlog::FILE_NAME)).unwrap()
}

fn feedback(port: u16, items: &[(String, f64)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, actual)| json!({"prediction_id": id, "actual": actual}))
        .collect();
    let (status, body) = http(
        port,
        "POST",
        "/feedback",
        &json!({ "items": items }).to_string(),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn kill_9_under_load_loses_no_prediction_acknowledged_a_second_before() {
    let dir = tempdir("crash");
    let server = Server::start(&dir);
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    // Four clients post predictions until the kill; each keeps (id, when acknowledged).
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match http(port, "POST", "/predict", WINE) {
                        Ok((200, body)) => {
                            let v: Value = serde_json::from_str(&body).unwrap();
                            let id = v["prediction_id"].as_str().unwrap().to_owned();
                            acked.push((id, Instant::now()));
                        }
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    // Load for ~2.5 s, then kill -9 while the clients are still sending.
    std::thread::sleep(Duration::from_millis(2500));
    let killed_at = Instant::now();
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(String, Instant)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let early: Vec<&String> = acked
        .iter()
        .filter(|(_, t)| killed_at.duration_since(*t) > Duration::from_secs(1))
        .map(|(id, _)| id)
        .collect();
    assert!(
        early.len() > 50,
        "too little load: {} early of {}",
        early.len(),
        acked.len()
    );

    // The store is consistent and every early prediction is in it, logged locally.
    {
        let conn = db(&dir);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let mut stmt = conn
            .prepare(
                "SELECT origin, alcohol_pct_vol IS NOT NULL FROM predictions WHERE prediction_id = ?1",
            )
            .unwrap();
        for id in &early {
            let row: (String, bool) = stmt
                .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap_or_else(|e| {
                    panic!("{id} acknowledged >1 s before kill -9 is not in the log: {e}")
                });
            assert_eq!(row, ("local".to_owned(), true));
        }
    }

    // After a restart, their feedback joins (ids stay valid: the key is kept).
    let server = Server::start(&dir);
    let items: Vec<(String, f64)> = early.iter().map(|id| ((*id).clone(), 6.0)).collect();
    for chunk in items.chunks(1000) {
        let answer = feedback(server.port, chunk);
        assert_eq!(answer["joined"], chunk.len(), "{answer}");
    }
    let (_, ev) = http(server.port, "GET", "/evaluation", "").unwrap();
    let ev: Value = serde_json::from_str(&ev).unwrap();
    assert_eq!(ev["count"], early.len());
    // Coverage counts were reloaded from the log: every logged prediction, the early
    // ones with ground truth.
    assert!(
        ev["coverage"]["predictions"].as_u64().unwrap() >= early.len() as u64,
        "{ev}"
    );
    assert_eq!(ev["coverage"]["with_feedback"], early.len());
    server.stop();
    let conn = db(&dir);
    let joined: i64 = conn
        .query_row(
            "SELECT count(*) FROM predictions WHERE actual = 6 AND origin = 'local'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(joined as usize, early.len());
}

#[test]
fn feedback_reaches_another_replica_with_the_shared_secret() {
    let secret = [("SEXTANT_SHARED_SECRET", "test-fleet-secret")];
    let (dir_a, dir_b) = (tempdir("replica-a"), tempdir("replica-b"));
    let a = Server::start_with(&dir_a, &secret);
    let b = Server::start_with(&dir_b, &secret);
    let (status, body) = http(a.port, "POST", "/predict", WINE).unwrap();
    assert_eq!(status, 200);
    let p: Value = serde_json::from_str(&body).unwrap();
    let id = p["prediction_id"].as_str().unwrap();
    let quality = p["quality"].as_f64().unwrap();

    // B never saw the prediction, yet verifies the id and joins it.
    let one = json!({"prediction_id": id, "actual": 7}).to_string();
    let (status, body) = http(b.port, "POST", "/feedback", &one).unwrap();
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["status"], "joined");
    assert_eq!(r["residual"].as_f64().unwrap(), 7.0 - quality);
    let (_, body) = http(b.port, "POST", "/feedback", &one).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "duplicate"
    );

    // A forged id (prediction changed, signature kept) and a garbled one: 404 on B.
    let mut forged = id.as_bytes().to_vec();
    forged[35] = if forged[35] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(forged).unwrap(),
        format!("{id}x"),
        "garbage".to_owned(),
    ] {
        let (status, body) = http(
            b.port,
            "POST",
            "/feedback",
            &json!({"prediction_id": bad, "actual": 7}).to_string(),
        )
        .unwrap();
        assert_eq!(status, 404, "{bad}: {body}");
        assert!(body.contains("\"kind\":\"unknown\""), "{body}");
    }
    // A replica with another secret does not accept A's id.
    let dir_c = tempdir("replica-c");
    let c = Server::start_with(&dir_c, &[("SEXTANT_SHARED_SECRET", "another-secret")]);
    assert_eq!(http(c.port, "POST", "/feedback", &one).unwrap().0, 404);
    c.stop();
    a.stop();
    b.stop();
    // B's log holds the feedback as a remote prediction, with A's prediction and time.
    let (origin, prediction, actual): (String, f64, f64) = db(&dir_b)
        .query_row(
            "SELECT origin, prediction, actual FROM predictions WHERE prediction_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (origin.as_str(), prediction, actual),
        ("remote", quality, 7.0)
    );
}

//! `POST /feedback` and `GET /evaluation` through the router (`oneshot`, no sockets).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::router::{call, get, post_as, state, state_with, wine};
use serde_json::{Value, json};
use sextant_server::state::{AppState, ServerConfig};

/// [`call`], with the body parsed as JSON (`null` if it is not JSON).
async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, String, Value) {
    let (status, ctype, bytes) = call(state, req).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ctype, body)
}

async fn post(state: &AppState, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, ctype, body) =
        send(state, post_as(path, "application/json", body.to_string())).await;
    if status.is_success() {
        assert_eq!(ctype, "application/json");
    } else {
        assert_eq!(ctype, "application/problem+json", "{status}: {body}");
    }
    (status, body)
}

async fn predict_ids(state: &AppState, n: usize) -> Vec<(String, f64)> {
    let instances: Vec<Value> = (0..n).map(|_| wine()).collect();
    let (status, body) = post(state, "/predict", json!({ "instances": instances })).await;
    assert_eq!(status, StatusCode::OK);
    body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["prediction_id"].as_str().unwrap().to_owned(),
                p["quality"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn metric(state: &AppState, name: &str) -> f64 {
    let (_, _, bytes) = call(state, get("/metrics")).await;
    let text = String::from_utf8(bytes).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in /metrics"))
}

#[tokio::test]
async fn feedback_joins_once_and_feeds_the_evaluation() {
    let s = state("join");
    let ids = predict_ids(&s, 3).await;
    let (id, q) = ids[0].clone();
    let (status, body) = post(&s, "/feedback", json!({"prediction_id": id, "actual": 6})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "joined");
    assert_eq!(body["prediction"].as_f64().unwrap(), q);
    assert_eq!(body["residual"].as_f64().unwrap(), 6.0 - q);
    // The same again: idempotent, said so, not counted twice.
    let (status, body) = post(&s, "/feedback", json!({"prediction_id": id, "actual": 7})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "duplicate");
    // The answer shows the ground truth kept, the first, not the one just sent.
    assert_eq!(body["actual"].as_f64().unwrap(), 6.0, "{body}");
    assert_eq!(body["residual"].as_f64().unwrap(), 6.0 - q);
    // A batch mixing a new id and a known one.
    let (status, body) = post(
        &s,
        "/feedback",
        json!({"items": [
            {"prediction_id": ids[1].0, "actual": 4.5},
            {"prediction_id": id, "actual": 6},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["joined"], 1);
    assert_eq!(body["duplicate"], 1);
    assert_eq!(body["results"][0]["status"], "joined");
    assert_eq!(body["results"][1]["status"], "duplicate");
    assert_eq!(body["results"][1]["actual"].as_f64().unwrap(), 6.0);

    let (e1, e2) = (6.0 - q, 4.5 - ids[1].1);
    let (status, _, ev) = send(&s, get("/evaluation")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ev["count"], 2);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(
        close(ev["mae"].as_f64().unwrap(), (e1.abs() + e2.abs()) / 2.0),
        "{ev}"
    );
    assert!(
        close(
            ev["rmse"].as_f64().unwrap(),
            ((e1 * e1 + e2 * e2) / 2.0).sqrt()
        ),
        "{ev}"
    );
    assert!(
        close(ev["mean_residual"].as_f64().unwrap(), (e1 + e2) / 2.0),
        "{ev}"
    );
    // 3 predictions, 2 with ground truth.
    assert_eq!(ev["coverage"]["predictions"], 3);
    assert_eq!(ev["coverage"]["with_feedback"], 2);
    assert!(ev["start"].is_string() && ev["end"].is_string());

    assert_eq!(
        metric(&s, "sextant_feedback_total{outcome=\"joined\"}").await,
        2.0
    );
    assert_eq!(
        metric(&s, "sextant_feedback_total{outcome=\"duplicate\"}").await,
        2.0
    );
    assert_eq!(metric(&s, "sextant_absolute_error_count").await, 2.0);
    assert_eq!(metric(&s, "sextant_label_delay_seconds_count").await, 2.0);
    assert!(close(
        metric(&s, "sextant_evaluation_mae").await,
        (e1.abs() + e2.abs()) / 2.0
    ));
    assert!(close(
        metric(&s, "sextant_evaluation_rmse").await,
        ((e1 * e1 + e2 * e2) / 2.0).sqrt()
    ));
    assert!(close(
        metric(&s, "sextant_evaluation_mean_residual").await,
        (e1 + e2) / 2.0
    ));
    assert!(close(
        metric(&s, "sextant_feedback_coverage_ratio").await,
        2.0 / 3.0
    ));
}

#[tokio::test]
async fn unknown_forged_and_garbled_ids_are_404() {
    let s = state("unknown");
    let (id, _) = predict_ids(&s, 1).await.remove(0);
    // Flip one character of a real id: the signature no longer matches.
    let mut forged = id.clone().into_bytes();
    forged[30] = if forged[30] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    // An id signed by another server (another key).
    let other = state("unknown-other");
    let (foreign, _) = predict_ids(&other, 1).await.remove(0);
    for bad in [forged.as_str(), "nope", "", &foreign, &"A".repeat(60)] {
        let (status, body) =
            post(&s, "/feedback", json!({"prediction_id": bad, "actual": 5})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "prediction_id");
        assert_eq!(body["errors"][0]["kind"], "unknown");
    }
    // A batch with one unknown id is rejected whole: the good item is not recorded.
    let (status, body) = post(
        &s,
        "/feedback",
        json!({"items": [{"prediction_id": id, "actual": 5}, {"prediction_id": forged, "actual": 5}]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["field"], "items[1].prediction_id");
    assert_eq!(
        metric(&s, "sextant_feedback_total{outcome=\"unknown\"}").await,
        6.0
    );
    let (status, body) = post(&s, "/feedback", json!({"prediction_id": id, "actual": 5})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["status"], "joined",
        "the rejected batch recorded nothing"
    );
}

#[tokio::test]
async fn the_feedback_validation_matrix() {
    let s = state("matrix");
    let (id, _) = predict_ids(&s, 1).await.remove(0);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"actual": 5}), "prediction_id", "missing"),
        (json!({"prediction_id": id}), "actual", "missing"),
        (
            json!({"prediction_id": id, "actual": null}),
            "actual",
            "missing",
        ),
        (
            json!({"prediction_id": 7, "actual": 5}),
            "prediction_id",
            "wrong_type",
        ),
        (
            json!({"prediction_id": id, "actual": "5"}),
            "actual",
            "wrong_type",
        ),
        (
            json!({"prediction_id": id, "actual": [5]}),
            "actual",
            "wrong_type",
        ),
        (
            json!({"prediction_id": id, "actual": -0.5}),
            "actual",
            "out_of_range",
        ),
        (
            json!({"prediction_id": id, "actual": 10.01}),
            "actual",
            "out_of_range",
        ),
        (
            json!({"prediction_id": id, "actual": 1e300}),
            "actual",
            "out_of_range",
        ),
        (
            json!({"prediction_id": id, "actual": 5, "note": "x"}),
            "note",
            "unknown_field",
        ),
        (json!([1, 2]), "(body)", "wrong_type"),
        (json!({"items": "x"}), "items", "wrong_type"),
        (json!({"items": []}), "items", "out_of_range"),
        (
            json!({"items": [{"prediction_id": id, "actual": 5}], "x": 1}),
            "x",
            "unknown_field",
        ),
        (
            json!({"items": [{"prediction_id": id, "actual": 5}, {"prediction_id": id, "actual": 11}]}),
            "items[1].actual",
            "out_of_range",
        ),
        (
            json!({"items": [{"prediction_id": id, "actual": 5}, 3]}),
            "items[1]",
            "wrong_type",
        ),
    ];
    for (body, field, kind) in cases {
        let (status, problem) = post(&s, "/feedback", body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["kind"] == kind),
            "{body}: expected {field}/{kind} in {problem}"
        );
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"prediction_id": id, "actual": 5}))
        .collect();
    let (status, problem) = post(&s, "/feedback", json!({ "items": too_many })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "items");
    // Malformed, truncated, wrong type, oversized.
    let raw = [
        (
            "application/json",
            "{\"prediction_id\": ".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            "{\"prediction_id\": \"a\", \"actual\": 1e400}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text/plain",
            json!({"prediction_id": id, "actual": 5}).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "application/json",
            format!(
                "{{\"prediction_id\": \"{}\", \"actual\": 5}}",
                "x".repeat(70_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "application/json",
            format!("{{\"items\": [\"{}\"]}}", "x".repeat(1_100_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (ctype, body, expected) in raw {
        let (status, got_type, problem) = send(&s, post_as("/feedback", ctype, body)).await;
        assert_eq!(status, expected, "{problem}");
        assert_eq!(got_type, "application/problem+json");
        assert_eq!(problem["status"], expected.as_u16());
    }
    // Nothing above was recorded: the id still joins.
    let (status, body) = post(&s, "/feedback", json!({"prediction_id": id, "actual": 5})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("joined"))
    );
    assert!(metric(&s, "sextant_feedback_total{outcome=\"invalid\"}").await >= 23.0);
}

#[tokio::test]
async fn with_the_log_off_feedback_is_503_and_predictions_still_work() {
    let s = state_with(
        "off",
        ServerConfig {
            prediction_log: false,
            ..ServerConfig::default()
        },
    );
    let (id, _) = predict_ids(&s, 1).await.remove(0);
    let (status, _) = post(&s, "/feedback", json!({"prediction_id": id, "actual": 5})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, ev) = send(&s, get("/evaluation")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ev["count"], 0);
    assert!(ev["coverage"].is_null());
}

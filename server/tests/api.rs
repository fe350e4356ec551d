//! Every endpoint through the router (`app(state)` with `oneshot`, no sockets).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::router::{call, get, post, post_as, state, wine};
use serde_json::{Value, json};
use sextant_server::model::Model;
use sextant_server::state::AppState;

async fn predict(state: &AppState, body: Value) -> (StatusCode, Value) {
    let (status, ctype, bytes) = call(state, post("/predict", body.to_string())).await;
    if status.is_success() {
        assert_eq!(ctype, "application/json");
    } else {
        assert_eq!(ctype, "application/problem+json", "{status}");
    }
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_valid_wine_is_scored_with_an_id_and_the_model_version() {
    let s = state("valid");
    let (status, body) = predict(&s, wine()).await;
    assert_eq!(status, StatusCode::OK);
    let expected = Model::embedded().unwrap().predict(&[
        7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4,
    ]);
    assert_eq!(body["quality"].as_f64().unwrap(), expected);
    assert_eq!(body["model_version"], Model::embedded().unwrap().version());
    assert_eq!(
        body["prediction_id"].as_str().unwrap().len(),
        sextant_server::ids::ID_LEN
    );
    // Batches answer a list, in order, with distinct ids.
    let (status, body) = predict(&s, json!({"instances": [wine(), wine(), wine()]})).await;
    assert_eq!(status, StatusCode::OK);
    let preds = body["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 3);
    assert_ne!(preds[0]["prediction_id"], preds[1]["prediction_id"]);
    assert_eq!(preds[2]["quality"].as_f64().unwrap(), expected);
}

#[tokio::test]
async fn the_validation_matrix() {
    let s = state("matrix");
    let with = |field: &str, value: Value| {
        let mut w = wine();
        w[field] = value;
        w
    };
    let without = |field: &str| {
        let mut w = wine();
        w.as_object_mut().unwrap().remove(field);
        w
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("ph"), "ph", "missing"),
        (with("ph", Value::Null), "ph", "missing"),
        (with("ph", json!("3.5")), "ph", "wrong_type"),
        (with("density", json!([1])), "density", "wrong_type"),
        (with("sulphates", json!(true)), "sulphates", "wrong_type"),
        (with("chlorides", json!(-0.1)), "chlorides", "out_of_range"),
        (with("ph", json!(14)), "ph", "out_of_range"),
        (with("ph", json!(14.5)), "ph", "out_of_range"),
        (
            with("alcohol_pct_vol", json!(100.5)),
            "alcohol_pct_vol",
            "out_of_range",
        ),
        (with("colour", json!("red")), "colour", "unknown_field"),
    ];
    for (body, field, kind) in cases {
        let (status, problem) = predict(&s, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field} {kind}");
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{problem}");
        assert_eq!(
            (
                errors[0]["field"].as_str().unwrap(),
                errors[0]["kind"].as_str().unwrap()
            ),
            (field, kind)
        );
        assert_eq!(problem["status"], 422);
    }
    // Limits are inclusive where they should be.
    let (status, _) = predict(&s, with("alcohol_pct_vol", json!(100))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = predict(&s, with("citric_acid", json!(0))).await;
    assert_eq!(status, StatusCode::OK);
    // Several bad fields are all named; batch errors carry the instance.
    let (_, problem) = predict(&s, json!({"instances": [wine(), with("ph", json!(99))]})).await;
    assert_eq!(problem["errors"][0]["field"], "instances[1].ph");
    let (status, _) = predict(&s, json!({"instances": vec![wine(); 1001]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = predict(&s, json!([1, 2])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn malformed_wrong_type_oversized_and_unknown_requests_get_problem_json() {
    let s = state("errors");
    for (req, expected) in [
        (post("/predict", "{\"ph\": "), StatusCode::BAD_REQUEST),
        (post("/predict", "{\"ph\": 1e400}"), StatusCode::BAD_REQUEST),
        (
            post("/predict", format!("{}{}", " ".repeat(70 * 1024), wine())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            post("/predict", vec![b' '; 1100 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        // Over one item's 64 KiB and not JSON at all: too large, not malformed.
        (
            post("/predict", vec![b'x'; 100 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (post("/predict", vec![b'x'; 1024]), StatusCode::BAD_REQUEST),
        // A batch with a syntax error is malformed, however large.
        (
            post(
                "/predict",
                format!(
                    "{{\"instances\": [{}{}",
                    format!("{},", wine()).repeat(300),
                    "}"
                ),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            post_as("/predict", "text/plain", wine().to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Request::post("/predict")
                .body(Body::from(wine().to_string()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (get("/no/such/route"), StatusCode::NOT_FOUND),
        (get("/predict"), StatusCode::METHOD_NOT_ALLOWED),
        (get("/profiles?start=never"), StatusCode::BAD_REQUEST),
        (get("/profiles?format=xml"), StatusCode::BAD_REQUEST),
        (
            get("/profiles?start=2030-01-01T00:00:00Z&end=2020-01-01T00:00:00Z"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, ctype, body) = call(&s, req).await;
        assert_eq!(status, expected, "{what}");
        assert_eq!(ctype, "application/problem+json", "{what}");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], expected.as_u16(), "{what}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn rejected_fields_show_up_on_their_feature() {
    let s = state("quality");
    let mut bad = wine();
    bad["ph"] = json!("acidic");
    for _ in 0..3 {
        predict(&s, bad.clone()).await;
    }
    predict(&s, wine()).await;
    let (_, _, body) = call(&s, get("/profiles?format=json")).await;
    let summary: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary["rows"], 1);
    assert_eq!(summary["features"]["ph"]["wrong_type"], 3);
    assert_eq!(summary["features"]["ph"]["count"], 1);
    assert_eq!(summary["features"]["density"]["wrong_type"], 0);
    let (_, _, metrics) = call(&s, get("/metrics")).await;
    let text = String::from_utf8(metrics).unwrap();
    assert!(
        text.contains("sextant_rejected_fields_total{feature=\"ph\",reason=\"wrong_type\"} 3"),
        "{text}"
    );
    assert!(text.contains("sextant_feature_wrong_type{feature=\"ph\"} 3"));
}

#[tokio::test]
async fn metrics_cover_system_model_and_resources_with_bounded_labels() {
    let s = state("metrics");
    predict(&s, wine()).await;
    call(&s, get("/a/path/a/client/made/up")).await;
    let (status, ctype, body) = call(&s, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    for name in [
        "http_requests_total{handler=\"/predict\",method=\"POST\",status=\"2xx\"} 1",
        "http_request_duration_seconds_bucket",
        "http_request_size_bytes_bucket",
        "http_response_size_bytes_bucket",
        "http_requests_in_flight",
        "sextant_prediction_bucket{model=",
        "sextant_feature_quantile{feature=\"alcohol_pct_vol\",q=\"0.5\"} 9.4",
        "sextant_feature_mean{feature=\"prediction\"}",
        "sextant_feature_drift_score{feature=\"density\",method=\"wasserstein_norm\"}",
        "sextant_feature_drift{feature=\"density\"}",
        "sextant_drift_detections_total{feature=\"density\"}",
        "sextant_build_info{model=",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "http_requests_total{handler=\"unmatched\",method=\"GET\",status=\"4xx\"} 1",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(!text.contains("made/up"), "a client's path became a label");
}

#[tokio::test]
async fn profiles_baseline_drift_and_report() {
    let s = state("profiles");
    for _ in 0..5 {
        predict(&s, wine()).await;
    }
    let (status, ctype, bytes) = call(&s, get("/profiles")).await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "application/vnd.sextant.profile")
    );
    let view = sextant::ProfileView::from_bytes(&bytes).unwrap();
    assert_eq!(view.rows(), 5);
    assert_eq!(view.feature("prediction").unwrap().count(), 5);
    let now = sextant::time::now_ms() / 1000;
    let (_, _, bytes) = call(
        &s,
        get(&format!(
            "/profiles?start={}&end={}",
            now - 7200,
            now - 3600
        )),
    )
    .await;
    assert_eq!(sextant::ProfileView::from_bytes(&bytes).unwrap().rows(), 0);
    let (_, _, bytes) = call(&s, get("/profiles/baseline?format=json")).await;
    let baseline: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(baseline["rows"], 1279);
    let (_, _, bytes) = call(&s, get("/profiles/windows")).await;
    let windows: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(windows["windows"][0]["state"], "open");
    let (_, _, bytes) = call(&s, get("/drift")).await;
    let drift: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(drift["features"]["alcohol_pct_vol"]["method"].is_string());
    assert!(drift["drifted_share"].is_number());
    let (status, ctype, html) = call(&s, get("/drift/report")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"));
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));
    let (status, _, body) = call(&s, get("/healthcheck")).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, b"{\"status\":\"ok\"}".to_vec())
    );
    let (status, _, _) = call(&s, get("/ready")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The drift horizon merges closed windows the recorder no longer holds in memory
/// (read from the store), the open window, and nothing twice or outside the horizon —
/// before and after windows close.
#[test]
fn the_horizon_reads_closed_windows_from_the_store_once() {
    use sextant::store::Store;
    use sextant::{DatasetProfile, Value as V, Window};
    use sextant_server::state::{ServerConfig, schema_of};
    let dir = std::env::temp_dir().join(format!("sextant-horizon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = ServerConfig::default();
    let (w, now) = (config.window_ms, sextant::time::now_ms());
    let model = Model::embedded().unwrap();
    let schema = schema_of(model);
    let store = Store::open(&dir).unwrap();
    let row: Vec<V<'_>> = (0..schema.len()).map(|i| V::Float(i as f64)).collect();
    // Windows 1 to 6 windows back hold 1 to 6 rows; one a day back holds 100.
    for (back, rows) in (1..=6).map(|k| (k * w, k)).chain([(86_400_000, 100)]) {
        let start = (now - back).div_euclid(w) * w;
        let mut p = DatasetProfile::new(&schema, Window::new(start, start + w));
        (0..rows).for_each(|_| p.record_row(&row));
        let window = p.window().unwrap();
        store.write(window, &p.view().to_bytes().unwrap()).unwrap();
    }
    let state = sextant_server::serve::build_state(model.clone(), &dir, config).unwrap();
    assert!(
        state.recorder.history().len() < 6,
        "older windows stay on disk"
    );
    assert_eq!(state.horizon_view().rows(), 21);
    (0..7).for_each(|_| state.recorder.record_row(&row));
    assert_eq!(
        state.horizon_view().rows(),
        28,
        "the open window is included"
    );
    state.recorder.flush();
    assert_eq!(
        state.horizon_view().rows(),
        28,
        "a closed window is counted once"
    );
    state.recorder.record_row(&row);
    assert_eq!(state.horizon_view().rows(), 29);
    let _ = std::fs::remove_dir_all(&dir);
}

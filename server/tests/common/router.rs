//! Helpers for the tests that call the router directly (`app(state)` with `oneshot`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sextant_server::app::app;
use sextant_server::model::Model;
use sextant_server::serve::build_state;
use sextant_server::state::{AppState, ServerConfig};
use tower::ServiceExt;

/// Server state and its data directory, removed when the test drops it; derefs to the
/// state.
pub struct TestState {
    state: AppState,
    _dir: super::TempDir,
}

impl std::ops::Deref for TestState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.state
    }
}

/// Server state on the embedded model, in a fresh data directory named after the test.
pub fn state_with(name: &str, config: ServerConfig) -> TestState {
    let dir = super::TempDir::new(&format!("router-{name}"));
    let state = build_state(Model::embedded().unwrap().clone(), &dir, config).unwrap();
    TestState { state, _dir: dir }
}

/// [`state_with`] the default configuration.
pub fn state(name: &str) -> TestState {
    state_with(name, ServerConfig::default())
}

/// A valid red-wine row (the first of the UCI data).
pub fn wine() -> Value {
    json!({"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0,
           "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0,
           "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51,
           "sulphates": 0.56, "alcohol_pct_vol": 9.4})
}

/// The response's status, content type and body bytes.
pub async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ctype, body)
}

/// A POST with the given content type.
pub fn post_as(path: &str, ctype: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, ctype)
        .body(body.into())
        .unwrap()
}

/// A JSON POST.
pub fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    post_as(path, "application/json", body)
}

/// A GET.
pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

//! Every error the server answers is an RFC 9457 `application/problem+json` body.
//!
//! Handlers return [`ApiError`]; [`problem_layer`] rewrites any other error response
//! (axum's own rejections, 404s from the fallback, 405s) into the same shape, so a
//! client sees one error format whatever went wrong and wherever.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One offending field of a request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// The field's name (or `instances[3].ph` in a batch).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// `missing`, `wrong_type`, `out_of_range`, `unknown_field` or (feedback) `unknown`.
    pub kind: &'static str,
}

/// An error answered as problem+json.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// A URI naming the problem type (`about:blank` for plain HTTP statuses).
    #[serde(rename = "type")]
    kind: String,
    /// A short summary.
    title: String,
    /// The status again, as RFC 9457 asks.
    #[serde(rename = "status")]
    status_code: u16,
    /// What exactly went wrong.
    detail: String,
    /// The offending fields, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

impl ApiError {
    /// An error with `status` and a human-readable `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status_code: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// What exactly went wrong.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// A 422 naming each offending field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid fields: {}", names.join(", ")),
        );
        e.kind = "https://sextant.dev/problems/validation".into();
        e.errors = errors;
        e
    }

    /// An error with `status` naming each offending field (e.g. 404 for unknown ids).
    pub fn with_fields(status: StatusCode, detail: &str, errors: Vec<FieldError>) -> Self {
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let mut e = ApiError::new(status, format!("{detail}: {}", names.join(", ")));
        e.errors = errors;
        e
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The offending fields.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        resp
    }
}

/// Rewrites every error response that is not problem+json yet into problem+json.
pub async fn problem_layer(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Keep the rejection's own text (axum's messages say what was wrong).
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        t => t.to_owned(),
    };
    let mut fresh = ApiError::new(status, detail).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let (mut p, b) = fresh.into_parts();
    p.status = status;
    Response::from_parts(p, Body::new(b))
}

//! `POST /predict`: validate, predict, record.

use crate::ids::PredictionId;
use crate::metrics::Metrics;
use crate::model::Model;
use crate::predlog::{Features, LoggedPrediction};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value as Json_};
use sextant::Value;

/// Largest batch accepted.
pub const MAX_BATCH: usize = 1000;

/// One prediction.
#[derive(Debug, Serialize)]
pub struct Prediction {
    /// The predicted quality.
    pub quality: f64,
    /// Id to send ground truth for later.
    pub prediction_id: PredictionId,
    /// The model that predicted.
    pub model_version: String,
}

/// A batch's answer.
#[derive(Debug, Serialize)]
pub struct BatchPrediction {
    /// One per instance, in order.
    pub predictions: Vec<Prediction>,
    /// The model that predicted.
    pub model_version: String,
}

/// How a field failed, for the profile's data-quality counts.
enum Failure<'a> {
    Missing,
    WrongType(&'a Json_),
    OutOfRange(f64),
}

/// Validates one instance into the model's feature order.
///
/// # Errors
///
/// Every offending field, with `prefix` before its name.
pub fn validate(model: &Model, obj: &Json_, prefix: &str) -> Result<Vec<f64>, Vec<FieldError>> {
    let Some(obj) = obj.as_object() else {
        return Err(vec![FieldError {
            field: if prefix.is_empty() {
                "(body)".into()
            } else {
                prefix.trim_end_matches('.').into()
            },
            message: "expected a JSON object of the model's features".into(),
            kind: "wrong_type",
        }]);
    };
    let (values, errors, _) = check(model, obj, prefix);
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[allow(clippy::type_complexity)]
fn check<'a>(
    model: &Model,
    obj: &'a Map<String, Json_>,
    prefix: &str,
) -> (Vec<f64>, Vec<FieldError>, Vec<(usize, Failure<'a>)>) {
    let mut values = Vec::with_capacity(model.n_features());
    let mut errors = Vec::new();
    let mut failures = Vec::new();
    for (i, f) in model.features().iter().enumerate() {
        let field = || format!("{prefix}{}", f.name());
        match obj.get(f.name()) {
            None | Some(Json_::Null) => {
                errors.push(FieldError {
                    field: field(),
                    message: "required".into(),
                    kind: "missing",
                });
                failures.push((i, Failure::Missing));
            }
            Some(Json_::Number(n)) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                let range = f.range();
                if range.contains(x) {
                    values.push(x);
                } else {
                    let bound = match (range.max, range.max_exclusive) {
                        (Some(max), true) => format!("at least {} and below {max}", range.min),
                        (Some(max), false) => format!("between {} and {max}", range.min),
                        (None, _) => format!("at least {}", range.min),
                    };
                    errors.push(FieldError {
                        field: field(),
                        message: format!("must be {bound}, got {x}"),
                        kind: "out_of_range",
                    });
                    failures.push((i, Failure::OutOfRange(x)));
                }
            }
            Some(other) => {
                errors.push(FieldError {
                    field: field(),
                    message: format!("must be a number, got {}", type_name(other)),
                    kind: "wrong_type",
                });
                failures.push((i, Failure::WrongType(other)));
            }
        }
    }
    for key in obj.keys() {
        if model.feature_index(key).is_none() {
            errors.push(FieldError {
                field: format!("{prefix}{key}"),
                message: "unknown field".into(),
                kind: "unknown_field",
            });
        }
    }
    (values, errors, failures)
}

pub(crate) fn type_name(v: &Json_) -> &'static str {
    match v {
        Json_::Null => "null",
        Json_::Bool(_) => "a boolean",
        Json_::Number(_) => "a number",
        Json_::String(_) => "a string",
        Json_::Array(_) => "an array",
        Json_::Object(_) => "an object",
    }
}

fn record_failures(state: &AppState, failures: &[(usize, Failure<'_>)]) {
    let m: &Metrics = &state.metrics;
    let names: Vec<&str> = state.model.feature_names().collect();
    state.recorder.with_live(|p| {
        for (i, failure) in failures {
            let (reason, value) = match failure {
                Failure::Missing => ("missing", Value::Missing),
                Failure::WrongType(Json_::String(s)) => {
                    ("wrong_type", Value::Str(if s.is_empty() { "?" } else { s }))
                }
                Failure::WrongType(Json_::Bool(b)) => ("wrong_type", Value::Bool(*b)),
                Failure::WrongType(_) => ("wrong_type", Value::Other),
                Failure::OutOfRange(x) => ("out_of_range", Value::Float(*x)),
            };
            p.record_at(*i, value);
            m.rejected_fields
                .with_label_values(&[names[*i], reason])
                .inc();
        }
    });
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("application/json")
                || (t.starts_with("application/") && t.ends_with("+json"))
        })
}

/// Reads a JSON request body, shared by every POST endpoint: 415 unless the content
/// type is JSON, the body limit's 413, 400 on malformed JSON, and 413 for a body over
/// [`crate::app::MAX_BODY`] unless it is a batch (an object with `batch_key`), which the
/// route's larger limit bounds — malformed or not: a large body that does not even look
/// like a batch is 413, a large batch with a syntax error 400.
///
/// # Errors
///
/// The problem to answer.
pub fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    batch_key: &str,
) -> Result<Json_, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send JSON with `Content-Type: application/json`",
        ));
    }
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let too_large = body.len() > crate::app::MAX_BODY;
    let one_item_too_large = |detail: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes: one item may take at most {} bytes{detail}",
                body.len(),
                crate::app::MAX_BODY
            ),
        )
    };
    let json: Json_ = match serde_json::from_slice(&body) {
        Ok(json) => json,
        Err(e) if too_large && !looks_like_batch(&body, batch_key) => {
            return Err(one_item_too_large(format!(
                ", and this is no batch (`{{\"{batch_key}\": [...]}}`) either: malformed JSON: {e}"
            )));
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("malformed JSON: {e}"),
            ));
        }
    };
    if too_large && !json.as_object().is_some_and(|o| o.contains_key(batch_key)) {
        return Err(one_item_too_large(String::new()));
    }
    Ok(json)
}

/// Whether a body that is not valid JSON still reads as a batch: an object naming
/// `batch_key`.
fn looks_like_batch(body: &[u8], batch_key: &str) -> bool {
    let needle = format!("\"{batch_key}\"");
    body.trim_ascii_start().starts_with(b"{")
        && body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One valid instance parsed straight into model order, without building a JSON tree:
/// the common case. `None` whenever anything is unusual — another shape, an escaped,
/// unknown, repeated or missing key, a value that is not a number or out of range,
/// trailing bytes — and the caller then takes the general path, which names every
/// problem. Both parse numbers alike (`float_roundtrip`), so they accept the same rows
/// with the same values.
fn fast_row(model: &Model, body: &[u8]) -> Option<Vec<f64>> {
    use serde::de::{DeserializeSeed, MapAccess, Visitor};
    struct Row<'m>(&'m Model);
    impl<'de> Visitor<'de> for Row<'_> {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of the model's features")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<f64>, A::Error> {
            let features = self.0.features();
            let mut values = vec![f64::NAN; features.len()];
            let mut seen = 0u64;
            let bad = || serde::de::Error::custom("not the fast path");
            while let Some(key) = map.next_key::<&str>()? {
                let i = self.0.feature_index(key).ok_or_else(bad)?;
                if seen & (1 << i) != 0 {
                    return Err(bad());
                }
                seen |= 1 << i;
                let x: f64 = map.next_value()?;
                if !features[i].range().contains(x) {
                    return Err(bad());
                }
                values[i] = x;
            }
            if seen.count_ones() as usize != features.len() {
                return Err(bad());
            }
            Ok(values)
        }
    }
    impl<'de> DeserializeSeed<'de> for Row<'_> {
        type Value = Vec<f64>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<f64>, D::Error> {
            d.deserialize_map(self)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let row = Row(model).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(row)
}

/// `POST /predict`: one instance, or `{"instances": [...]}` (up to [`MAX_BATCH`]).
pub async fn predict(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    if is_json(&headers)
        && let Ok(bytes) = &body
        && bytes.len() <= crate::app::MAX_BODY
        && let Some(row) = fast_row(&state.model, bytes)
    {
        let (quality, prediction_id) = serve_rows(&state, vec![row]).await.remove(0);
        return Ok(Json(Prediction {
            quality,
            prediction_id,
            model_version: state.model.version().to_owned(),
        })
        .into_response());
    }
    let json = json_body(&headers, body, "instances")?;
    let version = state.model.version().to_owned();
    match &json {
        Json_::Object(obj) if obj.contains_key("instances") => {
            let Some(items) = obj.get("instances").and_then(Json_::as_array) else {
                return Err(ApiError::invalid_fields(vec![FieldError {
                    field: "instances".into(),
                    message: "must be an array of instances".into(),
                    kind: "wrong_type",
                }]));
            };
            if obj.len() > 1 {
                let extra: Vec<FieldError> = obj
                    .keys()
                    .filter(|k| *k != "instances")
                    .map(|k| FieldError {
                        field: k.clone(),
                        message: "unknown field".into(),
                        kind: "unknown_field",
                    })
                    .collect();
                return Err(ApiError::invalid_fields(extra));
            }
            if items.len() > MAX_BATCH || items.is_empty() {
                return Err(ApiError::invalid_fields(vec![FieldError {
                    field: "instances".into(),
                    message: format!("must hold 1 to {MAX_BATCH} instances, got {}", items.len()),
                    kind: "out_of_range",
                }]));
            }
            let mut rows = Vec::with_capacity(items.len());
            let mut errors = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("instances[{i}].");
                match item.as_object() {
                    Some(o) => {
                        let (values, errs, failures) = check(&state.model, o, &prefix);
                        if errs.is_empty() {
                            rows.push(values);
                        } else {
                            record_failures(&state, &failures);
                            errors.extend(errs);
                        }
                    }
                    None => errors.extend(
                        validate(&state.model, item, &prefix)
                            .err()
                            .unwrap_or_default(),
                    ),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::invalid_fields(errors));
            }
            let predictions = serve_rows(&state, rows)
                .await
                .into_iter()
                .map(|(quality, prediction_id)| Prediction {
                    quality,
                    prediction_id,
                    model_version: version.clone(),
                })
                .collect();
            Ok(Json(BatchPrediction {
                predictions,
                model_version: version,
            })
            .into_response())
        }
        Json_::Object(obj) => {
            let (values, errors, failures) = check(&state.model, obj, "");
            if !errors.is_empty() {
                record_failures(&state, &failures);
                return Err(ApiError::invalid_fields(errors));
            }
            let (quality, prediction_id) = serve_rows(&state, vec![values]).await.remove(0);
            Ok(Json(Prediction {
                quality,
                prediction_id,
                model_version: version,
            })
            .into_response())
        }
        other => Err(ApiError::invalid_fields(vec![FieldError {
            field: "(body)".into(),
            message: format!("expected a JSON object, got {}", type_name(other)),
            kind: "wrong_type",
        }])),
    }
}

/// Predicts validated rows, records them (features and prediction) in one lock and
/// queues them for the prediction log.
async fn serve_rows(state: &AppState, rows: Vec<Vec<f64>>) -> Vec<(f64, PredictionId)> {
    let now = sextant::time::now_ms();
    let out: Vec<(f64, PredictionId)> = rows
        .iter()
        .map(|r| {
            let q = state.model.predict(r);
            (q, state.ids.issue(now, q))
        })
        .collect();
    for (q, _) in &out {
        state.metrics.model_prediction.observe(*q);
    }
    if state.config.profiling {
        state.recorder.with_live(|p| {
            for (row, (quality, _)) in rows.iter().zip(&out) {
                p.record_f64_row(row.iter().copied().chain([*quality]));
            }
        });
    }
    if let Some(log) = &state.log {
        let payload = state.config.payload_log;
        let records = rows
            .iter()
            .zip(&out)
            .map(|(row, &(prediction, id))| LoggedPrediction {
                id,
                time_ms: now,
                prediction,
                features: payload.then(|| Features::new(row)),
            });
        log.record(records).await;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path accepts exactly the rows the general path accepts, with the same
    /// values, and declines everything else.
    #[test]
    fn fast_row_agrees_with_validation() {
        let model = Model::embedded().unwrap();
        let valid = r#"{"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0,
            "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11,
            "total_sulfur_dioxide": 34, "density": 0.9978, "ph": 3.51, "sulphates": 0.56,
            "alcohol_pct_vol": 9.4}"#;
        let variants = [
            valid.to_owned(),
            valid.replace("\"ph\": 3.51", "\"ph\": 3.5100000000000000001"),
            valid.replace("\"ph\": 3.51", "\"ph\": 14"),
            valid.replace("\"ph\": 3.51", "\"ph\": \"3.51\""),
            valid.replace("\"ph\": 3.51", "\"ph\": null"),
            valid.replace("\"ph\": 3.51, ", ""),
            valid.replace("\"ph\": 3.51", "\"ph\": 3.51, \"ph\": 3.2"),
            valid.replace("\"ph\"", "\"p\\u0068\""),
            valid.replace("\"ph\": 3.51", "\"ph\": 3.51, \"colour\": 1"),
            valid.replace("\"density\": 0.9978", "\"density\": -0.9978"),
            valid.replace("\"density\": 0.9978", "\"density\": 1e400"),
            format!("{valid} x"),
            format!("{{\"instances\": [{valid}]}}"),
            "[1, 2]".to_owned(),
        ];
        let mut fast = 0;
        for body in &variants {
            let general = serde_json::from_str::<Json_>(body)
                .ok()
                .and_then(|json| validate(model, &json, "").ok());
            let quick = fast_row(model, body.as_bytes());
            if let Some(values) = &quick {
                fast += 1;
                assert_eq!(Some(values), general.as_ref(), "{body}");
            }
            if general.is_some() && !body.contains(r"\u") && !body.contains("3.2") {
                assert!(
                    quick.is_some(),
                    "the fast path declined a plain valid row: {body}"
                );
            }
        }
        assert_eq!(
            fast, 2,
            "the valid row and its long-digit twin take the fast path"
        );
    }
}

//! `POST /feedback`: ground truth for earlier predictions.
//!
//! One item, `{"prediction_id": "...", "actual": 6}`, or a batch, `{"items": [...]}` of 1
//! to [`MAX_ITEMS`]. A batch is all or nothing: any invalid item → 422 naming each
//! offending field, any unknown id → 404 naming each, and nothing is recorded; a client
//! fixes the batch and sends it again, which is safe because a repeated item is
//! answered as a duplicate and not counted twice.
//!
//! Ids are verified by their signature ([`crate::ids`]), so a replica accepts feedback
//! for predictions other replicas made (with the same `SEXTANT_SHARED_SECRET`) and takes
//! the prediction from the id itself.

use crate::ids::IdInfo;
use crate::predict::{json_body, type_name};
use crate::predlog::{Feedback, Outcome};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value as Json_};
use sextant::Value;

/// Largest batch of feedback accepted.
pub const MAX_ITEMS: usize = 1000;
/// The range of valid ground truth (wine quality).
pub const ACTUAL_RANGE: (f64, f64) = (0.0, 10.0);

/// The answer for one item.
#[derive(Debug, Serialize)]
pub struct ItemResult {
    /// The prediction's id.
    pub prediction_id: String,
    /// `joined`, or `duplicate` when it already had ground truth (the first is kept).
    pub status: &'static str,
    /// The prediction (from the id).
    pub prediction: f64,
    /// The ground truth joined: the one sent, or for a duplicate the first one, which
    /// is kept (the one sent if the log's is no number: a log edited by hand).
    pub actual: f64,
    /// `actual − prediction`.
    pub residual: f64,
}

/// One item, validated.
struct Item {
    id: String,
    actual: f64,
}

fn field_error(field: String, message: impl Into<String>, kind: &'static str) -> FieldError {
    FieldError {
        field,
        message: message.into(),
        kind,
    }
}

/// Validates one item's shape and `actual`.
fn check_item(v: &Json_, prefix: &str) -> Result<Item, Vec<FieldError>> {
    let Some(obj) = v.as_object() else {
        let field = if prefix.is_empty() {
            "(body)".to_owned()
        } else {
            prefix.trim_end_matches('.').to_owned()
        };
        return Err(vec![field_error(
            field,
            format!(
                "expected an object with `prediction_id` and `actual`, got {}",
                type_name(v)
            ),
            "wrong_type",
        )]);
    };
    check_object(obj, prefix)
}

fn check_object(obj: &Map<String, Json_>, prefix: &str) -> Result<Item, Vec<FieldError>> {
    let mut errors = Vec::new();
    let id = match obj.get("prediction_id") {
        None | Some(Json_::Null) => {
            errors.push(field_error(
                format!("{prefix}prediction_id"),
                "required",
                "missing",
            ));
            None
        }
        Some(Json_::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(field_error(
                format!("{prefix}prediction_id"),
                format!("must be a string, got {}", type_name(other)),
                "wrong_type",
            ));
            None
        }
    };
    let (lo, hi) = ACTUAL_RANGE;
    let actual = match obj.get("actual") {
        None | Some(Json_::Null) => {
            errors.push(field_error(
                format!("{prefix}actual"),
                "required",
                "missing",
            ));
            None
        }
        Some(Json_::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Some(x),
            x => {
                errors.push(field_error(
                    format!("{prefix}actual"),
                    format!(
                        "must be a finite number between {lo} and {hi}, got {}",
                        x.map_or_else(|| n.to_string(), |x| x.to_string())
                    ),
                    "out_of_range",
                ));
                None
            }
        },
        Some(other) => {
            errors.push(field_error(
                format!("{prefix}actual"),
                format!("must be a number, got {}", type_name(other)),
                "wrong_type",
            ));
            None
        }
    };
    for key in obj.keys() {
        if key != "prediction_id" && key != "actual" {
            errors.push(field_error(
                format!("{prefix}{key}"),
                "unknown field",
                "unknown_field",
            ));
        }
    }
    match (id, actual) {
        (Some(id), Some(actual)) if errors.is_empty() => Ok(Item { id, actual }),
        _ => Err(errors),
    }
}

/// Parses the body into items; `Ok((items, is_batch))`.
fn items_of(json: &Json_, state: &AppState) -> Result<(Vec<Item>, bool), ApiError> {
    let invalid = |errors: Vec<FieldError>, n: u64| {
        state
            .metrics
            .feedback
            .with_label_values(&["invalid"])
            .inc_by(n.max(1));
        ApiError::invalid_fields(errors)
    };
    match json {
        Json_::Object(obj) if obj.contains_key("items") => {
            let Some(list) = obj.get("items").and_then(Json_::as_array) else {
                return Err(invalid(
                    vec![field_error(
                        "items".into(),
                        "must be an array of feedback items",
                        "wrong_type",
                    )],
                    1,
                ));
            };
            let extra: Vec<FieldError> = obj
                .keys()
                .filter(|k| *k != "items")
                .map(|k| field_error(k.clone(), "unknown field", "unknown_field"))
                .collect();
            if !extra.is_empty() {
                return Err(invalid(extra, 1));
            }
            if list.is_empty() || list.len() > MAX_ITEMS {
                return Err(invalid(
                    vec![field_error(
                        "items".into(),
                        format!("must hold 1 to {MAX_ITEMS} items, got {}", list.len()),
                        "out_of_range",
                    )],
                    1,
                ));
            }
            let mut items = Vec::with_capacity(list.len());
            let mut errors = Vec::new();
            let mut bad = 0;
            for (i, v) in list.iter().enumerate() {
                match check_item(v, &format!("items[{i}].")) {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        bad += 1;
                        errors.extend(e);
                    }
                }
            }
            if errors.is_empty() {
                Ok((items, true))
            } else {
                Err(invalid(errors, bad))
            }
        }
        other => match check_item(other, "") {
            Ok(item) => Ok((vec![item], false)),
            Err(e) => Err(invalid(e, 1)),
        },
    }
}

/// `POST /feedback`.
pub async fn feedback(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let json = json_body(&headers, body, "items").inspect_err(|_| {
        state.metrics.feedback.with_label_values(&["invalid"]).inc();
    })?;
    let (items, is_batch) = items_of(&json, &state)?;
    let Some(log) = &state.log else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the prediction log is switched off (--no-prediction-log): feedback cannot be joined",
        ));
    };
    // Verify every id before recording anything.
    let now = sextant::time::now_ms();
    let oldest = now.saturating_sub(state.config.retention_ms);
    let mut verified: Vec<(IdInfo, &Item)> = Vec::with_capacity(items.len());
    let mut unknown = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = if is_batch {
            format!("items[{i}].prediction_id")
        } else {
            "prediction_id".to_owned()
        };
        match state.ids.verify(&item.id) {
            Some(info) if info.time_ms >= oldest => verified.push((info, item)),
            Some(_) => unknown.push(field_error(
                field,
                "prediction older than the log's retention",
                "unknown",
            )),
            None => unknown.push(field_error(
                field,
                "no prediction with this id (not issued by this service, or altered)",
                "unknown",
            )),
        }
    }
    if !unknown.is_empty() {
        state
            .metrics
            .feedback
            .with_label_values(&["unknown"])
            .inc_by(unknown.len() as u64);
        return Err(ApiError::with_fields(
            StatusCode::NOT_FOUND,
            "unknown prediction id",
            unknown,
        ));
    }
    let version = state.model.version();
    let records: Vec<Feedback> = verified
        .iter()
        .map(|(info, item)| Feedback {
            id: item.id.clone(),
            time_ms: info.time_ms,
            prediction: info.prediction,
            model_version: (info.model_fingerprint == state.ids.model_fingerprint())
                .then(|| version.to_owned()),
            actual: item.actual,
            feedback_ms: now,
        })
        .collect();
    let outcomes = log
        .feedback(records)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let m = &state.metrics;
    let mut results = Vec::with_capacity(outcomes.len());
    let (mut joined, mut duplicate) = (0u64, 0u64);
    let mut rows = Vec::new();
    for ((info, item), outcome) in verified.iter().zip(&outcomes) {
        let (status, actual) = match *outcome {
            Outcome::Joined => {
                let residual = item.actual - info.prediction;
                joined += 1;
                m.absolute_error.observe(residual.abs());
                m.label_delay
                    .observe(((now - info.time_ms).max(0) as f64) / 1000.0);
                rows.push(residual);
                ("joined", item.actual)
            }
            Outcome::Duplicate { kept } => {
                duplicate += 1;
                ("duplicate", kept)
            }
        };
        results.push(ItemResult {
            prediction_id: item.id.clone(),
            status,
            prediction: info.prediction,
            actual,
            residual: actual - info.prediction,
        });
    }
    m.feedback.with_label_values(&["joined"]).inc_by(joined);
    m.feedback
        .with_label_values(&["duplicate"])
        .inc_by(duplicate);
    if !rows.is_empty() {
        state.evaluation.with_live(|p| {
            for r in &rows {
                p.record_row(&[Value::Float(*r), Value::Float(r.abs()), Value::Float(r * r)]);
            }
        });
    }
    if is_batch {
        Ok(Json(serde_json::json!({
            "results": results,
            "joined": joined,
            "duplicate": duplicate,
        }))
        .into_response())
    } else {
        Ok(Json(results.remove(0)).into_response())
    }
}

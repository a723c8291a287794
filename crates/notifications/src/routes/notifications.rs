use anyhow::Context;
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{AppState, db, error::ApiError};

#[derive(Deserialize)]
pub struct NotificationRequest {
    order_id: String,
    customer_id: String,
    template: String,
}

#[derive(Serialize)]
pub struct NotificationResponse {
    notification_id: String,
    status: String,
}

/// The templates this service knows; anything else is refused.
fn template(name: &str) -> Option<&'static str> {
    match name {
        "order_confirmed" => Some("order_confirmed"),
        _ => None,
    }
}

/// `POST /notifications`: queue a message to a customer.
pub async fn create(
    State(state): State<AppState>,
    platform::Json(request): platform::Json<NotificationRequest>,
) -> Result<(StatusCode, Json<NotificationResponse>), ApiError> {
    let template = template(&request.template).ok_or(ApiError::Invalid("unknown template"))?;
    if !platform::id::is_well_formed(&request.order_id, "ord")
        || !platform::id::is_well_formed(&request.customer_id, "cus")
    {
        return Err(ApiError::Invalid(
            "order_id and customer_id must be ids of the suite (ord_..., cus_...)",
        ));
    }
    let id = platform::id::new("ntf");
    let row = db::notifications::insert(
        &state.db,
        id,
        request.order_id,
        request.customer_id,
        template,
    )
    .await
    .context("recording the notification")?;
    tracing::info!(
        name: "notification.queued",
        { notification.id = row.id.as_str() },
        "notification queued"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(NotificationResponse {
            notification_id: row.id,
            status: row.status,
        }),
    ))
}

use anyhow::Context;
use axum::{Json, extract::State};
use platform::Path;
use serde::Serialize;

use crate::{AppState, db, domain::CustomerId, error::ApiError};

#[derive(Serialize)]
pub struct UserResponse {
    customer_id: String,
    name: String,
    email: String,
    orders_confirmed: i64,
    lifetime_spend_cents: i64,
}

/// `GET /users/{customer_id}`
pub async fn get(
    State(state): State<AppState>,
    Path(customer_id): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = CustomerId::parse(&customer_id)
        .ok_or_else(|| ApiError::UnknownCustomer(customer_id.clone()))?;
    let user = db::users::find(&state.db, &id)
        .await
        .context("looking up the customer")?
        .ok_or(ApiError::UnknownCustomer(customer_id))?;
    Ok(Json(UserResponse {
        customer_id: user.id,
        name: user.name,
        email: user.email,
        orders_confirmed: user.orders_confirmed,
        lifetime_spend_cents: user.lifetime_spend_cents,
    }))
}

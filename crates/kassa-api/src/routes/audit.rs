//! `/v1/audit_events`: every change to gateways and collection groups.

use axum::extract::State;
use axum::Json;

use crate::auth::Auth;
use crate::error::ErrorBody;
use crate::json::QueryMap;
use crate::views::{timestamp, AuditEventView, ListView};
use crate::{ApiError, AppState};

#[utoipa::path(operation_id = "list_audit_events", get, path = "/v1/audit_events", tag = "audit",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 10"),
        ("starting_after" = Option<i64>, Query, description = "The last id of the previous page"),
        ("object_type" = Option<String>, Query, description = "gateway or collection_group (with object_id)"),
        ("object_id" = Option<String>, Query, description = "The gateway id or group number"),
    ),
    responses((status = 200, body = ListView<AuditEventView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
) -> Result<Json<ListView<AuditEventView>>, ApiError> {
    q.only(&["limit", "starting_after", "object_type", "object_id"])?;
    let page = q.page()?;
    let object = match (q.get("object_type"), q.get("object_id")) {
        (None, None) => None,
        (Some(t @ ("gateway" | "collection_group" | "account")), Some(id)) => Some((t, id)),
        (Some(t), Some(_)) => {
            return Err(ApiError::invalid(
                "object_type",
                format!("object_type: `{t}` is not one of gateway, collection_group, account"),
            ))
        }
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "object_id",
                "object_id: is required with object_type",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "object_type",
                "object_type: is required with object_id",
            ))
        }
    };
    let rows = state.store.list_audit(auth.client_no, object, page).await?;
    let data = rows
        .data
        .into_iter()
        .map(|r| AuditEventView {
            object: "audit_event",
            id: r.id,
            actor: r.actor,
            request_id: r.request_id,
            object_type: r.object_type,
            object_id: r.object_id,
            action: r.action,
            changes: r.changes,
            created_at: timestamp(r.created_at),
        })
        .collect();
    Ok(Json(ListView::new(data, rows.has_more)))
}

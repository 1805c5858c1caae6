//! Kassa's operator console, served by `kassa serve` beside the API: server-rendered HTML
//! (askama templates, checked at compile time), no JavaScript build step. Operators sign in with a
//! client API key; the session lives in an HttpOnly, SameSite=Strict cookie whose hash is stored,
//! and every form carries the session's CSRF token.

mod campaigns;
mod charts;
mod customers;
mod emails;
mod events;
mod gateway_edit;
mod gateway_form;
mod pages;
mod payments;
mod routing;
mod session;
mod test_order;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use kassa_api::AppState;

const CSS: &str = include_str!("../templates/console.css");

/// The console's routes (merge them into the API's router).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/gateways") }))
        .route(
            "/console",
            get(|| async { Redirect::to("/console/gateways") }),
        )
        .route("/console/console.css", get(css))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/gateways", get(pages::gateways))
        .route(
            "/console/gateways/new",
            get(gateway_edit::new_form).post(gateway_edit::create),
        )
        .route(
            "/console/gateways/{id}/edit",
            get(gateway_edit::edit_form).post(gateway_edit::update),
        )
        .route(
            "/console/gateways/{id}/duplicate",
            post(pages::duplicate_gateway),
        )
        .route(
            "/console/gateways/{id}/archive",
            post(pages::archive_gateway),
        )
        .route(
            "/console/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/console/campaigns/{id}", get(campaigns::show))
        .route(
            "/console/campaigns/{id}/products",
            post(campaigns::add_product),
        )
        .route(
            "/console/campaigns/{id}/test_order",
            post(test_order::place),
        )
        .route(
            "/console/campaigns/{id}/products/{product_id}",
            post(campaigns::assign_product),
        )
        .route(
            "/console/campaigns/{id}/{action}",
            post(campaigns::set_deleted),
        )
        .route(
            "/console/routing_profiles",
            get(routing::routing_list).post(routing::routing_create),
        )
        .route(
            "/console/collection_groups",
            get(routing::groups_list).post(routing::groups_create),
        )
        .route(
            "/console/collection_groups/{no}/archive",
            post(routing::groups_archive),
        )
        .route("/console/payments", get(payments::list))
        .route(
            "/console/payments/{id}/{action}",
            post(customers::payment_action),
        )
        .route("/console/customers", get(customers::search))
        .route("/console/customers/{acct_no}", get(customers::profile))
        .route(
            "/console/purchases/{id}/{action}",
            post(customers::purchase_action),
        )
        .route("/console/webhook_events", get(events::list))
        .route("/console/webhook_events/{id}/retry", post(events::retry))
        .route("/console/emails", get(emails::list))
        .route(
            "/console/emails/templates/{kind}",
            get(emails::edit).post(emails::save),
        )
        .route("/console/emails/outbox/{id}/retry", post(emails::retry))
        .route("/console/reports", get(pages::reports_index))
        .route("/console/reports/{name}", get(pages::report))
        .route("/console/reports/{name}/csv", get(pages::report_csv))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// The API and the console together: what `kassa serve` runs.
pub fn app(state: AppState) -> Router {
    kassa_api::app(state.clone()).merge(router(state))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

/// Pages may not be framed, load nothing from elsewhere, and run no inline script.
async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

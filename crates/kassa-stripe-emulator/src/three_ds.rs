//! The hosted 3DS challenge page: `GET /_emulator/3ds/{pi}?client_secret=…` shows Complete and
//! Fail buttons; `POST` authenticates or fails the PaymentIntent (as
//! `/_emulator/payment_intents/{id}/authenticate`) and redirects (303) to its `return_url` with
//! `payment_intent`, `payment_intent_client_secret` and `redirect_status`, as Stripe does.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::events::RequestInfo;
use crate::form::{Node, Params};
use crate::objects::PiStatus;
use crate::routes::{self, Req};
use crate::{dispatch, lock, Emulator};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>3D Secure test page</title></head><body>{body}</body></html>"
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<h1>No such payment</h1>".to_string(),
    )
}

struct PiView {
    key: String,
    client_secret: String,
    status: PiStatus,
    amount: i64,
    currency: String,
    return_url: Option<String>,
}

fn view(emu: &Emulator, pi_id: &str) -> Option<PiView> {
    let key = emu.find_account_of(pi_id)?;
    let account = emu.account(&key);
    let acct = lock(&account);
    let pi = acct.payment_intents.get(pi_id)?;
    Some(PiView {
        key: key.clone(),
        client_secret: pi.client_secret.clone(),
        status: pi.status,
        amount: pi.amount,
        currency: pi.currency.clone(),
        return_url: pi.return_url.clone(),
    })
}

pub async fn page(emu: &Emulator, method: &Method, pi_id: &str, p: &Params) -> Response {
    let Some(pi) = view(emu, pi_id) else {
        return not_found();
    };
    let secret = match p.get(&["client_secret"]) {
        Some(Node::Str(s)) => s.as_str(),
        _ => "",
    };
    if secret != pi.client_secret {
        return not_found();
    }
    if *method == Method::GET {
        return challenge(pi_id, &pi);
    }
    if *method != Method::POST {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            "<h1>Method not allowed</h1>".into(),
        );
    }
    let outcome = match p.get(&["outcome"]) {
        Some(Node::Str(s)) if s == "failure" => "failure",
        _ => "success",
    };
    let segs = ["_emulator", "payment_intents", pi_id, "authenticate"];
    let Some((handler, ids)) = routes::find(&Method::POST, &segs) else {
        return not_found();
    };
    let req = Req {
        params: Params::parse(format!("outcome={outcome}").as_bytes()),
        ids,
        base_url: String::new(),
    };
    if let Err(e) = dispatch::run(emu, &pi.key, handler, &req, &RequestInfo::default()) {
        return html(
            StatusCode::BAD_REQUEST,
            format!(
                "<h1>Authentication not possible</h1><p>{}</p>",
                escape(&e.message)
            ),
        );
    }
    let Some(after) = view(emu, pi_id) else {
        return not_found();
    };
    let redirect_status = match after.status {
        PiStatus::Succeeded | PiStatus::RequiresCapture => "succeeded",
        _ => "failed",
    };
    let Some(ret) = after.return_url else {
        return html(
            StatusCode::OK,
            format!("<h1>Authentication {redirect_status}</h1>"),
        );
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("payment_intent", pi_id)
        .append_pair("payment_intent_client_secret", &after.client_secret)
        .append_pair("redirect_status", redirect_status)
        .finish();
    let sep = if ret.contains('?') { '&' } else { '?' };
    let location = format!("{ret}{sep}{query}");
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert("location", v);
    }
    resp
}

fn challenge(pi_id: &str, pi: &PiView) -> Response {
    if pi.status != PiStatus::RequiresAction {
        return html(
            StatusCode::OK,
            format!(
                "<h1>Nothing to authenticate</h1><p>This payment has status {}.</p>",
                pi.status.as_str()
            ),
        );
    }
    let action = format!("/_emulator/3ds/{}", escape(pi_id));
    let secret = escape(&pi.client_secret);
    let button = |outcome: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"client_secret\" value=\"{secret}\"><input type=\"hidden\" name=\"outcome\" value=\"{outcome}\"><button type=\"submit\" id=\"{outcome}\">{label}</button></form>"
        )
    };
    html(
        StatusCode::OK,
        format!(
            "<h1>3D Secure test payment page</h1><p>Amount: {} {} (minor units)</p>{}{}",
            pi.amount,
            escape(&pi.currency.to_uppercase()),
            button("success", "Complete"),
            button("failure", "Fail")
        ),
    )
}

//! The hosted 3DS challenge page: `GET /_emulator/3ds/{id}?client_secret=…` shows Complete and
//! Fail buttons; `POST` authenticates or fails the PaymentIntent or SetupIntent (as
//! `/_emulator/{payment,setup}_intents/{id}/authenticate`) and redirects (303) to its `return_url`
//! with `payment_intent` / `setup_intent`, its client secret and `redirect_status`, as Stripe does.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::events::RequestInfo;
use crate::form::{Node, Params};
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

/// A PaymentIntent or SetupIntent waiting for (or past) its challenge.
struct PiView {
    key: String,
    client_secret: String,
    status: &'static str,
    /// `None` for a SetupIntent (nothing is charged).
    amount: Option<(i64, String)>,
    return_url: Option<String>,
}

impl PiView {
    fn waiting(&self) -> bool {
        self.status == "requires_action"
    }
}

fn view(emu: &Emulator, id: &str) -> Option<PiView> {
    let key = emu.find_account_of(id)?;
    let account = emu.account(&key);
    let acct = lock(&account);
    if let Some(si) = acct.setup_intents.get(id) {
        return Some(PiView {
            key: key.clone(),
            client_secret: si.client_secret.clone(),
            status: si.status.as_str(),
            amount: None,
            return_url: si.return_url.clone(),
        });
    }
    let pi = acct.payment_intents.get(id)?;
    Some(PiView {
        key: key.clone(),
        client_secret: pi.client_secret.clone(),
        status: pi.status.as_str(),
        amount: Some((pi.amount, pi.currency.clone())),
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
    let kind = if pi_id.starts_with("seti_") {
        "setup_intents"
    } else {
        "payment_intents"
    };
    let segs = ["_emulator", kind, pi_id, "authenticate"];
    let Some((handler, ids)) = routes::find(&Method::POST, &segs) else {
        return not_found();
    };
    let req = Req {
        params: Params::parse(format!("outcome={outcome}").as_bytes()).unwrap_or_default(),
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
        "succeeded" | "requires_capture" => "succeeded",
        _ => "failed",
    };
    let Some(ret) = after.return_url else {
        return html(
            StatusCode::OK,
            format!("<h1>Authentication {redirect_status}</h1>"),
        );
    };
    let object = if pi_id.starts_with("seti_") {
        "setup_intent"
    } else {
        "payment_intent"
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair(object, pi_id)
        .append_pair(&format!("{object}_client_secret"), &after.client_secret)
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
    if !pi.waiting() {
        return html(
            StatusCode::OK,
            format!(
                "<h1>Nothing to authenticate</h1><p>This payment has status {}.</p>",
                pi.status
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
            "<h1>3D Secure test payment page</h1><p>{}</p>{}{}",
            match &pi.amount {
                Some((amount, currency)) => format!(
                    "Amount: {amount} {} (minor units)",
                    escape(&currency.to_uppercase())
                ),
                None => "Saving a card for later payments (nothing is charged now).".to_string(),
            },
            button("success", "Complete"),
            button("failure", "Fail")
        ),
    )
}

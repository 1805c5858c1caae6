//! Pages the shopper's browser visits: the 3-D Secure return (Stripe sends the shopper here after
//! the challenge), the demo's stand-in for a merchant's termination page, and the demo checkout
//! page showing how a merchant's page obtains a Radar session.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/3ds/return/{payment_id}", get(returned))
        .route("/3ds/return/setup/{setup_ref}", get(setup_returned))
        .route("/demo/3ds-complete", get(demo_termination))
        .route("/demo/checkout", get(demo_checkout))
}

async fn returned(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match crate::service::sca::returned(&state, &id).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn setup_returned(State(state): State<AppState>, Path(r): Path<String>) -> Response {
    match crate::service::card_setup::returned(&state, &r).await {
        Ok(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        Err(e) => e.into_response(),
    }
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// What a merchant's termination page does: read the payment id, then (server side) call
/// `POST /v1/payments/{id}/authorize_3ds` to finish the payment.
async fn demo_termination(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let id = escape(q.get("payment_id").map(String::as_str).unwrap_or("?"));
    let outcome = escape(q.get("three_ds").map(String::as_str).unwrap_or("?"));
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>3-D Secure finished</title></head><body><main>\
         <h1>3-D Secure finished</h1>\
         <p>Payment <code id=\"payment-id\">{id}</code>: challenge <strong id=\"outcome\">{outcome}</strong>.</p>\
         <p>This page stands in for the merchant's termination page. A merchant's server now calls \
         <code>POST /v1/payments/{id}/authorize_3ds</code> to finish the payment.</p>\
         </main></body></html>"
    ))
}

/// The demo checkout page: how a merchant's checkout page obtains a Radar session and hands it to
/// its server, which sends it as `radar_session` on `POST /v1/payments`. Stripe.js cannot be
/// loaded here (no outside network), so the page makes a stand-in id in the browser; the emulator
/// accepts any `radar_options[session]`. Self-contained: no external scripts, styles or fonts.
async fn demo_checkout(State(state): State<AppState>) -> Html<String> {
    let base = escape(state.config.public_url.trim_end_matches('/'));
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo checkout: Radar sessions</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.5; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
pre {{ background: #f3f3f3; padding: 1rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }}
code, pre, output {{ font-family: ui-monospace, monospace; }}
.note {{ border-left: 4px solid #b35c00; padding: 0.25rem 0.75rem; background: #fff6e5; }}
button {{ font-size: 1rem; padding: 0.4rem 0.9rem; }}
</style>
</head>
<body>
<main>
<h1>Demo checkout: Radar sessions</h1>
<section aria-labelledby="how">
<h2 id="how">How a real checkout page gets a Radar session</h2>
<ol>
<li>The page loads Stripe.js (<code>https://js.stripe.com/v3/</code>) with the gateway's
publishable key: <code>const stripe = Stripe("pk_live_…");</code></li>
<li>It calls <code>stripe.createRadarSession()</code>; the result's <code>radarSession.id</code>
is a Radar session id, <code>rse_…</code>.</li>
<li>It posts that id to the merchant's server with the order, and the server sends it as
<code>radar_session</code> on <code>POST /v1/payments</code>. Kassa passes it to Stripe as
<code>radar_options[session]</code>.</li>
</ol>
<p class="note" role="note"><strong>Stripe.js cannot be reached from this machine</strong>, so this
demo does not load it. Instead the script below makes a stand-in id, <code>rse_demo_…</code>, in
your browser. The demo's Stripe emulator accepts any Radar session id, so the rest of the flow
works exactly as it would with a real one.</p>
</section>
<section aria-labelledby="session">
<h2 id="session">Step 1: the Radar session (stand-in)</h2>
<p><label for="radar-session">Radar session id</label><br>
<input id="radar-session" name="radar_session" size="40" readonly value="(needs JavaScript)"></p>
<p><button type="button" id="new-session">Make another stand-in session</button></p>
</section>
<section aria-labelledby="server">
<h2 id="server">Step 2: what the merchant's server sends</h2>
<p>Replace <code>$KASSA_API_KEY</code> with the client's API key and <code>ACCT_NO</code> with
the billing account's <code>acct_no</code>:</p>
<pre id="curl" aria-live="polite">curl -s {base}/v1/payments \
  -H "Authorization: Bearer $KASSA_API_KEY" \
  -H 'Content-Type: application/json' \
  -d '{{"acct_no": ACCT_NO, "amount": 1999, "currency": "usd",
       "card": {{"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
       "radar_session": "<span id="curl-session">rse_demo_…</span>"}}'</pre>
<p class="note" role="note">The gateway must have <code>send_radar_sessions</code> on and a
<code>public_key</code> (its publishable key), e.g.
<code>PATCH /v1/gateways/{{id}} {{"send_radar_sessions": true, "public_key": "pk_test_…"}}</code>;
otherwise Kassa refuses <code>radar_session</code> with 400 rather than silently dropping it.</p>
</section>
</main>
<script>
(function () {{
  function standInSession() {{
    var bytes = new Uint8Array(12);
    if (window.crypto && window.crypto.getRandomValues) {{
      window.crypto.getRandomValues(bytes);
    }} else {{
      for (var i = 0; i < bytes.length; i++) {{ bytes[i] = Math.floor(Math.random() * 256); }}
    }}
    var hex = "";
    for (var j = 0; j < bytes.length; j++) {{ hex += ("0" + bytes[j].toString(16)).slice(-2); }}
    return "rse_demo_" + hex;
  }}
  function show() {{
    var id = standInSession();
    document.getElementById("radar-session").value = id;
    document.getElementById("curl-session").textContent = id;
  }}
  document.getElementById("new-session").addEventListener("click", show);
  show();
}})();
</script>
</body>
</html>
"#
    ))
}

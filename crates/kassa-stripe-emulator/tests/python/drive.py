"""Drives the Stripe emulator with the official stripe-python client (16.x) and asserts results.

Usage: python drive.py http://127.0.0.1:PORT
Exits 0 when every check passed; prints one line per completed section.
"""

import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

import stripe

warnings.simplefilter("ignore", DeprecationWarning)

BASE = sys.argv[1].rstrip("/")
KEY = "sk_test_python_" + str(int(time.time() * 1000))
client = stripe.StripeClient(KEY, base_addresses={"api": BASE}, max_network_retries=0)
v1 = client.v1


def section(name):
    print("ok:", name, flush=True)


def expect_card_error(params, **want):
    try:
        v1.payment_intents.create(params)
    except stripe.CardError as e:
        for k, v in want.items():
            got = getattr(e.error, k)
            assert got == v, f"{k}: {got!r} != {v!r}"
        return e
    raise AssertionError(f"no card error for {params}")


def pay(pm, **extra):
    params = {"amount": 2000, "currency": "usd", "payment_method": pm, "confirm": True}
    params.update(extra)
    return v1.payment_intents.create(params)


# Customers -----------------------------------------------------------------------------------
email = f"py-{int(time.time())}@example.com"
cus = v1.customers.create({"email": email, "name": "Py", "metadata": {"k": "v"}})
assert cus.id.startswith("cus_") and cus.object == "customer"
assert cus.email == email and cus.metadata["k"] == "v"
cus = v1.customers.update(cus.id, {"name": "Py Two"})
assert cus.name == "Py Two"
assert [c.id for c in v1.customers.list({"email": email}).data] == [cus.id]
assert v1.customers.retrieve(cus.id).name == "Py Two"
section("customers")

# PaymentMethods ------------------------------------------------------------------------------
pm = v1.payment_methods.create({"type": "card", "card": {"token": "tok_visa"}})
assert pm.card.last4 == "4242" and pm.card.brand == "visa"
pm = v1.payment_methods.attach(pm.id, {"customer": cus.id})
assert pm.customer == cus.id
listed = v1.customers.payment_methods.list(cus.id)
assert pm.id in [p.id for p in listed.data]
pm = v1.payment_methods.update(pm.id, {"card": {"exp_month": 7}})
assert pm.card.exp_month == 7
section("payment methods")

# PaymentIntents: success, decline, 3DS, radar -------------------------------------------------
pi = pay(pm.id, customer=cus.id, metadata={"order": "py-1"})
assert pi.status == "succeeded" and pi.amount_received == 2000
ch = v1.charges.retrieve(pi.latest_charge)
assert ch.paid and ch.captured and ch.amount_captured == 2000
assert ch.payment_method_details.card.last4 == "4242"

e = expect_card_error(
    {"amount": 2000, "currency": "usd", "payment_method": "pm_card_chargeDeclinedInsufficientFunds", "confirm": True},
    code="card_declined",
    decline_code="insufficient_funds",
)
assert e.http_status == 402
assert e.error.payment_intent["status"] == "requires_payment_method"
expect_card_error(
    {"amount": 2000, "currency": "usd", "payment_method": "pm_card_chargeDeclinedExpiredCard", "confirm": True},
    code="expired_card",
)
section("success and declines")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)
pi = pay("pm_card_authenticationRequired", return_url="https://shop.example/done")
assert pi.status == "requires_action", pi.status
assert pi.next_action.type == "redirect_to_url"
url = pi.next_action.redirect_to_url.url
page = opener.open(url).read().decode()
assert "Complete" in page and "Fail" in page
form = urllib.parse.urlencode({"client_secret": pi.client_secret, "outcome": "success"}).encode()
path = urllib.parse.urlsplit(url).path
try:
    opener.open(BASE + path, data=form)
    raise AssertionError("expected a 303 redirect")
except urllib.error.HTTPError as err:
    assert err.code == 303, err.code
    location = err.headers["Location"]
query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
assert location.startswith("https://shop.example/done?")
assert query["payment_intent"] == [pi.id] and query["redirect_status"] == ["succeeded"]
assert query["payment_intent_client_secret"] == [pi.client_secret]
assert v1.payment_intents.retrieve(pi.id).status == "succeeded"
e = expect_card_error(
    {"amount": 2000, "currency": "usd", "payment_method": "pm_card_authenticationRequired",
     "confirm": True, "off_session": True},
    code="authentication_required",
)
section("3DS")

expect_card_error(
    {"amount": 2000, "currency": "usd", "payment_method": "pm_card_radarBlock", "confirm": True},
    decline_code="fraudulent",
)
pi = pay("pm_card_riskLevelElevated")
assert pi.status == "succeeded" and pi.review
ch = v1.charges.retrieve(pi.latest_charge)
assert ch.outcome.risk_level == "elevated" and ch.outcome.type == "manual_review"
section("radar")

# Capture, cancel, refunds, search ------------------------------------------------------------
pi = pay("pm_card_visa", capture_method="manual")
assert pi.status == "requires_capture" and pi.amount_capturable == 2000
pi = v1.payment_intents.capture(pi.id, {"amount_to_capture": 1500})
assert pi.status == "succeeded" and pi.amount_received == 1500
pi2 = pay("pm_card_visa", capture_method="manual")
pi2 = v1.payment_intents.cancel(pi2.id, {"cancellation_reason": "requested_by_customer"})
assert pi2.status == "canceled" and pi2.cancellation_reason == "requested_by_customer"
re = v1.refunds.create({"payment_intent": pi.id, "amount": 500, "reason": "requested_by_customer"})
assert re.status == "succeeded" and re.amount == 500
assert v1.charges.retrieve(pi.latest_charge).amount_refunded == 500
assert [r.id for r in v1.refunds.list({"payment_intent": pi.id}).data] == [re.id]
found = v1.payment_intents.search({"query": "metadata['order']:'py-1'"})
assert len(found.data) == 1 and found.data[0].metadata["order"] == "py-1"
section("capture, cancel, refunds, search")

# Webhook endpoint, signed delivery, events ---------------------------------------------------
received = []


class Hook(http.server.BaseHTTPRequestHandler):
    secret = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            ev = client.construct_event(body, self.headers["Stripe-Signature"], Hook.secret)
            received.append(ev)
            self.send_response(200)
        except stripe.SignatureVerificationError:
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
we = v1.webhook_endpoints.create({"url": hook_url, "enabled_events": ["payment_intent.succeeded"]})
assert we.secret.startswith("whsec_") and we.status == "enabled"
Hook.secret = we.secret
pi = pay("pm_card_visa")
for _ in range(100):
    if received:
        break
    time.sleep(0.05)
assert received, "no webhook arrived"
assert received[0].type == "payment_intent.succeeded" and received[0].data.object.id == pi.id
events = v1.events.list({"type": "payment_intent.succeeded", "limit": 100})
assert pi.id in [ev.data.object.id for ev in events.data]
ev = v1.events.retrieve(received[0].id)
assert ev.type == "payment_intent.succeeded" and ev.request.id
assert [w.id for w in v1.webhook_endpoints.list().data] == [we.id]
v1.webhook_endpoints.delete(we.id)
server.shutdown()
section("webhooks and events")

# Idempotent retries --------------------------------------------------------------------------
opts = {"idempotency_key": "py-idem-" + KEY}
a = v1.customers.create({"email": "idem@example.com"}, opts)
b = v1.customers.create({"email": "idem@example.com"}, opts)
assert a.id == b.id
assert b.last_response.headers.get("Idempotent-Replayed") == "true"
try:
    v1.customers.create({"email": "other@example.com"}, opts)
    raise AssertionError("expected an idempotency error")
except stripe.IdempotencyError:
    pass
section("idempotency")

# SetupIntents, setup attempts, reviews ---------------------------------------------------------
si = v1.setup_intents.create({"customer": cus.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
                              "confirm": True, "usage": "off_session", "return_url": "https://shop.example/r"})
assert si.object == "setup_intent" and si.status == "requires_action"
assert si.next_action.type == "redirect_to_url"
urllib.request.urlopen(urllib.request.Request(
    BASE + f"/_emulator/setup_intents/{si.id}/authenticate", data=b"outcome=success",
    headers={"Authorization": "Bearer " + KEY}))
si = v1.setup_intents.retrieve(si.id, {"expand": ["latest_attempt"]})
assert si.status == "succeeded"
assert si.latest_attempt.payment_method_details.card.three_d_secure.result == "authenticated"
assert v1.payment_methods.retrieve(si.payment_method).customer == cus.id
attempts = v1.setup_attempts.list({"setup_intent": si.id})
assert attempts.data[0].id == si.latest_attempt.id
off = pay(si.payment_method, customer=cus.id, off_session=True)
assert off.status == "succeeded"
try:
    v1.setup_intents.create({"customer": cus.id, "payment_method": "pm_card_visa_chargeDeclined", "confirm": True})
    raise AssertionError("expected a card error")
except stripe.CardError as err:
    assert err.error.setup_intent["status"] == "requires_payment_method"
canceled = v1.setup_intents.cancel(v1.setup_intents.create({"customer": cus.id}).id)
assert canceled.status == "canceled"
risky = pay("pm_card_riskLevelElevated")
review = v1.reviews.retrieve(risky.review)
assert review.open and review.opened_reason == "rule"
review = v1.reviews.approve(review.id)
assert not review.open and review.closed_reason == "approved"
section("setup intents and reviews")

# Faults: stripe-python's own retries recover ---------------------------------------------------
M = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def roll(seed, n):
    return splitmix64(seed ^ splitmix64(n)) % 1000


def set_faults(**form):
    data = urllib.parse.urlencode(form).encode()
    return json.loads(urllib.request.urlopen(BASE + "/_emulator/faults", data=data).read())


# A seed whose first POST loses its response after the work and whose second goes through.
seed = next(s for s in range(10_000) if roll(s, 0) < 500 <= roll(s, 1))
set_faults(timeout_after_success_per_mille=500, seed=seed, error_500_per_mille=0, drop_per_mille=0)
retrying = stripe.StripeClient(KEY, base_addresses={"api": BASE}, max_network_retries=2)
tag = "fault-" + KEY
c = retrying.v1.customers.create({"email": "fault@example.com", "metadata": {"tag": tag}})
assert c.last_response.headers.get("Idempotent-Replayed") == "true"
set_faults(timeout_after_success_per_mille=0, error_500_per_mille=1000)
try:
    v1.customers.create({"email": "fault@example.com"})
    raise AssertionError("expected a 500")
except stripe.APIError as err:
    assert err.http_status == 500
set_faults(error_500_per_mille=0)
tagged = [x for x in v1.customers.list({"email": "fault@example.com", "limit": 100}).data
          if x.metadata.to_dict().get("tag") == tag]
assert len(tagged) == 1, "the work was done exactly once"
section("faults")

print("all checks passed")

"""Stripe-Signature signer for the webhook tests (tests/api/), run as
`target/stripe-venv/bin/python tests/stripe/sign.py` (scripts/stripe-setup.sh makes that venv).

Every header it writes is computed by Stripe's own Python library
(stripe.WebhookSignature.generate_signature_header), so the tests check Tollgate's verifier
against Stripe's signing code instead of a second copy of ours.

Protocol: one JSON object per line on stdin,
    {"payload": "<exact body text>", "secret": "whsec_...", "timestamp": <unix seconds>,
     "v1_count": N}                                   # v1_count optional, default 1
and one line per request on stdout: the whole header value, `t=<timestamp>,v1=<hex>`. With
v1_count N > 1 the header carries N v1 values: the first N-1 signed with wrong secrets
(whsec_wrong1, whsec_wrong2, ...), the real one last. A malformed request ends the process
with exit 1 and a message on stderr. At start-up it checks itself against the library's own
verifier and exits 1 if the library no longer behaves as this protocol needs.
"""

import json
import sys
import time

import stripe

SCHEME = "v1"


def v1_of(header):
    """The v1 value of a one-signature header from generate_signature_header."""
    values = [p[len(SCHEME) + 1 :] for p in header.split(",") if p.startswith(SCHEME + "=")]
    if len(values) != 1:
        raise ValueError("expected one %s= value in %r" % (SCHEME, header))
    return values[0]


def sign(payload, secret, timestamp, v1_count=1):
    real = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    if v1_count <= 1:
        return real
    wrong = [
        v1_of(
            stripe.WebhookSignature.generate_signature_header(
                payload, "whsec_wrong%d" % i, timestamp=timestamp
            )
        )
        for i in range(1, v1_count)
    ]
    return ",".join(["t=%d" % timestamp] + ["%s=%s" % (SCHEME, s) for s in wrong + [v1_of(real)]])


def fail(message):
    sys.stderr.write("tests/stripe/sign.py: %s\n" % message)
    sys.stderr.flush()
    sys.exit(1)


def self_check():
    secret = "whsec_selfcheck"
    payload = json.dumps({"id": "evt_selfcheck", "object": "event", "type": "customer.created",
                          "note": "caf\u00e9"}, ensure_ascii=False)
    now = int(time.time())
    for count in (1, 3):
        header = sign(payload, secret, now, count)
        if not header.startswith("t=%d," % now) or header.count(SCHEME + "=") != count:
            fail("stripe %s: unexpected header shape %r" % (stripe.VERSION, header))
        try:
            event = stripe.Webhook.construct_event(payload, header, secret)
        except Exception as e:  # noqa: BLE001 - any failure here means the protocol broke
            fail("stripe %s: Webhook.construct_event rejected our own header %r: %s"
                 % (stripe.VERSION, header, e))
        if event["id"] != "evt_selfcheck":
            fail("stripe %s: construct_event returned %r" % (stripe.VERSION, event))
    # And the library's verifier must still say no to a wrong secret and to a changed body.
    for bad_payload, bad_secret in ((payload, "whsec_other"), (payload + " ", secret)):
        try:
            stripe.WebhookSignature.verify_header(bad_payload, sign(payload, bad_secret, now), secret)
        except stripe.SignatureVerificationError:
            continue
        fail("stripe %s: verify_header accepted a signature it should reject" % stripe.VERSION)


def main():
    try:
        self_check()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - an API the check relies on changed or went away
        fail("stripe %s: self-check failed: %r" % (getattr(stripe, "VERSION", "?"), e))
    stdin = open(sys.stdin.fileno(), "r", encoding="utf-8", newline="\n", closefd=False)
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            payload, secret, timestamp = req["payload"], req["secret"], req["timestamp"]
            v1_count = req.get("v1_count", 1)
            if not isinstance(payload, str) or not isinstance(secret, str):
                raise ValueError("payload and secret must be strings")
            if not isinstance(timestamp, int) or isinstance(timestamp, bool):
                raise ValueError("timestamp must be an integer")
            if not isinstance(v1_count, int) or isinstance(v1_count, bool) or v1_count < 1:
                raise ValueError("v1_count must be an integer >= 1")
        except (ValueError, KeyError, TypeError) as e:
            fail("bad request %r: %s" % (line.rstrip("\n"), e))
        sys.stdout.write(sign(payload, secret, timestamp, v1_count) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Installs Stripe's official Python library (the `stripe` package on PyPI) in a venv of its
# own, target/stripe-venv, for the Stripe webhook tests (tests/api/): they spawn
# tests/stripe/sign.py with that venv's python so every Stripe-Signature header they send is
# computed by Stripe's own code, not by ours. Safe to run again: a venv that already holds the
# pinned version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

STRIPE_VERSION=16.1.0
venv=target/stripe-venv
. scripts/lib/venv.sh

# pip's output is read whole before grep: `pip show | grep -q` under pipefail fails whenever
# grep quits first and pip gets a broken pipe, which would rebuild the venv every time.
installed=$("$venv/bin/python" -m pip show stripe 2>/dev/null || true)
if ! grep -qx "Version: $STRIPE_VERSION" <<<"$installed"; then
    echo "== venv $venv: stripe $STRIPE_VERSION"
    fresh_venv "$venv" "stripe==$STRIPE_VERSION"
fi
echo "stripe: $("$venv/bin/python" -c 'import stripe; print(stripe.VERSION)')"

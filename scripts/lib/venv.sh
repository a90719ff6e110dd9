# Sourced by scripts that keep Python tools in a venv of their own (api-fuzz.sh,
# proxy-setup.sh). `fresh_venv DIR PACKAGE==VERSION...` makes DIR a new venv holding exactly
# those packages. `python3 -m venv` needs ensurepip, which Debian ships apart (python3-venv):
# when it fails, that is installed and the venv made again, if we may (root with apt-get, as
# in CI).
fresh_venv() {
    local venv=$1
    shift
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "== installing python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$venv"
        else
            echo "python3 -m venv failed: install python3-venv" >&2
            exit 1
        fi
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

#!/bin/sh
# Installs what the benchmark needs and is missing: the Debian packages
# (apt-get, as root or through sudo) and losant-rest for the node peer
# (`npm ci` in bench/node when node_modules is missing).
set -eu
cd "$(dirname "$0")"

# Prints the Debian package of each missing piece: "cmd:NAME" is a command,
# "file:PATH" a file, "pc:NAME" a pkg-config module (from a -dev package).
missing=$(
    while read -r what pkg; do
        case "$what" in
            cmd:*) command -v "${what#cmd:}" >/dev/null 2>&1 && continue ;;
            file:*) [ -e "${what#file:}" ] && continue ;;
            pc:*) pkg-config --exists "${what#pc:}" 2>/dev/null && continue ;;
        esac
        printf '%s ' "$pkg"
    done <<LIST
file:/usr/sbin/nginx nginx
cmd:node nodejs
cmd:npm npm
cmd:curl curl
cmd:valgrind valgrind
cmd:timeout coreutils
cmd:pkg-config pkg-config
cmd:cc build-essential
cmd:lua5.4 lua5.4
pc:lua5.4 liblua5.4-dev
pc:jansson libjansson-dev
pc:libcurl libcurl4-openssl-dev
LIST
)

if [ -n "$missing" ]; then
    echo "bench: installing Debian packages: $missing"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -d node/node_modules/losant-rest ]; then
    echo "bench: installing losant-rest (npm ci in bench/node)"
    (cd node && { npm ci --no-audit --no-fund --loglevel=error ||
                  npm install --no-audit --no-fund --loglevel=error; })
fi

#!/usr/bin/env bash
# Install what the real-browser test needs: Debian's Chromium (never a Playwright browser
# download). Idempotent and a fast no-op when /usr/bin/chromium is already there.
# Playwright (the Python package) comes from the dev extra / pip, not from here.
set -euo pipefail

CHROMIUM="${NBSCHED_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser_deps.sh: $CHROMIUM is missing and apt-get is not available;" \
         "install Chromium with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "browser_deps.sh: not root and no sudo; cannot install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Try the install first (the package lists are usually current); update and retry if not.
if ! $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "browser_deps.sh: chromium installed but $CHROMIUM is not there" >&2
    exit 1
fi

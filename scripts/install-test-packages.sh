#!/usr/bin/env bash
# Installs what the browser tests need from Debian's packages: Chromium (driven by Python
# Playwright through executable_path, no browser download), Firefox ESR (driven over WebDriver
# BiDi by tests/support/firefox.py) and iproute2 (the tests bring up `lo` inside a private
# network namespace), and espeak-ng and sox, which make the test speech of the transcription
# tests and evaluation (benchmarks/speech_audio.py: a robotic voice, noisy and reverberant
# variants). Idempotent: does nothing when all is present.
set -euo pipefail

CHROMIUM=/usr/lib/chromium/chromium
FIREFOX=/usr/lib/firefox-esr/firefox-esr
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
[ -x "$FIREFOX" ] || missing+=(firefox-esr)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-test-packages: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-test-packages: installing ${missing[*]} from Debian's packages" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o DPkg::Lock::Timeout=300 "${missing[@]}"
"$CHROMIUM" --version
"$FIREFOX" --version

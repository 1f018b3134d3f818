#!/bin/sh
# Install headless Chromium and its driver for tests/test_browser.py, when they are missing.
#
# Called by tox (commands_pre). It only acts on a Debian/Ubuntu machine where it runs as root with
# apt-get; anywhere else it says why and exits 0: the browser test then skips, or fails when the
# CI environment variable is set. It never fails the test run itself.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: chromium/chromedriver missing and apt-get as root is not available here;" \
         "tests/test_browser.py will skip (or fail under CI)" >&2
    exit 0
fi
log="${TMPDIR:-/tmp}/divbench-ensure-chromium.log"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
install() {
    apt-get install -y -q --no-install-recommends chromium chromium-driver >>"$log" 2>&1
}
# A fresh machine may have no package lists yet: update once and retry.
if install || { apt-get update -q >>"$log" 2>&1 && install; }; then
    echo "ensure_chromium: installed chromium and chromium-driver in $(( $(date +%s) - start )) s" >&2
else
    echo "ensure_chromium: apt-get could not install chromium (see $log);" \
         "tests/test_browser.py will skip (or fail under CI)" >&2
fi
exit 0

#!/usr/bin/env bash
# Run by `npm test` before the tests: the deploy tests need Debian's Prometheus (promtool checks and
# unit-tests the alerting rules; a real prometheus scrapes the service), and the console's browser
# tests need Debian's Chromium (driven by playwright-core, which cannot download a browser here).
# Installs what is missing when the machine can (root with apt-get); otherwise says what to install,
# and fails.
set -euo pipefail
missing=()
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then missing+=(prometheus); fi
if ! command -v "${CHROMIUM_PATH:-chromium}" >/dev/null; then missing+=(chromium fonts-dejavu-core); fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ${missing[*]} (for the deploy and browser tests)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "the tests need: ${missing[*]} (Debian: apt-get install ${missing[*]}; or CHROMIUM_PATH=/path/to/chromium)" >&2
exit 1

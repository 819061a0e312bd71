#!/usr/bin/env bash
# Run by `npm test` before the tests: the deploy tests need Debian's Prometheus (promtool checks and
# unit-tests the alerting rules; a real prometheus scrapes the service). Installs it when missing and
# the machine can (root with apt-get); otherwise says what to install, and fails.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's prometheus package (promtool and prometheus, for the deploy tests)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  exit 0
fi
echo "the tests need Prometheus 2.x (promtool and prometheus on the PATH): apt-get install prometheus" >&2
exit 1

#!/usr/bin/env bash
# Installs the Debian packages the tests need, where missing: PostgreSQL (the store
# tests run on a real server), Chromium (browser tests), Java 17 (Spark), a CJK font (pages and PDFs),
# Pango with HarfBuzz (PDFs), and ICU headers with a compiler (pip builds PyICU).
set -euo pipefail

# With the argument "portal": only what installing and serving the portal needs (font,
# Pango, and what building PyICU needs).
missing=()
if [ "${1:-}" != "portal" ]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null \
    || missing+=(postgresql)
  command -v chromium >/dev/null || missing+=(chromium)
  # The Spark engine's tests run PySpark in local mode, which needs a Java 17 runtime.
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
fi
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
# WeasyPrint renders certificate PDFs with Pango.
dpkg -s libpangoft2-1.0-0 >/dev/null 2>&1 || missing+=(libpangoft2-1.0-0)
# ... and subsets the embedded fonts with HarfBuzz (without it, a warning on each PDF).
dpkg -s libharfbuzz-subset0 >/dev/null 2>&1 || missing+=(libharfbuzz-subset0)
# PyICU (required by FollowTheMoney's normality) has no wheel: pip builds it against ICU.
dpkg -s libicu-dev >/dev/null 2>&1 || missing+=(libicu-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v g++ >/dev/null || missing+=(g++)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "warning: not root, cannot install ${missing[*]}; tests that need them will be skipped" >&2
  exit 0
fi
echo "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# System packages the test suite needs, installed when missing (Debian; needs root, as on CI):
# Graphviz renders lineage graphs (the tests check the picture and the text fallback); chromium and
# chromium-driver run the lineage explorer's end-to-end tests. Without root it only says what is missing.
set -euo pipefail
missing=()
command -v dot >/dev/null || missing+=(graphviz)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "the tests need: ${missing[*]} (apt-get install -y ${missing[*]}); they will fail without them" >&2
fi

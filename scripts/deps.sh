#!/usr/bin/env bash
# Installs what FlowOOD needs on Debian/Ubuntu, idempotently: quiet when everything is
# present, prints the exact command when it cannot install (not root).
set -euo pipefail

# C libraries (SwiftPM system-library targets), fonts for figures, pdftoppm, and the data
# packages the report reads (FashionMNIST; scikit-learn's digits; scikit-image's images).
PACKAGES=(
  pkg-config zlib1g-dev libopenblas-dev
  libcairo2-dev libpango1.0-dev libcmark-gfm-dev libcmark-gfm-extensions-dev
  fonts-lmodern fonts-dejavu poppler-utils
  dataset-fashion-mnist python3-sklearn python3-skimage
)

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH; install Swift 6.x from swift.org first" >&2
  exit 1
fi

if [[ "$(uname -s)" == "Darwin" ]]; then
  # macOS: BLAS comes from Accelerate; the rest from Homebrew. Data: pass --data-dir.
  missing=()
  for f in pkg-config cairo pango cmark-gfm; do brew list "$f" >/dev/null 2>&1 || missing+=("$f"); done
  if ((${#missing[@]})); then echo "run: brew install ${missing[*]}" >&2; exit 1; fi
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "warning: not a Debian system; make sure these are installed: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    cmd="sudo sh -c '$cmd'"
  else
    echo "FlowOOD needs these packages: ${missing[*]}" >&2
    echo "run as root: $cmd" >&2
    exit 1
  fi
fi
echo "deps: installing ${missing[*]}" >&2
log=$(mktemp)
if ! sh -c "$cmd" >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: package installation failed (command: $cmd)" >&2
  exit 1
fi
rm -f "$log"

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

# The data files the catalog reads (Sources/OOD/DatasetCatalog.swift; README "Data"), by package.
check_data() {
  local fmnist=/usr/share/datasets/fashion-mnist sklearn=/usr/lib/python3/dist-packages/sklearn/datasets/data
  local skimage=/usr/lib/python3/dist-packages/skimage/data missing=()
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [[ -f "$fmnist/$f" ]] || missing+=("$fmnist/$f (dataset-fashion-mnist)")
  done
  for f in digits.csv.gz wine_data.csv breast_cancer.csv; do
    [[ -f "$sklearn/$f" ]] || missing+=("$sklearn/$f (python3-sklearn)")
  done
  # photos need all six PNGs; scikit-image's rocket is JPEG only and is not used.
  for f in brick.png grass.png gravel.png astronaut.png camera.png chelsea.png coffee.png coins.png moon.png; do
    [[ -f "$skimage/$f" ]] || missing+=("$skimage/$f (python3-skimage)")
  done
  if ((${#missing[@]})); then
    printf 'warning: data file missing: %s\n' "${missing[@]}" >&2
    echo "warning: without them the sets that read them fail; FLOWOOD_DATA can point at copies (README, Data)" >&2
  fi
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "warning: not a Debian system; make sure these are installed: ${PACKAGES[*]}" >&2
  echo "warning: data alternatives from PyPI: pip install scikit-learn scikit-image; FashionMNIST via FLOWOOD_DATA" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ! ((${#missing[@]})); then check_data; exit 0; fi

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
check_data

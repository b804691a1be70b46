#!/usr/bin/env bash
# The end-to-end smoke report of `make test`: the whole book on tiny subsets with one epoch,
# from the release binary, in a scratch copy of the chapters; then checks what it produced.
set -euo pipefail
bin="${1:?usage: smoke-report.sh FLOWOOD_BINARY}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
root="$(pwd)"
work="${SMOKE_DIR:-$root/build/smoke}"
mkdir -p "$work"
rm -rf "$work/chapters" && cp -R "$root/chapters" "$work/chapters"
cd "$work"
"$bin" report --check --root "$work" | grep -q "^checked .* 0 errors$" || { echo "smoke report: --check failed" >&2; exit 1; }
start=$(date +%s)
"$bin" report --profile smoke --root "$work"
echo "smoke report: $(( $(date +%s) - start )) s (cache in $work/build/cache)"

fail() { echo "smoke report check failed: $*" >&2; exit 1; }
html="$work/build/report/index.html"; pdf="$work/build/report/report.pdf"
[[ -s "$html" ]] || fail "$html missing"
[[ -s "$pdf" ]] || fail "$pdf missing"
grep -q "smoke" "$html" || fail "the HTML does not say it is a smoke profile"
text=$(pdftotext -layout "$pdf" -) || fail "pdftotext cannot read $pdf"
grep -q "smoke" <<<"$text" || fail "the PDF does not say it is a smoke profile"
pages=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
(( pages >= 5 )) || fail "the PDF has only $pages pages"
nfig=$(ls "$work/figures"/fig-*.svg 2>/dev/null | wc -l)
(( nfig >= 5 )) || fail "only $nfig figures in $work/figures"
for f in "$work"/build/report/figures/fig-*; do
  cmp -s "$f" "$work/figures/$(basename "$f")" || fail "figures/$(basename "$f") differs from the report's copy"
done
# A second run with nothing changed reuses every experiment, says why, and removes a figure
# that no directive produces any more.
touch "$work/figures/fig-stale-smoke-check.svg"
start=$(date +%s)
out=$("$bin" report --profile smoke --root "$work" --explain 2>&1)
grep -q "^0 computed" <<<"$out" || { echo "$out" | tail -20; fail "the second run recomputed experiments"; }
grep -q "reused (unchanged since the last run)" <<<"$out" || fail "--explain does not say why experiments were reused"
[[ ! -e "$work/figures/fig-stale-smoke-check.svg" ]] || fail "a stale figure was not removed from figures/"
echo "smoke report: rerun with nothing changed took $(( $(date +%s) - start )) s; $pages pages, $nfig figures"

#!/usr/bin/env bash
# make bench: FlowOOD's engine beside the PyTorch CPU reference, same machine, same run.
# Usage: scripts/bench.sh path/to/flowood [benchmarks]
set -euo pipefail
bin=${1:?usage: scripts/bench.sh path/to/flowood [benchmarks]}
benches=${2:-cnn-fmnist,glow-latent-512,realnvp-fmnist-small}
shared=${FLOWOOD_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
ref="$shared/bench/reference/torch_flows.py"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for t in 2 1; do
  echo "flowood: $benches, $t thread(s)" >&2
  FLOWOOD_THREADS=$t "$bin" bench --bench "$benches" >>"$out/flowood.jsonl"
done
if [[ -f "$ref" ]] && python3 -c "import torch" >/dev/null 2>&1; then
  echo "pytorch reference: $benches" >&2
  python3 "$ref" --bench "$benches" --threads 2,1 >>"$out/torch.jsonl" 2>"$out/torch.err" || {
    cat "$out/torch.err" >&2; echo "warning: the PyTorch reference failed" >&2; }
else
  echo "note: PyTorch not importable (pip install torch numpy) or $ref missing: no reference run" >&2
fi
python3 - "$out/flowood.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys, os
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ref = {}
if os.path.exists(sys.argv[2]):
    for l in open(sys.argv[2]):
        if l.strip().startswith("{"):
            r = json.loads(l); ref[(r["name"], r["threads"])] = r
print(f"{'benchmark':<24}{'thr':>4}{'train/s':>10}{'torch':>10}{'ratio':>7}{'eval/s':>10}{'torch':>10}{'ratio':>7}")
for r in ours:
    t = ref.get((r["name"], r["threads"]))
    def cell(k):
        if not t: return f"{r[k]:>10.1f}{'-':>10}{'-':>7}"
        return f"{r[k]:>10.1f}{t[k]:>10.1f}{r[k]/t[k]:>6.2f}x"
    print(f"{r['name']:<24}{r['threads']:>4}{cell('train_items_per_s')}{cell('eval_items_per_s')}")
PY

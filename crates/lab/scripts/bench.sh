#!/usr/bin/env bash
# bgplane lab benchmarks (recorded in docs/BENCHMARKS.md, section "lab"). Run as root from
# the repository root, after `cargo build --release -p lab`:
#   crates/lab/scripts/bench.sh [runs] [seed|clos|all]
# Measures: seed 002 from `deploy` to all router sessions Established and every node
# pinging every other; generated Clos fabrics of ~50, 100 and 306 nodes: deploy, time until
# one host reaches all others, destroy.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-5}
WHAT=${2:-all}
BIN=${BIN:-target/release/bgplane-lab}
mkdir -p /var/lib/bgplane
export BGPLANE_LAB_DIR
BGPLANE_LAB_DIR=$(mktemp -d /var/lib/bgplane/bench-XXXXXX)
trap 'rm -rf "$BGPLANE_LAB_DIR"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
established() { "$BIN" exec --name "$1" "$2" -- vtysh -c 'show bgp ipv4 summary json' 2>/dev/null | grep -c '"state":"Established"' || true; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

if [ "$WHAT" != clos ]; then
echo "== $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), kernel $(uname -r)"
echo "== seed 002 (examples/cilium-bgp-frr), $RUNS runs"
deploys=(); converged=(); destroys=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  "$BIN" deploy -t examples/cilium-bgp-frr/topo.yaml --cluster examples/cilium-bgp-frr/cluster.yaml >/dev/null 2>&1
  t1=$(now)
  until [ "$(established bgp-cplane-demo router0)" = 2 ] && [ "$(established bgp-cplane-demo tor0)" = 1 ] \
    && [ "$(established bgp-cplane-demo tor1)" = 1 ] && "$BIN" check --name bgp-cplane-demo --timeout 0.2 >/dev/null 2>&1; do
    sleep 0.02
  done
  t2=$(now)
  "$BIN" destroy --name bgp-cplane-demo --cleanup >/dev/null
  t3=$(now)
  deploys+=("$(secs "$t0" "$t1")"); converged+=("$(secs "$t0" "$t2")"); destroys+=("$(secs "$t2" "$t3")")
  echo "  deploy $(secs "$t0" "$t1") s, sessions up + all pings $(secs "$t0" "$t2") s, destroy $(secs "$t2" "$t3") s"
done
echo "  median: deploy $(printf '%s\n' "${deploys[@]}" | median) s, converged $(printf '%s\n' "${converged[@]}" | median) s, destroy $(printf '%s\n' "${destroys[@]}" | median) s"

fi
[ "$WHAT" = seed ] && exit 0

for spec in "2 4 11" "2 2 48" "2 4 75"; do
  read -r s l h <<<"$spec"
  nodes=$((s + l + l * h))
  topo="$BGPLANE_LAB_DIR/clos-$nodes.yaml"
  "$BIN" generate --name "clos$nodes" --spines "$s" --leafs "$l" --hosts-per-leaf "$h" --out "$topo"
  echo "== Clos $s spines, $l leafs, $h hosts per leaf: $nodes nodes (+ $l bridges)"
  for _ in $(seq "$RUNS"); do
    t0=$(now)
    "$BIN" deploy -t "$topo" >/dev/null 2>&1
    t1=$(now)
    until "$BIN" check --name "clos$nodes" --from host1-1 --to '*' --timeout 0.3 >/dev/null 2>&1; do sleep 0.05; done
    t2=$(now)
    "$BIN" destroy --name "clos$nodes" --cleanup >/dev/null
    t3=$(now)
    echo "  deploy $(secs "$t0" "$t1") s, host1-1 reaches all $(secs "$t0" "$t2") s, destroy $(secs "$t2" "$t3") s"
  done
done

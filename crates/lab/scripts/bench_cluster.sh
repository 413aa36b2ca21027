#!/usr/bin/env bash
# bgplane lab cluster benchmarks (docs/BENCHMARKS.md, "Lab cluster: policy to pods
# reachable"). Run as root from the repository root, after `cargo build --release -p bgplane`:
#   crates/lab/scripts/bench_cluster.sh [runs] [seed|clos|all]
# Measures, from `lab apply -f` of the CiliumBGPPeeringPolicies (pods already running, the
# fabric converged) to every pod reachable:
#  - seed 000 (examples/cilium-bgp-cross-as) with FRR routers (topo-frr.yaml) and with bgplane
#    routers (topo-bgplane.yaml): every node and the client reach every pod;
#  - a `lab generate` fabric (2 spines, 10 leafs with FRR, 10 Kubernetes nodes per leaf: 100
#    nodes) whose leafs reflect their rack's nodes (listen ranges), one policy per rack:
#    a node in the first and one in the last rack reach all 100 pods;
# and the agents' memory (VmRSS) after convergence.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RUNS=${1:-3}
WHAT=${2:-all}
BIN=${BIN:-target/release/bgplane}
mkdir -p /var/lib/bgplane
export BGPLANE_LAB_DIR
BGPLANE_LAB_DIR=$(mktemp -d /var/lib/bgplane/bench-cluster-XXXXXX)
trap '"$BIN" lab destroy --all --cleanup >/dev/null 2>&1 || true; rm -rf "$BGPLANE_LAB_DIR"' EXIT
lab() { "$BIN" lab "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
pod_ips() { lab kubectl --name "$1" get pods -o json | python3 -c 'import json,sys; print(" ".join(p["status"]["podIP"] for p in json.load(sys.stdin)["items"]))'; }
# Agents' memory, MiB: resident (VmRSS, counting the shared binary's pages) and proportional
# (Pss: shared pages divided among the processes that map them).
agent_rss() {
  for p in $(pgrep -f "bgplane agent --node .*--manifests $BGPLANE_LAB_DIR/$1/"); do
    awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r / 1024, s / 1024 }' "/proc/$p/smaps_rollup"
  done | awk '{ n++; r += $1; s += $2; if ($1 > m) m = $1 } END { printf "%d agents, RSS %.1f MiB each on average (max %.1f), PSS %.1f MiB", n, r / n, m, s / n }'
}
has_routes() { # NODE PREFIX…
  local r; r=$(lab exec --name "$LAB" "$1" -- ip -4 route); shift
  for p in "$@"; do grep -q "^$p " <<<"$r" || return 1; done
}
echo "== $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg), kernel $(uname -r)"

if [ "$WHAT" != clos ]; then
LAB=cilium-bgp
D=examples/cilium-bgp-cross-as
for topo in topo-frr.yaml topo-bgplane.yaml; do
  echo "== seed 000, $topo, $RUNS runs"
  times=()
  for _ in $(seq "$RUNS"); do
    lab deploy -t "$D/$topo" --cluster "$D/cluster.yaml" --auto-direct-node-routes >/dev/null 2>&1
    lab kubectl taint nodes cilium-bgp-control-plane node-role.kubernetes.io/control-plane:NoSchedule- >/dev/null
    lab apply -f "$D/test-client.yaml" >/dev/null
    until has_routes spine01 10.0.5.0/24 10.0.10.0/24 192.168.0.0/24 && has_routes spine02 10.0.5.0/24 10.0.10.0/24 192.168.0.0/24; do sleep 0.05; done
    to=(); for ip in $(pod_ips $LAB); do to+=(--to "$ip"); done
    t0=$(now)
    lab apply -f "$D/bgp-peering-policies.yaml" >/dev/null
    until lab check --name $LAB --from control-plane --from worker --from worker2 --from worker3 --from client "${to[@]}" --timeout 0.2 >/dev/null 2>&1; do :; done
    t1=$(now)
    times+=("$(secs "$t0" "$t1")")
    echo "  policies → 4 nodes + client reach the 4 pods: $(secs "$t0" "$t1") s; $(agent_rss $LAB)"
    lab destroy --name $LAB --cleanup >/dev/null
  done
  echo "  median $(printf '%s\n' "${times[@]}" | median) s"
done
fi
[ "$WHAT" = seed ] && exit 0

# A generated Clos whose hosts are the nodes of a kind cluster.
LAB=k100
LEAFS=10; HOSTS=10
T="$BGPLANE_LAB_DIR/k100.yaml"; C="$BGPLANE_LAB_DIR/k100-cluster.yaml"; P="$BGPLANE_LAB_DIR/k100-policies.yaml"
lab generate --name $LAB --spines 2 --leafs $LEAFS --hosts-per-leaf $HOSTS --out "$T"
python3 - "$T" "$C" "$P" $LEAFS $HOSTS <<'EOF'
import sys
topo, cluster, policies, leafs, hosts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
text = open(topo).read()
# kind names the nodes: control-plane first, then worker, worker2, ...
names = ["control-plane"] + ["worker" if i == 1 else f"worker{i}" for i in range(1, leafs * hosts)]
out, i = [], 0
lines = text.splitlines()
leaf = None
for l in lines:
    s = l.strip()
    if l.startswith("    host") and s.endswith(":"):
        out.append(l)
        out.append(f"      network-mode: container:k100-{names[i]}")
        i += 1
        continue
    if l.startswith("    leaf") and s.endswith(":"):
        leaf = int(s[4:-1])
    out.append(l)
    if leaf and s == "no bgp ebgp-requires-policy":
        ind = l[: len(l) - len(l.lstrip())]
        out.append(f"{ind}neighbor NODES peer-group")
        out.append(f"{ind}neighbor NODES remote-as internal")
        out.append(f"{ind}bgp listen range 10.128.{leaf - 1}.0/24 peer-group NODES")
    if leaf and s == "address-family ipv4 unicast":
        ind = l[: len(l) - len(l.lstrip())]
        out.append(f"{ind} neighbor NODES route-reflector-client")
        leaf = None
open(topo, "w").write("\n".join(out) + "\n")
c = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "name: k100", "networking:", '  podSubnet: "10.1.0.0/16"', "nodes:"]
for n in range(leafs * hosts):
    j, k = n // hosts + 1, n % hosts + 1
    role = "control-plane" if n == 0 else "worker"
    conf = "InitConfiguration" if n == 0 else "JoinConfiguration"
    c += [f"  - role: {role}", "    kubeadmConfigPatches:", "      - |", f"        kind: {conf}",
          "        nodeRegistration:", "          kubeletExtraArgs:",
          f"            node-ip: 10.128.{j - 1}.{k + 1}", f'            node-labels: "rack=rack{j}"']
open(cluster, "w").write("\n".join(c) + "\n")
p = []
for j in range(1, leafs + 1):
    p += ["---", 'apiVersion: "cilium.io/v2alpha1"', "kind: CiliumBGPPeeringPolicy", f"metadata: {{name: rack{j}}}",
          "spec:", f"  nodeSelector: {{matchLabels: {{rack: rack{j}}}}}", "  virtualRouters:",
          f"    - localASN: {65100 + j}", "      exportPodCIDR: true",
          f'      neighbors: [{{peerAddress: "10.128.{j - 1}.1/32", peerASN: {65100 + j}}}]']
open(policies, "w").write("\n".join(p) + "\n")
EOF
echo "== generated Clos: 2 spines, $LEAFS leafs (FRR), $HOSTS Kubernetes nodes per leaf, $RUNS runs"
times=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  lab deploy -t "$T" --cluster "$C" >/dev/null 2>&1
  t1=$(now)
  lab kubectl taint nodes k100-control-plane node-role.kubernetes.io/control-plane:NoSchedule- >/dev/null
  lab apply -f examples/cilium-bgp-cross-as/test-client.yaml >/dev/null
  t2=$(now)
  until lab check --name $LAB --from host1-1 --to "host$LEAFS-$HOSTS" --timeout 0.3 >/dev/null 2>&1; do sleep 0.05; done
  to=(); for ip in $(pod_ips $LAB); do to+=(--to "$ip"); done
  rss0=$(agent_rss $LAB)
  t3=$(now)
  lab apply -f "$P" >/dev/null
  until lab check --name $LAB --from host1-1 --from "host$LEAFS-$HOSTS" "${to[@]}" --timeout 0.3 >/dev/null 2>&1; do :; done
  t4=$(now)
  times+=("$(secs "$t3" "$t4")")
  echo "  deploy $(secs "$t0" "$t1") s, $((${#to[@]} / 2)) DaemonSet pods $(secs "$t1" "$t2") s; policies → 2 nodes reach all $((${#to[@]} / 2)) pods: $(secs "$t3" "$t4") s"
  echo "  agents before the policies: $rss0; after: $(agent_rss $LAB)"
  t5=$(now)
  lab destroy --name $LAB --cleanup >/dev/null
  echo "  destroy $(secs "$t5" "$(now)") s"
done
echo "  median $(printf '%s\n' "${times[@]}" | median) s"

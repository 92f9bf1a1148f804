#!/usr/bin/env bash
# Runs swift-bench with the same workloads against several Swift-API endpoints
# and prints requests per second side by side, with each target's ratio to the
# first one (the baseline).
#
#   bench/swift-bench/run.sh [LABEL=AUTH_URL,USER,KEY ...]
#
# Without arguments the targets are
#   swift   the real Swift of scripts/real-swift.sh (NIMBUS_BENCH_SWIFT_AUTH_URL/_USER/_KEY)
#   nimbus  the nimbus-proxy of scripts/dev-up.sh   (NIMBUS_BENCH_NIMBUS_AUTH_URL/_USER/_KEY,
#           default http://127.0.0.1:8080/auth/v1.0, demo:demo, demo-password)
#
# Workloads are the *.conf files beside this script (NIMBUS_BENCH_WORKLOADS
# picks some by name, e.g. "1mib"). NIMBUS_BENCH_ROUNDS (default 1) repeats
# everything, interleaving the targets so that they share the machine's
# drift, and the table shows the median and the range. Raw output is kept under
# NIMBUS_BENCH_LOG_DIR.
#
# swift-bench runs on the same cores as the servers, so the figures compare
# the servers under identical client load; they are not absolute capacities.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
. scripts/lib.sh

venv=${NIMBUS_SWIFT_VENV:-$HOME/.cache/nimbus/swift-venv}
swift_bench=$venv/bin/swift-bench
[ -x "$swift_bench" ] || die "no $swift_bench: scripts/real-swift.sh up installs it"

rounds=${NIMBUS_BENCH_ROUNDS:-1}
log_dir=${NIMBUS_BENCH_LOG_DIR:-$HOME/.cache/nimbus/swift-bench-logs/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$log_dir"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    [ -n "${NIMBUS_BENCH_SWIFT_AUTH_URL:-}" ] ||
        die "NIMBUS_BENCH_SWIFT_AUTH_URL is unset: eval \"\$(scripts/real-swift.sh env)\", or name the targets"
    targets=(
        "swift=$NIMBUS_BENCH_SWIFT_AUTH_URL,${NIMBUS_BENCH_SWIFT_USER:?},${NIMBUS_BENCH_SWIFT_KEY:?}"
        "nimbus=${NIMBUS_BENCH_NIMBUS_AUTH_URL:-http://127.0.0.1:8080/auth/v1.0},${NIMBUS_BENCH_NIMBUS_USER:-demo:demo},${NIMBUS_BENCH_NIMBUS_KEY:-demo-password}"
    )
fi

workloads=()
if [ -n "${NIMBUS_BENCH_WORKLOADS:-}" ]; then
    for name in $NIMBUS_BENCH_WORKLOADS; do
        [ -f "$here/$name.conf" ] || die "no workload $here/$name.conf"
        workloads+=("$name")
    done
else
    for conf in "$here"/*.conf; do workloads+=("$(basename "$conf" .conf)"); done
fi

# Parse every target first, and check its credentials, so that a typo fails
# before minutes of benchmarking rather than after.
labels=()
declare -A auth_url user key
for target in "${targets[@]}"; do
    label=${target%%=*}
    IFS=, read -r url name secret <<<"${target#*=}"
    if [ -z "$label" ] || [ -z "$url" ] || [ -z "$name" ] || [ -z "$secret" ]; then
        die "target '$target' is not LABEL=AUTH_URL,USER,KEY"
    fi
    curl -fsS -o /dev/null -H "X-Auth-User: $name" -H "X-Auth-Key: $secret" "$url" ||
        die "$label: $url refused $name (or is down)"
    labels+=("$label")
    auth_url[$label]=$url user[$label]=$name key[$label]=$secret
done

git_state() {
    local rev dirty
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
    if [ "$dirty" -gt 0 ]; then echo "$rev + $dirty modified tracked files"; else echo "$rev (clean)"; fi
}

echo "swift-bench $("$venv/bin/pip" show swift-bench 2>/dev/null | awk '/^Version/ {print $2}'), $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git_state)"
# Other work on the machine skews the figures; say how busy it was.
echo "  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for label in "${labels[@]}"; do echo "  $label: ${auth_url[$label]} as ${user[$label]}"; done
echo "  raw output: $log_dir"

# results[label/workload/op] holds one "rate failures" line per round.
declare -A results
for round in $(seq "$rounds"); do
    for workload in "${workloads[@]}"; do
        for label in "${labels[@]}"; do
            log=$log_dir/$label-$workload-$round.log
            say "round $round/$rounds: $workload against $label"
            "$swift_bench" -A "${auth_url[$label]}" -U "${user[$label]}" -K "${key[$label]}" \
                "$here/$workload.conf" >"$log" 2>&1 ||
                die "swift-bench failed against $label, see $log"
            # swift-bench ends each phase with e.g.
            # "INFO 300 PUTS **FINAL** [0 failures], 63.6/s"
            while read -r op failures rate; do
                results[$label/$workload/$op]+="$rate $failures"$'\n'
            done < <(sed -nE 's/.* INFO [0-9]+ (PUTS|GETS|DEL) \*\*FINAL\*\* \[([0-9]+) failures\], ([0-9.]+)\/s.*/\1 \2 \3/p' "$log")
        done
    done
done

# stats: the "rate failures" lines of one cell on stdin, "median min max
# failures" out ("- - - 0" when there are none).
stats() {
    sort -n | awk '{v[NR] = $1; f += $2}
        END {
            if (NR == 0) { print "- - - 0"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.1f %.1f %.1f %d\n", m, v[1], v[NR], f
        }'
}

# Each cell is the median, with the lowest and highest round when there are
# several: on a shared machine the spread says how far to trust a ratio.
cell_width=12
[ "$rounds" -gt 1 ] && cell_width=24
echo
header=$(printf '%-9s %-5s' workload op)
for label in "${labels[@]}"; do header+=$(printf " %${cell_width}s" "$label"); done
for label in "${labels[@]:1}"; do header+=$(printf ' %s' "$label/${labels[0]}"); done
echo "$header"
failed=0
for workload in "${workloads[@]}"; do
    for op in PUTS GETS DEL; do
        line=$(printf '%-9s %-5s' "$workload" "${op%S}")
        declare -A rate=()
        for label in "${labels[@]}"; do
            read -r median low high failures < <(printf '%s' "${results[$label/$workload/$op]:-}" | stats)
            rate[$label]=$median
            cell=$median
            [ "$rounds" -gt 1 ] && cell="$median ($low-$high)"
            mark=' '
            if [ "$failures" -gt 0 ]; then mark='!'; failed=1; fi
            line+=$(printf " %$((cell_width - 1))s%s" "$cell" "$mark")
        done
        for label in "${labels[@]:1}"; do
            width=$((${#label} + ${#labels[0]} + 1))
            line+=$(awk -v a="${rate[$label]}" -v b="${rate[${labels[0]}]}" -v w="$width" \
                'BEGIN {if (a == "-" || b == "-" || b == 0) printf " %*s", w, "-"; else printf " %*.2f", w, a / b}')
        done
        echo "$line"
        unset rate
    done
done
if [ "$rounds" -gt 1 ]; then
    echo "requests per second: median (lowest-highest) of $rounds rounds; ratios of the medians"
else
    echo "requests per second, one round"
fi
[ "$failed" -eq 0 ] || echo "! some requests failed: see the raw output"

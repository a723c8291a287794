#!/usr/bin/env bash
# Renders the kustomize base and every overlay with kubectl's built-in
# kustomize, and validates every rendered document strictly (no field the
# schema does not know) against the schemas of one Kubernetes release,
# offline, with kubernetes-validate. Nothing is applied anywhere.
#
#   deploy/kubernetes/validate.sh
#
# Needs kubectl and kubernetes-validate (pip install kubernetes-validate==1.37.0);
# .ci/run installs both where missing.
set -euo pipefail
cd "$(dirname "$0")"

# The Kubernetes release the manifests are written for (kind's node images
# of that release run them); the newest kubernetes-validate ships its
# schemas among others.
KUBERNETES_VERSION=1.34.0
VALIDATOR_VERSION=1.37.0

command -v kubectl >/dev/null 2>&1 || { echo "kubectl not found: it renders the manifests (kubectl kustomize)"; exit 1; }
found=$(kubernetes-validate --version 2>/dev/null || true)
if [ "$found" != "$VALIDATOR_VERSION" ]; then
  echo "kubernetes-validate ${found:-not found}; wanted: pip install kubernetes-validate==$VALIDATOR_VERSION"
  exit 1
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
status=0
for target in base overlays/*/; do
  target=${target%/}
  name=${target//\//-}
  # The configuration files are the compose stack's own, outside this
  # folder: the one render command needs the load restrictor off.
  kubectl kustomize --load-restrictor LoadRestrictionsNone "$target" > "$rendered/$name.yaml"
  documents=$(grep -c '^kind: ' "$rendered/$name.yaml" || true)
  report=$(kubernetes-validate --strict -k "$KUBERNETES_VERSION" "$rendered/$name.yaml" || true)
  passed=$(grep -c '^INFO .* passed for resource ' <<<"$report" || true)
  # ERROR: a document the schema refuses. WARN: a kind it has no schema for,
  # which would otherwise pass unvalidated.
  problems=$(grep -v '^INFO ' <<<"$report" || true)
  if [ -n "$problems" ] || [ "$documents" -eq 0 ] || [ "$passed" -ne "$documents" ]; then
    echo "$target: $passed of $documents documents valid against Kubernetes $KUBERNETES_VERSION (strict)"
    [ -z "$problems" ] || printf '%s\n' "$problems"
    status=1
  else
    echo "$target: all $documents documents valid against Kubernetes $KUBERNETES_VERSION (strict)"
  fi
done
exit "$status"

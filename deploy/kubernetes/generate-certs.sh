#!/usr/bin/env bash
# Makes, with openssl and nothing else, the two Secrets the control plane mounts:
#   weft-ca           the mesh's root CA (identity signs workload certificates with it)
#   weft-webhook-tls  the webhook's serving certificate for weft-control-plane.weft-system.svc,
#                     signed by that CA
# and the patch that gives the MutatingWebhookConfiguration that CA as its caBundle.
#
#   deploy/kubernetes/generate-certs.sh OUT_DIR
#   kubectl apply -f deploy/kubernetes/namespace.yaml -f OUT_DIR/secrets.yaml
#   kubectl apply -k deploy/kubernetes
#   kubectl patch mutatingwebhookconfiguration weft-sidecar-injector --type=json --patch-file OUT_DIR/webhook-patch.json
#
# Keys are written mode 0600 and never printed; keep OUT_DIR somewhere safe or delete it.
set -euo pipefail

out=${1:?usage: generate-certs.sh OUT_DIR}
namespace=${WEFT_NAMESPACE:-weft-system}
service=weft-control-plane
umask 077
mkdir -p "$out"

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/O=weft/CN=weft mesh root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -newkey rsa:2048 -nodes -sha256 \
  -keyout "$out/webhook.key" -out "$out/webhook.csr" -subj "/O=weft/CN=$service.$namespace.svc" 2>/dev/null
printf '%s\n' \
  "subjectAltName=DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local" \
  "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" \
  "extendedKeyUsage=serverAuth" > "$out/webhook.ext"
openssl x509 -req -sha256 -days 825 -in "$out/webhook.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -extfile "$out/webhook.ext" -out "$out/webhook.crt" 2>/dev/null
rm -f "$out/webhook.csr" "$out/webhook.ext"

b64() { base64 < "$1" | tr -d '\n'; }

cat > "$out/secrets.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: weft-ca
  namespace: $namespace
  labels: {app.kubernetes.io/part-of: weft}
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$out/ca.crt")
  tls.key: $(b64 "$out/ca.key")
---
apiVersion: v1
kind: Secret
metadata:
  name: weft-webhook-tls
  namespace: $namespace
  labels: {app.kubernetes.io/part-of: weft}
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$out/webhook.crt")
  tls.key: $(b64 "$out/webhook.key")
  ca.crt: $(b64 "$out/ca.crt")
YAML

bundle=$(b64 "$out/ca.crt")
cat > "$out/webhook-patch.json" <<JSON
[
  {"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": "$bundle"},
  {"op": "add", "path": "/webhooks/1/clientConfig/caBundle", "value": "$bundle"}
]
JSON
echo "wrote $out/secrets.yaml and $out/webhook-patch.json"

{{/*
The services: subcommand, container port, Service port, the variable callers read its
address from, and whom it calls (the call graph; network policies and Istio
authorization are generated from it).
*/}}
{{- define "boutique.catalog" -}}
frontend:
  cmd: frontend
  port: 8080
  servicePort: 80
  portName: http
  calls: [accounts, adservice, cartservice, checkoutservice, currencyservice, orders, productcatalogservice, ratings, recommendationservice, shippingservice]
checkoutservice:
  cmd: checkout
  port: 5050
  servicePort: 5050
  portName: grpc
  addrEnv: CHECKOUT_SERVICE_ADDR
  calls: [cartservice, currencyservice, emailservice, orders, paymentservice, productcatalogservice, shippingservice]
productcatalogservice:
  cmd: catalog
  port: 3550
  servicePort: 3550
  portName: grpc
  addrEnv: PRODUCT_CATALOG_SERVICE_ADDR
  calls: []
currencyservice:
  cmd: currency
  port: 7000
  servicePort: 7000
  portName: grpc
  addrEnv: CURRENCY_SERVICE_ADDR
  calls: []
paymentservice:
  cmd: payment
  port: 50051
  servicePort: 50051
  portName: grpc
  addrEnv: PAYMENT_SERVICE_ADDR
  calls: []
shippingservice:
  cmd: shipping
  port: 50051
  servicePort: 50051
  portName: grpc
  addrEnv: SHIPPING_SERVICE_ADDR
  calls: []
emailservice:
  cmd: email
  port: 8080
  servicePort: 5000
  portName: grpc
  addrEnv: EMAIL_SERVICE_ADDR
  calls: []
cartservice:
  cmd: cart
  port: 7070
  servicePort: 7070
  portName: grpc
  addrEnv: CART_SERVICE_ADDR
  calls: []
recommendationservice:
  cmd: recommendation
  port: 8080
  servicePort: 8080
  portName: grpc
  addrEnv: RECOMMENDATION_SERVICE_ADDR
  calls: [productcatalogservice]
adservice:
  cmd: ad
  port: 9555
  servicePort: 9555
  portName: grpc
  addrEnv: AD_SERVICE_ADDR
  calls: []
orders:
  cmd: orders
  port: 5060
  servicePort: 5060
  portName: grpc
  addrEnv: ORDERS_SERVICE_ADDR
  calls: []
dispatch:
  cmd: dispatch
  port: 5070
  servicePort: 5070
  portName: grpc
  addrEnv: DISPATCH_SERVICE_ADDR
  calls: [orders]
accounts:
  cmd: accounts
  port: 5080
  servicePort: 5080
  portName: grpc
  addrEnv: ACCOUNTS_SERVICE_ADDR
  calls: [orders]
ratings:
  cmd: ratings
  port: 5090
  servicePort: 5090
  portName: grpc
  addrEnv: RATINGS_SERVICE_ADDR
  calls: [orders, productcatalogservice]
{{- end }}

{{/*
Whether service .name is deployed: services.<name>.enabled, and for dispatch also amqp.enabled
(it consumes the order events from RabbitMQ; without RabbitMQ orders keeps them in an
in-process queue that no other process can read). "true" or empty.
*/}}
{{- define "boutique.deployed" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and $svc.enabled (or (ne .name "dispatch") .root.Values.amqp.enabled) }}true{{ end -}}
{{- end }}

{{/* Whether orders keeps its tables in SQLite (no database.enabled): one replica only. */}}
{{- define "boutique.ordersOnSqlite" -}}
{{- if not .Values.database.enabled }}true{{ end -}}
{{- end }}

{{/* The services that keep tables in the database (DATABASE_URL with database.enabled, else an
SQLite file in DATA_DIR on an emptyDir). `boutique migrate` applies the migrations of all. */}}
{{- define "boutique.storeBacked" -}}
{{- list "orders" "accounts" "ratings" | toJson -}}
{{- end }}

{{/* The Secret (key `keys`) with the accounts service's token keys, mounted as the file of
ACCOUNTS_TOKEN_KEYS_FILE: services.accounts.tokenKeys.existingSecret, or with externalSecrets
the chart's boutique-accounts-token-keys; empty without either (the service then keeps a key in
its data directory on SQLite, or draws one per pod on PostgreSQL). */}}
{{- define "boutique.accountsTokenKeys" -}}
{{- $tk := .Values.services.accounts.tokenKeys -}}
{{- if $tk.existingSecret }}{{ $tk.existingSecret }}{{ else if .Values.externalSecrets.enabled }}boutique-accounts-token-keys{{ end -}}
{{- end }}

{{/* Why service .name must run as ONE pod (one replica, strategy Recreate, no HPA), or empty:
a store-backed service on SQLite (each pod would be its own database), or accounts without a
shared token key Secret (each pod would sign with its own key and refuse the others' tokens). */}}
{{- define "boutique.singleInstance" -}}
{{- $store := include "boutique.storeBacked" .root | fromJsonArray -}}
{{- if and (has .name $store) (not .root.Values.database.enabled) -}}
services.{{ .name }}.replicas > 1 needs database.enabled: without PostgreSQL each {{ .name }} replica would keep its own SQLite database
{{- else if and (eq .name "accounts") (not (include "boutique.accountsTokenKeys" .root)) -}}
services.accounts.replicas > 1 needs a shared token key Secret (services.accounts.tokenKeys.existingSecret, or externalSecrets.enabled): each replica would sign tokens with its own key and refuse the others'
{{- end -}}
{{- end }}

{{/* The Secret with key `url` for DATABASE_URL (database.existingSecret or boutique-database). */}}
{{- define "boutique.databaseSecret" -}}
{{- .Values.database.existingSecret | default "boutique-database" -}}
{{- end }}

{{/* The Secret with key `url` for AMQP_URL (amqp.existingSecret or boutique-amqp). */}}
{{- define "boutique.amqpSecret" -}}
{{- .Values.amqp.existingSecret | default "boutique-amqp" -}}
{{- end }}

{{/* An egress rule to a managed backend: database.egress or amqp.egress (ports; `to` peers,
none for any address). */}}
{{- define "boutique.backendEgress" -}}
{{- with .to }}
to: {{- toYaml . | nindent 2 }}
{{- end }}
ports:
{{- range .ports }}
  - port: {{ . }}
    protocol: TCP
{{- end }}
{{- end }}

{{- define "boutique.labels" -}}
app.kubernetes.io/part-of: boutique
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* image reference: repository[:tag][@digest] */}}
{{- define "boutique.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{/* The address callers use for service $name: values.services.<name>.address or name:port. */}}
{{- define "boutique.address" -}}
{{- $cat := include "boutique.catalog" .root | fromYaml -}}
{{- $svc := index .root.Values.services .name -}}
{{- $svc.address | default (printf "%s:%v" .name (index $cat .name).servicePort) -}}
{{- end }}

{{- define "boutique.redisAddr" -}}
{{- if .Values.cart.redis.inCluster -}}
redis-cart:6379
{{- else -}}
{{ required "cart.redis.address is required when cart.backend=redis and cart.redis.inCluster=false" .Values.cart.redis.address }}
{{- end -}}
{{- end }}

{{- define "boutique.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "boutique.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "boutique.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      app: {{ . }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      app: {{ . }}
{{- end }}

{{- define "boutique.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicies.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicies.dns.podLabels | nindent 10 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}

{{/* The port of monitoring.tracing.collectorAddress (host:port or http://host:port). */}}
{{- define "boutique.collectorPort" -}}
{{- $addr := .Values.monitoring.tracing.collectorAddress | trimPrefix "http://" | trimSuffix "/" -}}
{{- $port := regexFind ":[0-9]+$" $addr | trimPrefix ":" -}}
{{- required "monitoring.tracing.collectorAddress must be host:port" $port -}}
{{- end }}

{{/* A label map as k=v,k=v (for messages). */}}
{{- define "boutique.selectorText" -}}
{{- $parts := list -}}
{{- range $k, $v := . }}{{ $parts = append $parts (printf "%s=%s" $k $v) }}{{ end -}}
{{- join "," $parts -}}
{{- end }}

{{/* The ConfigMap holding the failure flags (templates/flags.yaml). */}}
{{- define "boutique.flagsConfigMap" -}}
{{ .Release.Name }}-flags
{{- end }}

{{/* Where every workload finds the flag file (FLAGD_OFFLINE_FLAG_SOURCE_PATH). */}}
{{- define "boutique.flagsDir" -}}
/etc/boutique/flags
{{- end }}

{{/* Non-empty when the flags come from the chart's ConfigMap (flags on, no flagd server). */}}
{{- define "boutique.flagsFromFile" -}}
{{- if and .Values.flags.enabled (not .Values.flags.flagd.host) }}true{{ end -}}
{{- end }}

{{/* The flag source of a workload (a container's env entries): the mounted file, or a flagd
server followed over its sync stream (flagd's in-process resolver). */}}
{{- define "boutique.flagsEnv" -}}
{{- if .Values.flags.flagd.host }}
- name: FLAGD_RESOLVER
  value: in-process
- name: FLAGD_HOST
  value: {{ .Values.flags.flagd.host | quote }}
- name: FLAGD_SYNC_PORT
  value: {{ .Values.flags.flagd.port | quote }}
{{- with .Values.flags.flagd.selector }}
- name: FLAGD_SOURCE_SELECTOR
  value: {{ . | quote }}
{{- end }}
{{- else }}
- name: FLAGD_OFFLINE_FLAG_SOURCE_PATH
  value: {{ printf "%s/boutique.flagd.json" (include "boutique.flagsDir" .) }}
{{- end }}
{{- end }}

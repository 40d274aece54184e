// Package charts holds aft's Helm charts: aft-shim (aft serve), aft-openfaas (the OpenFaaS
// plugin) and aft-knative-webhook (aft webhook). It has no Go code; its tests lint and
// render every chart with its ci/ values through a real helm (scripts/deps/helm.sh), and
// check the rendered objects; TestImage builds the image the charts name (make images).
package charts

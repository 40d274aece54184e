// Package knative is aft's mutating admission webhook for Knative Services (cli.md, "aft
// webhook"): a Service whose revision template is annotated aft.dev/transactional: "true"
// gets `aft proxy` (middleware.md) in front of its user container, so that every invocation
// runs as aft transactions, with retries and duplicates answered from stored results.
//
// The proxy takes the serving port: it becomes the container that declares the Service's
// port (Knative routes requests and gives PORT to that one), and forwards to the user
// container on localhost at another port, which the user container gets as PORT (Knative
// lets a container that declares no port set PORT). The user container's probes move to the
// proxy, which passes probe requests through to the function untouched. A Service that
// already has the proxy, or that is not annotated, is left as it is; a malformed annotation,
// or a port the proxy cannot serve (h2c), is refused with a message that names it.
package knative

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/ptr"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/aft-shim/aft/middleware"
)

// ProxyName is the name of the container the webhook adds.
const ProxyName = "aft-proxy"

// AdminPort is where the proxy serves its /metrics and /healthz, so that they do not
// shadow the function's own paths on the serving port.
const AdminPort = 9095

// Config is what the webhook puts in every Service it changes.
type Config struct {
	ShimURL    string // the shim the proxy begins and commits at (--shim)
	ProxyImage string // the image of the proxy container, whose entry point is aft (--proxy-image)
}

// Validate reports a Config the webhook cannot run with.
func (c Config) Validate() error {
	switch {
	case c.ShimURL == "":
		return errors.New("give the shim's URL (--shim), as the proxies in the pods reach it")
	case c.ProxyImage == "":
		return errors.New("give the image of aft proxy (--proxy-image)")
	}
	return nil
}

// RefusedError is a Service the webhook refuses, with why.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Inject puts the proxy into svc, and reports whether it changed anything. A Service to
// refuse is a *RefusedError.
func (c Config) Inject(svc *servingv1.Service) (bool, error) {
	tmpl := &svc.Spec.Template
	tx, opts, err := middleware.FromAnnotations(tmpl.Annotations, middleware.PrefixAft)
	switch {
	case err != nil:
		return false, &RefusedError{Reason: fmt.Sprintf("aft: %v", err)}
	case !tx:
		return false, nil
	}
	ps := &tmpl.Spec.PodSpec
	if slices.ContainsFunc(ps.Containers, func(c corev1.Container) bool { return c.Name == ProxyName }) {
		return false, nil // injected before
	}
	user, err := servingContainer(ps.Containers)
	if err != nil {
		return false, err
	}
	u := &ps.Containers[user]
	port := corev1.ContainerPort{ContainerPort: 8080}
	if len(u.Ports) > 0 {
		port = u.Ports[0]
	}
	if port.Name == "h2c" {
		return false, &RefusedError{Reason: fmt.Sprintf("aft: container %q serves h2c (HTTP/2), and aft proxy speaks HTTP/1.1: drop the port name h2c, or the annotation %s%s", u.Name, middleware.PrefixAft, middleware.AnnotationTransactional)}
	}
	inner := innerPort(port.ContainerPort)
	proxy := corev1.Container{
		Name:  ProxyName,
		Image: c.ProxyImage,
		Args:  proxyArgs(c.ShimURL, functionName(svc), port.ContainerPort, inner, opts),
		Ports: []corev1.ContainerPort{port},
		// The user container's probes are the serving container's: the proxy's now. It
		// passes probe requests to the function as they are.
		ReadinessProbe: u.ReadinessProbe,
		LivenessProbe:  u.LivenessProbe,
		StartupProbe:   u.StartupProbe,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.Bool(true),
			ReadOnlyRootFilesystem:   ptr.Bool(true),
			AllowPrivilegeEscalation: ptr.Bool(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	u.Ports = nil
	u.ReadinessProbe, u.LivenessProbe, u.StartupProbe = nil, nil, nil
	u.Env = append(u.Env, corev1.EnvVar{Name: "PORT", Value: strconv.Itoa(int(inner))})
	ps.Containers = append(ps.Containers, proxy)
	return true, nil
}

// Validate is Knative Serving's own defaulting and validation of svc, as its webhook would
// run them, warnings aside: nil when a cluster would accept svc.
func Validate(svc *servingv1.Service) error {
	svc = svc.DeepCopy()
	ctx := context.Background()
	svc.SetDefaults(ctx)
	if err := svc.Validate(ctx).Filter(apis.ErrorLevel); err != nil {
		return err
	}
	return nil
}

// servingContainer returns the index of the container that serves requests: the only one,
// or the one that declares a port.
func servingContainer(cs []corev1.Container) (int, error) {
	if len(cs) == 1 {
		return 0, nil
	}
	for i, c := range cs {
		if len(c.Ports) > 0 {
			return i, nil
		}
	}
	return 0, &RefusedError{Reason: fmt.Sprintf("aft: of %d containers none declares the port that serves requests: give the user container ports: [{containerPort: N}]", len(cs))}
}

// reservedPorts are the ports Knative's queue-proxy and profiling take in every pod.
var reservedPorts = []int32{8008, 8012, 8013, 8022, 9090, 9091}

// innerPort is the port of the user container behind the proxy: the first from 8081 that
// is neither the serving port nor Knative's.
func innerPort(serving int32) int32 {
	p := int32(8081)
	for p == serving || slices.Contains(reservedPorts, p) {
		p++
	}
	return p
}

// proxyArgs are the arguments of `aft proxy` (cli.md): it listens on the serving port,
// forwards to the user container, and has the settings of the annotations.
func proxyArgs(shim, function string, serving, inner int32, o middleware.Options) []string {
	args := []string{"proxy", "--listen", ":" + strconv.Itoa(int(serving)),
		"--admin-listen", ":" + strconv.Itoa(AdminPort),
		"--upstream", "http://127.0.0.1:" + strconv.Itoa(int(inner)), "--shim", shim}
	if function != "" {
		args = append(args, "--function", function)
	}
	if o.Attempts > 0 {
		args = append(args, "--attempts", strconv.Itoa(o.Attempts))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--attempt-timeout", o.AttemptTimeout}, {"--deadline", o.Deadline}} {
		if d.v > 0 {
			args = append(args, d.flag, d.v.String())
		}
	}
	if o.OnRunning != "" {
		args = append(args, "--on-running", string(o.OnRunning))
	}
	return args
}

// functionName names the function in the proxy's metrics and dead letters: the Service's
// name and namespace, as OpenFaaS names a function.
func functionName(svc *servingv1.Service) string {
	if svc.Namespace == "" {
		return svc.Name
	}
	return svc.Name + "." + svc.Namespace
}

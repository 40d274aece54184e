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
//
// A shim that wants a token, or serves HTTPS with a CA of its own, is reached with Secrets in
// the Service's namespace: the proxy alone mounts them (a Secret volume follows the Secret's
// updates, and aft proxy re-reads its token file), and the function calls the shim through
// the proxy's relay on loopback, never holding the token. The Service names the Secrets and
// holds no token.
package knative

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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
	// TokenSecret is the Secret, in each Service's namespace, whose key holds the shim's
	// token (--shim-token-secret); zero: the shim wants none.
	TokenSecret SecretRef
	// CASecret is the Secret, in each Service's namespace, whose key holds the PEM bundle
	// of the CA that signed an https shim's certificate (--shim-ca-secret); zero: the
	// system's roots.
	CASecret SecretRef
}

// Validate reports a Config the webhook cannot run with.
func (c Config) Validate() error {
	switch {
	case c.ShimURL == "":
		return errors.New("give the shim's URL (--shim), as the proxies in the pods reach it")
	case c.ProxyImage == "":
		return errors.New("give the image of aft proxy (--proxy-image)")
	}
	for _, s := range []struct {
		flag string
		ref  SecretRef
	}{{"--shim-token-secret", c.TokenSecret}, {"--shim-ca-secret", c.CASecret}} {
		if s.ref.IsZero() {
			continue
		}
		if err := s.ref.validate(); err != nil {
			return fmt.Errorf("%s %s: %w", s.flag, s.ref, err)
		}
	}
	return nil
}

// Default keys of the Secrets: the aft-shim chart's token Secret, and a kubernetes.io/tls
// Secret's CA (as cert-manager writes it).
const (
	DefaultTokenKey = "token"
	DefaultCAKey    = "ca.crt"
)

// SecretRef names one key of a Secret in a Service's namespace.
type SecretRef struct{ Name, Key string }

// ParseSecretRef parses NAME or NAME/KEY; KEY defaults to defaultKey. "" is the zero
// SecretRef.
func ParseSecretRef(s, defaultKey string) (SecretRef, error) {
	if s == "" {
		return SecretRef{}, nil
	}
	name, key, ok := strings.Cut(s, "/")
	if !ok {
		key = defaultKey
	}
	r := SecretRef{Name: name, Key: key}
	return r, r.validate()
}

// IsZero reports whether r names no Secret.
func (r SecretRef) IsZero() bool { return r == SecretRef{} }

func (r SecretRef) String() string { return r.Name + "/" + r.Key }

func (r SecretRef) validate() error {
	if errs := validation.IsDNS1123Subdomain(r.Name); len(errs) > 0 {
		return fmt.Errorf("secret name %q: %s", r.Name, strings.Join(errs, "; "))
	}
	if errs := validation.IsConfigMapKey(r.Key); len(errs) > 0 {
		return fmt.Errorf("secret key %q: %s", r.Key, strings.Join(errs, "; "))
	}
	return nil
}

// The proxy's Secret volumes: their names in the pod, and where the proxy mounts them.
// Each holds one file, the Secret's key under a fixed name.
const (
	TokenVolume = "aft-shim-token"
	TokenFile   = "/var/run/secrets/aft.dev/shim-token/token"
	CAVolume    = "aft-shim-ca"
	CAFile      = "/var/run/secrets/aft.dev/shim-ca/ca.crt"
)

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
	vols, mounts, credArgs, err := c.secretVolumes(ps)
	if err != nil {
		return false, err
	}
	inner := innerPort(port.ContainerPort)
	proxy := corev1.Container{
		Name:         ProxyName,
		Image:        c.ProxyImage,
		Args:         append(proxyArgs(c.ShimURL, functionName(svc), port.ContainerPort, inner, opts), credArgs...),
		Ports:        []corev1.ContainerPort{port},
		VolumeMounts: mounts,
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
	ps.Volumes = append(slices.DeleteFunc(ps.Volumes, func(v corev1.Volume) bool { return isSecretVolume(v.Name) }), vols...)
	return true, nil
}

// secretVolumes returns the proxy's Secret volumes, their mounts and the proxy's flags that
// read them. A volume of one of their names that a container of ps mounts is the user's, and
// refused; one that none mounts is a leftover of an earlier injection, which a re-applied
// manifest (a merge patch of the containers alone) kept, and Inject takes it out.
func (c Config) secretVolumes(ps *corev1.PodSpec) ([]corev1.Volume, []corev1.VolumeMount, []string, error) {
	for _, ct := range ps.Containers {
		for _, m := range ct.VolumeMounts {
			if isSecretVolume(m.Name) {
				return nil, nil, nil, &RefusedError{Reason: fmt.Sprintf("aft: container %q mounts a volume named %q, a name aft proxy's Secrets take: rename the volume", ct.Name, m.Name)}
			}
		}
	}
	var (
		vols   []corev1.Volume
		mounts []corev1.VolumeMount
		args   []string
	)
	for _, s := range []struct {
		ref          SecretRef
		volume, file string
		flag         string
	}{{c.TokenSecret, TokenVolume, TokenFile, "--shim-token-file"}, {c.CASecret, CAVolume, CAFile, "--shim-ca"}} {
		if s.ref.IsZero() {
			continue
		}
		// Items: only the one key reaches the pod, under a fixed name. No subPath: a
		// subPath mount would not follow the Secret's updates.
		vols = append(vols, corev1.Volume{Name: s.volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: s.ref.Name, Items: []corev1.KeyToPath{{Key: s.ref.Key, Path: path.Base(s.file)}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: s.volume, MountPath: path.Dir(s.file), ReadOnly: true})
		args = append(args, s.flag, s.file)
	}
	return vols, mounts, args, nil
}

// isSecretVolume reports whether name is one of the proxy's Secret volumes.
func isSecretVolume(name string) bool { return name == TokenVolume || name == CAVolume }

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

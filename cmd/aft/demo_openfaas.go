package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware/dlq"
	"github.com/openfaas/faas-provider/types"
)

// openfaasDemo walks through the SDK's order and reserve functions behind the aft
// OpenFaaS plugin (the gateway's provider) and aft's local provider: a composition that
// commits together, a duplicate answered from the stored result, a failing callee that
// leaves nothing behind and a dead request, and its replay.
type openfaasDemo struct {
	d      *demoCmd
	plugin string // base URL of aft provider openfaas
	bin    string // folder with the fn-order and fn-reserve binaries
	shim   *client.Client
	http   *http.Client
}

func (o *openfaasDemo) run(ctx context.Context) error {
	o.http = &http.Client{Timeout: 60 * time.Second}
	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"6. Two OpenFaaS functions deployed through the aft plugin, onto local processes", o.deploy},
		{"7. order calls reserve: one transaction over two functions", o.compose},
		{"8. The same request again: the stored result, nothing runs", o.duplicate},
		{"9. reserve is down: order fails on every retry, nothing is written, the request is dead", o.dead},
		{"10. reserve is back: the dead request is replayed and commits", o.replay},
	}
	for _, s := range steps {
		fmt.Fprintf(o.d.out, "\n%s\n", s.title)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	return nil
}

func (o *openfaasDemo) api(ctx context.Context, method, path string, body any) (int, string, http.Header, error) {
	var rd io.Reader
	key, keyed := body.(idemBody)
	switch {
	case keyed:
		rd = bytes.NewReader(key.body)
	case body != nil:
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.plugin+path, rd)
	if err != nil {
		return 0, "", nil, err
	}
	if keyed {
		req.Header.Set(api.HeaderIdempotencyKey, key.key)
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header, nil
}

// idemBody is a request body sent with an Idempotency-Key.
type idemBody struct {
	key  string
	body []byte
}

func order(key, id string) idemBody {
	b, _ := json.Marshal(map[string]string{"order": id, "item": "widget"})
	return idemBody{key: key, body: b}
}

func (o *openfaasDemo) deploy(ctx context.Context) error {
	tx := map[string]string{"com.openfaas.aft/transactional": "true", "com.openfaas.aft/attempts": "3", "com.openfaas.aft/attempt-timeout": "5s"}
	for _, f := range []types.FunctionDeployment{
		{Service: "reserve", Image: strconv.Quote(filepath.Join(o.bin, "fn-reserve")), Annotations: &tx},
		{Service: "order", Image: strconv.Quote(filepath.Join(o.bin, "fn-order")), Annotations: &tx,
			EnvVars: map[string]string{"RESERVE_URL": o.plugin + "/function/reserve"}},
	} {
		code, body, _, err := o.api(ctx, http.MethodPost, "/system/functions", f)
		if err != nil || code/100 != 2 {
			return fmt.Errorf("deploy %s: %d %s %v", f.Service, code, body, err)
		}
		o.d.say("deployed %s (annotated com.openfaas.aft/transactional: \"true\")", f.Service)
	}
	return nil
}

// orderState reads an order and its reservation in one transaction.
func (o *openfaasDemo) orderState(ctx context.Context, id string) (string, error) {
	t, err := o.shim.Begin(ctx, "")
	if err != nil {
		return "", err
	}
	defer o.shim.Abort(ctx, t.ID)
	state := ""
	for _, k := range []string{"orders/" + id, "reservations/" + id} {
		_, err := o.shim.Get(ctx, t.ID, k)
		switch {
		case err == nil:
			state += k + " written, "
		case isNotFound(err):
			state += k + " absent, "
		default:
			return "", err
		}
	}
	return strings.TrimSuffix(state, ", "), nil
}

func isNotFound(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Code == api.CodeKeyNotFound
}

func (o *openfaasDemo) compose(ctx context.Context) error {
	code, body, h, err := o.api(ctx, http.MethodPost, "/function/order", order("order-42", "42"))
	if err != nil || code != 200 {
		return fmt.Errorf("invoke order: %d %s %v", code, body, err)
	}
	state, err := o.orderState(ctx, "42")
	o.d.say("POST /function/order (Idempotency-Key order-42): %d after %s attempt(s): %s", code, h.Get(api.HeaderAttempts), body)
	o.d.say("the shim now holds: %s", state)
	return err
}

func (o *openfaasDemo) duplicate(ctx context.Context) error {
	code, body, h, err := o.api(ctx, http.MethodPost, "/function/order", order("order-42", "42"))
	if err != nil || code != 200 || h.Get(api.HeaderReplayed) != "true" {
		return fmt.Errorf("duplicate: %d %s replayed %q %v", code, body, h.Get(api.HeaderReplayed), err)
	}
	o.d.say("answered %d with X-Aft-Replayed: true: %s", code, body)
	return nil
}

func (o *openfaasDemo) scaleReserve(ctx context.Context, n uint64) error {
	code, body, _, err := o.api(ctx, http.MethodPost, "/system/scale-function/reserve", types.ScaleServiceRequest{ServiceName: "reserve", Replicas: n})
	if err != nil || code/100 != 2 {
		return fmt.Errorf("scale reserve to %d: %d %s %v", n, code, body, err)
	}
	return nil
}

func (o *openfaasDemo) dead(ctx context.Context) error {
	if err := o.scaleReserve(ctx, 0); err != nil {
		return err
	}
	o.d.say("scaled reserve to 0 replicas")
	code, body, h, err := o.api(ctx, http.MethodPost, "/function/order", order("order-43", "43"))
	if err != nil || code < 500 {
		return fmt.Errorf("invoke order with reserve down: %d %s %v", code, body, err)
	}
	state, err := o.orderState(ctx, "43")
	if err != nil {
		return err
	}
	o.d.say("POST /function/order (order-43): %d after %s attempts", code, h.Get(api.HeaderAttempts))
	o.d.say("the shim holds: %s (order wrote orders/43 in every attempt; none committed)", state)
	es, err := dlq.List(ctx, o.shim)
	if err != nil {
		return err
	}
	for _, e := range es {
		o.d.say("aft dlq list: %s for %s, %d attempts, last error: %.60s", e.Key, e.Function, e.Attempts, e.LastError)
	}
	return nil
}

func (o *openfaasDemo) replay(ctx context.Context) error {
	if err := o.scaleReserve(ctx, 1); err != nil {
		return err
	}
	o.d.say("scaled reserve back to 1 replica")
	es, err := dlq.List(ctx, o.shim)
	if err != nil {
		return err
	}
	for _, e := range es {
		status, err := dlq.Replay(ctx, o.shim, o.plugin, e, dlq.ReplayOptions{Client: o.http})
		if err != nil {
			return err
		}
		o.d.say("aft dlq replay %s: %d", e.Key, status)
	}
	state, err := o.orderState(ctx, "43")
	o.d.say("the shim now holds: %s", state)
	return err
}

package examples_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aft-shim/aft/sdk/examples"
	"github.com/aft-shim/aft/shim/shimtest"
)

func TestTransfer(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	shimtest.Seed(t, c, "accounts/alice", "100")
	fn := httptest.NewServer(examples.Transfer())
	defer fn.Close()

	code, body := shimtest.Invoke(t, c, shimURL, fn.URL, `{"from":"alice","to":"bob","amount":30}`)
	var got map[string]int64
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got["alice"] != 70 || got["bob"] != 30 {
		t.Fatalf("transfer answered %d %s", code, body)
	}
	shimtest.Want(t, c, map[string]string{"accounts/alice": "70", "accounts/bob": "30"})

	if code, body := shimtest.Invoke(t, c, shimURL, fn.URL, `{"from":"bob","to":"carol","amount":31}`); code != 409 {
		t.Fatalf("overdraft answered %d %s, want 409", code, body)
	}
	shimtest.Want(t, c, map[string]string{"accounts/bob": "30"}, "accounts/carol")

	resp, err := http.Post(fn.URL, "application/json", strings.NewReader(`{"from":"alice","to":"bob","amount":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "not running under the aft middleware") {
		t.Fatalf("without the middleware: %d %s", resp.StatusCode, b)
	}
}

func TestComposition(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	reserve := httptest.NewServer(examples.Reserve())
	defer reserve.Close()
	order := httptest.NewServer(examples.Order{ReserveURL: reserve.URL})
	defer order.Close()

	if code, body := shimtest.Invoke(t, c, shimURL, order.URL, `{"order":"42","item":"widget"}`); code != 200 {
		t.Fatalf("order answered %d %s", code, body)
	}
	shimtest.Want(t, c, map[string]string{"orders/42": "widget", "reservations/42": "widget"})

	// Both functions wrote in the one transaction: aborting it drops both writes.
	if code, body := shimtest.InvokeAndAbort(t, c, shimURL, order.URL, `{"order":"43","item":"gadget"}`); code != 200 {
		t.Fatalf("order answered %d %s", code, body)
	}
	shimtest.Want(t, c, nil, "orders/43", "reservations/43")

	// A failing callee fails the caller, and the middleware aborts the caller's write.
	reserve.Close()
	if code, body := shimtest.Invoke(t, c, shimURL, order.URL, `{"order":"44","item":"gizmo"}`); code != http.StatusBadGateway {
		t.Fatalf("order with reserve down answered %d %s, want 502", code, body)
	}
	shimtest.Want(t, c, nil, "orders/44", "reservations/44")
}

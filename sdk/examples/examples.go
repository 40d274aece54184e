// Package examples holds small functions written with the aft SDK, as plain http.Handlers:
// Transfer reads two keys and writes two, and Order and Reserve are a composition, where
// Order writes a key and calls Reserve, which writes another in the same transaction. The
// commands under sdk/examples/<name>/ serve them.
//
// Each runs behind the aft middleware, which begins the transaction, commits it when the
// function answers 2xx and aborts it otherwise (retrying on 5xx).
package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/aft-shim/aft/sdk"
)

// Transfer returns a function that moves money between two accounts. It takes
// {"from": "alice", "to": "bob", "amount": 10}, reads the balances accounts/alice and
// accounts/bob (decimal; a missing account holds 0), writes both, and answers the new
// balances. It answers 409 when the source lacks the funds.
func Transfer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			From, To string
			Amount   int64
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.From == "" || req.To == "" || req.From == req.To || req.Amount <= 0 {
			http.Error(w, `want {"from", "to", "amount"}: two accounts and a positive amount`, http.StatusBadRequest)
			return
		}
		tx, err := sdk.FromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		fromKey, toKey := "accounts/"+req.From, "accounts/"+req.To
		got, err := tx.GetMany(ctx, fromKey, toKey) // both reads in one round trip
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		from, err := balance(fromKey, got)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		to, err := balance(toKey, got)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if from < req.Amount {
			http.Error(w, fmt.Sprintf("insufficient funds: %s holds %d", req.From, from), http.StatusConflict)
			return
		}
		from, to = from-req.Amount, to+req.Amount
		err = tx.PutMany(ctx, map[string][]byte{ // both writes in one round trip
			fromKey: []byte(strconv.FormatInt(from, 10)),
			toKey:   []byte(strconv.FormatInt(to, 10)),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]int64{req.From: from, req.To: to})
	})
}

// balance is the decimal balance of key among values read; a missing key holds 0.
func balance(key string, values map[string][]byte) (int64, error) {
	v, ok := values[key]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("balance %s: %w", key, err)
	}
	return n, nil
}

// orderJSON is the request of Order and Reserve.
type orderJSON struct {
	Order string `json:"order"`
	Item  string `json:"item"`
}

// Order is a function that places an order: it takes {"order": "42", "item": "widget"},
// writes orders/42, and calls the Reserve function at ReserveURL in the same transaction.
type Order struct {
	ReserveURL string
}

func (o Order) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req orderJSON
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Order == "" || req.Item == "" {
		http.Error(w, `want {"order", "item"}`, http.StatusBadRequest)
		return
	}
	tx, err := sdk.FromRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := tx.Put(r.Context(), "orders/"+req.Order, []byte(req.Item)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(req)
	call, err := http.NewRequest(http.MethodPost, o.ReserveURL, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	call.Header.Set("Content-Type", "application/json")
	resp, err := tx.Call(r.Context(), call) // the callee joins this transaction
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		http.Error(w, fmt.Sprintf("reserve answered %d: %s", resp.StatusCode, msg), http.StatusBadGateway)
		return
	}
	writeJSON(w, map[string]string{"order": req.Order, "status": "placed"})
}

// Reserve returns a function that reserves stock for an order: it takes
// {"order": "42", "item": "widget"} and writes reservations/42. Called by Order, it runs
// in Order's transaction.
func Reserve() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req orderJSON
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Order == "" || req.Item == "" {
			http.Error(w, `want {"order", "item"}`, http.StatusBadRequest)
			return
		}
		tx, err := sdk.FromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := tx.Put(r.Context(), "reservations/"+req.Order, []byte(req.Item)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]string{"order": req.Order, "reserved": req.Item})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

package local

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/logs"
	"github.com/openfaas/faas-provider/types"
)

// maxBody bounds the management API's request bodies.
const maxBody = 1 << 20

// Handlers returns the provider's faas-provider handlers; invocations go to the function
// processes through a proxy that never sends one twice (invoker).
func (p *Provider) Handlers(cfg types.FaaSConfig) *types.FaaSHandlers {
	return &types.FaaSHandlers{
		FunctionProxy:  p.invoker(cfg),
		FunctionLister: p.list,
		DeployFunction: p.deploy,
		UpdateFunction: p.update,
		DeleteFunction: p.remove,
		FunctionStatus: p.status,
		ScaleFunction:  p.scaleHandler,
		Secrets:        p.secretsHandler,
		Logs:           p.logsHandler,
		ListNamespaces: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, []string{Namespace}) },
		Info: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, types.ProviderInfo{Name: "aft-local", Orchestration: "process",
				Version: &types.VersionInfo{Release: "dev", SHA: "dev"}})
		},
		Health: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) },
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (p *Provider) list(w http.ResponseWriter, r *http.Request) {
	fns := p.List()
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	writeJSON(w, http.StatusOK, fns)
}

func (p *Provider) deploy(w http.ResponseWriter, r *http.Request) {
	var dep types.FunctionDeployment
	if !decode(w, r, &dep) {
		return
	}
	if err := p.Deploy(r.Context(), dep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) update(w http.ResponseWriter, r *http.Request) {
	var dep types.FunctionDeployment
	if !decode(w, r, &dep) {
		return
	}
	if err := p.Update(r.Context(), dep); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) remove(w http.ResponseWriter, r *http.Request) {
	var req types.DeleteFunctionRequest
	if !decode(w, r, &req) {
		return
	}
	if err := p.Remove(req.FunctionName); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) status(w http.ResponseWriter, r *http.Request) {
	st, err := p.Status(mux.Vars(r)["name"])
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (p *Provider) scaleHandler(w http.ResponseWriter, r *http.Request) {
	var req types.ScaleServiceRequest
	if !decode(w, r, &req) {
		return
	}
	fn := req.ServiceName
	if fn == "" {
		fn = mux.Vars(r)["name"]
	}
	if err := p.Scale(r.Context(), fn, req.Replicas); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Provider) secretsHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		p.mu.Lock()
		out := []types.Secret{}
		for _, s := range p.secrets {
			out = append(out, types.Secret{Name: s.Name, Namespace: Namespace})
		}
		p.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		writeJSON(w, http.StatusOK, out)
		return
	}
	var s types.Secret
	if !decode(w, r, &s) {
		return
	}
	if s.Name == "" {
		http.Error(w, "secret name is required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	_, exists := p.secrets[s.Name]
	switch r.Method {
	case http.MethodPost, http.MethodPut:
		if r.Method == http.MethodPut && !exists {
			p.mu.Unlock()
			http.Error(w, "secret "+s.Name+" not found", http.StatusNotFound)
			return
		}
		p.secrets[s.Name] = s
	case http.MethodDelete:
		delete(p.secrets, s.Name)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// logsHandler answers GET /system/logs?name=fn&tail=N with newline-delimited JSON
// messages, the OpenFaaS log format.
func (p *Provider) logsHandler(w http.ResponseWriter, r *http.Request) {
	fn := name(r.URL.Query().Get("name"))
	tail, _ := strconv.Atoi(r.URL.Query().Get("tail"))
	p.mu.Lock()
	f, ok := p.fns[fn]
	var procs []*process
	if ok {
		procs = append(procs, f.procs...)
	}
	p.mu.Unlock()
	if !ok {
		fail(w, ErrNotFound)
		return
	}
	var msgs []logs.Message
	for _, pr := range procs {
		for _, l := range pr.logs.snapshot() {
			msgs = append(msgs, logs.Message{Name: fn, Namespace: Namespace, Instance: fn + "-" + strconv.Itoa(pr.id), Timestamp: l.at, Text: l.text})
		}
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].Timestamp.Before(msgs[j].Timestamp) })
	if tail > 0 && len(msgs) > tail {
		msgs = msgs[len(msgs)-tail:]
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		enc.Encode(m)
	}
}

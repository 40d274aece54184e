package server

import (
	"errors"
	"net/http"
	"sync"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/txn"
)

// peersUse is what the bodies of pushes are charged to in the manager's budget: no
// tenant's name (record.ValidTenant refuses it), so that pushes and tenants do not share a
// limit.
const peersUse = "(peers)"

// peerCommits takes the commits another node pushes (package peer): each is applied here
// once the store confirms it (txn.Manager.Learn). 204 when all were taken.
func (s *Server) peerCommits(w http.ResponseWriter, r *http.Request) {
	body, reserved, err := s.readBody(w, r, peersUse, "push", peer.MaxBody)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer s.m.Release(peersUse, reserved)
	commits, err := peer.Decode(body)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, api.CodeBadBody, err.Error())
		return
	}
	// Each commit costs one read of the store (Learn): a few at a time.
	errs := make([]error, len(commits))
	var wg sync.WaitGroup
	sem := make(chan struct{}, learnParallel)
	for i, c := range commits {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = s.m.Learn(r.Context(), c.Record, c.Stamp)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		switch {
		case errors.Is(err, txn.ErrNotShared):
			api.WriteError(w, http.StatusNotFound, api.CodeNotFound, err.Error())
			return
		case errors.Is(err, record.ErrCorrupt):
			api.WriteError(w, http.StatusBadRequest, api.CodeBadBody, err.Error())
			return
		case err != nil:
			s.fail(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// nodes answers the base URLs of the live nodes on the store (this one's own when no other
// node may share it): {"nodes": [...]}.
func (s *Server) nodes(w http.ResponseWriter) {
	urls := []string{}
	if self := s.m.Config().NodeAddr; self != "" && !s.m.Shared() {
		urls = append(urls, self)
	}
	for _, h := range s.m.Nodes() {
		if h.Addr != "" {
			urls = append(urls, h.Addr)
		}
	}
	writeJSON(w, http.StatusOK, api.NodesAnswer{Nodes: urls})
}

// learnParallel bounds the pushed commits one push verifies at once.
const learnParallel = 16

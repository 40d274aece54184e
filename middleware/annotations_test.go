package middleware

import (
	"strings"
	"testing"
	"time"
)

func TestFromAnnotations(t *testing.T) {
	both := []string{PrefixAft, PrefixOpenFaaS}
	tests := []struct {
		name     string
		ann      map[string]string
		prefixes []string
		wantTx   bool
		want     Options
		wantErr  string // a part of the error, "" for none
	}{
		{name: "none", prefixes: both},
		{name: "not true", ann: map[string]string{"aft.dev/transactional": "yes", "aft.dev/attempts": "x"}, prefixes: both},
		{name: "aft.dev", ann: map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "2", "aft.dev/attempt-timeout": "3s", "aft.dev/deadline": "1m", "aft.dev/on-running": "wait"},
			prefixes: both, wantTx: true, want: Options{Attempts: 2, AttemptTimeout: 3 * time.Second, Deadline: time.Minute, OnRunning: OnRunningWait}},
		{name: "openfaas only", ann: map[string]string{"com.openfaas.aft/transactional": "true", "com.openfaas.aft/attempts": "4"},
			prefixes: both, wantTx: true, want: Options{Attempts: 4}},
		{name: "prefix not read", ann: map[string]string{"com.openfaas.aft/transactional": "true"}, prefixes: []string{PrefixAft}},
		{name: "mixed, agreeing", ann: map[string]string{"aft.dev/transactional": "true", "com.openfaas.aft/transactional": "true", "com.openfaas.aft/deadline": "9s"},
			prefixes: both, wantTx: true, want: Options{Deadline: 9 * time.Second}},
		{name: "disagreeing", ann: map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "2", "com.openfaas.aft/attempts": "3"},
			prefixes: both, wantTx: true, wantErr: `aft.dev/attempts="2" and com.openfaas.aft/attempts="3" disagree`},
		{name: "transactional disagreeing", ann: map[string]string{"aft.dev/transactional": "true", "com.openfaas.aft/transactional": "false"},
			prefixes: both, wantErr: "disagree"},
		{name: "bad attempts", ann: map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "0"}, prefixes: both, wantTx: true, wantErr: `annotation aft.dev/attempts="0"`},
		{name: "bad deadline", ann: map[string]string{"aft.dev/transactional": "true", "com.openfaas.aft/deadline": "soon"}, prefixes: both, wantTx: true, wantErr: `annotation com.openfaas.aft/deadline="soon"`},
		{name: "bad policy", ann: map[string]string{"aft.dev/transactional": "true", "aft.dev/on-running": "sometimes"}, prefixes: both, wantTx: true, wantErr: "annotation aft.dev/on-running"},
	}
	for _, tt := range tests {
		tx, o, err := FromAnnotations(tt.ann, tt.prefixes...)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tx != tt.wantTx || o != tt.want:
			t.Errorf("%s: transactional %v, %+v; want %v, %+v", tt.name, tx, o, tt.wantTx, tt.want)
		}
	}
}

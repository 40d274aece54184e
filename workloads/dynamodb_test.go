package workloads

import (
	"context"
	"testing"

	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
)

// TestDynamoDBModes runs two scenarios in every mode on a table of DynamoDB Local (make
// deps installs it): dynamodb-txn makes each function's writes atomic, so a crash after
// the first write leaves nothing half done, but it has no idempotency, so a request
// delivered twice applies twice; aft shows no anomaly on DynamoDB either.
func TestDynamoDBModes(t *testing.T) {
	srv := dynamotest.Shared(t)
	storeURL := srv.StoreURL(t, srv.Table(t))
	results, err := Run(context.Background(), Options{Store: storeURL, Scenarios: []string{"crash-partial", "duplicate-sequential"},
		size: &sizes{streamsPerApp: 1, requests: 8, readers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 6 {
		t.Fatalf("%d results, want 2 scenarios x 3 modes (plain, aft, dynamodb-txn by default on DynamoDB)", len(results))
	}
	for _, r := range results {
		t.Logf("%-22s %-12s %5.2fs %d requests, %d acked, %d deliveries, %d executions, %d snapshots, injected %v: %v",
			r.Scenario, r.Mode, r.Seconds, r.Requests, r.Acked, r.Deliveries, r.Executions, r.Snapshots, r.Injected, r.Anomalies)
		if r.Error != "" || r.Skipped != "" {
			t.Errorf("%s/%s did not run: %s%s", r.Scenario, r.Mode, r.Error, r.Skipped)
		}
		if r.Requests == 0 || r.Acked != r.Requests || r.Snapshots == 0 {
			t.Errorf("%s/%s: %d requests, %d acked, %d snapshots", r.Scenario, r.Mode, r.Requests, r.Acked, r.Snapshots)
		}
		if r.Scenario == "crash-partial" && r.Injected["crash"] == 0 {
			t.Errorf("%s/%s: no crash struck: %v", r.Scenario, r.Mode, r.Injected)
		}
	}
	for _, c := range []struct {
		scenario string
		mode     Mode
		check    func(r Result) bool
		want     string
	}{
		{"crash-partial", Plain, func(r Result) bool { return r.Anomalies.Partial > 0 }, "partial requests"},
		{"crash-partial", DynamoTxn, func(r Result) bool { return r.Anomalies.Partial == 0 && r.Anomalies.Fractured == 0 }, "no partial request, no fractured read"},
		{"duplicate-sequential", DynamoTxn, func(r Result) bool { return r.Anomalies.Duplicate > 0 }, "duplicates"},
		{"crash-partial", Aft, func(r Result) bool { return r.Anomalies.Total() == 0 }, "no anomaly"},
		{"duplicate-sequential", Aft, func(r Result) bool { return r.Anomalies.Total() == 0 }, "no anomaly"},
	} {
		if r, ok := find(results, c.scenario, c.mode); !ok || !c.check(r) {
			t.Errorf("%s/%s: anomalies %v: want %s", c.scenario, c.mode, r.Anomalies, c.want)
		}
	}
}

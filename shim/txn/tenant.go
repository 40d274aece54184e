package txn

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/aft-shim/aft/shim/record"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrTenantBusy is returned when a tenant is at its own limit of running transactions or
// buffered bytes (Config.TenantMaxRunning, TenantMaxBuffered): the others go on.
var ErrTenantBusy = errors.New("tenant busy")

// ErrBadTenant is returned for a tenant name record.ValidTenant refuses.
var ErrBadTenant = errors.New("bad tenant")

// tenantUse is one tenant's share of the manager's limits.
type tenantUse struct {
	name     string
	running  int          // under m.mu
	buffered atomic.Int64 // write buffers and request bodies
}

// admitTenant returns the use of tenant, counting one more running transaction, or an
// error matching ErrTenantBusy when the tenant runs TenantMaxRunning already. m.mu is held.
func (m *Manager) admitTenant(tenant string) (*tenantUse, error) {
	u := m.tenant(tenant)
	if max := m.cfg.TenantMaxRunning; max > 0 && u.running >= max {
		return nil, fmt.Errorf("%w: tenant %q runs %d transactions, its limit (--tenant-max-running %d); retry later", ErrTenantBusy, tenant, u.running, max)
	}
	u.running++
	return u, nil
}

// tenant returns the use of tenant. A sync.Map, not m.mu: Reserve looks it up for every
// chunk of a request body.
func (m *Manager) tenant(tenant string) *tenantUse {
	if u, ok := m.tenants.Load(tenant); ok {
		return u.(*tenantUse)
	}
	u, _ := m.tenants.LoadOrStore(tenant, &tenantUse{name: tenant})
	return u.(*tenantUse)
}

// charge adds n bytes (less when negative) to what u's tenant and all tenants buffer. It
// charges nothing and returns an error matching ErrTenantBusy or ErrBusy when n > 0 would
// take the tenant past TenantMaxBuffered or everyone past MaxBufferedBytes.
func (m *Manager) charge(u *tenantUse, n int64) error {
	tenant := u.buffered.Add(n)
	total := m.buffered.Add(n)
	if n <= 0 {
		return nil
	}
	if max := m.cfg.TenantMaxBuffered; max > 0 && tenant > max {
		u.buffered.Add(-n)
		m.buffered.Add(-n)
		return fmt.Errorf("%w: tenant %q buffers %d bytes, %d more would pass its limit (--tenant-max-buffered %d); retry later",
			ErrTenantBusy, u.name, tenant-n, n, max)
	}
	if total > m.cfg.MaxBufferedBytes {
		u.buffered.Add(-n)
		m.buffered.Add(-n)
		return fmt.Errorf("%w: the write buffers and request bodies of all transactions would pass --max-buffered %d bytes; retry later", ErrBusy, m.cfg.MaxBufferedBytes)
	}
	return nil
}

// tenantCollector exports each tenant's share of the limits: the tenants that began a
// transaction here, which with --auth-file are tenants of the file alone, so that the label
// stays bounded.
type tenantCollector struct{ m *Manager }

var (
	tenantRunningDesc  = prometheus.NewDesc("aft_tenant_txns_running", "Running transactions by tenant (\"default\": the default tenant).", []string{"tenant"}, nil)
	tenantBufferedDesc = prometheus.NewDesc("aft_tenant_buffered_bytes", "Bytes held in write buffers and request bodies by tenant.", []string{"tenant"}, nil)
)

func (c tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tenantRunningDesc
	ch <- tenantBufferedDesc
}

func (c tenantCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	type use struct {
		name     string
		running  int
		buffered int64
	}
	var uses []use
	c.m.tenants.Range(func(k, v any) bool {
		name, u := k.(string), v.(*tenantUse)
		if record.ValidTenant(name) != nil { // the bodies of peers' pushes
			return true
		}
		if name == record.DefaultTenant {
			name = "default"
		}
		uses = append(uses, use{name, u.running, u.buffered.Load()})
		return true
	})
	c.m.mu.Unlock()
	for _, u := range uses {
		ch <- prometheus.MustNewConstMetric(tenantRunningDesc, prometheus.GaugeValue, float64(u.running), u.name)
		ch <- prometheus.MustNewConstMetric(tenantBufferedDesc, prometheus.GaugeValue, float64(u.buffered), u.name)
	}
}

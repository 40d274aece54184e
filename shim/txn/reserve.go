package txn

// Reserve charges n bytes that the caller is about to allocate for a request of tenant (a
// body as it arrives) against MaxBufferedBytes, the budget of the write buffers, and the
// tenant's TenantMaxBuffered, so that memory held for requests in flight is bounded by the
// same flags as memory held by transactions. It charges nothing and returns an error
// matching ErrBusy or ErrTenantBusy when a budget would be exceeded. Every Reserve that
// succeeded must be matched by Release(tenant, n) once the bytes are freed or handed to
// Write, which charges what it keeps by itself.
func (m *Manager) Reserve(tenant string, n int64) error {
	if n <= 0 {
		return nil
	}
	return m.charge(m.tenant(tenant), n)
}

// Release gives back n bytes of tenant charged by Reserve.
func (m *Manager) Release(tenant string, n int64) {
	if n > 0 {
		m.charge(m.tenant(tenant), -n)
	}
}

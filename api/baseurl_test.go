package api

import "testing"

func TestBaseURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://10.0.0.2:7654", "http://10.0.0.2:7654"},
		{"https://shim.aft.svc:7654/", "https://shim.aft.svc:7654/"},
		{"http://[fd00::1]:8084", "http://[fd00::1]:8084"},
		{"http://fd00::1:8084", "http://[fd00::1]:8084"}, // $(POD_IP) on an IPv6 cluster
		{"http://fd00:10:244::5:7654", "http://[fd00:10:244::5]:7654"},
		{"http://::ffff:10.0.0.2:80", "http://[::ffff:10.0.0.2]:80"},
	} {
		got, err := BaseURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("BaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "ftp://h:1", "http://", "10.0.0.2:7654", "http://user:pw@h:1", "http://zz::yy:1", "http://fd00::1:"} {
		if got, err := BaseURL(bad); err == nil {
			t.Errorf("BaseURL(%q) = %q, want an error", bad, got)
		}
	}
}

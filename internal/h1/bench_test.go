package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
)

// BenchmarkCall compares a call of the shim's shape (a 200-byte body in, a 5.5 KiB
// answer out, as a read of a 4 KiB value answers) through net/http's Server and through
// this one, from client.Transport in the same process. cpu-µs/op is the process's CPU
// time per call, client and server together.
func BenchmarkCall(b *testing.B) {
	answer := bytes.Repeat([]byte("a"), 5500)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(http.StatusOK)
		w.Write(answer)
	})
	b.Run("net-http", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
		go srv.Serve(ln)
		defer srv.Close()
		calls(b, ln.Addr().String())
	})
	b.Run("h1", func(b *testing.B) {
		_, addr := start(b, h, func(s *Server) { s.WriteTimeout = time.Minute })
		calls(b, addr)
	})
}

func calls(b *testing.B, addr string) {
	c := &http.Client{Transport: &client.Transport{}}
	body := bytes.Repeat([]byte("b"), 200)
	url := "http://" + addr + "/v1/txns/x/batch"
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/op")
}

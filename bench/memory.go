package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/aft-shim/aft/report/folder"
)

// selfRSS returns this process's resident set size, in bytes.
func selfRSS() int64 { return selfStatusKB("VmRSS") }

// selfStatusKB returns the kB field name of /proc/self/status, in bytes (0 if unknown).
func selfStatusKB(name string) int64 {
	kb, _ := strconv.ParseInt(strings.Fields(folder.ProcField("/proc/self/status", name) + " 0")[0], 10, 64)
	return kb << 10
}

// inProcessMemory describes the memory of this process, which serves the shim: anonymous
// and file-backed resident memory, the Go heap in use, and the size of the store's file.
func inProcessMemory(dbFile string) func() string {
	return func() string {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var size int64
		if fi, err := os.Stat(dbFile); err == nil {
			size = fi.Size()
		}
		return fmt.Sprintf("anon %.1f MiB, file-backed %.1f MiB, heap in use %.1f MiB, store file %.1f MiB",
			mib(selfStatusKB("RssAnon")), mib(selfStatusKB("RssFile")), mib(int64(ms.HeapInuse)), mib(size))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// writeHeapProfile writes a heap profile of this process to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	return nil
}

// cpuProfiled runs fn under a CPU profile of this process written to path+"."+mode, or just
// runs it when path is "".
func cpuProfiled(path, mode string, fn func() (Result, error)) (Result, error) {
	if path == "" {
		return fn()
	}
	f, err := os.Create(path + "." + mode)
	if err != nil {
		return Result{}, fmt.Errorf("cpuprofile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return Result{}, fmt.Errorf("cpuprofile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return fn()
}

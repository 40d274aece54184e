package folder

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes the machine a run was made on. Its JSON is the "machine" object of
// `aft bench`'s results.json; the run.json of `aft workloads` holds three of its fields
// under names of its own (go_version: Go, platform: Platform(), cpus: Cores).
type Machine struct {
	Cores      int    `json:"cores"`      // logical CPUs
	GOMAXPROCS int    `json:"gomaxprocs"` // of the process that made the run
	CPU        string `json:"cpu"`        // model name, from /proc/cpuinfo
	MemoryMiB  int64  `json:"memory_mib"` // total, from /proc/meminfo
	OS         string `json:"os"`         // GOOS/GOARCH, then ", Linux " and the kernel release when known
	Go         string `json:"go"`         // the Go version of the binary
	// LoadBefore and LoadAfter are the 1-minute load averages when the run began and
	// ended: other work on the machine during the run, when above zero.
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
}

// ThisMachine describes the machine this process runs on. The load averages are left
// for the caller to take (LoadAverage) when its run begins and ends.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	m.CPU = ProcField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.Fields(ProcField("/proc/meminfo", "MemTotal") + " 0")[0], 10, 64); err == nil {
		m.MemoryMiB = kb / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// Platform returns GOOS/GOARCH: OS without the kernel release.
func (m Machine) Platform() string {
	p, _, _ := strings.Cut(m.OS, ", ")
	return p
}

// LoadAverage returns the 1-minute load average of the machine, 0 if unknown.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// ProcField returns the value of the first "name: value" line of a /proc file, "" if none.
func ProcField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

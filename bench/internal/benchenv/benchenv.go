// Package benchenv describes the machine and the commit a benchmark ran on, so that every
// result in docs/benchmarks.md says where it came from.
package benchenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine is the environment of one benchmark run.
type Machine struct {
	Command, CPU, Kernel, GoVersion, Commit, MemTotal string
	NProc                                             int
	Started, Finished                                 time.Time
	LoadBefore, LoadAfter                             string
	Disk                                              string // device and filesystem of the temp dir
}

// ModuleRoot returns the kidshield module's directory (benchmarks run from inside it).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark from inside the kidshield module")
	}
	return filepath.Dir(mod), nil
}

// Describe records the machine, the commit (marked when bench/ is not the only change) and the
// load average before the run.
func Describe(root string) Machine {
	m := Machine{NProc: runtime.NumCPU(), Started: time.Now(), GoVersion: runtime.Version(), LoadBefore: LoadAvg()}
	if out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h %cd %s", "--date=iso").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if len(m.Commit) > 100 {
			m.Commit = m.Commit[:100] + "…"
		}
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", ".", ":(exclude)bench").Output(); err == nil && len(st) > 0 {
			m.Commit += " + uncommitted changes"
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m.MemTotal = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	if out, err := exec.Command("df", "-T", os.TempDir()).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 2 {
			m.Disk = f[0] + " (" + f[1] + ")"
		}
	}
	return m
}

// LoadAvg returns the 1, 5 and 15 minute load averages, "?" when unknown.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// Package benchrun holds the steps every benchmark program in bench/ takes around its
// measurements: a working directory, binaries built from this checkout, child processes that
// can be stopped and read for memory, and a `kidshield serve` started from a configuration and
// waited for. The measurements themselves stay in each program.
package benchrun

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WorkDir returns the absolute path of the working directory: dir, created when missing, or a
// new temporary directory named after prefix when dir is empty. cleanup removes a temporary
// directory unless keep is set; a directory the user named is never removed, since it may hold
// the results of an earlier run.
func WorkDir(dir, prefix string, keep bool) (path string, cleanup func(), err error) {
	cleanup = func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", prefix+"-")
		if err != nil {
			return "", nil, fmt.Errorf("working directory: %w", err)
		}
		dir = d
		if !keep {
			cleanup = func() { os.RemoveAll(d) }
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("working directory: %w", err)
	}
	dir, _ = filepath.Abs(dir)
	log.Printf("working directory %s", dir)
	return dir, cleanup, nil
}

// Build runs `go build -o out pkg` in the module root, its output on our stderr so that a
// compile error reads as it would in a terminal.
func Build(ctx context.Context, root, out, pkg string) error {
	log.Printf("go build -o %s %s", out, pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// BuildKidshield builds cmd/kidshield from the checkout at root into dir and returns the
// binary's path: the benchmarks measure this checkout, not whatever kidshield is installed.
func BuildKidshield(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "kidshield")
	return bin, Build(ctx, root, bin, "./cmd/kidshield")
}

// WriteResults prints the markdown results on stdout after a blank line (apart from the log,
// which goes to stderr) and, when path is set, writes them there too for docs/benchmarks.md.
func WriteResults(md, path string) error {
	fmt.Println()
	fmt.Println(md)
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	log.Printf("results written to %s", path)
	return nil
}

// Process is a started child process that is watched for its end.
type Process struct {
	Cmd     *exec.Cmd
	Started time.Time // just before the fork: readiness is timed from here
	done    chan struct{}
	err     error
}

// StartProcess starts cmd. after, when not nil, runs once the process has been waited for and
// before Done is closed, so that readers of its output (a pipe, a log file) see everything it
// wrote.
func StartProcess(cmd *exec.Cmd, after func()) (*Process, error) {
	p := &Process{Cmd: cmd, done: make(chan struct{}), Started: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		if after != nil {
			after()
		}
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Err is what waiting for the process returned; meaningful once Done is closed.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM so that the process can shut down as it would in production, and
// SIGKILL when it has not exited after grace; it returns once the process has exited.
func (p *Process) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Memory returns VmRSS and VmHWM of a process from /proc/PID/status, in kB (0 when unknown).
func Memory(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// Tail returns the last n lines of b: enough of a log to say why a server did not start.
func Tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteConfig writes a kidshield configuration to dir/name.yaml and returns its path.
func WriteConfig(dir, name, cfg string) (string, error) {
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// Kidshield is a running `kidshield serve` whose log goes to a file.
type Kidshield struct {
	*Process
	LogPath  string
	HTTPAddr string // from its "http listening" line, once WaitLog has seen it
}

// StopGrace is how long Stop waits for kidshield to shut down after SIGTERM: it finishes
// in-flight work (a group commit, a zone build) first.
const StopGrace = 30 * time.Second

// HTTPListening matches kidshield's log line with the address its web server listens on (the
// configurations listen on port 0, so the log is the only place it is known).
var HTTPListening = regexp.MustCompile(`msg="http listening" addr=(\S+)`)

// StartKidshield runs `bin serve --config cfgPath` with its output in logPath. The child gets
// SIGKILL if the benchmark dies, so that a failed run leaves no server holding the machine.
func StartKidshield(ctx context.Context, bin, cfgPath, logPath string) (*Kidshield, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, err := StartProcess(cmd, func() { lf.Close() })
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &Kidshield{Process: p, LogPath: logPath}, nil
}

// Stop stops kidshield (SIGTERM, then SIGKILL after StopGrace).
func (k *Kidshield) Stop() { k.Process.Stop(StopGrace) }

// Log returns what kidshield has logged so far.
func (k *Kidshield) Log() []byte {
	b, _ := os.ReadFile(k.LogPath)
	return b
}

// ErrNotReady is returned by WaitLog when the deadline passed before the line appeared.
var ErrNotReady = errors.New("not ready in time")

// ExitedError is returned by WaitLog when kidshield exited before the line appeared.
type ExitedError struct {
	Err  error  // what waiting for the process returned
	Tail string // the end of its log
}

func (e *ExitedError) Error() string { return fmt.Sprintf("kidshield exited: %v\n%s", e.Err, e.Tail) }
func (e *ExitedError) Unwrap() error { return e.Err }

// WaitLog polls kidshield's log until it matches ready and returns the log read then; it also
// sets HTTPAddr when the log names it. It returns an *ExitedError when kidshield exits first,
// ErrNotReady at the deadline (kidshield left running: the caller decides), and ctx's error
// when ctx ends.
func (k *Kidshield) WaitLog(ctx context.Context, ready *regexp.Regexp, deadline time.Time) ([]byte, error) {
	for {
		b := k.Log()
		if ready.Match(b) {
			if m := HTTPListening.FindSubmatch(b); m != nil {
				k.HTTPAddr = string(m[1])
			}
			return b, nil
		}
		if !k.Running() {
			b = k.Log() // Done is closed after the log file is: this read has all of it
			return b, &ExitedError{Err: k.Err(), Tail: Tail(b, 40)}
		}
		if time.Now().After(deadline) {
			return b, ErrNotReady
		}
		select {
		case <-ctx.Done():
			return b, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

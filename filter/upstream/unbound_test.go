package upstream

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUnbound resolves through a real Unbound over UDP and TCP.
func TestUnbound(t *testing.T) {
	bin, err := exec.LookPath("unbound")
	if err != nil {
		t.Skip("unbound is not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "unbound.conf")
	cfg := fmt.Sprintf(`server:
	do-daemonize: no
	chroot: ""
	username: ""
	directory: %q
	pidfile: %q
	logfile: ""
	use-syslog: no
	verbosity: 0
	interface: 127.0.0.1@%d
	port: %d
	do-ip6: no
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	local-zone: "kidshield.test." static
	local-data: "www.kidshield.test. 300 IN A 192.0.2.77"
	local-data: 'big.kidshield.test. 300 IN TXT %s'
remote-control:
	control-enable: no
`, dir, filepath.Join(dir, "unbound.pid"), port, port, bigTXT())
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if check, err := exec.LookPath("unbound-checkconf"); err == nil {
		if out, err := exec.Command(check, conf).CombinedOutput(); err != nil {
			t.Fatalf("unbound-checkconf: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-d", "-c", conf)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	udp, err := Parse(addr, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := Parse("tcp://"+addr, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.(*streamUpstream).Close()

	// Wait until Unbound answers.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := udp.Exchange(context.Background(), query("www.kidshield.test", dns.TypeA))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unbound did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, u := range []Upstream{udp, tcp} {
		t.Run(u.String(), func(t *testing.T) {
			r, err := u.Exchange(context.Background(), query("WWW.kidshield.test", dns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			wantA(t, r, "192.0.2.77")
			r, err = u.Exchange(context.Background(), query("none.kidshield.test", dns.TypeA))
			if err != nil || r.Rcode != dns.RcodeNameError {
				t.Fatalf("nxdomain: %v %v", r, err)
			}
			q := query("big.kidshield.test", dns.TypeTXT)
			q.SetEdns0(4096, true)
			r, err = u.Exchange(context.Background(), q)
			if err != nil || len(r.Answer) != 1 {
				t.Fatalf("large TXT (over UDP this is truncated and retried over TCP): %v %v", r, err)
			}
			if opt := r.IsEdns0(); opt == nil {
				t.Errorf("no OPT in the answer to an EDNS query")
			}
		})
	}
	// The 2 KB TXT does not fit our 1232-byte UDP buffer, so the answer
	// above came over TCP after a truncated UDP one.
	q := query("big.kidshield.test", dns.TypeTXT)
	if r, err := udp.(*udpUpstream).exchange(context.Background(), q); err != nil || !r.Truncated {
		t.Errorf("UDP alone: %v %v, want a truncated answer", r, err)
	}
}

// bigTXT is a TXT RDATA over 1232 bytes, in strings of 200.
func bigTXT() string {
	var parts []string
	for i := range 10 {
		parts = append(parts, `"`+strings.Repeat(string(rune('a'+i)), 200)+`"`)
	}
	return strings.Join(parts, " ")
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reply is what dig or kdig printed, parsed.
type reply struct {
	Status  string // NOERROR, NXDOMAIN, SERVFAIL, REFUSED, …
	Answer  []record
	EDE     int // -1: no Extended DNS Error
	EDEText string
	Out     string // the raw output, for failure messages
}

type record struct {
	Name string // lower case, fully qualified
	TTL  int
	Type string
	Data string
}

func (r reply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %s", r.Status)
	if r.EDE >= 0 {
		fmt.Fprintf(&b, ", EDE %d %q", r.EDE, r.EDEText)
	}
	for _, rr := range r.Answer {
		fmt.Fprintf(&b, "; %s %d %s %s", rr.Name, rr.TTL, rr.Type, rr.Data)
	}
	return b.String()
}

// data returns the data of the answer records of one type.
func (r reply) data(typ string) []string {
	var out []string
	for _, rr := range r.Answer {
		if rr.Type == typ {
			out = append(out, rr.Data)
		}
	}
	return out
}

var (
	reDigStatus  = regexp.MustCompile(`->>HEADER<<- opcode: \w+[,;] status: ([A-Z0-9]+)[,;]`)
	reDigEDE     = regexp.MustCompile(`^; EDE: (\d+)(?: \([^)]*\))?(?:: \((.*)\))?$`)
	reKdigEDE    = regexp.MustCompile(`^;; EDE: (\d+)(?: \([^)]*\))?(?:: '(.*)')?$`)
	reTypeRecord = regexp.MustCompile(`^(\S+)\s+(\d+)\s+IN\s+(\S+)\s*(.*)$`)
)

// parseReply reads dig's or kdig's default output.
func parseReply(out string, ede *regexp.Regexp) (reply, error) {
	r := reply{EDE: -1, Out: out}
	m := reDigStatus.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return r, fmt.Errorf("no DNS reply in the output")
	}
	r.Status = m[len(m)-1][1]
	inAnswer := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if mm := ede.FindStringSubmatch(line); mm != nil {
			r.EDE, _ = strconv.Atoi(mm[1])
			r.EDEText = mm[2]
			continue
		}
		switch {
		case line == ";; ANSWER SECTION:":
			inAnswer = true
			continue
		case line == "" || strings.HasPrefix(line, ";"):
			inAnswer = false
			continue
		}
		if !inAnswer {
			continue
		}
		mm := reTypeRecord.FindStringSubmatch(line)
		if mm == nil {
			return r, fmt.Errorf("cannot parse answer record %q", line)
		}
		ttl, _ := strconv.Atoi(mm[2])
		r.Answer = append(r.Answer, record{Name: strings.ToLower(mm[1]), TTL: ttl, Type: mm[3], Data: strings.ToLower(mm[4])})
	}
	return r, nil
}

// runTool runs dig or kdig with a deadline and returns its parsed reply.
func runTool(tool string, args ...string) (reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	re := reDigEDE
	if tool == "kdig" {
		re = reKdigEDE
	}
	r, perr := parseReply(string(out), re)
	if perr != nil {
		if err == nil {
			err = perr
		}
		return r, fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return r, nil
}

// dig asks with dig: args are transport options and the server, then name and type.
func dig(t *testing.T, args ...string) reply {
	t.Helper()
	r, err := runTool("dig", append([]string{"+tries=2", "+time=5"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// kdig asks with kdig (with EDNS, so Extended DNS Errors can come back).
func kdig(t *testing.T, args ...string) reply {
	t.Helper()
	r, err := runTool("kdig", append([]string{"+edns", "+retry=1", "+timeout=5"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// client is one way of asking an instance: a tool and the arguments that pick the transport.
type client struct {
	name string
	tool string
	args func(in *instance) []string
}

func (c client) ask(t *testing.T, in *instance, name, qtype string) reply {
	t.Helper()
	args := append(c.args(in), name, qtype)
	if c.tool == "kdig" {
		return kdig(t, args...)
	}
	return dig(t, args...)
}

func server(addr string) []string { return []string{"@127.0.0.1", "-p", port(addr)} }

var (
	digUDP   = client{"dig-udp", "dig", func(in *instance) []string { return server(in.dnsAddr) }}
	digTCP   = client{"dig-tcp", "dig", func(in *instance) []string { return append([]string{"+tcp"}, server(in.dnsAddr)...) }}
	digTLS   = client{"dig-tls", "dig", func(in *instance) []string { return append([]string{"+tls"}, server(in.dotAddr)...) }}
	digHTTPS = client{"dig-https", "dig", func(in *instance) []string { return append([]string{"+https=/dns-query"}, server(in.httpsAddr)...) }}
	digH2C   = client{"dig-http-plain", "dig", func(in *instance) []string { return append([]string{"+http-plain=/dns-query"}, server(in.httpAddr)...) }}
	kdigUDP  = client{"kdig-udp", "kdig", func(in *instance) []string { return server(in.dnsAddr) }}
	kdigTLS  = client{"kdig-tls", "kdig", func(in *instance) []string { return append([]string{"+tls"}, server(in.dotAddr)...) }}
)

// dohPath asks with dig over DoH (HTTP/2 over TLS) at a path that selects a profile and device.
func dohPath(path string) client {
	return client{"dig-https" + path, "dig", func(in *instance) []string {
		return append([]string{"+https=" + path}, server(in.httpsAddr)...)
	}}
}

// dotName asks with kdig over DoT with a TLS server name that selects a profile.
func dotName(sni string) client {
	return client{"kdig-tls-sni=" + sni, "kdig", func(in *instance) []string {
		return append([]string{"+tls", "+tls-sni=" + sni}, server(in.dotAddr)...)
	}}
}

// Expectations.

// wantBlocked checks an NXDOMAIN block with the EDE that names the reason.
func wantBlocked(t *testing.T, what string, r reply, ede int, text string) {
	t.Helper()
	if r.Status != "NXDOMAIN" || len(r.Answer) != 0 || r.EDE != ede || r.EDEText != text {
		t.Errorf("%s: got %s; want NXDOMAIN, no answer, EDE %d %q\n%s", what, r, ede, text, r.Out)
	}
}

// wantAddress checks a NOERROR answer whose only address record of type typ is addr.
func wantAddress(t *testing.T, what string, r reply, typ, addr string) {
	t.Helper()
	got := r.data(typ)
	if r.Status != "NOERROR" || len(got) != 1 || got[0] != addr || r.EDE != -1 {
		t.Errorf("%s: got %s; want NOERROR with %s %s and no EDE\n%s", what, r, typ, addr, r.Out)
	}
}

// wantCNAME checks a NOERROR answer that starts with an alias from name to target, followed
// by the target's address from the upstream.
func wantCNAME(t *testing.T, what string, r reply, name, target string) {
	t.Helper()
	ok := r.Status == "NOERROR" && len(r.Answer) >= 2 &&
		r.Answer[0].Type == "CNAME" && r.Answer[0].Name == name+"." && r.Answer[0].Data == target+"." &&
		r.Answer[len(r.Answer)-1].Type == "A" && r.Answer[len(r.Answer)-1].Name == target+"." && r.Answer[len(r.Answer)-1].Data == upstreamA
	if !ok {
		t.Errorf("%s: got %s; want NOERROR with %s. CNAME %s. and %s. A %s\n%s", what, r, name, target, target, upstreamA, r.Out)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

const (
	feedTestZone   = "rpz.kidshield.test."
	feedTestSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
)

func feedConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Feed = config.Feed{Zone: feedTestZone, Listen: []string{"127.0.0.1:0"}, Members: []config.FeedMember{{Name: "bind", TSIGSecret: feedTestSecret}}}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// feedXFR runs a signed transfer and returns its records as text.
func feedXFR(t *testing.T, addr string, q *dns.Msg) []string {
	t.Helper()
	q.SetTsig("bind.", dns.HmacSHA256, 300, time.Now().Unix())
	tr := &dns.Transfer{TsigSecret: map[string]string{"bind.": feedTestSecret}}
	ch, err := tr.In(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for env := range ch {
		if env.Error != nil {
			t.Fatal(env.Error)
		}
		for _, rr := range env.RR {
			out = append(out, rr.String())
		}
	}
	return out
}

var reFeedListen = regexp.MustCompile(`msg="feed listening" zone=\S+ udp=(\S+) tcp=(\S+) serial=(\d+)`)

// The feed follows the store's list and its serial is the list's: a restarted primary on the
// same store serves the same serial, and an IXFR from it is answered as current.
func TestFeedServesTheStoreList(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "kidshield.db")
	st, err := store.Open(t.Context(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	user := func(login string) int64 {
		id, err := st.CreateUser(t.Context(), store.User{Login: login, Name: login, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	alice, bob := user("alice"), user("bob")
	list := func(kind, value string) int64 {
		id, err := st.ProposeListEntry(t.Context(), store.ListProposal{Kind: kind, Value: value, Category: "hotline", ActorID: alice})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ChangeListEntry(t.Context(), id, store.ListChange{To: lifecycle.ListActive, ActorID: bob}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	bad := list(store.ListDomain, "bad.example")

	start := func(st *store.Store) (addr string, stop func()) {
		logs := &syncBuf{}
		a := &app{st: st, log: slog.New(slog.NewTextHandler(io.MultiWriter(logs, io.Discard), nil))}
		a.cfgPtr.Store(feedConfig(t))
		ctx, cancel := context.WithCancel(t.Context())
		var bg sync.WaitGroup
		if err := a.startFeed(ctx, &bg); err != nil {
			t.Fatal(err)
		}
		m := reFeedListen.FindStringSubmatch(logs.String())
		if m == nil {
			t.Fatalf("no listening line:\n%s", logs)
		}
		return m[2], func() { cancel(); bg.Wait() }
	}
	addr, stop := start(st)
	soa := func(serial int) string {
		return fmt.Sprintf("%s\t300\tIN\tSOA\tlocalhost. hostmaster.localhost. %d 3600 600 604800 300", feedTestZone, serial)
	}
	cname := func(owner string) string { return owner + "." + feedTestZone + "\t300\tIN\tCNAME\t." }
	axfr := new(dns.Msg)
	axfr.SetAxfr(feedTestZone)
	got := feedXFR(t, addr, axfr)
	// The canary answers with an address (local data), whatever the action. The first start
	// recorded the zone's parameters with the list: serial 3 after the entry's 2.
	canary := []string{store.CanaryValue + "." + feedTestZone + "\t300\tIN\tA\t192.0.2.1", "*." + store.CanaryValue + "." + feedTestZone + "\t300\tIN\tA\t192.0.2.1"}
	want := append(append([]string{soa(3), feedTestZone + "\t300\tIN\tNS\tlocalhost.", cname("bad.example"), cname("*.bad.example")}, canary...), soa(3))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("AXFR\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A change in the store reaches the zone (polled by serial) and an IXFR carries it.
	list(store.ListHost, "host.example")
	if _, _, err := st.ChangeListEntry(t.Context(), bad, store.ListChange{To: lifecycle.ListDelisted, ActorID: bob}); err != nil {
		t.Fatal(err)
	}
	ixfr := func(serial uint32) []string {
		q := new(dns.Msg)
		q.SetIxfr(feedTestZone, serial, "localhost.", "hostmaster.localhost.")
		return feedXFR(t, addr, q)
	}
	want = []string{soa(6), soa(3), cname("bad.example"), cname("*.bad.example"), soa(6), cname("host.example"), soa(6)}
	for i := 0; ; i++ {
		got = ixfr(3)
		if got[0] == soa(6) || i == 300 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("IXFR\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	stop()
	st.Close()

	// Restart on the same database: the same serial (the parameters did not change), and the
	// consumer at 6 is current.
	st, err = store.Open(t.Context(), "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr, stop = start(st)
	defer stop()
	if got := ixfr(6); len(got) != 1 || got[0] != soa(6) {
		t.Fatalf("IXFR from the serial before the restart: %v", got)
	}
}

// serve starts the feed with the rest and logs where it listens.
func TestServeStartsFeed(t *testing.T) {
	dir := t.TempDir()
	listFile := filepath.Join(dir, "adult.txt")
	if err := os.WriteFile(listFile, []byte("adult.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "kidshield.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`data_dir: %s
dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "off"
upstreams: ["127.0.0.1:9"]
feed:
  zone: %s
  listen: ["127.0.0.1:0"]
  members:
    - name: bind
      tsig_secret: %q
`, filepath.Join(dir, "data"), feedTestZone, feedTestSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"--config", conf, "--list", "adult=" + listFile}, logs) }()
	var m []string
	for i := 0; i < 500 && m == nil; i++ {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
		m = reFeedListen.FindStringSubmatch(logs.String())
	}
	if m == nil {
		cancel()
		t.Fatalf("no feed listening line:\n%s", logs)
	}
	c := &dns.Client{Net: "udp", TsigSecret: map[string]string{"bind.": feedTestSecret}}
	q := new(dns.Msg)
	q.SetQuestion(feedTestZone, dns.TypeSOA)
	q.SetTsig("bind.", dns.HmacSHA256, 300, time.Now().Unix())
	in, _, err := c.Exchange(q, m[1])
	if err != nil || in.Rcode != dns.RcodeSuccess || len(in.Answer) != 1 {
		t.Errorf("SOA from the served feed: %v %v", in, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/feed/subscribe"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

var reDNSListen = regexp.MustCompile(`msg="dns listening" udp=(\S+)`)

// A filter node with `subscribe:` blocks what the remote primary lists, with its hotline off
// and nothing in its own store.
func TestServeSubscribedBlocksThePrimarysList(t *testing.T) {
	// The publisher: a store with one confirmed domain, served by the RPZ primary.
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "publisher.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []int64
	for _, l := range []string{"alice", "bob"} {
		id, err := st.CreateUser(t.Context(), store.User{Login: l, Name: l, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	id, err := st.ProposeListEntry(t.Context(), store.ListProposal{Kind: store.ListDomain, Value: "bad.example", Category: "hotline", ActorID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ChangeListEntry(t.Context(), id, store.ListChange{To: lifecycle.ListActive, ActorID: ids[1]}); err != nil {
		t.Fatal(err)
	}
	plogs := &syncBuf{}
	pub := &app{st: st, log: slog.New(slog.NewTextHandler(io.MultiWriter(plogs, io.Discard), nil))}
	pub.cfgPtr.Store(feedConfig(t))
	pctx, pcancel := context.WithCancel(t.Context())
	var pbg sync.WaitGroup
	defer func() { pcancel(); pbg.Wait() }()
	if err := pub.startFeed(pctx, &pbg); err != nil {
		t.Fatal(err)
	}
	m := reFeedListen.FindStringSubmatch(plogs.String())
	if m == nil {
		t.Fatalf("no listening line:\n%s", plogs)
	}

	// The filter node.
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "kidshield.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`data_dir: %s
dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "off"
hotline:
  enabled: false
upstreams: ["127.0.0.1:9"]
subscribe:
  source: rpz://%s/%s
  tsig_name: bind
  tsig_secret: %q
`, data, m[2], feedTestZone, feedTestSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() (addr string, logs *syncBuf, stop func()) {
		logs = &syncBuf{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- serve(ctx, []string{"--config", conf}, logs) }()
		stop = func() { cancel(); <-done }
		var d []string
		for i := 0; i < 500 && d == nil; i++ {
			select {
			case err := <-done:
				t.Fatalf("serve ended: %v\n%s", err, logs)
			case <-time.After(10 * time.Millisecond):
			}
			d = reDNSListen.FindStringSubmatch(logs.String())
		}
		if d == nil {
			stop()
			t.Fatalf("no dns listening line:\n%s", logs)
		}
		return d[1], logs, stop
	}
	ask := func(addr, name string) int {
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		in, _, err := (&dns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(q, addr)
		if err != nil {
			return -1
		}
		return in.Rcode
	}
	// Listed names are blocked (not sent upstream, which is down and would SERVFAIL).
	blocked := func(addr string, logs *syncBuf) {
		t.Helper()
		var rc int
		for i := 0; i < 300; i++ {
			if rc = ask(addr, "www.bad.example"); rc != dns.RcodeServerFailure && rc != -1 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if rc == dns.RcodeServerFailure || rc == -1 {
			t.Fatalf("www.bad.example: rcode %d, want it blocked\n%s", rc, logs)
		}
		if rc := ask(addr, "bad.example"); rc != dns.RcodeNameError && rc != dns.RcodeSuccess {
			t.Errorf("bad.example: rcode %d", rc)
		}
		if rc := ask(addr, "good.example"); rc != dns.RcodeServerFailure {
			t.Errorf("good.example (not listed, upstream down): rcode %d, want SERVFAIL", rc)
		}
	}
	addr, logs, stop := start()
	blocked(addr, logs)
	stop()
	if _, err := os.Stat(filepath.Join(data, "subscribe", subscribe.CopyFile)); err != nil {
		t.Errorf("no copy on disk: %v", err)
	}

	// The publisher goes down; a restarted filter node blocks from its copy on disk.
	pcancel()
	pbg.Wait()
	addr, logs, stop = start()
	defer stop()
	blocked(addr, logs)
}

// Only the categories whose set changed are compiled again.
func TestSubscribedCompileReusesUnchangedCategories(t *testing.T) {
	ss := &subState{}
	l1 := &subscribe.List{Serial: 1, Cats: map[string]map[string]string{
		"hotline": {"bad.example": subscribe.KindDomain},
		"adult":   {"cdn.example": subscribe.KindHost},
	}, Gen: map[string]uint64{"hotline": 1, "adult": 2}}
	n1 := ss.compile(l1)
	l2 := &subscribe.List{Serial: 2, Cats: map[string]map[string]string{
		"hotline": {"bad.example": subscribe.KindDomain, "worse.example": subscribe.KindDomain},
		"adult":   l1.Cats["adult"],
	}, Gen: map[string]uint64{"hotline": 3, "adult": 2}}
	n2 := ss.compile(l2)
	if n2.byCat["adult"] != n1.byCat["adult"] {
		t.Error("the unchanged category was compiled again")
	}
	if n2.byCat["hotline"] == n1.byCat["hotline"] {
		t.Fatal("the changed category was not compiled again")
	}
	for name, want := range map[string]bool{"www.worse.example": true, "bad.example": true, "cdn.example": false} {
		if got, _ := n2.byCat["hotline"].LookupString(name); got != want {
			t.Errorf("hotline %s: %v, want %v", name, got, want)
		}
	}
	if got, _ := n2.byCat["adult"].LookupString("img.cdn.example"); got {
		t.Error("a host entry blocks its subdomains")
	}
	if got, _ := n2.byCat["adult"].LookupString("cdn.example"); !got {
		t.Error("a host entry is not blocked")
	}
	// A category gone from the copy is gone from the filter.
	n3 := ss.compile(&subscribe.List{Serial: 3, Cats: map[string]map[string]string{"adult": l1.Cats["adult"]}, Gen: map[string]uint64{"adult": 2}})
	if len(n3.byCat) != 1 || n3.byCat["adult"] != n1.byCat["adult"] || len(ss.lists) != 1 {
		t.Errorf("after a category went: %v, held %v", n3.byCat, ss.lists)
	}
}

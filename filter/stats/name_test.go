package stats

import (
	"context"
	"strings"
	"testing"
)

func TestSetName(t *testing.T) {
	var e Event
	buf := []byte("www.example.com")
	e.SetName(buf)
	copy(buf, "xxxxxxxxxxxxxxx") // the hot path reuses its buffer right after Record
	if got := e.name(); got != "www.example.com" {
		t.Fatalf("name %q", got)
	}
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + ".example.com"
	e.SetName([]byte(long))
	got := e.name()
	if len(got) > maxEventName || !strings.HasSuffix(got, ".example.com") || strings.HasPrefix(got, ".") || !strings.HasPrefix(got, "c") {
		t.Fatalf("long name kept as %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { e.SetName([]byte("tiktok.com")) }); n != 0 {
		t.Fatalf("SetName allocates %v", n)
	}
}

// TestSetNameAggregatesLikeName: the DNS hot path's SetName and a plain Name land in the same
// domain rows, across hour buckets, and the query log gets the name too.
func TestSetNameAggregatesLikeName(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, Options{QueryLog: true})
	base := int64(1772359200)
	for i, ev := range []Event{
		{Time: base, Profile: "kid", Device: "tab", Name: "WWW.Example.com."},
		{Time: base + 1, Profile: "kid", Device: "tab"},
		{Time: base + 3600, Profile: "kid", Device: "tab"}, // next hour
		{Time: base + 2, Profile: "kid", Device: "phone", Blocked: true, Category: "adult"},
	} {
		if ev.Name == "" {
			ev.SetName([]byte("www.example.com"))
		}
		if i == 3 {
			ev.SetName([]byte("bad.example"))
		}
		r.add(&ev, base)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.domains["kid tab www.example.com"]; got.Queries != 3 {
		t.Fatalf("www.example.com counted %d times, want 3: %v", got.Queries, sink.domains)
	}
	if got := sink.domains["kid phone bad.example"]; got.Blocked != 1 {
		t.Fatalf("bad.example: %+v", got)
	}
	if len(sink.log) != 4 || sink.log[1].Name != "www.example.com" {
		t.Fatalf("query log: %+v", sink.log)
	}
}

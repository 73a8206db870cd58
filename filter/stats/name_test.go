package stats

import (
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

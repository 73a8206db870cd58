package rpz

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// With action blockpage the names are sent to the block page; a record whose owner would be too
// long under the zone is left out rather than breaking the transfer.
func TestBuildBlockPageAndLongNames(t *testing.T) {
	p := testParams()
	p.Target = "block.kidshield.vn."
	l60 := strings.Repeat("a", 60)
	long := l60 + "." + l60 + "." + l60 + "." + strings.Repeat("b", 43) + ".example"    // 234: fits, its wildcard does not
	tooLong := l60 + "." + l60 + "." + l60 + "." + strings.Repeat("c", 44) + ".example" // 235: not under the zone
	z := Build(p, 7, []*store.ListEntry{
		{Kind: store.ListDomain, Value: "bad.example"},
		{Kind: store.ListHost, Value: "Host.Example."},
		{Kind: store.ListURL, Value: "https://x.example/"},
		{Kind: store.ListDomain, Value: long},
		{Kind: store.ListDomain, Value: tooLong},
	})
	var got []string
	z.Records(func(rr dns.RR) bool { got = append(got, rr.String()); return true })
	want := []string{soaStr(7), testZone + "\t300\tIN\tNS\tlocalhost.",
		long + "." + testZone + "\t300\tIN\tCNAME\tblock.kidshield.vn.", // "*." would pass 255 octets
		"bad.example." + testZone + "\t300\tIN\tCNAME\tblock.kidshield.vn.",
		"*.bad.example." + testZone + "\t300\tIN\tCNAME\tblock.kidshield.vn.",
		"host.example." + testZone + "\t300\tIN\tCNAME\tblock.kidshield.vn.",
		soaStr(7)}
	if !slices.Equal(got, want) {
		t.Fatalf("zone\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if z.Names() != 4 {
		t.Errorf("names %d", z.Names())
	}
}

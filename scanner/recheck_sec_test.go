package scanner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/scanner/pdq"
)

// A page whose known image comes after MaxImages decoys has not been looked at in full: the
// re-check must not call the content gone (which would record a removal on the notice and
// stop the takedown clock). Before the fix it said hash_absent.
func TestRecheckDecoysBeforeKnownImageProveNothing(t *testing.T) {
	e, s := recheckEnv(t, nil)
	img, other := testImage(1), testImage(5)
	known, _ := pdq.HashImage(img)
	farFrom(t, known, other)
	s.setImage("/known.png", pngBytes(t, img))
	s.setImage("/decoy.png", pngBytes(t, other))
	var b strings.Builder
	b.WriteString("<html><body>")
	for i := range e.sc.o.MaxImages {
		fmt.Fprintf(&b, `<img src="/decoy.png?%d">`, i)
	}
	b.WriteString(`<img src="/known.png"></body></html>`)
	s.set("/p", 200, b.String())

	chk, err := e.sc.Recheck(t.Context(), e.site.URL+"/p", ParseItemHashes("pdq:"+known.String()))
	if err != nil {
		t.Fatal(err)
	}
	if chk.Gone {
		t.Fatalf("known image beyond the first %d images: re-check says gone (%s)", e.sc.o.MaxImages, chk.Reason)
	}

	// The same page with the decoys alone and no more than MaxImages images is looked at in
	// full: there the known image is absent.
	b.Reset()
	b.WriteString("<html><body>")
	for i := range e.sc.o.MaxImages {
		fmt.Fprintf(&b, `<img src="/decoy.png?%d">`, i)
	}
	b.WriteString("</body></html>")
	s.set("/p", 200, b.String())
	chk, err = e.sc.Recheck(t.Context(), e.site.URL+"/p", ParseItemHashes("pdq:"+known.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !chk.Gone || chk.Reason != "hash_absent" {
		t.Fatalf("page with only decoys: %+v", chk)
	}
}

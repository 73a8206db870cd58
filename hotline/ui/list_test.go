package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/store"
)

// TestListURLProposal proposes a case's URL with "also block the host in DNS": the entry keeps
// the host, the list page says so, and the published list blocks the host once approved; a
// public suffix host is refused.
func TestListURLProposal(t *testing.T) {
	e := newNtcEnv(t)
	ctx := context.Background()
	cid := e.actionableCase("HARM.ADULT", "https://www.bad.example/a", "https://shop.example/b")
	form := e.get("alice", fmt.Sprintf("/desk/cases/%d/list/new", cid))
	ntcWant(t, "form", form, 200)
	if !strings.Contains(form.Body.String(), `name="url" value="https://www.bad.example/a"`) || !strings.Contains(form.Body.String(), `name="dns_host"`) {
		t.Fatalf("the form offers no URLs or no DNS option:\n%s", form.Body.String())
	}
	if !strings.Contains(form.Body.String(), fmt.Sprintf(`action="/desk/cases/%d/list?form=url"`, cid)) {
		t.Fatalf("no URL form:\n%s", form.Body.String())
	}
	w := e.post("alice", fmt.Sprintf("/desk/cases/%d/list?form=url", cid), url.Values{"kind": {"url"}, "url": {"https://www.bad.example/a"},
		"extra": {"https://com.vn/x"}, "dns_host": {"1"}, "category": {"adult"}})
	ntcWant(t, "public suffix host", w, http.StatusUnprocessableEntity)
	if !strings.Contains(w.Body.String(), "hậu tố công cộng") {
		t.Fatalf("refusal not shown:\n%s", w.Body.String())
	}
	ntcWant(t, "propose", e.post("alice", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"kind": {"url"}, "url": {"https://www.bad.example/a"},
		"dns_host": {"1"}, "category": {"adult"}}), http.StatusSeeOther)
	ntcWant(t, "propose plain", e.post("alice", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"kind": {"url"},
		"extra": {"https://shop.example/b?x=1,2"}, "category": {"adult"}}), http.StatusSeeOther)
	es, _ := e.st.ListEntries(ctx, store.ListFilter{})
	if len(es) != 2 || es[1].Value != "https://www.bad.example/a" || es[1].DNSName != "www.bad.example" || es[0].Value != "https://shop.example/b?x=1,2" || es[0].DNSName != "" {
		t.Fatalf("entries %+v %+v", es[0], es[1])
	}
	idx := e.get("bob", "/desk/list")
	if !strings.Contains(idx.Body.String(), "Chặn cả máy chủ trong DNS: <code>www.bad.example</code>") {
		t.Fatalf("the list page does not show the DNS option:\n%s", idx.Body.String())
	}
	for _, path := range []string{"/desk/list", fmt.Sprintf("/desk/cases/%d/list/new", cid)} {
		for _, lang := range []string{"vi", "en"} {
			for _, k := range ntcRawKey.FindAllString(e.get("alice", path+"?lang="+lang).Body.String(), -1) {
				if !strings.HasSuffix(k, ".example") && k != "notice.css" {
					t.Errorf("%s (%s): raw key %q", path, lang, k)
				}
			}
		}
	}
	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/list/%d/approve", es[1].ID), nil), http.StatusSeeOther)
	pub, _ := e.st.ActiveNetworkEntries(ctx)
	if !slices.ContainsFunc(pub, func(p *store.ListEntry) bool { return p.Kind == store.ListHost && p.Value == "www.bad.example" }) {
		t.Fatalf("the host is not published: %+v", pub)
	}
}

// TestListRecheckPages checks the re-check view: an entry past its expiry is counted and listed
// (still blocking), "Re-checked" moves its dates and empties the view, and only an entry that
// blocks can be re-checked.
func TestListRecheckPages(t *testing.T) {
	e := newNtcEnv(t)
	ctx := context.Background()
	cid := e.actionableCase("HARM.ADULT", "https://old.example/a", "https://new.example/b")
	ntcWant(t, "propose", e.post("alice", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"host": {"old.example", "new.example"}, "kind": {"domain"},
		"category": {"adult"}}), http.StatusSeeOther)
	es, _ := e.st.ListEntries(ctx, store.ListFilter{})
	oldID, newID := es[1].ID, es[0].ID
	ntcWant(t, "approve old", e.post("bob", fmt.Sprintf("/desk/list/%d/approve", oldID), nil), http.StatusSeeOther)
	e.now = e.now.Add(10 * 24 * time.Hour)
	ntcWant(t, "approve new", e.post("bob", fmt.Sprintf("/desk/list/%d/approve", newID), nil), http.StatusSeeOther)
	if got, _ := e.st.ListEntryByID(ctx, newID); !got.Expires.Equal(e.now.Add(e.svc.Config().ListRecheckAfter)) {
		t.Fatalf("approval set expiry %v", got.Expires)
	}
	if w := e.get("alice", "/desk/list"); !strings.Contains(w.Body.String(), "0 mục cần kiểm tra lại") {
		t.Fatalf("due count before expiry:\n%s", w.Body.String())
	}
	e.now = e.now.Add(25 * 24 * time.Hour) // old: 35 days, new: 25 days
	w := e.get("alice", "/desk/list?lang=en")
	if !strings.Contains(w.Body.String(), "1 entries due a re-check") {
		t.Fatalf("due count:\n%s", w.Body.String())
	}
	due := e.get("alice", "/desk/list?due=1")
	ntcWant(t, "due view", due, 200)
	body := due.Body.String()
	if !strings.Contains(body, fmt.Sprintf(`action="/desk/list/%d/verify"`, oldID)) || strings.Contains(body, fmt.Sprintf(`action="/desk/list/%d/verify"`, newID)) ||
		!strings.Contains(body, "old.example") || strings.Contains(body, "new.example") {
		t.Fatalf("due view lists the wrong entries:\n%s", body)
	}
	// Every text of the due view and of the list with a due entry is translated.
	for _, path := range []string{"/desk/list?due=1&lang=", "/desk/list?lang="} {
		for _, lang := range []string{"vi", "en"} {
			b := e.get("alice", path+lang).Body.String()
			for _, k := range ntcRawKey.FindAllString(b, -1) {
				if !strings.HasSuffix(k, ".example") && k != "notice.css" {
					t.Errorf("%s%s: raw key %q", path, lang, k)
				}
			}
		}
	}
	if pub, _ := e.st.ActiveNetworkEntries(ctx); !slices.ContainsFunc(pub, func(p *store.ListEntry) bool { return p.Value == "old.example" }) {
		t.Fatal("an entry due a re-check stopped blocking")
	}
	serial, _ := e.st.ListSerial(ctx)
	w = e.post("alice", fmt.Sprintf("/desk/list/%d/verify", oldID), url.Values{"due": {"1"}})
	ntcWant(t, "verify", w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/desk/list?due=1" {
		t.Fatalf("after verify: %s", loc)
	}
	got, _ := e.st.ListEntryByID(ctx, oldID)
	if !got.LastVerified.Equal(e.now) || !got.Expires.Equal(e.now.Add(e.svc.Config().ListRecheckAfter)) {
		t.Fatalf("verified entry %v %v", got.LastVerified, got.Expires)
	}
	if s, _ := e.st.ListSerial(ctx); s != serial+1 {
		t.Fatalf("serial %d after a re-check, want %d", s, serial+1)
	}
	if w := e.get("alice", "/desk/list?due=1"); strings.Contains(w.Body.String(), "/verify") || !strings.Contains(w.Body.String(), "0 mục cần kiểm tra lại") {
		t.Fatalf("due view after the re-check:\n%s", w.Body.String())
	}
	ntcWant(t, "delist", e.post("bob", fmt.Sprintf("/desk/list/%d/delist", newID), url.Values{"reason": {"gone"}}), http.StatusSeeOther)
	w = e.post("alice", fmt.Sprintf("/desk/list/%d/verify", newID), nil)
	ntcWant(t, "verify a tombstone", w, http.StatusConflict)
	if !strings.Contains(w.Body.String(), "Chỉ kiểm tra lại được mục đang chặn") {
		t.Fatalf("refusal not explained:\n%s", w.Body.String())
	}
	ntcWant(t, "verify a missing entry", e.post("alice", "/desk/list/9999/verify", nil), http.StatusNotFound)
}

// TestListVerifyRouteAccess checks the re-check route's guard: staff of the desk only, and the
// CSRF token.
func TestListVerifyRouteAccess(t *testing.T) {
	e := newNtcEnv(t)
	for _, who := range []string{"", "op", "alice", "bob", "admin", "tube"} {
		w := e.post(who, "/desk/list/1/verify", nil)
		allowed := who == "alice" || who == "bob"
		refused := w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/login")
		if allowed == refused {
			t.Errorf("as %q: %d (allowed %v)", who, w.Code, allowed)
		}
		if allowed {
			r := httptest.NewRequest("POST", "/desk/list/1/verify", strings.NewReader("csrf=wrong"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Test-User", who)
			cw := httptest.NewRecorder()
			e.srv.ServeHTTP(cw, r)
			if cw.Code != http.StatusForbidden {
				t.Errorf("as %q without the CSRF token: %d", who, cw.Code)
			}
		}
	}
	if w := e.get("alice", "/desk/list?due=1"); w.Code != 200 {
		t.Errorf("due view: %d", w.Code)
	}
	if w := e.get("op", "/desk/list?due=1"); w.Code == 200 {
		t.Errorf("due view for an operator: %d", w.Code)
	}
}

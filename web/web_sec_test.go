package web

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secAuth is a fixed session for the guard's tests.
type secAuth struct{ p *Principal }

func (a secAuth) Session(*http.Request) (*Principal, error)       { return a.p, nil }
func (a secAuth) Token(*http.Request, string) (*Principal, error) { return nil, nil }

// The guard reads the CSRF field of a staff form with the body bounded and never through
// ParseMultipartForm's temporary files: a multipart body (the phone intake with a screenshot
// attached by mistake) stays in memory and reaches the handler whole.
func TestStaffFormBodyIsBoundedAndNeverSpills(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where multipart would spill file parts
	var seen struct {
		body   []byte
		parsed url.Values
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.parsed = r.PostForm
		seen.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(299)
	})
	s := New(Options{Auth: secAuth{&Principal{UserID: 1, Login: "op", Roles: []Role{RoleOperator}, CSRF: "tok"}}, Logger: discardLogger()})
	s.Handle(Route{Method: "POST", Pattern: "/desk/x", Access: Staff(RoleOperator), Handler: h})

	multi := func(csrf string, file []byte) (*bytes.Buffer, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("description", "words")
		if file != nil {
			fw, _ := mw.CreateFormFile("screenshot", "shot.png")
			_, _ = fw.Write(file)
		}
		_ = mw.WriteField("csrf", csrf)
		_ = mw.Close()
		return &b, mw.FormDataContentType()
	}
	do := func(body io.Reader, ct string) int {
		r := httptest.NewRequest("POST", "/desk/x", body)
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}

	// A multipart form with a file: the token is found, the body passes on untouched.
	body, ct := multi("tok", bytes.Repeat([]byte{0x89}, 200<<10))
	want := body.Bytes()
	if code := do(bytes.NewReader(want), ct); code != 299 {
		t.Fatalf("multipart with the token: %d", code)
	}
	if !bytes.Equal(seen.body, want) || seen.parsed != nil {
		t.Fatalf("the handler did not get the multipart body as sent (%d bytes, parsed %v)", len(seen.body), seen.parsed)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("the guard wrote %d temporary files", len(ents))
	}
	// The wrong token in a multipart form is refused.
	body, ct = multi("nope", nil)
	if code := do(body, ct); code != http.StatusForbidden {
		t.Fatalf("multipart with a wrong token: %d", code)
	}
	// Larger than StaffBodyLimit: refused before any parsing, in either encoding.
	body, ct = multi("tok", bytes.Repeat([]byte{1}, StaffBodyLimit+1))
	if code := do(body, ct); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized multipart: %d", code)
	}
	big := "csrf=tok&note=" + strings.Repeat("a", StaffBodyLimit)
	if code := do(strings.NewReader(big), "application/x-www-form-urlencoded"); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized urlencoded: %d", code)
	}
	// The header token does not lift the limit: a handler parsing the body gets at most
	// StaffBodyLimit.
	r := httptest.NewRequest("POST", "/desk/x", strings.NewReader(big))
	r.Header.Set("X-CSRF-Token", "tok")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 299 || len(seen.body) > StaffBodyLimit {
		t.Fatalf("header token: %d, handler read %d bytes", w.Code, len(seen.body))
	}
	// A normal urlencoded form still reaches the handler parsed.
	if code := do(strings.NewReader("csrf=tok&note=hello"), "application/x-www-form-urlencoded"); code != 299 || seen.parsed.Get("note") != "hello" {
		t.Fatalf("urlencoded form: %d %v", code, seen.parsed)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", filepath.Join(tmp, ents[0].Name()))
	}
}

// A session that has not passed its second factor is nobody on public pages either: it must
// not be shown as logged in or be recorded as the actor of a report.
func TestPublicRoutesIgnorePendingSession(t *testing.T) {
	var got *Principal
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = PrincipalFrom(r.Context()) })
	for _, pending := range []bool{true, false} {
		s := New(Options{Auth: secAuth{&Principal{UserID: 1, Login: "a", Roles: []Role{RoleAnalyst}, MFAPending: pending}}, Logger: discardLogger()})
		s.Handle(Route{Method: "GET", Pattern: "/report", Access: Public, Handler: h})
		got = nil
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/report", nil))
		if (got != nil) == pending {
			t.Fatalf("pending %v: principal on a public page = %v", pending, got)
		}
	}
}

// Every staff answer is kept out of caches unless its handler says otherwise.
func TestStaffAnswersAreNotStored(t *testing.T) {
	s := New(Options{Auth: secAuth{&Principal{UserID: 1, Login: "a", Roles: []Role{RoleAnalyst}, CSRF: "tok"}}, Logger: discardLogger()})
	s.Handle(
		Route{Method: "GET", Pattern: "/desk/notices", Access: Staff(RoleAnalyst), Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})},
		Route{Method: "GET", Pattern: "/desk/stats.csv", Access: Staff(RoleAnalyst), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "private, max-age=60")
		})},
	)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/desk/notices", nil))
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("staff page Cache-Control %q", got)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/desk/stats.csv", nil))
	if got := w.Header().Get("Cache-Control"); got != "private, max-age=60" {
		t.Fatalf("handler's own Cache-Control replaced: %q", got)
	}
}

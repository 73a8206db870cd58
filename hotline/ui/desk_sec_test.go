package ui

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
)

// The phone intake never takes media: a multipart form with a screenshot is refused by the
// intake's own check (the guard reads the CSRF field without parsing the body into temporary
// files, and hands the body on whole), and nothing of it touches the disk.
func TestDeskIntakeMultipartFileRefusedInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newDeskEnv(t)
	send := func(withFile bool) *httptest.ResponseRecorder {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("csrf", e.users["op"].CSRF)
		_ = mw.WriteField("harm", "VIO.BULLY")
		_ = mw.WriteField("description", "người gọi kể lại sự việc bắt nạt trên mạng")
		if withFile {
			fw, _ := mw.CreateFormFile("screenshot", "shot.png")
			_, _ = fw.Write(bytes.Repeat(deskPNG(t), 2000))
		}
		_ = mw.Close()
		r := httptest.NewRequest("POST", "/desk/intake", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		r.Header.Set("Accept", "text/html")
		r.Header.Set("X-Desk-As", "op")
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		return w
	}
	if w := send(true); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("intake with a screenshot: %d\n%s", w.Code, w.Body)
	}
	if _, n, _ := e.st.Cases(t.Context(), store.CaseFilter{Priority: store.AnyPriority}); n != 0 {
		t.Fatalf("%d cases stored from a refused intake", n)
	}
	if w := send(false); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "KS-") {
		t.Fatalf("multipart intake without a file: %d\n%s", w.Code, w.Body)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("%d temporary files written", len(ents))
	}
}

// A case is assigned only to an active analyst or supervisor: not to an operator or a partner,
// who cannot open it.
func TestDeskAssignOnlyToCaseStaff(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.com/a"}})
	path := fmt.Sprintf("/desk/cases/%d/assign", c.ID)
	assign := func(who string) int {
		v := url.Values{"version": {strconv.FormatInt(e.caseNow(c.ID).Version, 10)}, "assignee": {strconv.FormatInt(e.users[who].UserID, 10)}}
		return e.do("POST", path, "lan", v).Code
	}
	for _, who := range []string{"op", "partner", "admin"} {
		if code := assign(who); code != http.StatusUnprocessableEntity {
			t.Errorf("assign to %s: %d", who, code)
		}
	}
	if e.caseNow(c.ID).AssigneeID != 0 {
		t.Fatal("the case was assigned to someone who cannot open it")
	}
	if code := assign("minh"); code != http.StatusSeeOther || e.caseNow(c.ID).AssigneeID != e.users["minh"].UserID {
		t.Fatalf("assign to an analyst: %d", code)
	}
}

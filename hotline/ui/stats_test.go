package ui

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// statsAuth authenticates by a test header naming a role.
type statsAuth struct{}

func (statsAuth) Session(r *http.Request) (*web.Principal, error) {
	role := r.Header.Get("X-Stats-Role")
	if role == "" {
		return nil, nil
	}
	return &web.Principal{UserID: 9, Login: role, Name: "Cán bộ " + role, Roles: []web.Role{web.Role(role)}, CSRF: "c"}, nil
}
func (statsAuth) Token(*http.Request, string) (*web.Principal, error) { return nil, nil }

type statsEnv struct {
	t   *testing.T
	st  *store.Store
	db  *sql.DB // a second connection, for the partners and notices the service cannot make yet
	svc *hotline.Service
	srv *web.Server
	now time.Time
}

func newStatsEnv(t *testing.T) *statsEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ks.db")
	st, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	e := &statsEnv{t: t, st: st, db: db, now: time.Date(2025, 3, 10, 2, 0, 0, 0, time.UTC)}
	cfg := config.Default().Hotline
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = hotline.New(hotline.Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg },
		Now: func() time.Time { return e.now }, Logger: log})
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = web.New(web.Options{Auth: statsAuth{}, LoginPath: "/login", Logger: log})
	e.srv.Handle(New(e.svc, views, log).statsRoutes()...)
	return e
}

func (e *statsEnv) get(path, role, accept string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	if role != "" {
		r.Header.Set("X-Stats-Role", role)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// seed stores a few reports in the first days of March 2025 (Viet Nam time), moves one case
// along, and records a notice to a partner whose name is a formula.
func (e *statsEnv) seed() (caseRef string) {
	e.t.Helper()
	ctx := e.t.Context()
	at := func(d, h, m int) time.Time { return time.Date(2025, 3, d, h, m, 0, 0, time.UTC) }
	submit := func(when time.Time, sub hotline.Submission) *store.Report {
		e.now = when
		sub.Language = "vi"
		rc, err := e.svc.Submit(ctx, sub, hotline.Actor{Label: "anonymous"})
		if err != nil {
			e.t.Fatal(err)
		}
		r, err := e.st.ReportByRef(ctx, rc.Ref)
		if err != nil {
			e.t.Fatal(err)
		}
		return r
	}
	r := submit(at(1, 16, 30), hotline.Submission{Channel: "web", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/a"}, Province: "Hà Nội",
		Description: "Mô tả bí mật", Contact: "0912 345 678"})
	for _, s := range []struct {
		at time.Time
		to string
	}{{at(1, 16, 45), "triaged"}, {at(1, 17, 0), "in_assessment"}, {at(1, 18, 30), "actionable"}} {
		e.now = s.at
		if _, err := e.svc.ChangeCase(ctx, hotline.Actor{UserID: 0, Label: "user:9:lan"}, r.CaseID, hotline.Change{To: s.to}); err != nil {
			e.t.Fatal(err)
		}
	}
	submit(at(1, 17, 30), hotline.Submission{Channel: "web", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/a"}})
	submit(at(2, 3, 0), hotline.Submission{Channel: "zalo", Harm: "CSE.GROOM", URLs: []string{"https://example.vn/b"}, Province: "+84 Huế"})
	submit(at(2, 4, 0), hotline.Submission{Channel: "phone", Harm: "SH.SELFINJ", URLs: []string{"https://example.vn/c"}})
	submit(at(2, 5, 0), hotline.Submission{Channel: "app", Harm: "FRAUD.SCAM", URLs: []string{"https://example.vn/d"}})
	var partner int64
	if err := e.db.QueryRowContext(ctx, `INSERT INTO partners (name, kind, created_us) VALUES ('=HYPERLINK("http://x")', 'platform', 1) RETURNING id`).Scan(&partner); err != nil {
		e.t.Fatal(err)
	}
	sent := at(2, 3, 0)
	for i, removal := range []time.Duration{90 * time.Minute, 0, 3 * time.Hour, 26 * time.Hour} {
		var act int64
		state := "sent"
		if removal > 0 {
			act, state = sent.Add(removal).UnixMicro(), "actioned"
		}
		if _, err := e.db.ExecContext(ctx, `INSERT INTO notices (ref, case_id, partner_id, state, ground, category, created_us, sent_us, actioned_us,
			action_taken, updated_us) VALUES ($1, $2, $3, $4, 'illegal_vn', 'VIO.BULLY', 1, $5, $6, 'removed', 1)`,
			"N-"+string(rune('A'+i)), r.CaseID, partner, state, sent.UnixMicro(), act); err != nil {
			e.t.Fatal(err)
		}
	}
	e.now = at(10, 2, 0)
	c, err := e.st.CaseByID(ctx, r.CaseID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Ref
}

func TestStatsAccess(t *testing.T) {
	e := newStatsEnv(t)
	for _, path := range []string{"/desk/stats", "/desk/stats.csv?kind=daily"} {
		for _, c := range []struct {
			role   string
			accept string
			want   int
		}{
			{"supervisor", "text/html", http.StatusOK},
			{"analyst", "text/html", http.StatusOK},
			{"operator", "text/html", http.StatusForbidden},
			{"partner", "text/html", http.StatusForbidden},
			{"admin", "text/html", http.StatusForbidden},
			{"", "text/html", http.StatusSeeOther},
			{"", "application/json", http.StatusUnauthorized},
		} {
			w := e.get(path, c.role, c.accept)
			if w.Code != c.want {
				t.Errorf("%s as %q: %d, want %d", path, c.role, w.Code, c.want)
			}
			if c.want == http.StatusSeeOther && !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("%s anonymous: sent to %q", path, w.Header().Get("Location"))
			}
		}
	}
}

// statsRawKey finds a catalog key shown as text instead of its translation.
var statsRawKey = regexp.MustCompile(`\b(stats|harm|channel|stage|state|priority|desk)\.[A-Za-z0-9_.]*[A-Za-z0-9_]`)

// statsVisible drops the file names that look like keys.
func statsVisible(body string) string {
	return strings.NewReplacer("/static/stats.css", "", "/static/desk.css", "", "/desk/stats.csv", "").Replace(body)
}

func TestStatsPage(t *testing.T) {
	e := newStatsEnv(t)
	e.seed()
	for _, c := range []struct {
		lang string
		want []string
	}{
		// Triage 15 minutes (one case); removal 1 h 30, 3 h, 26 h → median 3 h, p90 1 day 2 h;
		// the partner acted on 3 of 4 notices; 1 of the 5 reports is a duplicate.
		{"vi", []string{"Thống kê đường dây nóng", "15 phút", "3 giờ", "1 ngày 2 giờ", "75% (3/4)", "(20%)", "Hà Nội", "84 Huế", "Không rõ", "Tiếp nhận"}},
		{"en", []string{"Hotline statistics", "15 min", "3 h", "1 d 2 h", "75% (3/4)", "(20%)", "Hà Nội", "Not given"}},
	} {
		w := e.get("/desk/stats?from=2025-03-01&to=2025-03-02&lang="+c.lang, "analyst", "text/html")
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.lang, w.Code, body)
		}
		if !strings.Contains(body, `<html lang="`+c.lang+`">`) {
			t.Errorf("%s: page not in %s", c.lang, c.lang)
		}
		for _, s := range c.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: %q missing", c.lang, s)
			}
		}
		visible := statsVisible(body)
		if m := statsRawKey.FindAllString(visible, -1); len(m) > 0 {
			t.Errorf("%s: raw keys %v", c.lang, m)
		}
		// Accessible charts without script or inline style: the CSP allows neither.
		if n := strings.Count(body, `role="img"`); n != 3 {
			t.Errorf("%s: %d charts with role=img, want 3", c.lang, n)
		}
		for _, id := range []string{"stats-harm", "stats-channel", "stats-rates"} {
			if !strings.Contains(body, `aria-labelledby="`+id+`-t `+id+`-d"`) || !strings.Contains(body, `<title id="`+id+`-t">`) ||
				!strings.Contains(body, `<desc id="`+id+`-d">`) {
				t.Errorf("%s: chart %s lacks its title and description", c.lang, id)
			}
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script") {
			t.Errorf("%s: inline style or script", c.lang)
		}
		if n := strings.Count(body, "<table"); n != 5 {
			t.Errorf("%s: %d tables, want 5 (three charts, open cases, provinces)", c.lang, n)
		}
		if !strings.Contains(body, `href="/desk/stats.csv?from=2025-03-01&amp;kind=cases&amp;to=2025-03-02"`) {
			t.Errorf("%s: no CSV link for the period", c.lang)
		}
		if strings.Contains(body, "Mô tả bí mật") || strings.Contains(body, "0912") {
			t.Errorf("%s: personal data on the statistics page", c.lang)
		}
		// Patterns as well as colours, so the series read in greyscale.
		if !strings.Contains(body, `<pattern id="stats-harm-p1"`) || !strings.Contains(body, `fill="url(#stats-harm-p0)"`) {
			t.Errorf("%s: no patterned fills", c.lang)
		}
	}

	// The default period is the last 30 days; an empty one draws empty charts.
	w := e.get("/desk/stats", "supervisor", "text/html")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="2025-02-09"`) || !strings.Contains(w.Body.String(), `value="2025-03-10"`) {
		t.Errorf("default period: %d", w.Code)
	}
	w = e.get("/desk/stats?from=2024-01-01&to=2024-01-31", "supervisor", "text/html")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Không có báo cáo trong khoảng thời gian này") {
		t.Errorf("empty period: %d", w.Code)
	}
	for _, q := range []string{"from=2025-13-01", "from=2025-03-05&to=2025-03-01", "from=2020-01-01&to=2025-01-01"} {
		w = e.get("/desk/stats?"+q+"&lang=en", "supervisor", "text/html")
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `role="alert"`) || statsRawKey.MatchString(statsVisible(w.Body.String())) {
			t.Errorf("%s: %d", q, w.Code)
		}
	}
}

func TestStatsCSV(t *testing.T) {
	e := newStatsEnv(t)
	caseRef := e.seed()
	get := func(kind string) (*httptest.ResponseRecorder, [][]string) {
		w := e.get("/desk/stats.csv?from=2025-03-01&to=2025-03-02&kind="+kind, "supervisor", "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", kind, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", kind, ct)
		}
		if cd, want := w.Header().Get("Content-Disposition"), `attachment; filename="kidshield-`+kind+`-2025-03-01_2025-03-02.csv"`; cd != want {
			t.Errorf("%s: Content-Disposition %q, want %q", kind, cd, want)
		}
		b, ok := bytes.CutPrefix(w.Body.Bytes(), []byte("\xef\xbb\xbf"))
		if !ok {
			t.Fatalf("%s: no byte order mark", kind)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return w, rows
	}
	_, rows := get("daily")
	want := [][]string{
		{"date", "harm", "channel", "reports", "duplicates"},
		{"2025-03-01", "VIO.BULLY", "web", "1", "0"},
		{"2025-03-02", "CSE.GROOM", "zalo", "1", "0"},
		{"2025-03-02", "FRAUD.SCAM", "app", "1", "0"},
		{"2025-03-02", "SH.SELFINJ", "phone", "1", "0"},
		{"2025-03-02", "VIO.BULLY", "web", "1", "1"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("daily\n got %q\nwant %q", rows, want)
	}
	w, rows := get("cases")
	if len(rows) != 5 || !slices.Equal(rows[1], []string{caseRef, "2025-03-01 23:30:00", "VIO.BULLY", "P2", "web", "Hà Nội", "actionable", "15", "120", "", ""}) {
		t.Errorf("cases %q", rows)
	}
	if rows[2][5] != "'+84 Huế" {
		t.Errorf("province not guarded: %q", rows[2][5])
	}
	if strings.Contains(w.Body.String(), "Mô tả bí mật") || strings.Contains(w.Body.String(), "0912") {
		t.Error("personal data in the cases export")
	}
	_, rows = get("notices")
	if len(rows) != 5 || rows[1][1] != `'=HYPERLINK("http://x")` || rows[1][5] != "90" || rows[2][3] != "" || rows[2][5] != "" || rows[4][5] != "1560" {
		t.Errorf("notices %q", rows)
	}
	for _, q := range []string{"kind=everything", "kind=cases&from=nope"} {
		if w := e.get("/desk/stats.csv?"+q, "supervisor", ""); w.Code != http.StatusUnprocessableEntity || strings.Contains(w.Header().Get("Content-Type"), "csv") {
			t.Errorf("%s: %d %s", q, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

// TestStatsLazyWriter checks that a large export streams and that a small one is held until it
// is complete.
func TestStatsLazyWriter(t *testing.T) {
	w := httptest.NewRecorder()
	started := 0
	lw := &statsLazyWriter{w: w, start: func() { started++; w.Header().Set("X-Started", "1") }}
	lw.Write([]byte("small"))
	if started != 0 || w.Body.Len() != 0 {
		t.Fatal("a small answer left before its end")
	}
	big := bytes.Repeat([]byte("x"), statsHold)
	lw.Write(big)
	if started != 1 || w.Body.Len() != statsHold+5 {
		t.Fatalf("a large answer was held: started %d, %d bytes", started, w.Body.Len())
	}
	lw.Write([]byte("tail"))
	lw.finish()
	if started != 1 || w.Body.String() != "small"+string(big)+"tail" {
		t.Fatalf("body mangled (started %d)", started)
	}
}

func TestStatsPct(t *testing.T) {
	for _, c := range []struct {
		n, of int
		lang  string
		want  string
	}{{0, 0, "vi", "0"}, {0, 5, "vi", "0"}, {3, 4, "en", "75"}, {1, 3, "vi", "33,3"}, {1, 3, "en", "33.3"}, {29, 100, "en", "29"},
		{9996, 10000, "en", "99.9"}, {7, 7, "vi", "100"}, {1, 217, "en", "0.4"}} {
		if got := statsPct(c.n, c.of, c.lang); got != c.want {
			t.Errorf("statsPct(%d, %d, %s) = %q, want %q", c.n, c.of, c.lang, got, c.want)
		}
	}
}

func TestStatsChartGeometry(t *testing.T) {
	for m, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 5: 5, 6: 10, 11: 20, 20: 20, 21: 50, 99: 100, 101: 200, 4999: 5000} {
		if got := statsNiceMax(m); got != want {
			t.Errorf("statsNiceMax(%d) = %d, want %d", m, got, want)
		}
	}
	for top, want := range map[int][]int{1: {0, 1}, 5: {0, 1, 2, 3, 4, 5}, 10: {0, 2, 4, 6, 8, 10}, 20: {0, 5, 10, 15, 20}, 200: {0, 50, 100, 150, 200}} {
		if got := statsTicks(top); !slices.Equal(got, want) {
			t.Errorf("statsTicks(%d) = %v, want %v", top, got, want)
		}
	}
	days := []string{"2025-03-01", "2025-03-02", "2025-03-03"}
	c := statsStacked("x", "stats.harm", days, statsHarmSeries([]store.HotlineSeries{
		{Key: "CSE.CSAM", Counts: []int{2, 0, 1}, Total: 3},
		{Key: "CSE.GROOM", Counts: []int{1, 0, 0}, Total: 1},
		{Key: "VIO.BULLY", Counts: []int{1, 0, 4}, Total: 5},
		{Key: "NEW.THING", Counts: []int{0, 0, 1}, Total: 1}, // unknown group: OTHER
	}))
	if c.Total != 10 || c.Max != 6 || len(c.Series) != 7 || c.Series[0].Total != 4 || c.Series[6].Total != 1 {
		t.Fatalf("chart totals: %+v", c)
	}
	top := float64(statsNiceMax(6)) // 10
	for i, b := range c.Bars {
		// The stack reaches the height of the day's total and sits on the axis.
		var h float64
		for _, s := range b.Segs {
			h += s.H
		}
		if want := float64(c.Rows[i].Total) / top * c.PlotH; h < want-0.05 || h > want+0.05 {
			t.Errorf("day %d: stack height %v, want %v", i, h, want)
		}
		if len(b.Segs) > 0 {
			last := b.Segs[0]
			if bottom := last.Y + last.H; bottom < c.Bottom-0.01 || bottom > c.Bottom+0.01 {
				t.Errorf("day %d: first segment ends at %v, not on the axis %v", i, bottom, c.Bottom)
			}
		}
	}
	if len(c.Bars[1].Segs) != 0 {
		t.Errorf("an empty day has segments")
	}
	// Every series has its own pattern.
	seen := map[string]bool{}
	for _, s := range c.Series {
		k := s.Fill.Color + s.Fill.Path + map[bool]string{true: "dot"}[s.Fill.Dot]
		if seen[k] {
			t.Errorf("two series share the fill %s", k)
		}
		seen[k] = true
	}
}

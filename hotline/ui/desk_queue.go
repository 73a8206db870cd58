package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// deskPageSize is how many cases one queue page lists: enough to see the day's work, few enough
// to read.
const deskPageSize = 50

// deskFilter is the queue's filter as the form shows it.
type deskFilter struct {
	States   []string
	State    string // the first of States, for the form's select
	Harm     string
	Priority string // "", "0".."4"
	Channel  string
	Assignee string // "", "me", "unassigned", or a user id
	Province string
	AgeBand  string
	Open     bool
}

// deskParseFilter maps the queue's GET parameters to a store filter. Unknown values are dropped
// rather than refused: a stale bookmark still opens the queue.
func deskParseFilter(q url.Values, me int64) (store.CaseFilter, deskFilter) {
	f := store.CaseFilter{Priority: store.AnyPriority}
	var form deskFilter
	for _, s := range q["state"] {
		if lifecycle.Case.Valid(s) && !slices.Contains(f.States, s) {
			f.States = append(f.States, s)
		}
	}
	form.States = f.States
	if len(f.States) > 0 {
		form.State = f.States[0]
	}
	if h := strings.TrimSpace(q.Get("harm")); taxonomy.Valid(h) || slices.Contains(deskHarmGroups(), h) {
		f.Harm, form.Harm = h, h
	}
	if p := strings.TrimPrefix(strings.ToUpper(q.Get("priority")), "P"); p != "" {
		if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 4 {
			f.Priority, form.Priority = n, strconv.Itoa(n)
		}
	}
	if c := q.Get("channel"); slices.Contains(taxonomy.Channels, c) {
		f.Channel, form.Channel = c, c
	}
	if a := q.Get("age_band"); slices.Contains(taxonomy.AgeBands, a) {
		f.AgeBand, form.AgeBand = a, a
	}
	f.Province = strings.TrimSpace(q.Get("province"))
	form.Province = f.Province
	switch a := q.Get("assignee"); a {
	case "":
	case "me":
		if me > 0 {
			f.Assignee, form.Assignee = me, a
		}
	case "unassigned":
		f.Assignee, form.Assignee = -1, a
	default:
		if id, err := strconv.ParseInt(a, 10, 64); err == nil && id > 0 {
			f.Assignee, form.Assignee = id, a
		}
	}
	// Open cases only, unless asked otherwise: the filter form says it was submitted (f=1), so
	// an unticked box (absent from the query) means "all"; a link with explicit states shows
	// those states whatever they are.
	switch {
	case q.Get("open") != "":
		f.OpenOnly = q.Get("open") == "1"
	case q.Get("f") != "" || len(f.States) > 0:
		f.OpenOnly = false
	default:
		f.OpenOnly = true
	}
	form.Open = f.OpenOnly
	return f, form
}

// deskHarmGroups are the first levels of the taxonomy as queue filters ("CSE.", "VIO.", ...).
func deskHarmGroups() []string {
	var out []string
	for _, h := range taxonomy.Harms {
		if i := strings.IndexByte(h.Code, '.'); i > 0 && !slices.Contains(out, h.Code[:i+1]) {
			out = append(out, h.Code[:i+1])
		}
	}
	return out
}

// deskRow is one line of the queue.
type deskRow struct {
	*store.Case
	Received time.Time // local
	SLA      deskSLA
	Stage    string
}

type deskQueueData struct {
	Filter   deskFilter
	Rows     []deskRow
	Total    int
	Page     int
	Pages    int
	PrevURL  string
	NextURL  string
	CanOpen  bool // analysts and supervisors open cases; operators see the queue only
	Groups   []string
	Harms    []taxonomy.Harm
	States   []string
	Channels []string
	AgeBands []string
	Prios    []int
	Now      time.Time
}

func (u *UI) deskQueue(w http.ResponseWriter, r *http.Request) {
	p := web.PrincipalFrom(r.Context())
	q := r.URL.Query()
	f, form := deskParseFilter(q, p.UserID)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f.Limit, f.Offset = deskPageSize, (page-1)*deskPageSize
	cases, total, err := u.svc.Store().Cases(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.svc.Now()
	cat := deskCat(r)
	d := deskQueueData{Filter: form, Total: total, Page: page, Pages: max(1, (total+deskPageSize-1)/deskPageSize),
		CanOpen: p.HasAny(web.RoleAnalyst, web.RoleSupervisor), Groups: deskHarmGroups(), Harms: taxonomy.Harms,
		States: lifecycle.Case.States(), Channels: taxonomy.Channels, AgeBands: taxonomy.AgeBands, Prios: []int{0, 1, 2, 3, 4}, Now: deskLocal(now)}
	for _, c := range cases {
		d.Rows = append(d.Rows, deskRow{Case: c, Received: deskLocal(c.Received), Stage: lifecycle.Stage(c.State),
			SLA: deskSLAOf(cat, c.SLADue, now, c.Assessed, lifecycle.CaseOpen(c.State) && c.State != lifecycle.CaseResolved)})
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" {
				v[k] = vs
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return "/desk"
		}
		return "/desk?" + v.Encode()
	}
	if page > 1 {
		d.PrevURL = link(page - 1)
	}
	if page < d.Pages {
		d.NextURL = link(page + 1)
	}
	u.render(w, r, http.StatusOK, "desk_queue", d)
}

package ui

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// The statistics pages: charts drawn on the server as inline SVG (no script, no library), each
// followed by the same numbers as a table, and the CSV exports. Colours come with patterns so
// the charts read in greyscale and for colour-blind readers; fills are SVG presentation
// attributes, which the CSP allows (no style attribute anywhere).

// statsRoutes: supervisors and analysts read the statistics; operators and partners do not.
func (u *UI) statsRoutes() []web.Route {
	staff := web.Staff(web.RoleSupervisor, web.RoleAnalyst)
	return []web.Route{
		{Method: http.MethodGet, Pattern: "/desk/stats", Access: staff, Handler: http.HandlerFunc(u.statsPage)},
		{Method: http.MethodGet, Pattern: "/desk/stats.csv", Access: staff, Handler: http.HandlerFunc(u.statsCSV)},
	}
}

// statsView is what stats_page renders.
type statsView struct {
	From, To string // the form's dates, inclusive
	Errors   []hotline.FieldError
	Ready    bool // the period is valid and the figures below are filled

	Days       int
	Reports    int
	Duplicates int
	DupPct     string
	Cases      int

	Harm, Channel statsChart
	Triage        statsClock
	Assess        statsClock
	Removal       statsClock
	Rates         statsRates

	Open       []store.HotlineOpenStage
	OpenTotals [5]int
	OpenTotal  int
	Provinces  []store.HotlineCount

	CSV []statsLink
}

type statsLink struct{ Kind, URL string }

func (u *UI) statsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := &statsView{From: q.Get("from"), To: q.Get("to")}
	p, err := hotline.ParsePeriod(v.From, v.To, u.svc.Now(), hotline.StatsLocation)
	var verr hotline.ValidationError
	if errors.As(err, &verr) {
		v.Errors = verr
		u.render(w, r, http.StatusUnprocessableEntity, "stats_page", v)
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	st, err := u.svc.Stats(r.Context(), p)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	statsFill(v, p, st, i18n.FromRequest(r))
	u.render(w, r, http.StatusOK, "stats_page", v)
}

// statsFill turns the store's figures into what the template draws.
func statsFill(v *statsView, p hotline.Period, st *store.HotlineStats, lang string) {
	v.Ready = true
	v.From, v.To = p.First(), p.Last()
	v.Days = len(st.Days)
	v.Reports, v.Duplicates, v.Cases = st.Reports, st.Duplicates, st.Cases
	v.DupPct = statsPct(st.Duplicates, st.Reports, lang)
	v.Harm = statsStacked("stats-harm", "stats.harm", st.Days, statsHarmSeries(st.ByHarm))
	v.Channel = statsStacked("stats-channel", "stats.channel", st.Days, statsChannelSeries(st.ByChannel))
	v.Triage = statsClockOf("stats.triage", st.Triage)
	v.Assess = statsClockOf("stats.assess", st.Assessment)
	v.Removal = statsClockOf("stats.removal", st.Removal)
	v.Rates = statsRatesOf(st.Partners, lang)
	v.Open = st.Open
	for _, s := range st.Open {
		for i, n := range s.ByPriority {
			v.OpenTotals[i] += n
		}
		v.OpenTotal += s.Total
	}
	v.Provinces = st.Provinces
	for _, k := range hotline.CSVKinds {
		q := url.Values{"from": {v.From}, "to": {v.To}, "kind": {k}}
		v.CSV = append(v.CSV, statsLink{Kind: k, URL: "/desk/stats.csv?" + q.Encode()})
	}
}

// statsPct writes a share as a percentage with at most one decimal, rounded down (99.96% is not
// "100"), with the language's decimal separator.
// Integers throughout: 29 of 100 is 29, not the 28.9 a float might floor to.
func statsPct(n, of int, lang string) string {
	if of <= 0 {
		return "0"
	}
	pm := n * 1000 / of // per mille
	s := strconv.Itoa(pm / 10)
	if pm%10 != 0 {
		sep := "."
		if lang == "vi" {
			sep = ","
		}
		s += sep + strconv.Itoa(pm%10)
	}
	return s
}

// statsGroups are the harm groups of the taxonomy, in the order the charts stack them.
var statsGroups = []string{"CSE", "VIO", "SH", "HARM", "PRIV", "FRAUD", "OTHER"}

// statsGroup is the group of a harm code: its prefix; anything unknown is OTHER.
func statsGroup(code string) string {
	g, _, _ := strings.Cut(code, ".")
	if slices.Contains(statsGroups, g) {
		return g
	}
	return "OTHER"
}

// statsSeries is one stacked series: a label key and a count per day.
type statsSeries struct {
	Key      string
	LabelKey string
	Counts   []int
	Total    int
	Fill     statsFillStyle
}

func statsHarmSeries(in []store.HotlineSeries) []statsSeries {
	out := make([]statsSeries, len(statsGroups))
	for i, g := range statsGroups {
		out[i] = statsSeries{Key: g, LabelKey: "stats.group." + g}
	}
	for _, s := range in {
		o := &out[slices.Index(statsGroups, statsGroup(s.Key))]
		o.Counts = statsAdd(o.Counts, s.Counts)
		o.Total += s.Total
	}
	return out
}

// statsChannelSeries keeps the channels that brought reports, in the taxonomy's order; a channel
// the taxonomy does not know (an old value) is counted as "other".
func statsChannelSeries(in []store.HotlineSeries) []statsSeries {
	var out []statsSeries
	var other *statsSeries
	for _, c := range taxonomy.Channels {
		i := slices.IndexFunc(in, func(s store.HotlineSeries) bool { return s.Key == c })
		if i >= 0 && in[i].Total > 0 {
			out = append(out, statsSeries{Key: c, LabelKey: "channel." + c, Counts: slices.Clone(in[i].Counts), Total: in[i].Total})
		}
	}
	for _, s := range in {
		if !slices.Contains(taxonomy.Channels, s.Key) && s.Total > 0 {
			if other == nil {
				other = &statsSeries{Key: "other", LabelKey: "stats.channel_other"}
			}
			other.Counts = statsAdd(other.Counts, s.Counts)
			other.Total += s.Total
		}
	}
	if other != nil {
		out = append(out, *other)
	}
	return out
}

func statsAdd(dst, src []int) []int {
	if dst == nil {
		dst = make([]int, len(src))
	}
	for i, n := range src {
		dst[i] += n
	}
	return dst
}

// statsFillStyle is a colour and a pattern over it, so that two series differ in greyscale too.
// Luminance falls from the first to the last style as well.
type statsFillStyle struct {
	ID    string // the <pattern> id, unique in the page
	Color string
	Path  string // white strokes drawn over the colour ("" for none)
	Dot   bool   // a white dot instead
	Ink   string // the stroke colour
}

var statsPalette = []statsFillStyle{
	{Color: "#7f1d1d"}, // dark red, plain
	{Color: "#c2410c", Path: "M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5"},                 // orange, diagonal
	{Color: "#6d28d9", Dot: true},                                               // purple, dots
	{Color: "#0f766e", Path: "M0,3 H6"},                                         // teal, horizontal lines
	{Color: "#1d4ed8", Path: "M0,3 H6 M3,0 V6"},                                 // blue, grid
	{Color: "#ca8a04", Path: "M3,0 V6", Ink: "#422006"},                         // amber, vertical lines (dark ink)
	{Color: "#d1d5db", Path: "M0,0 L6,6 M-1,5 L1,7 M5,-1 L7,1", Ink: "#374151"}, // light grey, back diagonal
	{Color: "#f9a8d4", Path: "M0,6 L6,0 M0,0 L6,6", Ink: "#831843"},             // pink, cross-hatch
}

// Chart geometry (SVG user units; the SVG scales with the page through its viewBox).
const (
	statsW      = 720
	statsH      = 280
	statsLeft   = 44
	statsRight  = 10
	statsTop    = 12
	statsBottom = 36
)

// statsChart is a stacked bar chart of counts per day.
type statsChart struct {
	ID                string
	TitleKey, DescKey string // DescKey takes the total and the number of days
	Right, TickX      float64
	LabelY            float64
	CenterX, CenterY  float64 // where "no reports" is written
	W, H              int
	Left, Top         int
	PlotW, PlotH      float64
	Bottom            float64 // y of the x axis
	Series            []statsSeries
	Bars              []statsBar
	YTicks            []statsTick
	XLabels           []statsTick
	Rows              []statsRow
	Total             int
	Max               int
	HasData           bool
	TotalsBySeries    []int
}

type statsBar struct {
	X, W  float64
	Day   string
	Total int
	Segs  []statsSeg
}

type statsSeg struct {
	Y, H     float64
	N        int
	LabelKey string
	Fill     string
}

type statsTick struct {
	X, Y  float64
	Label string
}

// statsRow is one day of a chart's table.
type statsRow struct {
	Day    string
	Counts []int
	Total  int
}

func statsStacked(id, key string, days []string, series []statsSeries) statsChart {
	c := statsChart{ID: id, TitleKey: key + ".title", DescKey: key + ".desc", W: statsW, H: statsH, Left: statsLeft, Top: statsTop,
		PlotW: statsW - statsLeft - statsRight, PlotH: statsH - statsTop - statsBottom}
	c.Bottom = float64(statsTop) + c.PlotH
	c.Right, c.TickX, c.LabelY = float64(statsLeft)+c.PlotW, float64(statsLeft-6), c.Bottom+16
	c.CenterX, c.CenterY = float64(statsLeft)+c.PlotW/2, float64(statsTop)+c.PlotH/2
	for i := range series {
		f := statsPalette[i%len(statsPalette)]
		f.ID = fmt.Sprintf("%s-p%d", id, i)
		if f.Ink == "" {
			f.Ink = "#ffffff"
		}
		series[i].Fill = f
		if series[i].Counts == nil {
			series[i].Counts = make([]int, len(days))
		}
	}
	c.Series = series
	for d, day := range days {
		row := statsRow{Day: day}
		for _, s := range series {
			row.Counts = append(row.Counts, s.Counts[d])
			row.Total += s.Counts[d]
		}
		c.Rows = append(c.Rows, row)
		c.Max = max(c.Max, row.Total)
		c.Total += row.Total
	}
	c.HasData = c.Total > 0
	top := statsNiceMax(c.Max)
	for _, v := range statsTicks(top) {
		c.YTicks = append(c.YTicks, statsTick{Y: statsR(c.Bottom - float64(v)/float64(top)*c.PlotH), Label: strconv.Itoa(v)})
	}
	n := max(len(days), 1)
	slot := c.PlotW / float64(n)
	gap := math.Min(slot*0.2, 4)
	every := (len(days) + 11) / 12 // at most 12 day labels under the axis
	for d, row := range c.Rows {
		b := statsBar{X: statsR(float64(statsLeft) + float64(d)*slot + gap/2), W: statsR(slot - gap), Day: row.Day, Total: row.Total}
		y := c.Bottom
		for i, n := range row.Counts {
			if n == 0 {
				continue
			}
			h := float64(n) / float64(top) * c.PlotH
			y -= h
			b.Segs = append(b.Segs, statsSeg{Y: statsR(y), H: statsR(h), N: n, LabelKey: series[i].LabelKey, Fill: "url(#" + series[i].Fill.ID + ")"})
		}
		c.Bars = append(c.Bars, b)
		if d%every == 0 {
			label := row.Day
			if t, err := time.Parse(time.DateOnly, row.Day); err == nil {
				label = t.Format("02/01")
			}
			c.XLabels = append(c.XLabels, statsTick{X: statsR(b.X + b.W/2), Label: label})
		}
	}
	for _, s := range series {
		c.TotalsBySeries = append(c.TotalsBySeries, s.Total)
	}
	return c
}

// statsR rounds a coordinate to hundredths: shorter markup, no visible difference.
func statsR(f float64) float64 { return math.Round(f*100) / 100 }

// statsNiceMax rounds m up to 1, 2 or 5 times a power of ten (at least 1), so the axis has
// round ticks.
func statsNiceMax(m int) int {
	if m <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, k := range []int{1, 2, 5} {
			if k*p >= m {
				return k * p
			}
		}
	}
}

// statsTicks are the y-axis values from 0 to top (a statsNiceMax value) in four or five round
// steps.
func statsTicks(top int) []int {
	step := 1
	switch {
	case top <= 5:
	case strconv.Itoa(top)[0] == '2':
		step = top / 4
	default:
		step = top / 5
	}
	var out []int
	for v := 0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}

// statsClock is a clock's median and p90 as days, hours and minutes.
type statsClock struct {
	TitleKey    string
	NoteKey     string // takes the count
	Count       int
	Median, P90 statsDur
}

type statsDur struct {
	D, H, M int
	Under   bool // under a minute
}

func statsDurOf(d time.Duration) statsDur {
	if d < time.Minute {
		return statsDur{Under: true}
	}
	m := int(d / time.Minute)
	return statsDur{D: m / (24 * 60), H: m / 60 % 24, M: m % 60}
}

func statsClockOf(key string, c store.HotlineClock) statsClock {
	return statsClock{TitleKey: key + ".title", NoteKey: key + ".note", Count: c.Count, Median: statsDurOf(c.Median), P90: statsDurOf(c.P90)}
}

// statsRates is the horizontal bar chart of removal rates per partner.
type statsRates struct {
	W, H           int
	TrackX, ValueX float64
	Track          float64
	Rows           []statsRate
}

type statsRate struct {
	store.HotlinePartnerRate
	Short    string // the name, shortened for the chart
	Y, TextY float64
	BarW     float64
	Pct      string
	Median   statsDur
	HasTime  bool
}

func statsRatesOf(ps []store.HotlinePartnerRate, lang string) statsRates {
	const rowH = 28
	rs := statsRates{W: statsW, TrackX: 210, Track: 400, ValueX: 620}
	rs.H = len(ps)*rowH + 8
	for i, p := range ps {
		short := p.Name
		if r := []rune(short); len(r) > 26 {
			short = string(r[:25]) + "…"
		}
		rs.Rows = append(rs.Rows, statsRate{HotlinePartnerRate: p, Short: short, Y: float64(i*rowH + 4), TextY: float64(i*rowH + 17), BarW: statsR(p.Rate() * rs.Track),
			Pct: statsPct(p.Actioned, p.Sent, lang), Median: statsDurOf(p.Removal.Median), HasTime: p.Removal.Count > 0})
	}
	return rs
}

// statsCSV answers an export. The file is built in memory up to 64 KiB before the first byte
// leaves, so an error early on still becomes a clean error page; past that the rows stream.
func (u *UI) statsCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := q.Get("kind")
	if kind == "" {
		kind = hotline.CSVDaily
	}
	if !slices.Contains(hotline.CSVKinds, kind) {
		u.fail(w, r, hotline.ValidationError{{Field: "kind", Key: "stats.err.kind", Msg: fmt.Sprintf("unknown export %q (daily, cases or notices)", kind)}})
		return
	}
	p, err := hotline.ParsePeriod(q.Get("from"), q.Get("to"), u.svc.Now(), hotline.StatsLocation)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	lw := &statsLazyWriter{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+hotline.CSVName(kind, p)+`"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}}
	err = u.svc.WriteStatsCSV(r.Context(), lw, kind, p, actor(r))
	if err != nil {
		if !lw.started {
			u.fail(w, r, err)
			return
		}
		// Half a file has gone out; the client sees a truncated download.
		u.log.Error("stats export failed midway", "kind", kind, "err", err)
		return
	}
	lw.finish()
}

// statsLazyWriter holds the first bytes of a response until there are enough of them to be sure
// the answer is a success (or the writing ends).
type statsLazyWriter struct {
	w       http.ResponseWriter
	buf     bytes.Buffer
	started bool
	start   func()
}

const statsHold = 64 << 10

func (l *statsLazyWriter) Write(p []byte) (int, error) {
	if l.started {
		return l.w.Write(p)
	}
	l.buf.Write(p)
	if l.buf.Len() >= statsHold {
		if err := l.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (l *statsLazyWriter) flush() error {
	l.started = true
	l.start()
	_, err := l.w.Write(l.buf.Bytes())
	l.buf = bytes.Buffer{}
	return err
}

func (l *statsLazyWriter) finish() {
	if !l.started {
		_ = l.flush()
	}
}

package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// hsTestZone is Viet Nam's time (UTC+7, no daylight saving), built without the tz database so the
// test does not depend on the machine's.
var hsTestZone = time.FixedZone("ICT", 7*3600)

type hsTestCase struct {
	ref, state, province string
	prio                 int
	recv                 time.Time
	triage, assess       time.Duration // 0: not reached
}

func hsInsertCase(t *testing.T, s *Store, c hsTestCase) int64 {
	t.Helper()
	us := func(d time.Duration) int64 {
		if d == 0 {
			return 0
		}
		return c.recv.Add(d).UnixMicro()
	}
	var id int64
	err := s.w.QueryRowContext(t.Context(), `INSERT INTO cases (ref, state, priority, harm, province, channel, received_us, sla_due_us,
		triaged_us, assessed_us, updated_us) VALUES ($1, $2, $3, 'VIO.BULLY', $4, 'web', $5, $5, $6, $7, $5) RETURNING id`,
		c.ref, c.state, c.prio, c.province, c.recv.UnixMicro(), us(c.triage), us(c.assess)).Scan(&id)
	if err != nil {
		t.Fatalf("insert case %s: %v", c.ref, err)
	}
	return id
}

func hsInsertReport(t *testing.T, s *Store, ref string, at time.Time, harm, channel, state string) {
	t.Helper()
	_, err := s.w.ExecContext(t.Context(), `INSERT INTO reports (ref, status_hash, state, channel, received_us, language, harm)
		VALUES ($1, 'x', $2, $3, $4, 'vi', $5)`, ref, state, channel, at.UnixMicro(), harm)
	if err != nil {
		t.Fatalf("insert report %s: %v", ref, err)
	}
}

func hsInsertPartner(t *testing.T, s *Store, name, kind string) int64 {
	t.Helper()
	var id int64
	if err := s.w.QueryRowContext(t.Context(), `INSERT INTO partners (name, kind, created_us) VALUES ($1, $2, 1) RETURNING id`, name, kind).Scan(&id); err != nil {
		t.Fatalf("insert partner %s: %v", name, err)
	}
	return id
}

func hsInsertNotice(t *testing.T, s *Store, ref string, caseID, partner int64, state string, sent time.Time, removal time.Duration, action string) {
	t.Helper()
	var sentUS, actUS int64
	if !sent.IsZero() {
		sentUS = sent.UnixMicro()
		if removal > 0 {
			actUS = sent.Add(removal).UnixMicro()
		}
	}
	_, err := s.w.ExecContext(t.Context(), `INSERT INTO notices (ref, case_id, partner_id, state, ground, category, created_us, sent_us,
		actioned_us, action_taken, updated_us) VALUES ($1, $2, $3, $4, 'illegal_vn', 'CSE.CSAM', 1, $5, $6, $7, 1)`,
		ref, caseID, partner, state, sentUS, actUS, action)
	if err != nil {
		t.Fatalf("insert notice %s: %v", ref, err)
	}
}

func TestHotlineStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		// The period: 1 and 2 March 2025, Viet Nam time = 28 Feb 17:00 UTC to 2 Mar 17:00 UTC.
		from := time.Date(2025, 3, 1, 0, 0, 0, 0, hsTestZone)
		to := time.Date(2025, 3, 3, 0, 0, 0, 0, hsTestZone)
		utc := func(d, h, m, sec int) time.Time { return time.Date(2025, 3, d, h, m, sec, 0, time.UTC) }

		// Reports around the UTC/Viet Nam midnights.
		hsInsertReport(t, s, "R-before", time.Date(2025, 2, 28, 16, 59, 59, 999999000, time.UTC), "CSE.CSAM", "web", "attached") // 23:59:59.999999 on 28 Feb in Hà Nội: outside
		hsInsertReport(t, s, "R1", time.Date(2025, 2, 28, 17, 0, 0, 0, time.UTC), "CSE.CSAM", "web", "attached")                 // 00:00 on 1 Mar in Hà Nội (UTC still says 28 Feb)
		hsInsertReport(t, s, "R2", utc(1, 3, 0, 0), "CSE.CSAM", "web", "duplicate")                                              // 10:00 on 1 Mar
		hsInsertReport(t, s, "R3", utc(1, 16, 59, 59), "VIO.BULLY", "zalo", "attached")                                          // 23:59:59 on 1 Mar
		hsInsertReport(t, s, "R4", utc(1, 17, 0, 0), "VIO.BULLY", "zalo", "attached")                                            // 00:00 on 2 Mar, while UTC says 1 Mar
		hsInsertReport(t, s, "R5", utc(1, 23, 30, 0), "VIO.BULLY", "zalo", "duplicate")                                          // 06:30 on 2 Mar
		hsInsertReport(t, s, "R6", utc(2, 1, 0, 0), "CSE.CSAM", "phone", "attached")                                             // 08:00 on 2 Mar
		hsInsertReport(t, s, "R7", utc(2, 16, 59, 59), "CSE.CSAM", "web", "rejected")                                            // 23:59:59 on 2 Mar
		hsInsertReport(t, s, "R-after", utc(2, 17, 0, 0), "CSE.CSAM", "web", "attached")                                         // 00:00 on 3 Mar: outside

		// Cases received in the period: triage after 10, 20, ... 100 minutes, one not triaged.
		provinces := []string{"Hà Nội", "Hà Nội", "Hà Nội", "Hà Nội", "TP. Hồ Chí Minh", "TP. Hồ Chí Minh", "TP. Hồ Chí Minh", "TP. Hồ Chí Minh", "", "", "Đà Nẵng"}
		assess := []time.Duration{time.Hour, 2 * time.Hour, 5 * time.Hour, 3 * time.Hour}
		// States and priorities, for the open cases (by stage: new, triaged → receive; assigned,
		// needs_info → collect; in_assessment, actionable → verify; referred, resolved → coordinate).
		states := []struct {
			state string
			prio  int
		}{
			{"triaged", 1}, {"triaged", 1}, {"assigned", 2}, {"needs_info", 2}, {"in_assessment", 0},
			{"actionable", 1}, {"referred", 3}, {"resolved", 3}, {"closed", 2}, {"not_actionable", 4}, {"new", 4},
		}
		var firstCase int64
		for i := range 11 {
			c := hsTestCase{ref: fmt.Sprintf("C%02d", i), state: states[i].state, prio: states[i].prio, province: provinces[i],
				recv: from.Add(time.Duration(i) * 3 * time.Hour)}
			if i < 10 {
				c.triage = time.Duration(i+1) * 10 * time.Minute
			}
			if i < len(assess) {
				c.assess = assess[i]
			}
			id := hsInsertCase(t, s, c)
			if i == 0 {
				firstCase = id
			}
		}
		// Outside the period, but open now (it counts in the open cases only) and a closed one.
		hsInsertCase(t, s, hsTestCase{ref: "C-old", state: "monitoring", prio: 1, province: "Huế", recv: from.Add(-time.Hour), triage: time.Minute, assess: time.Minute})
		hsInsertCase(t, s, hsTestCase{ref: "C-late", state: "purged", prio: 1, province: "Huế", recv: to, triage: time.Minute})

		tiktok := hsInsertPartner(t, s, "TikTok", "platform")
		facebook := hsInsertPartner(t, s, "Facebook", "platform")
		police := hsInsertPartner(t, s, "Công an A05", "police")
		sent := from.Add(time.Hour)
		hsInsertNotice(t, s, "N1", firstCase, tiktok, "actioned", sent, 2*time.Hour, "removed")
		hsInsertNotice(t, s, "N2", firstCase, tiktok, "verified", sent, 6*time.Hour, "removed")
		hsInsertNotice(t, s, "N3", firstCase, tiktok, "closed", sent, 30*time.Hour, "disabled")
		hsInsertNotice(t, s, "N4", firstCase, tiktok, "overdue", sent, 0, "")
		hsInsertNotice(t, s, "N5", firstCase, tiktok, "withdrawn", sent, 0, "")                                 // taken back: not counted
		hsInsertNotice(t, s, "N6", firstCase, tiktok, "actioned", from.Add(-time.Hour), time.Minute, "removed") // sent before
		hsInsertNotice(t, s, "N7", firstCase, tiktok, "draft", time.Time{}, 0, "")                              // never sent
		hsInsertNotice(t, s, "N8", firstCase, facebook, "actioned", sent, time.Hour, "geo_blocked")
		hsInsertNotice(t, s, "N9", firstCase, facebook, "disputed", sent, 0, "")
		hsInsertNotice(t, s, "N10", firstCase, police, "acknowledged", to, 0, "") // sent at the end: outside

		st, err := s.HotlineStats(ctx, from, to, hsTestZone)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Days, []string{"2025-03-01", "2025-03-02"}) {
			t.Errorf("days = %v", st.Days)
		}
		// 1 Mar: R1, R2 (dup), R3; 2 Mar: R4, R5 (dup), R6, R7.
		if st.Reports != 7 || st.Duplicates != 2 {
			t.Errorf("reports %d duplicates %d, want 7 and 2", st.Reports, st.Duplicates)
		}
		if got, want := st.DuplicateShare(), 2.0/7.0; got != want {
			t.Errorf("duplicate share %v, want %v", got, want)
		}
		wantDaily := []HotlineDaily{
			{"2025-03-01", "CSE.CSAM", "web", 2, 1},
			{"2025-03-01", "VIO.BULLY", "zalo", 1, 0},
			{"2025-03-02", "CSE.CSAM", "phone", 1, 0},
			{"2025-03-02", "CSE.CSAM", "web", 1, 0},
			{"2025-03-02", "VIO.BULLY", "zalo", 2, 1},
		}
		if !slices.Equal(st.Daily, wantDaily) {
			t.Errorf("daily\n got %v\nwant %v", st.Daily, wantDaily)
		}
		wantHarm := []HotlineSeries{{"CSE.CSAM", []int{2, 2}, 4}, {"VIO.BULLY", []int{1, 2}, 3}}
		wantChannel := []HotlineSeries{{"phone", []int{0, 1}, 1}, {"web", []int{2, 1}, 3}, {"zalo", []int{1, 2}, 3}}
		for _, c := range []struct {
			name      string
			got, want []HotlineSeries
		}{{"by harm", st.ByHarm, wantHarm}, {"by channel", st.ByChannel, wantChannel}} {
			if !slices.EqualFunc(c.got, c.want, func(a, b HotlineSeries) bool {
				return a.Key == b.Key && a.Total == b.Total && slices.Equal(a.Counts, b.Counts)
			}) {
				t.Errorf("%s\n got %v\nwant %v", c.name, c.got, c.want)
			}
		}

		if st.Cases != 11 {
			t.Errorf("cases %d, want 11", st.Cases)
		}
		// Triage: ten values 10..100 min. Nearest rank: median is the ceil(0.5·10) = 5th (50
		// min), p90 the ceil(0.9·10) = 9th (90 min).
		if want := (HotlineClock{10, 50 * time.Minute, 90 * time.Minute}); st.Triage != want {
			t.Errorf("triage %+v, want %+v", st.Triage, want)
		}
		// Assessment: 1, 2, 5, 3 h → sorted 1, 2, 3, 5: median the 2nd (2 h), p90 the
		// ceil(3.6) = 4th (5 h).
		if want := (HotlineClock{4, 2 * time.Hour, 5 * time.Hour}); st.Assessment != want {
			t.Errorf("assessment %+v, want %+v", st.Assessment, want)
		}
		// Removal: N1 2 h, N2 6 h, N3 30 h, N8 1 h → 1, 2, 6, 30: median the 2nd (2 h), p90
		// the 4th (30 h).
		if want := (HotlineClock{4, 2 * time.Hour, 30 * time.Hour}); st.Removal != want {
			t.Errorf("removal %+v, want %+v", st.Removal, want)
		}
		// Facebook 1 of 2 (N8 of N8, N9); TikTok 3 of 4 (N1-N3 of N1-N4; N5 withdrawn, N6
		// before, N7 a draft). TikTok's own clock 2, 6, 30 h: median the 2nd, p90 the 3rd.
		wantPartners := []HotlinePartnerRate{
			{PartnerID: facebook, Name: "Facebook", Kind: "platform", Sent: 2, Actioned: 1, Removal: HotlineClock{1, time.Hour, time.Hour}},
			{PartnerID: tiktok, Name: "TikTok", Kind: "platform", Sent: 4, Actioned: 3, Removal: HotlineClock{3, 6 * time.Hour, 30 * time.Hour}},
		}
		if !slices.Equal(st.Partners, wantPartners) {
			t.Errorf("partners\n got %+v\nwant %+v", st.Partners, wantPartners)
		}
		if r := st.Partners[1].Rate(); r != 0.75 {
			t.Errorf("TikTok rate %v, want 0.75", r)
		}

		// Open now: receive = triaged P1 ×2, new P4; collect = assigned P2, needs_info P2;
		// verify = in_assessment P0, actionable P1; coordinate = referred P3, resolved P3,
		// C-old monitoring P1. closed, not_actionable and purged are not open.
		wantOpen := []HotlineOpenStage{
			{"receive", [5]int{0, 2, 0, 0, 1}, 3},
			{"collect", [5]int{0, 0, 2, 0, 0}, 2},
			{"verify", [5]int{1, 1, 0, 0, 0}, 2},
			{"coordinate", [5]int{0, 1, 0, 2, 0}, 3},
		}
		if !slices.Equal(st.Open, wantOpen) {
			t.Errorf("open\n got %v\nwant %v", st.Open, wantOpen)
		}
		if st.OpenTotal() != 10 {
			t.Errorf("open total %d, want 10", st.OpenTotal())
		}
		wantProv := []HotlineCount{{"Hà Nội", 4}, {"TP. Hồ Chí Minh", 4}, {"", 2}, {"Đà Nẵng", 1}}
		if !slices.Equal(st.Provinces, wantProv) {
			t.Errorf("provinces %v, want %v", st.Provinces, wantProv)
		}

		// The export rows: the period's cases oldest first, with their clocks.
		var refs []string
		err = s.HotlineCaseRows(ctx, from, to, func(r *HotlineCaseRow) error {
			refs = append(refs, r.Ref)
			if r.Ref == "C02" {
				if !r.Received.Equal(from.Add(6*time.Hour)) || !r.Triaged.Equal(from.Add(6*time.Hour+30*time.Minute)) ||
					!r.Assessed.Equal(from.Add(11*time.Hour)) || !r.Referred.IsZero() || r.Priority != 2 || r.State != "assigned" ||
					r.Province != "Hà Nội" || r.Harm != "VIO.BULLY" || r.Channel != "web" {
					t.Errorf("case row C02 = %+v", r)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"C00", "C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", "C09", "C10"}; !slices.Equal(refs, want) {
			t.Errorf("case rows %v, want %v", refs, want)
		}
		refs = nil
		err = s.HotlineNoticeRows(ctx, from, to, func(r *HotlineNoticeRow) error {
			refs = append(refs, r.Ref)
			if r.Ref == "N3" && (r.Partner != "TikTok" || r.Action != "disabled" || r.Actioned.Sub(r.Sent) != 30*time.Hour || r.State != "closed") {
				t.Errorf("notice row N3 = %+v", r)
			}
			if r.Ref == "N4" && !r.Actioned.IsZero() {
				t.Errorf("notice row N4 = %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(refs) // same sent time: ordered by id, which is insertion order on both backends
		if want := []string{"N1", "N2", "N3", "N4", "N5", "N8", "N9"}; !slices.Equal(refs, want) {
			t.Errorf("notice rows %v, want %v", refs, want)
		}
	})
}

// TestHotlineStatsOddZone checks the exact path for a zone whose midnight is not on a quarter
// hour: the reports are then grouped per microsecond and bucketed in Go.
func TestHotlineStatsOddZone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		zone := time.FixedZone("odd", 5*3600+45*60+30) // +05:45:30
		from := time.Date(2025, 1, 1, 0, 0, 0, 0, zone)
		to := from.AddDate(0, 0, 2)
		midnight := from.AddDate(0, 0, 1)
		hsInsertReport(t, s, "A", midnight.Add(-time.Microsecond), "OTHER", "web", "attached")
		hsInsertReport(t, s, "B", midnight, "OTHER", "web", "attached")
		hsInsertReport(t, s, "C", midnight.Add(time.Second), "OTHER", "web", "duplicate")
		st, err := s.HotlineStats(t.Context(), from, to, zone)
		if err != nil {
			t.Fatal(err)
		}
		want := []HotlineDaily{{"2025-01-01", "OTHER", "web", 1, 0}, {"2025-01-02", "OTHER", "web", 2, 1}}
		if !slices.Equal(st.Daily, want) {
			t.Errorf("daily %v, want %v", st.Daily, want)
		}
	})
}

func TestHotlineStatsEmpty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		from := time.Date(2025, 1, 1, 0, 0, 0, 0, hsTestZone)
		st, err := s.HotlineStats(t.Context(), from, from.AddDate(0, 0, 30), hsTestZone)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Days) != 30 || st.Reports != 0 || st.DuplicateShare() != 0 || st.Triage != (HotlineClock{}) || len(st.Partners) != 0 ||
			len(st.Open) != 4 || st.OpenTotal() != 0 {
			t.Errorf("empty stats: %+v", st)
		}
		if _, err := s.HotlineStats(t.Context(), from, from, hsTestZone); err == nil {
			t.Error("empty period accepted")
		}
	})
}

func TestHotlinePercentile(t *testing.T) {
	for _, c := range []struct {
		vals    []int64
		p, want int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 50, 7},
		{[]int64{7}, 90, 7},
		{[]int64{1, 2}, 50, 1},    // ceil(1) = 1st
		{[]int64{1, 2, 3}, 50, 2}, // ceil(1.5) = 2nd
		{[]int64{1, 2, 3}, 90, 3}, // ceil(2.7) = 3rd
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 90, 10}, // ceil(9.9) = 10th
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 50, 6},  // ceil(5.5) = 6th
	} {
		if got := hsPercentile(c.vals, int(c.p)); got != c.want {
			t.Errorf("p%d of %v = %d, want %d", c.p, c.vals, got, c.want)
		}
	}
}

package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Two nodes share one PostgreSQL database (docs/architecture.md: "serialised per canonical URL on
// PostgreSQL"). Each Store has its own group writer, so their transactions really run side by
// side: without the per-URL transaction lock, two first reports of one URL both see no open case
// and both open one. Every URL must end up with exactly one case.
func TestCreateReportDedupAcrossNodes(t *testing.T) {
	dsn := postgresTestDSN(t)
	ctx := t.Context()
	var nodes [2]*Store
	for i := range nodes {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open node %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		nodes[i] = s
	}
	const rounds, perNode = 25, 3
	received := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for r := range rounds {
		url := fmt.Sprintf("https://nodes.example.vn/post/%d", r)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, len(nodes)*perNode)
		for n, s := range nodes {
			for k := range perNode {
				wg.Go(func() {
					tag := fmt.Sprintf("%02d-%d-%d", r, n, k)
					nr := NewReport{Ref: "KS-N" + tag, StatusHash: "h", Received: received, Channel: "web", Language: "vi",
						Harm: "VIO.BULLY", CaseRef: "C-N" + tag, Priority: 2, SLADue: received.Add(48 * time.Hour), Actor: "anonymous",
						URLs: []ReportURL{{Raw: url, Canonical: url, Host: "nodes.example.vn"}}}
					<-start
					_, err := s.CreateReport(ctx, nr)
					errs <- err
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var cases, reports int
		if err := nodes[0].r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT case_id), COUNT(*) FROM report_urls WHERE canonical = $1`, url).
			Scan(&cases, &reports); err != nil {
			t.Fatal(err)
		}
		if cases != 1 || reports != len(nodes)*perNode {
			t.Fatalf("round %d: %d reports of %s from two nodes opened %d cases; want one case of %d reports",
				r, reports, url, cases, len(nodes)*perNode)
		}
	}
}

package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// ntcCase stores a report that opens a case with the given URLs and moves the case to state
// (along the case machine's path), returning the case id.
func ntcCase(t *testing.T, s *Store, state string, urls ...string) int64 {
	t.Helper()
	ctx := t.Context()
	nr := NewReport{Ref: fmt.Sprintf("KS-%d", time.Now().UnixNano()), StatusHash: "h", Received: time.Now(), Channel: "web", Language: "vi",
		Harm: "CSE.CSAM", CaseRef: fmt.Sprintf("C-%d", time.Now().UnixNano()), Priority: 1, SLADue: time.Now().Add(time.Hour), Actor: "anonymous"}
	for _, u := range urls {
		host := u[len("https://"):]
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		nr.URLs = append(nr.URLs, ReportURL{Raw: u, Canonical: u, Host: host})
	}
	res, err := s.CreateReport(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	path := map[string][]string{
		lifecycle.CaseNew:          nil,
		lifecycle.CaseInAssessment: {lifecycle.CaseTriaged, lifecycle.CaseInAssessment},
		lifecycle.CaseActionable:   {lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable},
		lifecycle.CaseSecondReview: {lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable, lifecycle.CaseSecondReview},
		lifecycle.CaseReferred:     {lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable, lifecycle.CaseReferred},
	}[state]
	for _, to := range path {
		if _, err := s.ChangeCase(ctx, res.CaseID, CaseChange{Actor: "test", To: to}); err != nil {
			t.Fatal(err)
		}
	}
	return res.CaseID
}

// ntcUser creates a staff account and returns its id.
func ntcUser(t *testing.T, s *Store, login string) int64 {
	t.Helper()
	id, err := s.CreateUser(t.Context(), User{Login: login, Name: "Name " + login, Roles: []string{"analyst"}, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPartners(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id, err := s.CreatePartner(ctx, Partner{Name: "TikTok", Kind: "platform", Country: "SG", Email: "legal@example.com", Language: "en",
			Domains: []string{"TikTok.com.", " tiktokv.com", "tiktok.com"}, DeadlineH: 24, Active: true}, "user:1:admin")
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.PartnerByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Domains) != 2 || p.Domains[0] != "tiktok.com" || !p.Active || p.DeadlineH != 24 {
			t.Fatalf("partner %+v", p)
		}
		if _, err := s.CreatePartner(ctx, Partner{Name: "TikTok", Kind: "platform", Active: true}, "x"); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		idn, err := s.CreatePartner(ctx, Partner{Name: "Báo", Kind: "host", Domains: []string{"bücher.example"}, Active: true}, "x")
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := s.PartnerByID(ctx, idn); p.Domains[0] != "xn--bcher-kva.example" {
			t.Fatalf("IDN domain stored as %q", p.Domains[0])
		}
		got, err := s.PartnerForHost(ctx, "www.TikTok.com")
		if err != nil || got == nil || got.ID != id {
			t.Fatalf("PartnerForHost: %v %v", got, err)
		}
		if got, _ := s.PartnerForHost(ctx, "nottiktok.com"); got != nil {
			t.Fatalf("suffix match without a dot: %v", got.Name)
		}
		p.Active = false
		p.DeadlineH = 12
		if err := s.UpdatePartner(ctx, id, *p, "x"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.PartnerForHost(ctx, "tiktok.com"); got != nil {
			t.Fatal("inactive partner suggested")
		}
		all, _ := s.Partners(ctx, false)
		act, _ := s.Partners(ctx, true)
		if len(all) != 2 || len(act) != 1 {
			t.Fatalf("partners %d, active %d", len(all), len(act))
		}
		p.Name = "Nobody"
		if err := s.UpdatePartner(ctx, 999, *p, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
	})
}

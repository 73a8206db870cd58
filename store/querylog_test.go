package store

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestQueryLogRoundTrip(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		at := func(sec int) time.Time { return t0.Add(time.Duration(sec)*time.Second + 123456*time.Microsecond) }
		in := []QueryLogEntry{
			{Time: at(0), Profile: "kid", Device: "tablet", Client: "192.0.2.0", Name: "example.com", Type: "A", Result: "allowed"},
			{Time: at(1), Profile: "kid", Device: "tablet", Client: "192.0.2.0", Name: "www.Example.com.", Type: "AAAA", Result: "cached"},
			{Time: at(2), Profile: "kid", Device: "phone", Client: "2001:db8::", Name: "bad.example", Type: "A", Result: "blocked", Category: "adult"},
			{Time: at(3), Profile: "teen", Device: "phone", Client: "", Name: "badexample.com", Type: "HTTPS", Result: "allowed"},
			{Time: at(4), Profile: "teen", Device: "phone", Client: "", Name: "_dmarc.example.com", Type: "TXT", Result: "allowed"},
			{Time: at(5), Profile: "teen", Device: "phone", Client: "", Name: "x_example.com", Type: "TXT", Result: "allowed"},
		}
		if err := s.AddQueryLog(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		if err := s.AddQueryLog(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		all, err := s.QueryLog(t.Context(), QueryLogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(in) {
			t.Fatalf("QueryLog returned %d entries, want %d", len(all), len(in))
		}
		for i, got := range all {
			want := in[len(in)-1-i] // newest first
			want.ID = got.ID
			want.Time = want.Time.UTC()
			if want.Name == "www.Example.com." {
				want.Name = "www.example.com"
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("entry %d = %+v, want %+v", i, got, want)
			}
			if i > 0 && got.ID >= all[i-1].ID {
				t.Errorf("entry %d: id %d not below %d", i, got.ID, all[i-1].ID)
			}
		}

		names := func(f QueryLogFilter) []string {
			t.Helper()
			es, err := s.QueryLog(t.Context(), f)
			if err != nil {
				t.Fatalf("QueryLog(%+v): %v", f, err)
			}
			out := []string{}
			for _, e := range es {
				out = append(out, e.Name)
			}
			return out
		}
		for _, tc := range []struct {
			f    QueryLogFilter
			want []string
		}{
			{QueryLogFilter{Profile: "kid"}, []string{"bad.example", "www.example.com", "example.com"}},
			{QueryLogFilter{Profile: "kid", Device: "tablet"}, []string{"www.example.com", "example.com"}},
			{QueryLogFilter{Device: "phone", Result: "blocked"}, []string{"bad.example"}},
			{QueryLogFilter{Category: "adult"}, []string{"bad.example"}},
			{QueryLogFilter{Client: "2001:db8::"}, []string{"bad.example"}},
			// Subdomains match, look-alikes do not; '_' is not a wildcard.
			{QueryLogFilter{Name: "Example.COM"}, []string{"_dmarc.example.com", "www.example.com", "example.com"}},
			{QueryLogFilter{Name: "_example.com"}, []string{}},
			{QueryLogFilter{From: at(1), To: at(3)}, []string{"bad.example", "www.example.com"}},
			{QueryLogFilter{Limit: 2}, []string{"x_example.com", "_dmarc.example.com"}},
			{QueryLogFilter{BeforeID: all[1].ID, Limit: 2}, []string{"badexample.com", "bad.example"}},
		} {
			if got := names(tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("QueryLog(%+v) = %q, want %q", tc.f, got, tc.want)
			}
		}
		if _, err := s.QueryLog(t.Context(), QueryLogFilter{From: at(3), To: at(3)}); err == nil {
			t.Error("QueryLog accepted an empty range")
		}

		n, err := s.PurgeQueryLog(t.Context(), at(2))
		if err != nil || n != 2 {
			t.Errorf("PurgeQueryLog = %d, %v; want 2", n, err)
		}
		if got := names(QueryLogFilter{Profile: "kid"}); !reflect.DeepEqual(got, []string{"bad.example"}) {
			t.Errorf("after purge: %q", got)
		}
	})
}

func TestQueryLogLargeBatch(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		in := make([]QueryLogEntry, 1200)
		for i := range in {
			in[i] = QueryLogEntry{Time: t0.Add(time.Duration(i) * time.Second), Profile: "p", Device: "d", Name: fmt.Sprintf("%d.example", i), Type: "A", Result: "allowed"}
		}
		if err := s.AddQueryLog(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		got, err := s.QueryLog(t.Context(), QueryLogFilter{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != maxLogLimit || got[0].Name != "1199.example" {
			t.Errorf("got %d entries starting %+v; want %d starting 1199.example", len(got), got[0], maxLogLimit)
		}
	})
}

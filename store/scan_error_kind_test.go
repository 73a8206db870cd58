package store

import "testing"

// A failed scan's kind (migration 0011) is stored and read back beside its raw error, and a
// result written without one reads back empty (what rows from before the migration hold).
func TestScanResultErrorKind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		res, err := s.CreateReport(ctx, testReport(1, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddScanResult(ctx, ScanResult{CaseID: res.CaseID, URL: "https://example.vn/a", Fetched: scanT0,
			Error: "fetch 10.0.0.1: destination refused", ErrorKind: "private"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddScanResult(ctx, ScanResult{CaseID: res.CaseID, URL: "https://example.vn/a", Fetched: scanT0, Error: "boom"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.CaseScanResults(ctx, res.CaseID)
		if err != nil || len(got) != 2 {
			t.Fatalf("results: %+v %v", got, err)
		}
		// Newest first.
		if got[0].Error != "boom" || got[0].ErrorKind != "" {
			t.Errorf("result without a kind: %q %q", got[0].Error, got[0].ErrorKind)
		}
		if got[1].Error != "fetch 10.0.0.1: destination refused" || got[1].ErrorKind != "private" {
			t.Errorf("result with a kind: %q %q", got[1].Error, got[1].ErrorKind)
		}
	})
}

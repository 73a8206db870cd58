package store

import (
	"errors"
	"fmt"
	"testing"
)

// A report is acknowledged only once the commit that holds it succeeded. When the group's
// transaction fails as a whole (here: a trigger that aborts it, on SQLite at once and on
// PostgreSQL only at COMMIT), no caller of that group may be told its report was stored.
func TestReportGroupCommitFailureReachesEveryCaller(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		const failRef = "KS-TEST-0003"
		if s.dialect == DialectPostgres {
			rawExec(t, s, `CREATE FUNCTION ks_mut_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.ref = '`+failRef+`' THEN RAISE EXCEPTION 'forced failure at commit'; END IF; RETURN NULL; END $$`)
			rawExec(t, s, `CREATE CONSTRAINT TRIGGER ks_mut_fail_commit AFTER INSERT ON reports
				DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ks_mut_fail_commit()`)
		} else {
			rawExec(t, s, `CREATE TRIGGER ks_mut_fail_commit BEFORE INSERT ON reports
				WHEN NEW.ref = '`+failRef+`' BEGIN SELECT RAISE(ROLLBACK, 'forced failure of the transaction'); END`)
		}
		var batch []*reportJob
		for i := 1; i <= 5; i++ {
			batch = append(batch, &reportJob{ctx: ctx, nr: testReport(i, fmt.Sprintf("https://example.vn/group/%d", i)), done: make(chan struct{})})
		}
		s.commitReports(batch)
		failed := 0
		for _, j := range batch {
			<-j.done
			if j.err != nil {
				failed++
				continue
			}
			r, err := s.ReportByRef(ctx, j.nr.Ref)
			if errors.Is(err, ErrNotFound) {
				t.Errorf("%s: the caller was told it is stored (report id %d, case %s), but it is not in the store",
					j.nr.Ref, j.res.ReportID, j.res.CaseRef)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != j.res.ReportID || r.CaseID != j.res.CaseID {
				t.Errorf("%s: told report %d case %d, stored as report %d case %d", j.nr.Ref, j.res.ReportID, j.res.CaseID, r.ID, r.CaseID)
			}
		}
		if failed == 0 && !t.Failed() {
			t.Fatal("the forced failure did not happen: the test proves nothing")
		}
	})
}

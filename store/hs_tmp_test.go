package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestHSTmpPerf(t *testing.T) {
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, hsTestZone)
	to := from.AddDate(0, 0, 30)
	span := to.UnixMicro() - from.UnixMicro()
	_, err = s.w.ExecContext(t.Context(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
		INSERT INTO reports (ref, status_hash, state, channel, received_us, language, harm)
		SELECT 'R'||i, 'x', CASE WHEN i%7=0 THEN 'duplicate' ELSE 'attached' END, CASE i%3 WHEN 0 THEN 'web' WHEN 1 THEN 'zalo' ELSE 'app' END,
		$1 + (i*7919 % $2), 'vi', CASE i%5 WHEN 0 THEN 'CSE.CSAM' WHEN 1 THEN 'VIO.BULLY' WHEN 2 THEN 'OTHER' WHEN 3 THEN 'SH.ED' ELSE 'FRAUD.SCAM' END FROM n`,
		from.UnixMicro(), span)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.w.ExecContext(t.Context(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
		INSERT INTO cases (ref, state, priority, harm, province, channel, received_us, sla_due_us, triaged_us, assessed_us, updated_us)
		SELECT 'C'||i, CASE WHEN i%100=0 THEN 'triaged' ELSE 'closed' END, i%5, 'OTHER', 'P'||(i%34), 'web', $1 + (i*7919 % $2), 0, $1 + (i*7919 % $2) + i%10000*1000000, $1 + (i*7919 % $2) + i%30000*1000000, 0 FROM n`,
		from.UnixMicro(), span)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	st, err := s.HotlineStats(t.Context(), from, to, hsTestZone)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1e6 reports + 1e6 cases: %v; reports %d, open %d", time.Since(t0), st.Reports, st.OpenTotal())
}

package hotline

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

// Every personal field the service seals must be sealed with its column's name as additional
// data (store.SealedColumns): `kidshield keys rotate` opens each stored value with that name.
// A constant that agrees with itself (seal and open alike) but not with the column would pass
// every page and break the first key rotation, so the test reads the values back the way the
// rotation does.
func TestSealedFieldsOpenUnderTheirColumn(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	svc := New(Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg.Hotline }, Now: func() time.Time { return now }})

	rc, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/p/1"},
		Description: "Bạn ấy bị chửi trên nhóm lớp", Contact: "0912 345 678",
		Screenshots: []Image{{ContentType: "image/png", Width: 1, Height: 1, Data: []byte("not really a png, sealed all the same")}}},
		Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddInfo(ctx, rc.Ref, rc.StatusCode, "em nhớ thêm tên nhóm"); err != nil {
		t.Fatal(err)
	}
	r, err := st.ReportByRef(ctx, rc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ChangeCase(ctx, Actor{UserID: 0, Label: "user:1:lan"}, r.CaseID, Change{Note: "analyst note"}); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	if _, err := st.Reseal(ctx, func(column, sealed string) (string, error) {
		seen[column]++
		if _, err := keys.Open(sealed, column); err != nil {
			t.Errorf("a value of %s does not open with its column name as additional data: %v", column, err)
		}
		return sealed, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"reports.description_sealed", "reports.contact_sealed", "case_events.note_sealed", "attachments.data_sealed"} {
		if !slices.Contains(store.SealedColumns(), col) {
			t.Errorf("store.SealedColumns() lacks %s", col)
		}
		if seen[col] == 0 {
			t.Errorf("no sealed value of %s was read back: the test proves nothing for it", col)
		}
	}
}

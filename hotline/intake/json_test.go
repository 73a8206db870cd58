package intake

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline"
)

func TestDecodeJSONValid(t *testing.T) {
	shot := base64.StdEncoding.EncodeToString(jpegWithEXIF(t))
	body := `{
		"channel": "zalo", "lang": "en", "harm": "VIO.BULLY", "choice": "bullying",
		"urls": ["https://m.facebook.com/x?mibextid=1", "https://facebook.com/x", " https://youtu.be/dQw4w9WgXcQ "],
		"platform": "facebook", "account": "@x", "where": "post", "when": "2026-11-20",
		"description": "Cafe\u0301 <script>alert(1)</script> \ufffd kept",
		"danger_now": false, "self_harm": true, "extortion": false,
		"reporter": "parent", "age_band": "adult", "province": null, "contact": "a@example.com",
		"feedback": true, "consent": true,
		"screenshots": [{"content_type": "image/jpeg", "data": "` + shot + `"}]
	}`
	sub, err := DecodeJSON(strings.NewReader(body), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Channel != "zalo" || sub.Language != "en" || sub.Harm != "VIO.BULLY" || sub.Choice != "bullying" ||
		len(sub.URLs) != 2 || sub.URLs[1] != "https://youtu.be/dQw4w9WgXcQ" || sub.WhereKind != "post" ||
		sub.Description != "Café <script>alert(1)</script> \ufffd kept" || !sub.SelfHarmRisk || !sub.WantsFeedback ||
		sub.LegalBasis != "consent" || len(sub.Screenshots) != 1 || sub.Screenshots[0].ContentType != "image/jpeg" {
		t.Errorf("%+v", sub)
	}
	if strings.Contains(string(sub.Screenshots[0].Data), "KSTEST") {
		t.Error("EXIF survived")
	}

	// A choice alone, a harm alone.
	for _, body := range []string{
		`{"channel":"app","choice":"scam","urls":["scam.example/win"]}`,
		`{"channel":"platform_api","harm":"FRAUD.SCAM","urls":["scam.example/win"]}`,
	} {
		sub, err := DecodeJSON(strings.NewReader(body), testLimits)
		if err != nil || sub.Harm != "FRAUD.SCAM" || sub.Language != "vi" {
			t.Errorf("%s: %+v, %v", body, sub, err)
		}
	}
}

func TestDecodeJSONRefuses(t *testing.T) {
	const ok = `"channel":"app","harm":"VIO.BULLY","description":"someone keeps insulting my friend"`
	png64 := base64.StdEncoding.EncodeToString(pngBytes(t, 4, 4))
	manyURLs := `"https://example.com/x"` + strings.Repeat(`,"https://example.com/x"`, 9999)
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	tests := []struct {
		name, body, field, key string
	}{
		{"unknown field", `{` + ok + `,"admin":true}`, "admin", "report.err.json_unknown_field"},
		{"key in another case", `{` + ok + `,"Harm":"CSE.CSAM"}`, "Harm", "report.err.json_unknown_field"},
		{"duplicate key", `{` + ok + `,"harm":"OTHER"}`, "harm", "report.err.json_duplicate"},
		{"duplicate key, same value", `{` + ok + `,"channel":"app"}`, "channel", "report.err.json_duplicate"},
		{"number for a string", `{"channel":"app","harm":"VIO.BULLY","description":12345678901}`, "description", "report.err.type"},
		{"nested object for a string", `{"channel":"app","harm":"VIO.BULLY","description":` + deep + `}`, "description", "report.err.type"},
		{"array for a string", `{"channel":"app","harm":["VIO.BULLY"],"description":"someone keeps insulting my friend"}`, "harm", "report.err.type"},
		{"string for a bool", `{` + ok + `,"danger_now":"yes"}`, "danger_now", "report.err.type"},
		{"number for a bool", `{` + ok + `,"danger_now":1}`, "danger_now", "report.err.type"},
		{"string for urls", `{` + ok + `,"urls":"https://example.com"}`, "urls", "report.err.type"},
		{"numbers in urls", `{` + ok + `,"urls":[1,2]}`, "urls", "report.err.type"},
		{"10^4 urls", `{` + ok + `,"urls":[` + manyURLs + `]}`, "urls", "report.err.urls_too_many"},
		{"javascript url", `{` + ok + `,"urls":["javascript:alert(1)"]}`, "urls", "report.err.url_scheme"},
		{"invalid UTF-8", "{" + ok + `,"account":"a` + "\xff" + `b"}`, "account", "report.err.utf8"},
		{"lone surrogate", `{` + ok + `,"account":"a\ud800b"}`, "account", "report.err.utf8"},
		{"NUL escaped", `{` + ok + `,"account":"a\u0000b"}`, "account", "report.err.control"},
		{"long field", `{` + ok + `,"platform":"` + strings.Repeat("p", 201) + `"}`, "platform", "report.err.too_long"},
		{"no channel", `{"harm":"VIO.BULLY","description":"someone keeps insulting my friend"}`, "channel", "report.err.required"},
		{"web is not an API channel", `{"channel":"web","harm":"VIO.BULLY","description":"someone keeps insulting my friend"}`, "channel", "report.err.option"},
		{"no harm", `{"channel":"app","description":"someone keeps insulting my friend"}`, "harm", "report.err.harm"},
		{"unknown harm", `{"channel":"app","harm":"VIO.X","description":"someone keeps insulting my friend"}`, "harm", "report.err.harm"},
		{"harm and choice disagree", `{` + ok + `,"choice":"scam"}`, "harm", "report.err.harm_choice"},
		{"nothing to act on", `{"channel":"app","harm":"VIO.BULLY"}`, "report", "report.err.nothing"},
		{"child contact without consent", `{` + ok + `,"reporter":"child","contact":"0912"}`, "consent", "report.err.consent"},
		{"screenshot for CSAM", `{"channel":"app","harm":"CSE.CSAM","urls":["https://example.com/x"],"screenshots":[{"content_type":"image/png","data":"` + png64 + `"}]}`, "screenshots", "report.err.screenshot_not_allowed"},
		{"screenshot bad base64", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":"!!!"}]}`, "screenshots", "report.err.base64"},
		{"screenshot wrong type", `{` + ok + `,"screenshots":[{"content_type":"image/svg+xml","data":"` + base64.StdEncoding.EncodeToString([]byte(svg)) + `"}]}`, "screenshots", "report.err.screenshot_type"},
		{"screenshot type mismatch", `{` + ok + `,"screenshots":[{"content_type":"image/jpeg","data":"` + png64 + `"}]}`, "screenshots", "report.err.screenshot_type"},
		{"screenshot unknown field", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":"` + png64 + `","name":"x.png"}]}`, "screenshots", "report.err.json_unknown_field"},
		{"screenshot duplicate field", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":"` + png64 + `","data":"` + png64 + `"}]}`, "screenshots", "report.err.json_duplicate"},
		{"screenshot not an object", `{` + ok + `,"screenshots":["` + png64 + `"]}`, "screenshots", "report.err.type"},
		{"screenshot data a number", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":5}]}`, "screenshots", "report.err.type"},
		{"screenshot bomb", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(pngHeaderBomb(30000, 30000)) + `"}]}`, "screenshots", "report.err.screenshot_pixels"},
		{"screenshot too big", `{` + ok + `,"screenshots":[{"content_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(make([]byte, 5<<20+1)) + `"}]}`, "screenshots", "report.err.screenshot_size"},
		{"too many screenshots", `{` + ok + `,"screenshots":[` + strings.Repeat(`{"content_type":"image/png","data":"`+png64+`"},`, 3) + `{"content_type":"image/png","data":"` + png64 + `"}]}`, "screenshots", "report.err.screenshot_count"},
		{"hostile key", `{` + ok + `,"` + strings.Repeat("\\u0000<script>", 100) + `":1}`, `"\x00<script>\x00<script>\x00<script>\x00<script>\x00<sc"`, "report.err.json_unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON(strings.NewReader(tt.body), testLimits)
			wantFieldError(t, err, tt.field, tt.key)
			if len(err.Error()) > 2000 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestDecodeJSONRequest(t *testing.T) {
	const ok = `{"channel":"app","harm":"VIO.BULLY","description":"someone keeps insulting my friend"}`
	tests := []struct {
		name string
		body io.Reader
		want error
	}{
		{"empty", strings.NewReader(""), ErrRequest},
		{"array", strings.NewReader("[" + ok + "]"), ErrRequest},
		{"string", strings.NewReader(`"hello"`), ErrRequest},
		{"null", strings.NewReader(`null`), ErrRequest},
		{"two objects", strings.NewReader(ok + ok), ErrRequest},
		{"trailing garbage", strings.NewReader(ok + "x"), ErrRequest},
		{"trailing comma", strings.NewReader(ok + ","), ErrRequest},
		{"unterminated", strings.NewReader(ok[:len(ok)-1]), ErrRequest},
		{"syntax error", strings.NewReader(`{"channel":}`), ErrRequest},
		{"deep arrays", strings.NewReader(strings.Repeat("[", 100000)), ErrRequest},
		{"endless", io.MultiReader(strings.NewReader(`{"description":"`), endless{}), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeJSON(tt.body, testLimits); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	// Whitespace after the object is not data.
	if _, err := DecodeJSON(strings.NewReader(ok+" \n\t "), testLimits); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"channel":"app","harm":"VIO.BULLY","description":"someone keeps insulting my friend"}`))
	f.Add([]byte(`{"channel":"zalo","choice":"scam","urls":["scam.example/a","javascript:x"],"danger_now":true,"reporter":"child","contact":"x"}`))
	f.Add([]byte(`{"channel":"app","harm":"VIO.BULLY","urls":["https://a.b"],"screenshots":[{"content_type":"image/gif","data":"R0lGODlhAQABAAAAACw="}]}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"description":"\ud800\u0000"} x`))
	f.Add([]byte(`[[[[{}]]]]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, err := DecodeJSON(strings.NewReader(string(body)), testLimits)
		if err != nil {
			var verr hotline.ValidationError
			if !errors.Is(err, ErrRequest) && !errors.Is(err, ErrTooLarge) && !errors.As(err, &verr) {
				t.Fatalf("error %v (%T)", err, err)
			}
			for _, fe := range verr {
				if fe.Field == "" || fe.Key == "" || fe.Msg == "" || len(fe.Field) > 100 {
					t.Fatalf("field error %+v", fe)
				}
			}
			return
		}
		if !strings.Contains(fmt.Sprint(APIChannels), sub.Channel) || sub.Channel == "" {
			t.Fatalf("channel %q", sub.Channel)
		}
		checkSubmission(t, sub)
	})
}

package intake

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/taxonomy"
)

func TestDecodeFormValid(t *testing.T) {
	v := url.Values{
		"choice":      {"bullying"},
		"urls":        {"https://www.facebook.com/groups/1/posts/2\r\n\r\nm.facebook.com/groups/1/posts/2?mibextid=x\r\n  tiktok.com/@a/video/3  "},
		"url":         {"https://youtu.be/dQw4w9WgXcQ"},
		"platform":    {" Facebook "},
		"account":     {"@bully"},
		"where":       {"group"},
		"when":        {"hôm qua"},
		"description": {"Họ đăng ảnh bạn tôi và chửi bạn ấy. <script>alert(1)</script>"},
		"self_harm":   {"yes"},
		"reporter":    {"child"},
		"age_band":    {"12-15"},
		"province":    {"Hà Nội"},
		"contact":     {"0912 345 678"},
		"consent":     {"yes"},
		"feedback":    {"yes"},
		"lang":        {"vi"},
		"website":     {""},
		"csrf":        {"token"},
	}
	for _, r := range []*http.Request{formRequest(v), multipartRequest(t, v)} {
		sub, err := DecodeForm(r, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		want := hotline.Submission{
			Channel: "web", Language: "vi", Harm: "VIO.BULLY", Choice: "bullying",
			URLs:     []string{"https://www.facebook.com/groups/1/posts/2", "tiktok.com/@a/video/3", "https://youtu.be/dQw4w9WgXcQ"},
			Platform: "Facebook", Account: "@bully", WhereKind: "group", When: "hôm qua",
			Description:  "Họ đăng ảnh bạn tôi và chửi bạn ấy. <script>alert(1)</script>",
			SelfHarmRisk: true, ReporterType: "child", AgeBand: "12-15", Province: "Hà Nội",
			Contact: "0912 345 678", WantsFeedback: true, LegalBasis: "consent",
		}
		if fmt.Sprintf("%+v", sub) != fmt.Sprintf("%+v", want) {
			t.Errorf("got  %+v\nwant %+v", sub, want)
		}
		if r.PostForm.Get("account") != "@bully" {
			t.Errorf("r.PostForm not filled for the page that shows the form again: %v", r.PostForm)
		}
	}
}

func TestDecodeFormScreenshots(t *testing.T) {
	v := url.Values{"choice": {"bullying"}, "description": {"they post my photo with insults"}}
	r := multipartRequest(t, v,
		file{"screenshot", "a.jpg", jpegWithEXIF(t)},
		file{"screenshot", "b.png", pngWithText(t)},
		file{"screenshot", "", nil}, // an empty file input
		file{"other", "x.png", pngBytes(t, 2, 2)},
	)
	sub, err := DecodeForm(r, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Screenshots) != 2 || sub.Screenshots[0].ContentType != "image/jpeg" || sub.Screenshots[1].ContentType != "image/png" {
		t.Fatalf("screenshots %+v", sub.Screenshots)
	}
	for _, im := range sub.Screenshots {
		if strings.Contains(string(im.Data), "KSTEST") {
			t.Error("metadata survived")
		}
	}

	// The most pictures allowed, and empty file inputs after them.
	p := pngBytes(t, 4, 4)
	r = multipartRequest(t, v, file{"screenshot", "1.png", p}, file{"screenshot", "2.png", p}, file{"screenshot", "3.png", p},
		file{"screenshot", "", nil}, file{"screenshot", "", nil})
	if sub, err = DecodeForm(r, testLimits); err != nil || len(sub.Screenshots) != 3 {
		t.Fatalf("%d screenshots, %v", len(sub.Screenshots), err)
	}
}

func TestDecodeFormRefuses(t *testing.T) {
	base := func(kv ...string) url.Values {
		v := url.Values{"choice": {"bullying"}, "description": {"someone keeps insulting my friend"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "\x00delete" {
				v.Del(kv[i])
				continue
			}
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	manyLines := strings.Repeat("https://example.com/x\n", 10000)
	manyURLs := url.Values{"choice": {"bullying"}}
	for i := range 10000 {
		manyURLs.Add("url", fmt.Sprintf("https://example.com/%d", i))
	}
	tests := []struct {
		name       string
		v          url.Values
		files      []file
		field, key string
	}{
		{"no choice", base("choice", "\x00delete"), nil, "choice", "report.err.choice"},
		{"unknown choice", base("choice", "CSE.CSAM"), nil, "choice", "report.err.choice"},
		{"nothing to act on", base("description", "help"), nil, "report", "report.err.nothing"},
		{"platform without account", base("description", "", "platform", "tiktok"), nil, "report", "report.err.nothing"},
		{"javascript link", base("urls", "javascript:alert(document.cookie)"), nil, "urls", "report.err.url_scheme"},
		{"data link", base("url", "data:text/html;base64,PHNjcmlwdD4="), nil, "urls", "report.err.url_scheme"},
		{"bad link", base("urls", "https://exa mple.com/"), nil, "urls", "report.err.url"},
		{"long link", base("urls", "https://example.com/"+strings.Repeat("a", 3000)), nil, "urls", "report.err.url_too_long"},
		{"10^4 lines of links", base("urls", manyLines), nil, "urls", "report.err.urls_too_many"},
		{"10^4 url fields", manyURLs, nil, "urls", "report.err.urls_too_many"},
		{"11 links", base("urls", strings.Repeat("https://example.com/x\n", 11)), nil, "urls", "report.err.urls_too_many"},
		{"long description", base("description", strings.Repeat("á", 5001)), nil, "description", "report.err.too_long"},
		{"huge description", base("description", strings.Repeat("a", 1<<20)), nil, "description", "report.err.too_long"},
		{"long account", base("account", strings.Repeat("x", 201)), nil, "account", "report.err.too_long"},
		{"invalid UTF-8", base("description", "bad \xff\xfe bytes here"), nil, "description", "report.err.utf8"},
		{"overlong UTF-8", base("platform", "\xc0\xaf"), nil, "platform", "report.err.utf8"},
		{"NUL", base("description", "hello\x00world, this is long"), nil, "description", "report.err.control"},
		{"escape character", base("account", "\x1b[31mred"), nil, "account", "report.err.control"},
		{"C1 control", base("account", "a\u0085b"), nil, "account", "report.err.control"},
		{"newline in a one-line field", base("account", "a\nb"), nil, "account", "report.err.one_line"},
		{"unknown where", base("where", "darkweb"), nil, "where", "report.err.option"},
		{"unknown reporter", base("reporter", "admin"), nil, "reporter", "report.err.option"},
		{"unknown age band", base("age_band", "5"), nil, "age_band", "report.err.option"},
		{"unknown lang", base("lang", "fr"), nil, "lang", "report.err.option"},
		{"checkbox not yes", base("danger_now", "true"), nil, "danger_now", "report.err.flag"},
		{"child contact without consent", base("reporter", "child", "contact", "zalo 0912"), nil, "consent", "report.err.consent"},
		{"child by age band", base("age_band", "7-11", "contact", "zalo 0912"), nil, "consent", "report.err.consent"},
		{"field twice", url.Values{"choice": {"bullying", "threats"}, "description": {"someone keeps insulting my friend"}}, nil, "choice", "report.err.duplicate"},
		{"screenshot for CSAM", base("choice", "sexual-images"), []file{{"screenshot", "a.png", nil}}, "screenshot", "report.err.screenshot_not_allowed"},
		{"screenshot for sextortion", base("choice", "threat-images"), []file{{"screenshot", "a.png", nil}}, "screenshot", "report.err.screenshot_not_allowed"},
		{"too many screenshots", base("choice", "threats"), []file{{"screenshot", "a", nil}, {"screenshot", "b", nil}, {"screenshot", "c", nil}, {"screenshot", "d", nil}}, "screenshot", "report.err.screenshot_count"},
		{"not an image named .png", base(), []file{{"screenshot", "a.png", []byte("just text")}}, "screenshot", "report.err.screenshot_type"},
		{"svg", base(), []file{{"screenshot", "a.svg", []byte(svg)}}, "screenshot", "report.err.screenshot_type"},
		{"image bomb", base(), []file{{"screenshot", "a.png", pngHeaderBomb(30000, 30000)}}, "screenshot", "report.err.screenshot_pixels"},
		{"truncated image", base(), []file{{"screenshot", "a.png", []byte("\x89PNG\r\n\x1a\n\x00\x00")}}, "screenshot", "report.err.screenshot_corrupt"},
		{"file over the size limit", base(), []file{{"screenshot", "a.png", make([]byte, 5<<20+1)}}, "screenshot", "report.err.screenshot_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A file given as nil is a valid small picture (the test is about something else).
			for i := range tt.files {
				if tt.files[i].data == nil {
					tt.files[i].data = pngBytes(t, 4, 4)
				}
			}
			// Files need multipart; the rest is tried both ways.
			reqs := []*http.Request{multipartRequest(t, tt.v, tt.files...)}
			if len(tt.files) == 0 {
				reqs = append(reqs, formRequest(tt.v))
			}
			for _, r := range reqs {
				_, err := DecodeForm(r, testLimits)
				wantFieldError(t, err, tt.field, tt.key)
				if len(err.Error()) > 2000 {
					t.Errorf("error of %d bytes", len(err.Error()))
				}
			}
		})
	}
}

func TestDecodeFormAllErrorsAtOnce(t *testing.T) {
	v := url.Values{"choice": {"nope"}, "urls": {"javascript:x"}, "account": {"a\x00"}, "where": {"x"}}
	_, err := DecodeForm(formRequest(v), testLimits)
	verr := fieldErrors(t, err)
	var fields []string
	for _, fe := range verr {
		fields = append(fields, fe.Field)
	}
	for _, f := range []string{"choice", "urls", "account", "where"} {
		if !slices.Contains(fields, f) {
			t.Errorf("no error on %s: %v", f, verr)
		}
	}
}

func TestDecodeFormText(t *testing.T) {
	v := url.Values{"choice": {"other"}, "description": {"  Cafe\u0301 khi\u0302ng ... <b>bold</b>\n\tline two  \n"}}
	sub, err := DecodeForm(formRequest(v), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Café khîng ... <b>bold</b>\n\tline two"; sub.Description != want {
		t.Errorf("description %q, want %q (NFC, trimmed, markup kept as text)", sub.Description, want)
	}
}

func TestDecodeFormUrgency(t *testing.T) {
	v := url.Values{"choice": {"stranger-asks"}, "description": {"a man wants to meet her tonight"}, "danger_now": {"yes"},
		"reporter": {"child"}, "contact": {"0912"}}
	sub, err := DecodeForm(formRequest(v), testLimits)
	if err != nil {
		t.Fatal(err) // no consent needed: Law 91/2025's emergency exception
	}
	if !sub.DangerNow || sub.LegalBasis != "vital_interest" || sub.Harm != "CSE.GROOM" {
		t.Errorf("%+v", sub)
	}
}

func TestDecodeFormBot(t *testing.T) {
	v := url.Values{"choice": {"bullying"}, "description": {"buy cheap watches now"}, "website": {"http://spam.example"}}
	if _, err := DecodeForm(formRequest(v), testLimits); !errors.Is(err, ErrBot) {
		t.Fatalf("error %v, want ErrBot", err)
	}
	// Even a bot that gets every other field wrong is told nothing else.
	v = url.Values{"website": {"x"}, "choice": {"zzz"}}
	if _, err := DecodeForm(multipartRequest(t, v), testLimits); !errors.Is(err, ErrBot) {
		t.Fatalf("error %v, want ErrBot", err)
	}
}

func TestDecodeFormRequest(t *testing.T) {
	v := url.Values{"choice": {"bullying"}, "description": {"someone keeps insulting my friend"}}
	tests := []struct {
		name string
		r    func() *http.Request
		want error
	}{
		{"json body", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader(`{"choice":"bullying"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, ErrRequest},
		{"no content type", func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader(v.Encode())) }, ErrRequest},
		{"multipart without boundary", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
			r.Header.Set("Content-Type", "multipart/form-data")
			return r
		}, ErrRequest},
		{"broken multipart", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			return r
		}, ErrRequest},
		{"bad escape", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("choice=%zz"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, ErrRequest},
		{"endless urlencoded body", func() *http.Request {
			r := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("description="), endless{}))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, ErrTooLarge},
		{"endless multipart body", func() *http.Request {
			r := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"screenshot\"; filename=\"a\"\r\n\r\n"), endless{}))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			return r
		}, ErrTooLarge},
		{"too many fields", func() *http.Request {
			w := url.Values{}
			for i := range 100 {
				w.Set(fmt.Sprint("f", i), "x")
			}
			return multipartRequest(t, w)
		}, ErrRequest},
		{"body over MaxBytesReader", func() *http.Request {
			r := multipartRequest(t, v, file{"screenshot", "a.png", make([]byte, 1<<20)})
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 1000)
			return r
		}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeForm(tt.r(), testLimits); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestDecodeOperator(t *testing.T) {
	v := url.Values{"harm": {"CSE.SEXTORT"}, "description": {"Caller (mother) says her son is being blackmailed on Zalo"},
		"reporter": {"parent"}, "extortion": {"yes"}, "contact": {"0912 000 111"}, "platform": {"zalo"}}
	sub, err := DecodeOperator(formRequest(v), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Channel != "phone" || sub.Harm != "CSE.SEXTORT" || sub.LegalBasis != "public_task" || !sub.ExtortionOngoing ||
		sub.Choice != "" || sub.ReporterType != "parent" || sub.Language != "vi" {
		t.Errorf("%+v", sub)
	}
	// A call about a child in danger now rests on vital interest, not on the public task.
	v.Set("danger_now", "yes")
	if sub, err := DecodeOperator(formRequest(v), testLimits); err != nil || sub.LegalBasis != "vital_interest" || !sub.DangerNow {
		t.Errorf("danger now: %v %+v", err, sub)
	}

	tests := []struct {
		name       string
		v          url.Values
		files      []file
		field, key string
	}{
		{"no description", url.Values{"harm": {"VIO.BULLY"}, "urls": {"https://example.com/a"}}, nil, "description", "report.err.required"},
		{"no harm", url.Values{"description": {"caller reports bullying at school"}}, nil, "harm", "report.err.harm"},
		{"unknown harm", url.Values{"harm": {"VIO"}, "description": {"caller reports bullying at school"}}, nil, "harm", "report.err.harm"},
		{"a choice is not a harm", url.Values{"harm": {"bullying"}, "description": {"caller reports bullying at school"}}, nil, "harm", "report.err.harm"},
		{"a file", url.Values{"harm": {"VIO.BULLY"}, "description": {"caller reports bullying at school"}}, []file{{"screenshot", "a.png", pngBytes(t, 2, 2)}}, "screenshot", "report.err.screenshot_operator"},
		{"a file under another name", url.Values{"harm": {"VIO.BULLY"}, "description": {"caller reports bullying at school"}}, []file{{"photo", "a.png", pngBytes(t, 2, 2)}}, "screenshot", "report.err.screenshot_operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeOperator(multipartRequest(t, tt.v, tt.files...), testLimits)
			wantFieldError(t, err, tt.field, tt.key)
			if len(tt.files) == 0 {
				_, err = DecodeOperator(formRequest(tt.v), testLimits)
				wantFieldError(t, err, tt.field, tt.key)
			}
		})
	}
}

// checkSubmission asserts what every accepted submission holds, whatever came in.
func checkSubmission(t *testing.T, sub hotline.Submission) {
	t.Helper()
	if !slices.Contains(taxonomy.Channels, sub.Channel) || !taxonomy.Valid(sub.Harm) {
		t.Fatalf("channel %q harm %q", sub.Channel, sub.Harm)
	}
	if sub.Language != "vi" && sub.Language != "en" {
		t.Fatalf("language %q", sub.Language)
	}
	texts := map[string]string{"platform": sub.Platform, "account": sub.Account, "when": sub.When, "province": sub.Province,
		"contact": sub.Contact, "description": sub.Description}
	for name, s := range texts {
		if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) || s != strings.TrimSpace(s) {
			t.Fatalf("%s %q is not clean text", name, s)
		}
		for _, r := range s {
			if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
				t.Fatalf("%s %q has a control character", name, s)
			}
		}
		if name != "description" && strings.ContainsAny(s, "\r\n") {
			t.Fatalf("%s %q has a newline", name, s)
		}
	}
	for _, u := range sub.URLs {
		if _, err := canon.URL(u); err != nil {
			t.Fatalf("accepted link %q: %v", u, err)
		}
	}
	if len(sub.URLs) == 0 && (sub.Platform == "" || sub.Account == "") && utf8.RuneCountInString(sub.Description) < MinDescription {
		t.Fatalf("accepted an empty report %+v", sub)
	}
	if h, _ := taxonomy.Lookup(sub.Harm); len(sub.Screenshots) > 0 && !h.Screenshots {
		t.Fatalf("screenshots accepted for %s", sub.Harm)
	}
}

func FuzzDecodeForm(f *testing.F) {
	f.Add("bullying", "https://example.com/a\nhttps://example.com/b", "tiktok", "@x", "someone keeps insulting my friend", "child", "0912", "yes", "")
	f.Add("sexual-images", "javascript:alert(1)", "", "", "", "", "", "", "")
	f.Add("other", "", "", "", "Cafe\u0301 \xff\x00", "", "", "", "x")
	f.Add("threats", "http://[::1\n//a..b", "zalo", "\n", "<script>", "teacher", "", "no", "")
	f.Fuzz(func(t *testing.T, choice, urls, platform, account, description, reporter, contact, consent, website string) {
		v := url.Values{"choice": {choice}, "urls": {urls}, "platform": {platform}, "account": {account},
			"description": {description}, "reporter": {reporter}, "contact": {contact}, "consent": {consent}, "website": {website}}
		sub, err := DecodeForm(formRequest(v), testLimits)
		if err != nil {
			var verr hotline.ValidationError
			if !errors.Is(err, ErrBot) && !errors.As(err, &verr) {
				t.Fatalf("error %v: want ErrBot or field errors", err)
			}
			if website != "" && !errors.Is(err, ErrBot) {
				t.Fatalf("honeypot %q filled, error %v", website, err)
			}
			return
		}
		if website != "" {
			t.Fatal("honeypot ignored")
		}
		if sub.Channel != "web" || sub.LegalBasis == "" {
			t.Fatalf("%+v", sub)
		}
		checkSubmission(t, sub)
	})
}

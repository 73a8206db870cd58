package main

import (
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter"
)

func TestAppleProfile(t *testing.T) {
	cfg := config.Default()
	cfg.TLS.ServerName = "dns.example.org"
	pol, err := filter.CompilePolicy(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{dns: filter.New(filter.Options{}), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a.cfgPtr.Store(cfg)
	a.dns.SetPolicy(pol)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /setup/apple/{profile}", a.appleProfile)

	get := func(url string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		return w
	}
	w := get("/setup/apple/default.mobileconfig?device=ipad")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("%d %s", w.Code, w.Header())
	}
	// Well-formed XML, with the DoH URL naming the profile and the device.
	dec := xml.NewDecoder(strings.NewReader(w.Body.String()))
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	if !strings.Contains(strings.Join(texts, " "), "https://dns.example.org/dns-query/default/ipad") {
		t.Fatalf("no DoH URL in %v", texts)
	}
	if b := get("/setup/apple/default").Body.String(); !strings.Contains(b, "/dns-query/default<") {
		t.Fatal("profile without device")
	}
	if get("/setup/apple/nobody").Code != 404 {
		t.Fatal("unknown profile served")
	}
	if get("/setup/apple/default?device=../../x").Code != 400 {
		t.Fatal("bad device id accepted")
	}
}

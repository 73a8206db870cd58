package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if es := c.validate(); len(es) > 0 {
		t.Fatalf("default config invalid: %v", es)
	}
	if c.DNS.Listen[0] != "127.0.0.1:5353" || c.HTTP.Listen != "127.0.0.1:8080" || c.DataDir != "./kidshield-data" {
		t.Fatalf("defaults changed: %+v", c)
	}
	if c.Profiles[0].ID != "default" || c.DefaultProfile != "default" {
		t.Fatalf("default profile: %+v", c.Profiles)
	}
}

func TestErrorsNameLineAndField(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings, each must appear
	}{
		{"unknown field", "dns:\n  listen: [\"127.0.0.1:53\"]\n  colour: blue\n", []string{"3:", `unknown field "colour"`}},
		{"bad listen", "dns:\n  listen:\n    - nope\n", []string{"3:", "dns.listen[0]", "host:port"}},
		{"bad category", "profiles:\n  - id: kid\n    block_categories: [adult, porn]\n", []string{"3:", "profiles[0].block_categories[1]", `unknown category "porn"`}},
		{"bad schedule", "profiles:\n  - id: kid\n    schedule:\n      - days: [mon, funday]\n        from: \"25:00\"\n        to: \"06:00\"\n        mode: allow_only\n", []string{"4: profiles[0].schedule[0].days", "funday", "5: profiles[0].schedule[0].from"}},
		{"bad tz", "profiles:\n  - id: kid\n    timezone: Mars/Base\n", []string{"3:", "Mars/Base"}},
		{"bad type", "cache:\n  max_entries: lots\n", []string{"2:", "lots"}},
		{"bad yaml", "dns: [\n", []string{"1:"}},
		{"missing default", "default_profile: nobody\n", []string{"1:", "default_profile", "nobody"}},
		{"bad upstream", "upstreams: [\"8.8.8.8:53\", \"ftp//x\"]\n", []string{"upstreams[1]"}},
		{"list without source", "lists:\n  - category: adult\n", []string{"lists[0].source"}},
		{"port out of range", "dns:\n  listen: [\"127.0.0.1:99999\"]\n", []string{"2:", "port \"99999\""}},
		{"negative ttl", "cache:\n  max_ttl: -1s\n", []string{"cache:", "negative"}},
		{"days as duration", "stats:\n  retention: 90d\n", []string{"2:", "2160h"}},
		{"unsupported upstream", "upstreams: [\"quic://1.1.1.1\"]\n", []string{"upstreams[0]", "unsupported scheme"}},
		{"safesearch word", "profiles:\n  - id: a\n    safesearch: yes\n", []string{"use all, off"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted an invalid config")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestExampleConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../docs/examples/*.yaml")
	if len(files) == 0 {
		t.Skip("no examples yet")
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestLoadFileRelativeDataDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(p, []byte("data_dir: data\nlists:\n  - {category: games, source: games.txt}\n  - {category: adult, source: /abs/adult.txt}\nprofiles:\n  - id: anna\n    safesearch: all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "data") {
		t.Fatalf("data dir %q", c.DataDir)
	}
	if c.Lists[0].Source != filepath.Join(dir, "games.txt") || c.Lists[1].Source != "/abs/adult.txt" {
		t.Fatalf("list sources %q %q", c.Lists[0].Source, c.Lists[1].Source)
	}
	if len(c.Profiles[0].SafeSearch) != 5 {
		t.Fatalf("safesearch all not expanded: %v", c.Profiles[0].SafeSearch)
	}
}

func TestIntakeRateZeroDisables(t *testing.T) {
	c, err := Parse([]byte("hotline:\n  intake:\n    rate_per_hour: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Hotline.Intake.PerHour(); n != 0 {
		t.Errorf("rate_per_hour: 0 gives %d, want 0 (no limit)", n)
	}
	if n := Default().Hotline.Intake.PerHour(); n != 30 {
		t.Errorf("default %d, want 30", n)
	}
}

func TestFeedConfig(t *testing.T) {
	c, err := Parse([]byte("feed:\n  zone: RPZ.Example.VN\n  listen: [\"127.0.0.1:5300\"]\n  members:\n    - {name: isp-a, tsig_secret: \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\", notify: [\"127.0.0.1:5301\"]}\n    - {name: isp-b, allow: [\"192.0.2.0/24\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Feed.Zone != "rpz.example.vn." || c.Feed.Action != "nxdomain" || len(c.Feed.Members) != 2 {
		t.Errorf("%+v", c.Feed)
	}
	for _, bad := range []string{
		"feed:\n  members:\n    - {name: isp-a}\n",
		"feed:\n  members:\n    - {name: isp-a, tsig_secret: \"!!\"}\n",
		"feed:\n  action: redirect\n",
		"feed:\n  listen: [\"nope\"]\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestSubscribeConfig(t *testing.T) {
	c, err := Parse([]byte("subscribe:\n  source: rpz://192.0.2.1:53/rpz.example.vn.\n  tsig_name: isp-a\n  tsig_secret: \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Subscribe.Enabled() || c.Subscribe.Refresh <= 0 {
		t.Errorf("%+v", c.Subscribe)
	}
	for _, bad := range []string{
		"subscribe:\n  source: ftp://x/y\n",
		"subscribe:\n  source: rpz://192.0.2.1/rpz.example.\n",
		"subscribe:\n  source: rpz://192.0.2.1:53/rpz.example.\n  tsig_name: a\n",
		"subscribe:\n  source: http://feed.example.vn/feed/v1\n  token: ks_x\n  public_key: abc\n",
		"subscribe:\n  source: https://feed.example.vn/feed/v1\n  token: ks_x\n",
		"subscribe:\n  source: https://feed.example.vn/feed/v1\n  public_key: abc\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestFeedJournalVersions(t *testing.T) {
	c, err := Parse([]byte("feed:\n  zone: rpz.example.vn\n"))
	if err != nil || c.Feed.JournalVersions != 1000 {
		t.Fatalf("default journal_versions: %v %d", err, c.Feed.JournalVersions)
	}
	for _, bad := range []string{"feed:\n  journal_versions: -1\n", "feed:\n  journal_versions: 100001\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRolesValidated(t *testing.T) {
	if _, err := Parse([]byte("roles: [filter, feed]\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("roles: [dns]\n")); err == nil || !strings.Contains(err.Error(), "roles") {
		t.Errorf("unknown role accepted: %v", err)
	}
}

package canon

import "testing"

// Every tracking parameter documented in tracking.go's table is dropped from the dedup key on
// the sites the table names, and only there: two reporters sharing one post from different apps
// must land on one case. The lists are written out here rather than read from the package's
// variables, so that a parameter lost from the code is a failing test, not a shorter loop.
func TestEveryDocumentedTrackingParameterIsDropped(t *testing.T) {
	everywhere := []string{
		"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id", "UTM_Source",
		"fbclid", "gclid", "gclsrc", "gbraid", "wbraid", "dclid", "msclkid", "ttclid", "twclid", "yclid",
		"igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "srsltid",
		"zarsrc", "gidzl", "ref_src", "ref_url", "FBCLID",
	}
	site := map[string][]string{
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ":               {"si", "feature", "pp"},
		"https://youtu.be/dQw4w9WgXcQ?x=1":                          {"si", "feature", "pp"},
		"https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?x=1": {"si"},
		"https://www.tiktok.com/@user/video/7300000000000000000?x=1": {"_r", "_t", "_d", "is_from_webapp", "sender_device", "sender_web_id",
			"web_id", "is_copy_url", "share_app_id", "share_link_id", "share_item_id", "tt_from", "u_code", "timestamp", "user_id",
			"sec_user_id", "checksum", "social_sharing", "preview_pb"},
		"https://m.facebook.com/groups/123/posts/456?x=1": {"mibextid", "rdid", "share_url", "sfnsn", "extid", "wtsid", "ref", "fref",
			"hc_ref", "hc_location", "eav", "paipv", "_rdr", "notif_id", "notif_t", "__tn__", "__cft__[0]", "__cft__[1]"},
		"https://x.com/user/status/1800000000000000000?x=1": {"s", "t"},
	}
	for _, p := range everywhere {
		site["https://example.vn/bai-viet?id=7"] = append(site["https://example.vn/bai-viet?id=7"], p)
	}
	for base, params := range site {
		want, err := URL(base)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		for _, p := range params {
			got, err := URL(base + "&" + p + "=abc123")
			if err != nil {
				t.Errorf("%s&%s: %v", base, p, err)
				continue
			}
			if got.URL != want.URL {
				t.Errorf("%q on %s is kept: %s, want %s", p, base, got.URL, want.URL)
			}
		}
	}
	// Kept on purpose: they say which content, or are tracking only on another site.
	for base, params := range map[string][]string{
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ":                {"t"},
		"https://www.instagram.com/p/C0000000000/?x=1":               {"img_index"},
		"https://www.facebook.com/permalink.php?x=1":                 {"id", "story_fbid", "comment_id"},
		"https://example.vn/nha-dat?x=1":                             {"zpid", "si", "ref", "s", "t", "feature", "timestamp", "user_id"},
		"https://news.example.vn/bai-viet?x=1":                       {"__tn__", "mibextid"},
		"https://www.tiktok.com/@user/video/7300000000000000000?x=1": {"lang"},
	} {
		want, err := URL(base)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		for _, p := range params {
			got, err := URL(base + "&" + p + "=abc123")
			if err != nil {
				t.Errorf("%s&%s: %v", base, p, err)
				continue
			}
			if got.URL == want.URL {
				t.Errorf("%q on %s is dropped: it must stay in the dedup key", p, base)
			}
		}
	}
}

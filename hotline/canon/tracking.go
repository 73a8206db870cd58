package canon

import "strings"

// Tracking parameters say who shared a link, from which app and campaign; they never change
// which content a link shows, and two reporters sharing one post get different values, so
// they are dropped from the dedup key. A parameter is listed here only when it is known to
// carry tracking alone: when in doubt it stays (a false split costs an analyst a merge; a
// false merge could hide a report). Keys are compared in lower case.
//
// | parameter | added by | where dropped |
// |---|---|---|
// | utm_* | Google Analytics campaign tags, also appended by Zalo, Facebook and news sites | everywhere |
// | fbclid | Facebook and Instagram outbound click id | everywhere |
// | gclid, gclsrc, gbraid, wbraid, dclid | Google Ads click ids | everywhere |
// | msclkid | Microsoft Ads click id | everywhere |
// | ttclid | TikTok Ads click id | everywhere |
// | twclid | X/Twitter Ads click id | everywhere |
// | yclid | Yandex click id | everywhere |
// | igshid, igsh | Instagram share id | everywhere |
// | mc_cid, mc_eid | Mailchimp campaign and recipient ids | everywhere |
// | _ga, _gl | Google Analytics cross-domain linker | everywhere |
// | _hsenc, _hsmi | HubSpot e-mail tracking | everywhere |
// | mkt_tok | Marketo e-mail tracking | everywhere |
// | srsltid | Google Merchant result id | everywhere |
// | zarsrc, gidzl | Zalo: source of a link opened in Zalo, Zalo click id | everywhere |
// | ref_src, ref_url | X/Twitter embed and share source | everywhere |
// | si, feature, pp | YouTube share id, share source, search tracking | youtube.com, youtu.be |
// | si | Spotify share id | open.spotify.com |
// | _r, _t, _d, is_from_webapp, sender_device, sender_web_id, web_id, is_copy_url, share_app_id, share_link_id, share_item_id, tt_from, u_code, timestamp, user_id, sec_user_id, checksum, social_sharing, preview_pb | TikTok share links (app and web): the sharer's device, account and share event | tiktok.com and subdomains |
// | mibextid, rdid, share_url, sfnsn, extid, wtsid, ref, fref, hc_ref, hc_location, eav, paipv, _rdr, notif_id, notif_t, __tn__, __cft__* | Facebook share sheet, Messenger share, referral and notification tracking | facebook.com and subdomains |
// | s, t | X/Twitter share source and sharer token | x.com |
//
// Not dropped on purpose: YouTube "t" (a moment in the video the reporter points at),
// Instagram "img_index" (which picture of a carousel), Facebook "id", "story_fbid",
// "comment_id" (which post or comment), "zpid" (a listing id on some sites, not a Zalo tag).
var (
	trackingPrefixes = []string{"utm_"}
	trackingAny      = set(
		"fbclid", "gclid", "gclsrc", "gbraid", "wbraid", "dclid", "msclkid", "ttclid", "twclid",
		"yclid", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
		"srsltid", "zarsrc", "gidzl", "ref_src", "ref_url",
	)
	// trackingSite applies to a site and its subdomains (after alias folding).
	trackingSite = map[string]map[string]bool{
		"youtube.com":      set("si", "feature", "pp"),
		"youtu.be":         set("si", "feature", "pp"),
		"open.spotify.com": set("si"),
		"tiktok.com": set("_r", "_t", "_d", "is_from_webapp", "sender_device", "sender_web_id",
			"web_id", "is_copy_url", "share_app_id", "share_link_id", "share_item_id", "tt_from",
			"u_code", "timestamp", "user_id", "sec_user_id", "checksum", "social_sharing",
			"preview_pb"),
		"facebook.com": set("mibextid", "rdid", "share_url", "sfnsn", "extid", "wtsid", "ref",
			"fref", "hc_ref", "hc_location", "eav", "paipv", "_rdr", "notif_id", "notif_t",
			"__tn__"),
		"x.com": set("s", "t"),
	}
	// trackingSitePrefixes: Facebook's "__cft__[0]" comes with an index.
	trackingSitePrefixes = map[string][]string{
		"facebook.com": {"__cft__"},
	}
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// isTracking reports whether the query key (escaped as canon writes it) is a tracking
// parameter on host.
func isTracking(host, key string) bool {
	k := strings.ToLower(key)
	if trackingAny[k] {
		return true
	}
	for _, p := range trackingPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	for site := host; site != ""; {
		if trackingSite[site][k] {
			return true
		}
		for _, p := range trackingSitePrefixes[site] {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		i := strings.IndexByte(site, '.')
		if i < 0 {
			break
		}
		site = site[i+1:]
	}
	return false
}

// aliases fold the hosts of one platform that serve the same content under the same paths
// (mobile, basic and desktop front ends, an old and a new brand). Only exact hosts, on the
// default port. Redirectors are not aliases: vm.tiktok.com/XYZ, vt.tiktok.com/XYZ, fb.watch/XYZ
// and zalo.me links name content only through a redirect, which the scanner follows.
var aliases = map[string]string{
	"www.facebook.com":    "facebook.com",
	"m.facebook.com":      "facebook.com",
	"mbasic.facebook.com": "facebook.com",
	"web.facebook.com":    "facebook.com",
	"touch.facebook.com":  "facebook.com",
	"mobile.facebook.com": "facebook.com",
	"fb.com":              "facebook.com",
	"www.fb.com":          "facebook.com",
	"www.youtube.com":     "youtube.com",
	"m.youtube.com":       "youtube.com",
	"www.tiktok.com":      "tiktok.com",
	"m.tiktok.com":        "tiktok.com",
	"www.instagram.com":   "instagram.com",
	"m.instagram.com":     "instagram.com",
	"twitter.com":         "x.com",
	"www.twitter.com":     "x.com",
	"mobile.twitter.com":  "x.com",
	"www.x.com":           "x.com",
	"mobile.x.com":        "x.com",
}

// rewriteVideo turns the other spellings of one YouTube video (youtu.be/ID, /shorts/ID,
// /embed/ID, /live/ID) into youtube.com/watch?v=ID, returning the ID for the query.
func rewriteVideo(host string, segs []string) (string, []string, string) {
	switch {
	case host == "youtu.be" && len(segs) == 1 && videoID(segs[0]):
		return "youtube.com", []string{"watch"}, segs[0]
	case host == "youtube.com" && len(segs) == 2 && videoID(segs[1]) &&
		(segs[0] == "shorts" || segs[0] == "embed" || segs[0] == "live"):
		return host, []string{"watch"}, segs[1]
	}
	return host, segs, ""
}

// videoID reports whether s looks like a YouTube video id (11 characters of [A-Za-z0-9_-]
// today; a little slack for the future, none for anything that would need escaping).
func videoID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

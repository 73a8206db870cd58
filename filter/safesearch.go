package filter

import "strings"

// Engines whose SafeSearch can be forced by DNS, answered with a CNAME as every peer does.
const (
	engineGoogle = iota
	engineBing
	engineDuckDuckGo
	engineEcosia
	enginePixabay
	engineYouTube // restricted mode has its own toggle and level
	numEngines
)

var engineNames = map[string]int{
	"google": engineGoogle, "bing": engineBing, "duckduckgo": engineDuckDuckGo,
	"ecosia": engineEcosia, "pixabay": enginePixabay,
}

// googleTLDs are the country domains Google serves search on (from google.com/supported_domains);
// a child in Viet Nam lands on www.google.com.vn first.
var googleTLDs = strings.Fields(`com ad ae com.af com.ag al am co.ao com.ar as at com.au az ba com.bd be bf bg
com.bh bi bj com.bn com.bo com.br bs bt co.bw by com.bz ca cd cf cg ch ci co.ck cl cm cn com.co
co.cr com.cu cv com.cy cz de dj dk dm com.do dz com.ec ee com.eg es com.et fi com.fj fm fr ga ge
gg com.gh com.gi gl gm gr com.gt gy com.hk hn hr ht hu co.id ie co.il im co.in iq is it je
com.jm jo co.jp co.ke com.kh ki kg co.kr com.kw kz la com.lb li lk co.ls lt lu lv com.ly co.ma md
me mg mk ml com.mm mn com.mt mu mv mw com.mx com.my co.mz com.na com.ng com.ni ne nl no com.np nr
nu co.nz com.om com.pa com.pe com.pg com.ph com.pk pl pn com.pr ps pt com.py com.qa ro ru rw
com.sa com.sb sc se com.sg sh si sk com.sl sn so sm sr st com.sv td tg co.th com.tj tl tm tn to
com.tr tt com.tw co.tz com.ua co.ug co.uk com.uy co.uz com.vc co.ve co.vi com.vn vu ws rs co.za
co.zm co.zw cat`)

type rewrite struct {
	engine int
	target string // for YouTube: the strict target; moderate is youtubeModerate
}

const (
	youtubeStrict   = "restrict.youtube.com"
	youtubeModerate = "restrictmoderate.youtube.com"
)

// rewrites maps a query name to its SafeSearch rewrite. Built once; read-only after init.
var rewrites = func() map[string]rewrite {
	m := map[string]rewrite{}
	for _, tld := range googleTLDs {
		m["www.google."+tld] = rewrite{engineGoogle, "forcesafesearch.google.com"}
		m["google."+tld] = rewrite{engineGoogle, "forcesafesearch.google.com"}
	}
	for _, n := range []string{"www.bing.com", "bing.com", "edgeservices.bing.com"} {
		m[n] = rewrite{engineBing, "strict.bing.com"}
	}
	for _, n := range []string{"duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com", "html.duckduckgo.com"} {
		m[n] = rewrite{engineDuckDuckGo, "safe.duckduckgo.com"}
	}
	m["www.ecosia.org"] = rewrite{engineEcosia, "strict-safe-search.ecosia.org"}
	m["pixabay.com"] = rewrite{enginePixabay, "safesearch.pixabay.com"}
	m["www.pixabay.com"] = rewrite{enginePixabay, "safesearch.pixabay.com"}
	for _, n := range []string{"www.youtube.com", "m.youtube.com", "youtubei.googleapis.com", "youtube.googleapis.com", "www.youtube-nocookie.com"} {
		m[n] = rewrite{engineYouTube, youtubeStrict}
	}
	return m
}()

// bypassNXDOMAIN are names whose non-existence switches a device's own bypass off.
var bypassNXDOMAIN = map[string]bool{
	"use-application-dns.net": true, // Firefox keeps its DoH off (Mozilla's canary domain)
	"mask.icloud.com":         true, // iCloud Private Relay off
	"mask-h2.icloud.com":      true,
}

// bypassNODATA: Apple and others discover a designated encrypted resolver here (RFC 9462);
// an empty answer keeps the device on us.
var bypassNODATA = map[string]bool{
	"_dns.resolver.arpa": true,
}

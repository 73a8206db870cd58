package classify

import (
	"strings"
	"unicode"

	"golang.org/x/net/idna"
)

// A name cue is a piece of a domain label that suggests a category. Gambling and adult
// sites in Viet Nam are named after their games or brands ("nohu88", "taixiu-online",
// "phimsex"); a cue that is a whole segment of a label (split at dots, hyphens and
// letter/digit boundaries) weighs its full weight, one buried inside a longer word half of
// it, so "bet365" is cued but "alphabet" is not.
type nameCue struct {
	cue      string
	category string
	weight   float64
}

var nameCues = []nameCue{
	{"casino", Gambling, 0.7}, {"nhacai", Gambling, 0.7}, {"nohu", Gambling, 0.7},
	{"taixiu", Gambling, 0.7}, {"lode", Gambling, 0.4}, {"cado", Gambling, 0.5},
	{"cacuoc", Gambling, 0.7}, {"gamebai", Gambling, 0.7}, {"xocdia", Gambling, 0.7}, {"doithuong", Gambling, 0.7},
	{"baccarat", Gambling, 0.7}, {"go88", Gambling, 0.8}, {"fb88", Gambling, 0.8}, {"b52", Gambling, 0.4},
	{"bet", Gambling, 0.5}, {"88", Gambling, 0.4}, {"win", Gambling, 0.3}, {"slot", Gambling, 0.3},
	{"poker", Gambling, 0.5}, {"sunwin", Gambling, 0.7},
	{"phimsex", Sexual, 0.8}, {"porn", Sexual, 0.8}, {"xxx", Sexual, 0.6}, {"sex", Sexual, 0.5},
	{"jav", Sexual, 0.4}, {"hentai", Sexual, 0.7}, {"xvideo", Sexual, 0.7}, {"xvideos", Sexual, 0.8},
	{"phimnguoilon", Sexual, 0.8}, {"phimcap3", Sexual, 0.6}, {"gaigoi", Sexual, 0.7}, {"nude", Sexual, 0.5},
}

// listCategory maps the category names used by the network list and imported lists
// (UT1, hostsVN, Block List Project) to the classifier's.
var listCategory = map[string]string{
	"adult": Sexual, "porn": Sexual, "sexual": Sexual, "mixed_adult": Sexual,
	"gambling": Gambling,
	"scam":     Scam, "fraud": Scam, "phishing": Scam,
	"violence": Violence, "aggressive": Violence,
	"self_harm": SelfHarm, "self-harm": SelfHarm, "suicide": SelfHarm,
	"hate": HateBullying, "hate_bullying": HateBullying,
	"grooming": Grooming,
}

// ClassifyDomain suggests categories for a domain name: the category lookup gives for the
// name or one of its parent domains (the caller wires the network list and imported lists;
// this package does not read the store), plus cues in the name's labels. Each is a reason.
func (c *Classifier) ClassifyDomain(name string, lookup func(name string) (category string, ok bool)) Result {
	r := Result{Scores: map[string]float64{}, Reasons: []Reason{}}
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if len(name) > 253 {
		name = name[:253]
	}
	if u, err := idna.ToUnicode(name); err == nil {
		name = u
	}
	if lookup != nil && name != "" {
		labels := strings.Split(name, ".")
		// From the name to its parents, never the bare top-level domain.
		for i := 0; i < len(labels)-1 || (i == 0 && len(labels) == 1); i++ {
			n := strings.Join(labels[i:], ".")
			if cat, ok := lookup(n); ok && cat != "" {
				mapped := cat
				if m, ok := listCategory[strings.ToLower(cat)]; ok {
					mapped = m
				}
				r.Scores[mapped] = 1
				r.Reasons = append(r.Reasons, Reason{Category: mapped, Rule: "list", Evidence: n + " is listed as " + cat})
				break
			}
		}
	}
	miss := map[string]float64{}
	labels := strings.Split(name, ".")
	if len(labels) > 1 {
		labels = labels[:len(labels)-1] // the top-level domain says nothing ("bet" is a TLD too)
	}
	for _, l := range labels {
		// "nổhũ" written in Unicode reads like "nohu".
		l = Shadow(l)
		segs := segments(l)
		for _, nc := range nameCues {
			w := 0.0
			if segs[nc.cue] {
				w = nc.weight
			} else if strings.Contains(strings.ReplaceAll(l, "-", ""), nc.cue) {
				w = nc.weight / 2
			}
			if w == 0 {
				continue
			}
			if _, ok := miss[nc.category]; !ok {
				miss[nc.category] = 1
			}
			miss[nc.category] *= 1 - w
			r.Reasons = append(r.Reasons, Reason{Category: nc.category, Rule: "name", Evidence: "'" + nc.cue + "' in '" + l + "'"})
		}
	}
	for cat, m := range miss {
		if s := round(1 - m); s > r.Scores[cat] {
			r.Scores[cat] = s
		}
	}
	for _, cat := range []string{Sexual, Gambling} {
		if _, ok := r.Scores[cat]; !ok {
			r.Scores[cat] = 0
		}
	}
	r.Top = c.top(r.Scores)
	return r
}

// ClassifyDomain classifies name with the default thresholds.
func ClassifyDomain(name string, lookup func(name string) (category string, ok bool)) Result {
	return std().ClassifyDomain(name, lookup)
}

// segments splits a label at hyphens and letter/digit boundaries and also keeps each
// letters-then-digits pair whole, so "go88vn" has "go", "88", "vn" and "go88".
func segments(label string) map[string]bool {
	out := map[string]bool{}
	var parts []string
	cur := []rune{}
	kind := 0
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range label {
		k := 1
		switch {
		case unicode.IsDigit(r):
			k = 2
		case !unicode.IsLetter(r):
			flush()
			kind = 0
			continue
		}
		if k != kind {
			flush()
			kind = k
		}
		cur = append(cur, r)
	}
	flush()
	for i, p := range parts {
		out[p] = true
		if i > 0 {
			out[parts[i-1]+p] = true
		}
	}
	return out
}

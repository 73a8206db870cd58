// Package taxonomy is the hotline's harm taxonomy (HOTLINE.md): two-level codes, their default
// priority, the filter category a confirmed domain joins, the EU DSA statement-of-reasons key,
// whether a reporter may attach screenshots, and the child-friendly choices of the public form.
// Labels live in the translation catalogs under "harm.<code>" and "choice.<id>".
package taxonomy

import "slices"

// Harm is one leaf of the taxonomy.
type Harm struct {
	Code string
	// Priority is the default priority, 0 (minutes) to 4 (route to counselling).
	Priority int
	// Urgent is the priority when the reporter says a child is in danger now, there is a
	// self-harm risk or extortion is ongoing (never later than Priority).
	Urgent int
	// Category is the filter category a confirmed domain of this harm joins.
	Category string
	// DSA is the EU Digital Services Act statement-of-reasons category.
	DSA string
	// Screenshots: a reporter may attach screenshots. Never for sexual content involving
	// children: the form says not to upload such images, and the server refuses them.
	Screenshots bool
}

// Harms lists every leaf, in the order staff pages show them.
var Harms = []Harm{
	{"CSE.CSAM", 1, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"CSE.LIVE", 0, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"CSE.GROOM", 1, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"CSE.SEXTORT", 1, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"CSE.NCII", 1, 0, "hotline", "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR", false},
	{"CSE.TRAFFIC", 1, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"VIO.BULLY", 2, 1, "hotline", "STATEMENT_CATEGORY_CYBER_VIOLENCE", true},
	{"VIO.THREAT", 1, 0, "hotline", "STATEMENT_CATEGORY_CYBER_VIOLENCE", true},
	{"VIO.ABUSE_CLIP", 1, 0, "violence", "STATEMENT_CATEGORY_VIOLENCE", false},
	{"SH.SUICIDE", 3, 1, "self-harm", "STATEMENT_CATEGORY_SELF_HARM", true},
	{"SH.SELFINJ", 3, 1, "self-harm", "STATEMENT_CATEGORY_SELF_HARM", true},
	{"SH.ED", 3, 1, "self-harm", "STATEMENT_CATEGORY_SELF_HARM", true},
	{"SH.CHALLENGE", 3, 1, "self-harm", "STATEMENT_CATEGORY_SELF_HARM", true},
	{"HARM.ADULT", 3, 3, "adult", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", false},
	{"HARM.GORE", 3, 3, "violence", "STATEMENT_CATEGORY_VIOLENCE", false},
	{"HARM.GAMBLING", 3, 3, "gambling", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", true},
	{"HARM.SUBSTANCE", 3, 3, "drugs", "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", true},
	{"HARM.HATE", 3, 3, "hotline", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", true},
	{"PRIV.EXPOSE", 2, 1, "hotline", "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", true},
	{"PRIV.EXPLOIT", 2, 2, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", true},
	{"PRIV.IMPERSONATE", 2, 2, "hotline", "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", true},
	{"FRAUD.SCAM", 3, 3, "malware", "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", true},
	{"FRAUD.TRAFFIC_LURE", 1, 0, "hotline", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", true},
	{"OTHER", 4, 4, "hotline", "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE", true},
}

// Lookup returns the harm with the given code.
func Lookup(code string) (Harm, bool) {
	i := slices.IndexFunc(Harms, func(h Harm) bool { return h.Code == code })
	if i < 0 {
		return Harm{}, false
	}
	return Harms[i], true
}

// Valid reports whether code is a leaf of the taxonomy.
func Valid(code string) bool {
	_, ok := Lookup(code)
	return ok
}

// Urgency is what a reporter says about right now.
type Urgency struct {
	DangerNow, SelfHarmRisk, ExtortionOngoing bool
}

// Priority is a report's starting priority: a child in danger right now is P0 whatever the harm;
// a self-harm risk or ongoing extortion takes the harm's urgent priority.
func Priority(code string, u Urgency) int {
	if u.DangerNow {
		return 0
	}
	h, ok := Lookup(code)
	if !ok {
		return 4
	}
	if u.SelfHarmRisk || u.ExtortionOngoing {
		return min(h.Priority, h.Urgent)
	}
	return h.Priority
}

// Choice is one answer to "what happened?" on the public form, in words a 12-year-old
// understands (label: "choice.<ID>" in the catalogs), mapped to a harm code.
type Choice struct {
	ID   string
	Harm string
}

// Choices are the public form's options, most urgent first.
var Choices = []Choice{
	{"sexual-images", "CSE.CSAM"},
	{"stranger-asks", "CSE.GROOM"},
	{"threat-images", "CSE.SEXTORT"},
	{"my-images-shared", "CSE.NCII"},
	{"bullying", "VIO.BULLY"},
	{"threats", "VIO.THREAT"},
	{"violence-video", "VIO.ABUSE_CLIP"},
	{"self-harm", "SH.SELFINJ"},
	{"challenge", "SH.CHALLENGE"},
	{"adult-content", "HARM.ADULT"},
	{"gambling", "HARM.GAMBLING"},
	{"privacy", "PRIV.EXPOSE"},
	{"fake-account", "PRIV.IMPERSONATE"},
	{"scam", "FRAUD.SCAM"},
	{"job-offer", "FRAUD.TRAFFIC_LURE"},
	{"other", "OTHER"},
}

// ChoiceHarm returns the harm code of a public-form choice.
func ChoiceHarm(id string) (string, bool) {
	i := slices.IndexFunc(Choices, func(c Choice) bool { return c.ID == id })
	if i < 0 {
		return "", false
	}
	return Choices[i].Harm, true
}

// Channels a report can come in by.
var Channels = []string{"web", "app", "zalo", "partner_api", "platform_api", "phone", "crawler", "transfer_111"}

// ReporterTypes, AgeBands, Relations and WhereKinds are the closed lists of the report fields.
var (
	ReporterTypes = []string{"child", "parent", "teacher", "public", "ngo", "platform", "police"}
	AgeBands      = []string{"under-7", "7-11", "12-15", "16-17", "adult", "unknown"}
	WhereKinds    = []string{"web", "post", "profile", "group", "chat", "game", "app", "livestream"}
	Provinces     = []string{} // free text for now: the 34 provinces after the 2025 merger are data
	Flags         = []string{"self_generated", "ai_generated", "victim_identified", "ongoing", "repeat"}
	Ground        = []string{"illegal_vn", "terms_of_service", "harmful_to_minors"}
	PartnerKinds  = []string{"police", "ministry", "platform", "host", "registrar", "isp", "hotline", "ngo"}
	NoticeActions = []string{"removed", "disabled", "geo_blocked", "account_suspended"}
)

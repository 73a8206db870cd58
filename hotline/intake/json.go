package intake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
)

// DecodeJSON reads one report of the partner API: a single JSON object, nothing after it.
//
//	{"channel": "app", "harm": "VIO.BULLY", "urls": ["https://..."], "description": "...",
//	 "danger_now": false, "screenshots": [{"content_type": "image/png", "data": "<base64>"}]}
//
// Fields are those of the public form, with the harm given as a taxonomy code ("harm"), a
// choice id ("choice"), or both when they agree; "channel" is one of APIChannels; flags are
// JSON booleans; "urls" a list of strings. Keys are matched exactly (encoding/json alone would
// accept "HARM" and let a repeated key silently win); an unknown key, a repeated key or a value
// of the wrong type is a field error naming the field; null is the same as absent. Strings must
// be valid UTF-8 as sent: encoding/json replaces bad bytes and lone surrogates with U+FFFD,
// and DecodeJSON refuses them instead.
//
// The body is read up to the largest valid report under lim (ErrTooLarge beyond); the caller
// may bound it further.
func DecodeJSON(body io.Reader, lim hotline.Limits) (hotline.Submission, error) {
	lim = withDefaults(lim)
	max := jsonCap(lim)
	raw, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return hotline.Submission{}, fmt.Errorf("%w: read body: %v", ErrRequest, err)
	}
	if int64(len(raw)) > max {
		return hotline.Submission{}, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, max)
	}
	p := &problems{}
	in := &input{src: fromAPI}
	d := &jsonDecoder{raw: raw, dec: json.NewDecoder(bytes.NewReader(raw)), p: p, lim: lim}
	d.dec.UseNumber()
	if err := d.report(in); err != nil {
		return hotline.Submission{}, err
	}
	return validate(in, lim, p)
}

// jsonCap is the largest body of a valid report: every character escaped as \uXXXX\uXXXX
// (12 bytes), screenshots in base64, and room for keys and spaces.
func jsonCap(lim hotline.Limits) int64 {
	text := int64(lim.MaxDescription+20*lim.MaxField+lim.MaxURLs*(canon.MaxLen+8)) * 12
	shots := int64(lim.MaxScreenshots) * (int64(base64.StdEncoding.EncodedLen(int(lim.MaxScreenshotBytes))) + 1024)
	return text + shots + 64<<10
}

type jsonDecoder struct {
	raw []byte
	dec *json.Decoder
	p   *problems
	lim hotline.Limits
}

func (d *jsonDecoder) syntax(err error) error {
	return fmt.Errorf("%w: JSON: %v", ErrRequest, err)
}

// report reads the top-level object into in.
func (d *jsonDecoder) report(in *input) error {
	tok, err := d.dec.Token()
	if err != nil {
		return d.syntax(err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: the body must be one JSON object", ErrRequest)
	}
	strs := map[string]*string{
		"channel": &in.channel, "lang": &in.lang, "harm": &in.harm, "choice": &in.choice,
		"platform": &in.platform, "account": &in.account, "where": &in.where, "when": &in.when,
		"description": &in.description, "reporter": &in.reporter, "age_band": &in.ageBand,
		"province": &in.province, "contact": &in.contact,
	}
	bools := map[string]*bool{
		"danger_now": &in.dangerNow, "self_harm": &in.selfHarm, "extortion": &in.extortion,
		"feedback": &in.feedback, "consent": &in.consent,
	}
	seen := map[string]bool{}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err)
		}
		key := tok.(string) // object keys are strings, or Token fails
		field := fieldName(key)
		dup := seen[key]
		seen[key] = true
		if dup {
			d.p.add(field, "report.err.json_duplicate", "%s appears more than once", field)
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		switch {
		case strs[key] != nil:
			err = d.str(field, field, strs[key])
		case bools[key] != nil:
			err = d.boolean(field, bools[key])
		case key == "urls":
			err = d.urls(in)
		case key == "screenshots":
			err = d.screenshots(in)
		default:
			d.p.add(field, "report.err.json_unknown_field", "unknown field %s", field)
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if _, err := d.dec.Token(); err != nil { // the closing brace
		return d.syntax(err)
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrRequest)
	}
	return nil
}

// fieldName is a key as it may appear in an error: a plain name as it is, anything else quoted
// and cut, so an error never carries a hostile key whole.
func fieldName(key string) string {
	ok := key != "" && len(key) <= 40
	for i := 0; ok && i < len(key); i++ {
		c := key[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if ok {
		return key
	}
	if len(key) > 40 {
		key = key[:40]
	}
	return strconv.QuoteToASCII(key)
}

// value reads the next value's first token and the raw bytes it came from.
func (d *jsonDecoder) value() (json.Token, []byte, error) {
	start := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, nil, d.syntax(err)
	}
	return tok, d.raw[start:d.dec.InputOffset()], nil
}

// skip skips the rest of a value whose first token was not read yet.
func (d *jsonDecoder) skip() error {
	tok, _, err := d.value()
	if err != nil {
		return err
	}
	return d.skipRest(tok)
}

// skipRest skips the rest of a value that started with tok (an array or object).
func (d *jsonDecoder) skipRest(tok json.Token) error {
	if tok != json.Delim('[') && tok != json.Delim('{') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err)
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}

// strictText reports whether the decoded string s came from raw without replacement: a U+FFFD
// in s must have been in raw, literally or escaped.
func strictText(raw []byte, s string) bool {
	if !utf8.Valid(raw) {
		return false
	}
	if !strings.ContainsRune(s, utf8.RuneError) {
		return true
	}
	return bytes.Contains(raw, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`))
}

// str reads a string (or null) into dst; label names the value in messages.
func (d *jsonDecoder) str(field, label string, dst *string) error {
	tok, raw, err := d.value()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
	case string:
		if !strictText(raw, v) {
			d.p.add(field, "report.err.utf8", "%s is not valid UTF-8 text", label)
			return nil
		}
		*dst = v
	default:
		d.p.add(field, "report.err.type", "%s must be a string", label)
		return d.skipRest(tok)
	}
	return nil
}

func (d *jsonDecoder) boolean(field string, dst *bool) error {
	tok, _, err := d.value()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
	case bool:
		*dst = v
	default:
		d.p.add(field, "report.err.type", "%s must be true or false", field)
		return d.skipRest(tok)
	}
	return nil
}

func (d *jsonDecoder) urls(in *input) error {
	tok, _, err := d.value()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		d.p.add("urls", "report.err.type", "urls must be a list of strings")
		return d.skipRest(tok)
	}
	n, bad := 0, false
	for d.dec.More() {
		n++
		tok, raw, err := d.value()
		if err != nil {
			return err
		}
		s, ok := tok.(string)
		switch {
		case !ok:
			bad = true
			if err := d.skipRest(tok); err != nil {
				return err
			}
		case !strictText(raw, s):
			d.p.add("urls", "report.err.utf8", "link %d is not valid UTF-8 text", n)
		case n <= d.lim.MaxURLs+1: // one more than allowed is enough to say there are too many
			in.urls = append(in.urls, s)
		}
	}
	if bad {
		d.p.add("urls", "report.err.type", "urls must be a list of strings")
	}
	if n > d.lim.MaxURLs {
		in.urls = nil
		d.p.add("urls", "report.err.urls_too_many", "too many links: %d, at most %d in one report", n, d.lim.MaxURLs)
	}
	_, err = d.dec.Token() // ]
	if err != nil {
		return d.syntax(err)
	}
	return nil
}

// screenshotTypes are the content types a partner may declare.
var screenshotTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

func (d *jsonDecoder) screenshots(in *input) error {
	const field = "screenshots"
	tok, _, err := d.value()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		d.p.add(field, "report.err.type", `screenshots must be a list of {"content_type", "data"} objects`)
		return d.skipRest(tok)
	}
	maxB64 := base64.StdEncoding.EncodedLen(int(d.lim.MaxScreenshotBytes))
	for i := 1; d.dec.More(); i++ {
		tok, _, err := d.value()
		if err != nil {
			return err
		}
		if tok != json.Delim('{') {
			d.p.add(field, "report.err.type", "screenshot %d must be an object with content_type and data", i)
			if err := d.skipRest(tok); err != nil {
				return err
			}
			continue
		}
		var ct, data string
		seen := map[string]bool{}
		ok := true
		for d.dec.More() {
			tok, err := d.dec.Token()
			if err != nil {
				return d.syntax(err)
			}
			key := tok.(string)
			name := fieldName(key)
			switch {
			case seen[key]:
				d.p.add(field, "report.err.json_duplicate", "screenshot %d: %s appears more than once", i, name)
				ok = false
				err = d.skip()
			case key == "content_type":
				err = d.str(field, fmt.Sprintf("screenshot %d: content_type", i), &ct)
			case key == "data":
				err = d.base64Value(i, &data, &ok)
			default:
				d.p.add(field, "report.err.json_unknown_field", "screenshot %d: unknown field %s", i, name)
				ok = false
				err = d.skip()
			}
			seen[key] = true
			if err != nil {
				return err
			}
		}
		if _, err := d.dec.Token(); err != nil { // }
			return d.syntax(err)
		}
		if !ok {
			continue
		}
		if !slices.Contains(screenshotTypes, ct) {
			d.p.add(field, "report.err.screenshot_type", "screenshot %d: content_type must be one of %s", i, strings.Join(screenshotTypes, ", "))
			continue
		}
		if len(in.shots) >= d.lim.MaxScreenshots {
			in.shots = append(in.shots, upload{}) // counted, not decoded: too many anyway
			continue
		}
		if len(data) > maxB64 {
			in.shots = append(in.shots, upload{tooBig: true})
			continue
		}
		b, err := base64.StdEncoding.Strict().DecodeString(data)
		if err != nil {
			d.p.add(field, "report.err.base64", "screenshot %d: data is not valid base64", i)
			continue
		}
		in.shots = append(in.shots, upload{declared: ct, data: b})
	}
	if _, err := d.dec.Token(); err != nil { // ]
		return d.syntax(err)
	}
	return nil
}

// base64Value reads a screenshot's data string.
func (d *jsonDecoder) base64Value(i int, dst *string, ok *bool) error {
	tok, _, err := d.value()
	if err != nil {
		return err
	}
	s, isStr := tok.(string)
	if !isStr {
		d.p.add("screenshots", "report.err.type", "screenshot %d: data must be a base64 string", i)
		*ok = false
		return d.skipRest(tok)
	}
	*dst = s
	return nil
}

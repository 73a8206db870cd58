package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
)

// HoneypotField is the public form's trap: hidden from people by CSS, filled by bots.
const HoneypotField = "website"

// maxTextParts bounds the number of non-file parts of a multipart form (the form has about 20
// fields; CSRF tokens and the like are ignored).
const maxTextParts = 64

// DecodeForm reads the public no-JavaScript form (multipart/form-data or urlencoded, from the
// body only). Fields: choice, urls (one link a line) and url (repeatable), platform, account,
// where, when, description, danger_now, self_harm, extortion, feedback, consent (checkboxes:
// "yes" or absent), reporter, age_band, province, contact, lang, screenshot (files), and the
// honeypot "website": when it is filled DecodeForm returns ErrBot and nothing else.
//
// Files are streamed and kept in memory within the limits, never spilled to a temporary file
// as http.Request.ParseMultipartForm would do: a screenshot of a child's chat must not land on
// a disk unsealed. After decoding, r.PostForm holds the text fields as received, for a page
// that shows the form again with its errors. The caller should still bound the body with
// http.MaxBytesReader; DecodeForm bounds each part and the number of parts.
func DecodeForm(r *http.Request, lim hotline.Limits) (hotline.Submission, error) {
	lim = withDefaults(lim)
	f, err := readForm(r, lim, true)
	if err != nil {
		return hotline.Submission{}, err
	}
	if hp := f.vals[HoneypotField]; f.overflow[HoneypotField] || strings.Join(hp, "") != "" {
		return hotline.Submission{}, ErrBot
	}
	p := &problems{}
	in := &input{src: fromWeb, shots: f.files}
	f.common(in, p)
	in.choice = f.get(p, "choice")
	in.consent = f.flag(p, "consent")
	return validate(in, lim, p)
}

// DecodeOperator reads the 111 operator's phone form (urlencoded, or multipart without files):
// the harm as a taxonomy code ("harm"), the caller's type and age band ("reporter",
// "age_band"), a required description, and the other fields of DecodeForm. The channel is
// "phone", the legal basis "public_task". There is no screenshot field: operators never see
// media, and a file in the request is refused.
func DecodeOperator(r *http.Request, lim hotline.Limits) (hotline.Submission, error) {
	lim = withDefaults(lim)
	f, err := readForm(r, lim, false)
	if err != nil {
		return hotline.Submission{}, err
	}
	p := &problems{}
	in := &input{src: fromOperator}
	if f.anyFile {
		in.shots = []upload{{}} // refused by validate, unread
	}
	f.common(in, p)
	in.harm = f.get(p, "harm")
	return validate(in, lim, p)
}

// form is a decoded form body.
type form struct {
	vals     url.Values
	files    []upload
	overflow map[string]bool // text fields longer than their cap: not kept
	anyFile  bool            // a file part was sent (under any name)
}

// common reads the fields both forms share.
func (f *form) common(in *input, p *problems) {
	in.lang = f.get(p, "lang")
	if f.overflow["urls"] || f.overflow["url"] {
		p.add("urls", "report.err.urls_too_many", "too many links in one report, or a link too long")
	} else {
		for _, v := range f.vals["urls"] {
			in.urls = append(in.urls, strings.Split(v, "\n")...)
		}
		in.urls = append(in.urls, f.vals["url"]...)
	}
	in.platform = f.get(p, "platform")
	in.account = f.get(p, "account")
	in.where = f.get(p, "where")
	in.when = f.get(p, "when")
	in.description = f.get(p, "description")
	in.reporter = f.get(p, "reporter")
	in.ageBand = f.get(p, "age_band")
	in.province = f.get(p, "province")
	in.contact = f.get(p, "contact")
	in.dangerNow = f.flag(p, "danger_now")
	in.selfHarm = f.flag(p, "self_harm")
	in.extortion = f.flag(p, "extortion")
	in.feedback = f.flag(p, "feedback")
}

// get returns a single-valued field; a field sent twice is refused rather than guessed.
func (f *form) get(p *problems, name string) string {
	if f.overflow[name] {
		p.add(name, "report.err.too_long", "%s is too long", name)
		return ""
	}
	vs := f.vals[name]
	if len(vs) > 1 {
		p.add(name, "report.err.duplicate", "%s was given more than once", name)
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// flag reads a checkbox: "yes" or absent.
func (f *form) flag(p *problems, name string) bool {
	switch f.get(p, name) {
	case "":
		return false
	case "yes":
		return true
	}
	p.add(name, "report.err.flag", `%s must be "yes" or absent`, name)
	return false
}

// textCap is the most bytes intake reads of one text field before calling it too long: enough
// for the longest valid value in any encoding of characters (see clean).
func textCap(name string, lim hotline.Limits) int64 {
	switch name {
	case "description":
		return int64(8*lim.MaxDescription + 1024)
	case "urls":
		return int64(lim.MaxURLs*(canon.MaxLen+2) + 1024)
	}
	return int64(8*lim.MaxField + 1024)
}

// bodyCap bounds what intake reads of a form body, whatever the caller's own bound: the
// screenshots, and room to read past text fields that are too long so that the error can name
// them.
func bodyCap(lim hotline.Limits) int64 {
	return int64(lim.MaxScreenshots+1)*lim.MaxScreenshotBytes + 32<<20
}

// capReader fails with ErrTooLarge after n bytes.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, fmt.Errorf("%w: form body over the limit", ErrTooLarge)
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// readErr classifies an error met while reading the body.
func readErr(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, ErrTooLarge):
		return err
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: read body: %v", ErrRequest, err)
}

// readURLEncoded reads name=value pairs one at a time, so that a field too long is named
// (and skipped) instead of failing the whole request.
func (f *form) readURLEncoded(br *bufio.Reader, lim hotline.Limits) error {
	maxPair := 3*max(textCap("description", lim), textCap("urls", lim), textCap("", lim)) + 512
	textParts, urlParts := 0, 0
	for {
		pair, tooLong, last, err := readPair(br, maxPair)
		if err != nil {
			return readErr(err)
		}
		if len(pair) > 0 {
			k, v, _ := strings.Cut(string(pair), "=")
			name, err := url.QueryUnescape(k)
			if err != nil {
				return fmt.Errorf("%w: form encoding: %v", ErrRequest, err)
			}
			if name == "url" {
				urlParts++
			} else {
				textParts++
			}
			switch {
			case textParts > maxTextParts:
				return fmt.Errorf("%w: more than %d fields", ErrRequest, maxTextParts)
			case tooLong, name == "url" && urlParts > lim.MaxURLs:
				f.overflow[name] = true
				delete(f.vals, name)
			case !f.overflow[name]:
				value, err := url.QueryUnescape(v)
				if err != nil {
					return fmt.Errorf("%w: form encoding of %s: %v", ErrRequest, fieldName(name), err)
				}
				if int64(len(value)) > textCap(name, lim) {
					f.overflow[name] = true
					delete(f.vals, name)
					break
				}
				f.vals[name] = append(f.vals[name], value)
			}
		}
		if last {
			return nil
		}
	}
}

// readPair reads up to the next "&" or the end; a pair longer than max is cut (tooLong) and
// the rest of it skipped.
func readPair(br *bufio.Reader, max int64) (pair []byte, tooLong, last bool, err error) {
	for {
		chunk, err := br.ReadSlice('&')
		if err == nil {
			chunk = chunk[:len(chunk)-1]
		}
		if int64(len(pair)+len(chunk)) <= max {
			pair = append(pair, chunk...)
		} else {
			tooLong = true
		}
		switch {
		case err == nil:
			return pair, tooLong, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return pair, tooLong, true, nil
		default:
			return nil, false, false, err
		}
	}
}

// readForm reads the body; files are read only when allowFiles (the public form), and only
// under the name "screenshot".
func readForm(r *http.Request, lim hotline.Limits, allowFiles bool) (*form, error) {
	if r.Body == nil {
		return nil, fmt.Errorf("%w: no body", ErrRequest)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("%w: content type: %v", ErrRequest, err)
	}
	f := &form{vals: url.Values{}, overflow: map[string]bool{}}
	body := &capReader{r: r.Body, n: bodyCap(lim)}
	switch mt {
	case "application/x-www-form-urlencoded":
		if err := f.readURLEncoded(bufio.NewReader(body), lim); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%w: multipart without boundary", ErrRequest)
		}
		if err := f.readMultipart(multipart.NewReader(body, params["boundary"]), lim, allowFiles); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: content type %q is not a form", ErrRequest, mt)
	}
	r.PostForm = f.vals
	return f, nil
}

func (f *form) readMultipart(mr *multipart.Reader, lim hotline.Limits, allowFiles bool) error {
	textParts, urlParts := 0, 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return readErr(err)
		}
		name := part.FormName()
		if part.FileName() != "" {
			f.anyFile = true
			if !allowFiles || name != "screenshot" {
				continue // a file under another name is not read; NextPart skips it
			}
			if len(f.files) >= lim.MaxScreenshots {
				// Counted, not kept: too many anyway. An empty part (a file input left
				// empty) is not a picture.
				if _, err := readPart(part, 0); errors.Is(err, errPartTooLong) {
					f.files = append(f.files, upload{})
				} else if err != nil {
					return err
				}
				continue
			}
			data, err := readPart(part, lim.MaxScreenshotBytes)
			switch {
			case errors.Is(err, errPartTooLong):
				f.files = append(f.files, upload{tooBig: true})
			case err != nil:
				return err
			case len(data) > 0: // an empty file input sends an empty part
				f.files = append(f.files, upload{data: data})
			}
			continue
		}
		if name == "" {
			continue
		}
		if name == "url" {
			// Repeated url fields are counted apart from the others, so that many links get
			// the links' own error rather than a refusal of the request.
			if urlParts++; urlParts > lim.MaxURLs {
				f.overflow["url"] = true
				delete(f.vals, "url")
				continue
			}
		} else if textParts++; textParts > maxTextParts {
			return fmt.Errorf("%w: more than %d fields", ErrRequest, maxTextParts)
		}
		data, err := readPart(part, textCap(name, lim))
		switch {
		case errors.Is(err, errPartTooLong):
			f.overflow[name] = true
			delete(f.vals, name)
		case err != nil:
			return err
		case !f.overflow[name]:
			f.vals[name] = append(f.vals[name], string(data))
		}
	}
}

var errPartTooLong = errors.New("part too long")

func readPart(part *multipart.Part, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(part, max+1))
	if err != nil {
		return nil, readErr(err)
	}
	if n > max {
		return nil, errPartTooLong
	}
	return buf.Bytes(), nil
}

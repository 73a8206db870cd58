package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/scanner/classify"
)

func runClassify(t *testing.T, args []string, input string) ([]classifyLine, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := classifyCmd(args, strings.NewReader(input), &out, &errb)
	var lines []classifyLine
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l classifyLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines, errb.String(), code
}

func TestClassifyCmd(t *testing.T) {
	in := "Chơi nổ hũ uy tín\r\nhello, have a nice day\n\xff\xfe not utf-8\n\nfree porn videos" // last line without newline
	lines, stderr, code := runClassify(t, nil, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(lines) != 5 {
		t.Fatalf("%d output lines for 5 input lines: %+v", len(lines), lines)
	}
	want := []struct {
		top, err string
	}{{"gambling", ""}, {"clean", ""}, {"", "line is not valid UTF-8"}, {"clean", ""}, {"sexual", ""}}
	for i, w := range want {
		l := lines[i]
		if l.Line != i+1 || l.Top != w.top || l.Error != w.err {
			t.Errorf("line %d: %+v, want top %q error %q", i+1, l, w.top, w.err)
		}
		if w.err == "" && len(l.Scores) != 7 {
			t.Errorf("line %d: %d scores", i+1, len(l.Scores))
		}
	}
	// Evidence is the words, unquoted: the case page and the suggestions page quote it.
	if len(lines[0].Reasons) == 0 || lines[0].Reasons[0].Evidence != "nổ hũ" {
		t.Errorf("line 1 reasons: %+v", lines[0].Reasons)
	}
}

// What an administrator trying the classifier reads: a grooming message with two cues is
// grooming, with each cue's words as its evidence; the hate model, which fires on the
// family words of such a message, stays under its threshold and gives no reason.
func TestClassifyCmdGrooming(t *testing.T) {
	lines, stderr, code := runClassify(t, nil, "Mẹ em có biết chuyện này không? Gửi anh vài tấm ảnh nhé, đừng nói với mẹ\n")
	if code != 0 || len(lines) != 1 {
		t.Fatalf("exit %d (%s), %+v", code, stderr, lines)
	}
	l := lines[0]
	if l.Top != "grooming" || l.Scores["hate_bullying"] >= 0.5 {
		t.Errorf("top %q, scores %v", l.Top, l.Scores)
	}
	want := []classify.Reason{
		{Category: "grooming", Rule: "photo_request", Evidence: "gửi anh vài tấm ảnh"},
		{Category: "grooming", Rule: "secrecy", Evidence: "đừng nói với mẹ"},
	}
	if !slices.Equal(l.Reasons, want) {
		t.Errorf("reasons %+v, want %+v", l.Reasons, want)
	}
}

func TestClassifyCmdThreshold(t *testing.T) {
	lines, _, code := runClassify(t, []string{"--threshold", "gambling=0.95"}, "Chơi nổ hũ uy tín\n")
	if code != 0 || len(lines) != 1 || lines[0].Top != "clean" {
		t.Fatalf("exit %d, %+v", code, lines)
	}
	for _, bad := range [][]string{{"--threshold", "nope=0.5"}, {"--threshold", "gambling"}, {"--threshold", "gambling=2"}, {"extra"}} {
		if _, _, code := runClassify(t, bad, "x\n"); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestClassifyCmdLongLine(t *testing.T) {
	long := strings.Repeat("nổ hũ ", 2<<20/len("nổ hũ ")) + "tail"
	lines, stderr, code := runClassify(t, []string{"--max-line", "1000"}, long+"\nnext line\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d (%s), %d lines", code, stderr, len(lines))
	}
	if lines[0].Note == "" || lines[0].Top != "gambling" || lines[0].Error != "" {
		t.Errorf("long line: %+v", lines[0])
	}
	if lines[1].Line != 2 || lines[1].Note != "" || lines[1].Top != "clean" {
		t.Errorf("line after the long one: %+v", lines[1])
	}
}

func TestClassifyCmdDomains(t *testing.T) {
	lines, _, code := runClassify(t, []string{"--domains"}, "nohu88.com\nvnexpress.net\n")
	if code != 0 || len(lines) != 2 || lines[0].Top != "gambling" || lines[1].Top != "clean" {
		t.Fatalf("exit %d, %+v", code, lines)
	}
}

func TestClassifyCmdNUL(t *testing.T) {
	lines, _, code := runClassify(t, nil, "nổ\x00hũ\n\x00\x00\n")
	if code != 0 || len(lines) != 2 || lines[0].Top != "gambling" {
		t.Fatalf("exit %d, %+v", code, lines)
	}
}

// A text given as an argument is refused with where texts go, not only the usage.
func TestClassifyCmdArgument(t *testing.T) {
	lines, stderr, code := runClassify(t, []string{"em mấy tuổi?"}, "")
	if code != 2 || len(lines) != 0 || !strings.Contains(stderr, "standard input") {
		t.Errorf("argument: code %d, %d lines, stderr %q", code, len(lines), stderr)
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kidshield/kidshield/scanner/classify"
)

const classifyUsage = `Usage: kidshield classify [--threshold CATEGORY=VALUE ...] [--domains] [--max-line BYTES] < lines

Reads one text per line on standard input (UTF-8) and prints one JSON line per input:
{"line":N,"scores":{category: 0..1},"top":"category or clean","reasons":[{category,rule,evidence}]}.
A line that is not UTF-8 gets {"line":N,"error":...}; a line longer than --max-line is cut
there and says so in "note". Scores are suggestions for a person, never decisions.

Categories: ` + "sexual, self_harm, violence, gambling, scam, hate_bullying, grooming" + ` (default threshold 0.5 each).
"top" is the MOST SEVERE category at or above its threshold, not the highest score, in this
order: grooming, sexual, self_harm, violence, scam, gambling, hate_bullying ("clean" when none
passes); every score is in "scores". Reasons are listed for every category that scored, also
below its threshold; a reason's "evidence" is the words matched as the classifier read them,
followed by the list's entry in parentheses when they were read as it ("no hu (nổ hũ)").
hate_bullying also comes from a model trained on Vietnamese social-media comments: its
score is the model's probability rescaled so that its tuned threshold lands on 0.5, and
multiplied by 0.45 (never reaching 0.5) when no word of the hate_bullying list is near; its
reason names the words that weighed most. The others come from word lists and rules
(docs/classify-eval.md). Try thresholds on your own samples with --threshold.
With --domains each line is a domain name, scored by the cues in its labels (the network
list is not consulted here).

Flags:
`

// classifyLine is one output line.
type classifyLine struct {
	Line    int                `json:"line"`
	Scores  map[string]float64 `json:"scores,omitempty"`
	Top     string             `json:"top,omitempty"`
	Reasons []classify.Reason  `json:"reasons,omitempty"`
	Note    string             `json:"note,omitempty"`
	Error   string             `json:"error,omitempty"`
}

func classifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, classifyUsage); fs.PrintDefaults() }
	thresholds := map[string]float64{}
	fs.Func("threshold", "CATEGORY=VALUE: a category's threshold in [0,1] (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("%q is not CATEGORY=VALUE", s)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		thresholds[strings.TrimSpace(k)] = f
		return nil
	})
	domains := fs.Bool("domains", false, "each line is a domain name")
	maxLine := fs.Int("max-line", classify.MaxTextBytes, "bytes read of each line; the rest is skipped with a note")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		// The texts are read from standard input (a file of samples, one per line), never
		// from arguments: say so rather than only print the usage.
		fmt.Fprintln(stderr, "kidshield classify: texts are read from standard input, one per line, not from arguments; e.g.: echo 'em mấy tuổi?' | kidshield classify")
		return 2
	}
	if *maxLine <= 0 {
		fs.Usage()
		return 2
	}
	c, err := classify.New(thresholds)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield classify:", err)
		return 2
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for n := 1; ; n++ {
		line, cut, err := readClassifyLine(in, *maxLine)
		if err == io.EOF && line == nil {
			break
		}
		if err != nil && err != io.EOF {
			out.Flush()
			fmt.Fprintln(stderr, "kidshield classify: read standard input:", err)
			return 1
		}
		res := classifyLine{Line: n}
		if cut {
			// Cutting may split a character: drop the partial one rather than call the
			// line invalid.
			for len(line) > 0 && !utf8.Valid(line) {
				r, _ := utf8.DecodeLastRune(line)
				if r != utf8.RuneError {
					break
				}
				line = line[:len(line)-1]
				if utf8.Valid(line) {
					break
				}
			}
			res.Note = fmt.Sprintf("line longer than %d bytes: only the first %d were read", *maxLine, *maxLine)
		}
		if !utf8.Valid(line) {
			res.Error = "line is not valid UTF-8"
		} else {
			var r classify.Result
			if *domains {
				r = c.ClassifyDomain(string(line), nil)
			} else {
				r = c.Classify(string(line))
			}
			res.Scores, res.Top, res.Reasons = r.Scores, r.Top, r.Reasons
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "kidshield classify: write:", err)
			return 1
		}
		if err == io.EOF {
			break
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "kidshield classify: write:", err)
		return 1
	}
	return 0
}

// readClassifyLine returns the next line without its line ending, at most max bytes of it
// (cut reports that more was skipped), and io.EOF with the last line if it had no newline.
func readClassifyLine(r *bufio.Reader, max int) (line []byte, cut bool, err error) {
	line = []byte{}
	for {
		chunk, err := r.ReadSlice('\n')
		body := chunk
		if n := len(body); n > 0 && body[n-1] == '\n' {
			body = body[:n-1]
		}
		if room := max - len(line); len(body) > room {
			cut, body = true, body[:room]
		}
		line = append(line, body...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil:
			return trimCR(line), cut, nil
		case len(line) == 0 && !cut && len(chunk) == 0:
			return nil, false, err
		default:
			return trimCR(line), cut, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

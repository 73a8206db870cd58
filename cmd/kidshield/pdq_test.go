package main

import (
	"bufio"
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/scanner/pdq"
)

const pdqTestdata = "/work/shared/testdata/pdq"

func pdqVectors(t *testing.T) string {
	t.Helper()
	d := os.Getenv("KIDSHIELD_PDQ_TESTDATA")
	if d == "" {
		d = pdqTestdata
	}
	if _, err := os.Stat(filepath.Join(d, "expected-cpp.csv")); err != nil {
		t.Skipf("PDQ test vectors not found in %s (set KIDSHIELD_PDQ_TESTDATA)", d)
	}
	return d
}

// expectedPDQ maps file name → reference CSV fields.
func expectedPDQ(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ",")
		m[f[len(f)-1]] = f
	}
	return m
}

func TestPDQCommand(t *testing.T) {
	dir := pdqVectors(t)
	want := expectedPDQ(t, filepath.Join(dir, "expected-cpp.csv"))
	var files []string
	for name := range want {
		files = append(files, filepath.Join(dir, "images", name))
	}
	var out, errb bytes.Buffer
	if code := run(append([]string{"pdq"}, files...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	for i, line := range lines {
		f := strings.Split(line, ",")
		if len(f) != 3 || f[2] != files[i] {
			t.Fatalf("line %q: want hash,quality,%s", line, files[i])
		}
		ref := want[filepath.Base(f[2])]
		got, err := pdq.ParseHash(f[0])
		if err != nil {
			t.Fatal(err)
		}
		refHash, _ := pdq.ParseHash(ref[0])
		if d := got.Distance(refHash); d > 4 || f[1] != ref[1] {
			t.Errorf("%s: distance %d quality %s, reference quality %s", f[2], d, f[1], ref[1])
		}
	}
}

func TestPDQCommandDihedral(t *testing.T) {
	dir := pdqVectors(t)
	ref := expectedPDQ(t, filepath.Join(dir, "expected-cpp-dihedral.csv"))["dih-bridge-1-original.jpg"]
	file := filepath.Join(dir, "images", "dih-bridge-1-original.jpg")

	var out, errb bytes.Buffer
	if code := run([]string{"pdq", "--dihedral", file}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for ; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), ",")
		if n >= 8 || len(f) != 3 || f[2] != file || f[1] != ref[8] {
			t.Fatalf("line %d: %q", n+1, sc.Text())
		}
		got, _ := pdq.ParseHash(f[0])
		want, _ := pdq.ParseHash(ref[n])
		if d := got.Distance(want); d > 4 {
			t.Errorf("%s: distance %d", pdq.Dihedral[n], d)
		}
	}
	if n != 8 {
		t.Fatalf("%d lines, want 8", n)
	}

	out.Reset()
	if code := run([]string{"pdq", "--dihedral-across", file}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	f := strings.Split(strings.TrimSpace(out.String()), ",")
	if len(f) != 10 || f[8] != ref[8] || f[9] != file {
		t.Fatalf("across: %q", out.String())
	}
}

func TestPDQCommandBadFiles(t *testing.T) {
	dir := pdqVectors(t)
	tmp := t.TempDir()
	notImage := filepath.Join(tmp, "notes.txt")
	os.WriteFile(notImage, []byte("just some text\n"), 0o644)
	jpg, err := os.ReadFile(filepath.Join(dir, "images", "square-128x128.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(tmp, "cut.jpg")
	os.WriteFile(truncated, jpg[:len(jpg)/3], 0o644)
	good := filepath.Join(dir, "images", "square-128x128.jpg")
	missing := filepath.Join(tmp, "missing.png")

	var out, errb bytes.Buffer
	code := run([]string{"pdq", notImage, good, truncated, missing}, &out, &errb)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], ","+good) {
		t.Errorf("stdout %q: want only the good file", out.String())
	}
	for _, name := range []string{notImage, truncated, missing} {
		if !strings.Contains(errb.String(), "kidshield pdq: "+name+": ") {
			t.Errorf("stderr does not name %s:\n%s", name, errb.String())
		}
	}

	// A file over --max-pixels is refused, with the limit in the message.
	errb.Reset()
	if code := run([]string{"pdq", "--max-pixels", "1000", good}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "limit 1000") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"pdq"}, &out, &errb); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
}

// --list prints a hash list the scanner loads: each file's hash, as HashImage gives it, after
// a comment naming the file; a hash too weak to match on is left out with a note and exit 1.
func TestPDQCommandList(t *testing.T) {
	d := pdqVectors(t)
	files := []string{filepath.Join(d, "images", "aaa-orig.jpg"), filepath.Join(d, "images", "dih-bridge-1-original.jpg")}
	weak := filepath.Join(t.TempDir(), "tiny.png")
	var pb bytes.Buffer
	if err := png.Encode(&pb, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(weak, pb.Bytes(), 0o600)
	var out, errb bytes.Buffer
	if code := run(append([]string{"pdq", "--list"}, append(files, weak)...), &out, &errb); code != 1 || !strings.Contains(errb.String(), "tiny.png: quality 0") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	l, err := pdq.ParseHashList(strings.NewReader(out.String()))
	if err != nil || len(l.Entries) != len(files) {
		t.Fatalf("the output is not a hash list of %d entries: %v %+v\n%s", len(files), err, l, out.String())
	}
	for i, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := pdq.Decode(fh, pdq.DefaultLimits)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := pdq.HashImage(img); l.Entries[i].Hash != h {
			t.Errorf("%s: listed %v, hash %v", f, l.Entries[i].Hash, h)
		}
		if !strings.Contains(out.String(), "# "+filepath.Base(f)) {
			t.Errorf("no comment naming %s", f)
		}
	}
	if code := run([]string{"pdq", "--list", "--dihedral", files[0]}, &out, &errb); code != 2 {
		t.Errorf("--list --dihedral: exit %d, want 2", code)
	}
}

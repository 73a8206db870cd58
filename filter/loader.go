package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/lists"
)

// maxListSize bounds a downloaded list: the largest public lists are tens of MB.
const maxListSize = 512 << 20

// Loader keeps the compiled lists and reloads only those whose source changed: a file with a new
// modification time or size, a URL due for refresh that does not answer 304. Downloads are kept
// in the data directory, so a restart without network still has the last good copy.
type Loader struct {
	dir    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	// mu serialises loads, which may wait on downloads; status is a snapshot published after
	// each list, so metrics and the API never wait on a download.
	mu     sync.Mutex
	state  map[string]*listState
	status atomic.Pointer[[]ListStatus]
}

// ListStatus describes one list for the admin API and metrics.
type ListStatus struct {
	Name     string            `json:"name"`
	Category string            `json:"category"`
	Source   string            `json:"source"`
	Rules    int               `json:"rules"`
	Bad      int               `json:"bad_lines"`
	Errors   []lists.LineError `json:"bad_line_examples,omitempty"`
	Bytes    int               `json:"bytes"`
	LoadedAt time.Time         `json:"loaded_at"`
	Err      string            `json:"error,omitempty"`
}

type listState struct {
	cfg      config.List
	list     *lists.List
	stats    lists.Stats
	modTime  time.Time
	size     int64
	etag     string
	lastMod  string
	loadedAt time.Time
	checked  time.Time
	err      error
}

type cacheMeta struct {
	Source  string `json:"source"`
	ETag    string `json:"etag"`
	LastMod string `json:"last_modified"`
}

// NewLoader keeps downloaded lists under dir.
func NewLoader(dir string, log *slog.Logger) *Loader {
	return &Loader{
		dir:    dir,
		client: &http.Client{Timeout: 2 * time.Minute},
		log:    log,
		now:    time.Now,
		state:  map[string]*listState{},
	}
}

// Load brings every configured list up to date and returns the compiled lists by name. force
// re-checks URLs that are not yet due. A list that fails keeps its previous copy; the error says
// which lists failed, and the caller decides (a reload with failures keeps the old policy).
func (l *Loader) Load(ctx context.Context, cfgs []config.List, force bool) (map[string]*lists.List, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*lists.List, len(cfgs))
	var errs []error
	keep := map[string]bool{}
	for _, c := range cfgs {
		keep[c.Name] = true
		st := l.state[c.Name]
		if st == nil || st.cfg != c {
			st = &listState{cfg: c}
			l.state[c.Name] = st
		}
		if err := l.refresh(ctx, st, force); err != nil {
			st.err = err
			errs = append(errs, fmt.Errorf("list %s: %w", c.Name, err))
		} else {
			st.err = nil
		}
		if st.list != nil {
			out[c.Name] = st.list
		}
		l.publish()
	}
	for n := range l.state {
		if !keep[n] {
			delete(l.state, n)
		}
	}
	l.publish()
	return out, errors.Join(errs...)
}

// Status reports every list. It never waits on a load in progress.
func (l *Loader) Status() []ListStatus {
	if p := l.status.Load(); p != nil {
		return *p
	}
	return nil
}

// publish snapshots the lists' status; called with mu held.
func (l *Loader) publish() {
	var out []ListStatus
	for _, st := range l.state {
		s := ListStatus{Name: st.cfg.Name, Category: st.cfg.Category, Source: redactURL(st.cfg.Source), Rules: st.stats.Rules, Bad: st.stats.Bad, Errors: st.stats.Errors, LoadedAt: st.loadedAt}
		if st.list != nil {
			s.Bytes = st.list.SizeBytes()
		}
		if st.err != nil {
			s.Err = st.err.Error()
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	l.status.Store(&out)
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

func (l *Loader) refresh(ctx context.Context, st *listState, force bool) error {
	if !isURL(st.cfg.Source) {
		return l.refreshFile(st, st.cfg.Source)
	}
	now := l.now()
	if st.list != nil && !force && now.Sub(st.checked) < st.cfg.Refresh {
		return nil
	}
	cachePath := filepath.Join(l.dir, "lists", safeName(st.cfg.Name)+".txt")
	if st.list == nil {
		// First load: start from the copy on disk if we have one, then ask the network.
		if m, err := readMeta(cachePath); err == nil && m.Source == st.cfg.Source {
			if err := l.refreshFile(st, cachePath); err == nil {
				st.etag, st.lastMod = m.ETag, m.LastMod
			}
		}
	}
	err := l.download(ctx, st, cachePath)
	st.checked = now
	if err != nil && st.list != nil {
		l.log.Warn("list download failed; keeping the last good copy", "list", st.cfg.Name, "err", err)
		return nil
	}
	return err
}

func (l *Loader) refreshFile(st *listState, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.list != nil && fi.ModTime().Equal(st.modTime) && fi.Size() == st.size {
		return nil // unchanged: the compiled list is reused as it is
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	list, stats, err := lists.Compile(io.LimitReader(f, maxListSize), formatOf(st.cfg.Format))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if stats.Rules == 0 && stats.Bad > 0 {
		return fmt.Errorf("no valid rules in %s (%d bad lines; first: %v)", path, stats.Bad, stats.Errors[0])
	}
	st.list, st.stats, st.modTime, st.size, st.loadedAt = list, stats, fi.ModTime(), fi.Size(), l.now()
	if stats.Bad > 0 {
		l.log.Warn("list has bad lines (skipped)", "list", st.cfg.Name, "bad", stats.Bad, "first", stats.Errors[0].Error())
	}
	l.log.Info("list loaded", "list", st.cfg.Name, "rules", stats.Rules, "bytes", list.SizeBytes())
	return nil
}

func (l *Loader) download(ctx context.Context, st *listState, cachePath string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.cfg.Source, nil)
	if err != nil {
		return err
	}
	if st.list != nil {
		if st.etag != "" {
			req.Header.Set("If-None-Match", st.etag)
		}
		if st.lastMod != "" {
			req.Header.Set("If-Modified-Since", st.lastMod)
		}
	}
	req.Header.Set("User-Agent", "kidshield-list-loader")
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", redactURL(st.cfg.Source), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && st.list != nil {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %s", redactURL(st.cfg.Source), resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(cachePath), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(cachePath), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, maxListSize+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", redactURL(st.cfg.Source), err)
	}
	if n > maxListSize {
		return fmt.Errorf("fetch %s: larger than %d bytes", redactURL(st.cfg.Source), maxListSize)
	}
	// Compile the download before it replaces the last good copy on disk.
	probe := &listState{cfg: st.cfg}
	if err := l.refreshFile(probe, tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), cachePath); err != nil {
		return err
	}
	fi, _ := os.Stat(cachePath)
	st.list, st.stats, st.loadedAt = probe.list, probe.stats, probe.loadedAt
	if fi != nil {
		st.modTime, st.size = fi.ModTime(), fi.Size()
	}
	st.etag, st.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return writeMeta(cachePath, cacheMeta{Source: st.cfg.Source, ETag: st.etag, LastMod: st.lastMod})
}

func readMeta(cachePath string) (cacheMeta, error) {
	var m cacheMeta
	b, err := os.ReadFile(cachePath + ".json")
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

func writeMeta(cachePath string, m cacheMeta) error {
	b, _ := json.Marshal(m)
	tmp := cachePath + ".json.tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, cachePath+".json")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// redactURL drops credentials and the query (list URLs sometimes carry API keys).
func redactURL(s string) string {
	if !isURL(s) {
		return s
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?…"
	}
	if at := strings.Index(s, "@"); at >= 0 {
		if p := strings.Index(s, "://"); p >= 0 && p < at {
			s = s[:p+3] + "…@" + s[at+1:]
		}
	}
	return s
}

func formatOf(s string) lists.Format {
	f, err := lists.ParseFormat(s)
	if err != nil {
		return lists.FormatAuto
	}
	return f
}

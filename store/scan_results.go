package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ScanSuggestion is the text classifier's suggestion for a scanned page: each category's
// score, the top category ("clean" when none passed its threshold) and the reasons.
type ScanSuggestion struct {
	Scores  map[string]float64 `json:"scores,omitempty"`
	Top     string             `json:"top,omitempty"`
	Reasons []ScanReason       `json:"reasons,omitempty"`
}

// ScanReason is one reason behind a score: category, rule and the words that triggered it.
type ScanReason struct {
	Category string `json:"category"`
	Rule     string `json:"rule"`
	Evidence string `json:"evidence"`
}

// ScanMatch is one image of the page whose PDQ hash is near a known hash.
type ScanMatch struct {
	ImageURL  string `json:"image_url"`
	ImageSHA  string `json:"image_sha256"`
	PDQ       string `json:"pdq"`     // the image's hash
	Known     string `json:"known"`   // the known hash it is near
	Source    string `json:"source"`  // "list:<entry id>" or "file:<path>:<line>"
	HashID    int64  `json:"hash_id"` // the index's id of the known hash
	Distance  int    `json:"distance"`
	Transform string `json:"transform"` // which rotation or flip of the image matched
	Quality   int    `json:"quality"`
}

// ScanResult is what one scan of one URL found. It holds evidence fields and suggestions,
// never page bodies or images.
type ScanResult struct {
	ID           int64
	JobID        int64
	CaseID       int64
	URL          string
	FinalURL     string
	RemoteAddr   string
	HTTPStatus   int
	Fetched      time.Time
	SHA256       string
	Bytes        int64
	Error        string // why the scan could not finish ("" when it did)
	ErrorKind    string // Error's stable kind (scanner.FailureKind), worded by the case page; "" before migration 0011
	Suggestion   ScanSuggestion
	Matches      []ScanMatch
	ImagesHashed int
	// Raised says the scan raised the case's priority.
	Raised bool
}

// AddScanResult records a scan's result on a case.
func (s *Store) AddScanResult(ctx context.Context, r ScanResult) (int64, error) {
	sug, err := json.Marshal(r.Suggestion)
	if err != nil {
		return 0, fmt.Errorf("store: add scan result: %w", err)
	}
	if r.Matches == nil {
		r.Matches = []ScanMatch{}
	}
	m, err := json.Marshal(r.Matches)
	if err != nil {
		return 0, fmt.Errorf("store: add scan result: %w", err)
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO scan_results (job_id, case_id, url, final_url, remote_addr, http_status, fetched_us, sha256,
			bytes, error, error_kind, suggestion, matches, images_hashed, raised) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			r.JobID, r.CaseID, cleanText(r.URL), cleanText(r.FinalURL), cleanText(r.RemoteAddr), r.HTTPStatus, usOf(r.Fetched), r.SHA256,
			r.Bytes, cleanText(r.Error), cleanText(r.ErrorKind), string(sug), string(m), r.ImagesHashed, b2i(r.Raised)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: add scan result to case %d: %w", r.CaseID, err)
	}
	return id, nil
}

// CaseScanResults lists a case's scan results, newest first.
func (s *Store) CaseScanResults(ctx context.Context, caseID int64) ([]ScanResult, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, job_id, case_id, url, final_url, remote_addr, http_status, fetched_us, sha256, bytes, error,
		error_kind, suggestion, matches, images_hashed, raised FROM scan_results WHERE case_id = $1 ORDER BY id DESC LIMIT 200`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: scan results of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []ScanResult
	for rows.Next() {
		var r ScanResult
		var t, raised int64
		var sug, m string
		if err := rows.Scan(&r.ID, &r.JobID, &r.CaseID, &r.URL, &r.FinalURL, &r.RemoteAddr, &r.HTTPStatus, &t, &r.SHA256, &r.Bytes, &r.Error,
			&r.ErrorKind, &sug, &m, &r.ImagesHashed, &raised); err != nil {
			return nil, fmt.Errorf("store: scan results of case %d: %w", caseID, err)
		}
		r.Fetched, r.Raised = usTime(t), raised != 0
		if err := json.Unmarshal([]byte(sug), &r.Suggestion); err != nil {
			return nil, fmt.Errorf("store: scan result %d: suggestion: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(m), &r.Matches); err != nil {
			return nil, fmt.Errorf("store: scan result %d: matches: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

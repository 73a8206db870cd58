package store

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestAccountsUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 11, 1, 8, 0, 0, 123000, time.UTC)
		id, err := s.CreateUser(ctx, User{Login: "lan", Name: "Nguyễn Thị Lan", Roles: []string{"analyst", "supervisor"},
			PasswordHash: "$argon2id$x", Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, User{Login: "lan", Name: "other", PasswordHash: "h"}); !errors.Is(err, ErrLoginTaken) {
			t.Fatalf("duplicate login: %v", err)
		}
		pid, err := s.CreateUser(ctx, User{Login: "bao", Name: "Partner", Roles: []string{"partner"}, PartnerID: 7, PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.UserByLogin(ctx, "lan")
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != id || u.Name != "Nguyễn Thị Lan" || !slices.Equal(u.Roles, []string{"analyst", "supervisor"}) ||
			u.PartnerID != 0 || u.Disabled || !u.Created.Equal(t0) || !u.PasswordChanged.Equal(t0) || u.TOTPSecret != "" {
			t.Fatalf("user %+v", u)
		}
		if _, err := s.UserByLogin(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown login: %v", err)
		}
		if _, err := s.UserByID(ctx, 999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		if err := s.UpdateUser(ctx, pid, UserChange{Name: "Đối tác", Roles: []string{"partner"}, PartnerID: 9, Disabled: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateUser(ctx, 999, UserChange{Name: "x"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		p, err := s.UserByID(ctx, pid)
		if err != nil || p.Name != "Đối tác" || p.PartnerID != 9 || !p.Disabled {
			t.Fatalf("updated %+v %v", p, err)
		}
		t1 := t0.Add(time.Hour)
		if err := s.SetPasswordHash(ctx, id, "$argon2id$y", t1); err != nil {
			t.Fatal(err)
		}
		all, err := s.Users(ctx)
		if err != nil || len(all) != 2 || all[0].Login != "bao" || all[1].PasswordHash != "$argon2id$y" || !all[1].PasswordChanged.Equal(t1) {
			t.Fatalf("users %+v %v", all, err)
		}
	})
}

func TestAccountsTOTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id, err := s.CreateUser(ctx, User{Login: "an", Name: "An", Roles: []string{"operator"}, PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnrolTOTP(ctx, id, "sealed-1", 100); err != nil {
			t.Fatal(err)
		}
		if err := s.EnrolTOTP(ctx, id, "sealed-2", 101); !errors.Is(err, ErrConflict) {
			t.Fatalf("second enrolment: %v", err)
		}
		if err := s.EnrolTOTP(ctx, 999, "sealed", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("enrol unknown: %v", err)
		}
		u, _ := s.UserByID(ctx, id)
		if u.TOTPSecret != "sealed-1" || u.TOTPLastStep != 100 {
			t.Fatalf("after enrol %+v", u)
		}
		for _, tc := range []struct {
			step int64
			ok   bool
		}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}} {
			ok, err := s.UseTOTPStep(ctx, id, tc.step)
			if err != nil || ok != tc.ok {
				t.Fatalf("use step %d: %v %v, want %v", tc.step, ok, err, tc.ok)
			}
		}
		// Concurrent use of the same step: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Go(func() {
				ok, err := s.UseTOTPStep(ctx, id, 200)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if ok {
					wins++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d concurrent uses of one step accepted", wins)
		}
		if err := s.ResetTOTP(ctx, id); err != nil {
			t.Fatal(err)
		}
		u, _ = s.UserByID(ctx, id)
		if u.TOTPSecret != "" || u.TOTPLastStep != 0 {
			t.Fatalf("after reset %+v", u)
		}
		if err := s.EnrolTOTP(ctx, id, "sealed-3", 5); err != nil {
			t.Fatalf("enrol after reset: %v", err)
		}
	})
}

func TestAccountsSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id, _ := s.CreateUser(ctx, User{Login: "an", Name: "An", Roles: []string{"operator"}, PasswordHash: "h"})
		id2, _ := s.CreateUser(ctx, User{Login: "binh", Name: "Bình", Roles: []string{"analyst"}, PasswordHash: "h"})
		t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		mk := func(hash string, user int64, expires time.Time) {
			t.Helper()
			if err := s.CreateSession(ctx, Session{IDHash: hash, UserID: user, CSRF: "c-" + hash, Created: t0, LastSeen: t0, Expires: expires}); err != nil {
				t.Fatal(err)
			}
		}
		mk("h1", id, t0.Add(12*time.Hour))
		mk("h2", id, t0.Add(12*time.Hour))
		mk("h3", id2, t0.Add(time.Hour))
		ss, u, err := s.SessionByHash(ctx, "h1")
		if err != nil || ss.UserID != id || u.Login != "an" || ss.CSRF != "c-h1" || ss.MFADone || !ss.LastSeen.Equal(t0) || !ss.Expires.Equal(t0.Add(12*time.Hour)) {
			t.Fatalf("session %+v %+v %v", ss, u, err)
		}
		if _, _, err := s.SessionByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		// Touch within a minute: no write; later: moves.
		if err := s.TouchSession(ctx, "h1", t0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		ss, _, _ = s.SessionByHash(ctx, "h1")
		if !ss.LastSeen.Equal(t0) {
			t.Fatalf("touched within a minute: %v", ss.LastSeen)
		}
		if err := s.TouchSession(ctx, "h1", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		ss, _, _ = s.SessionByHash(ctx, "h1")
		if !ss.LastSeen.Equal(t0.Add(2 * time.Minute)) {
			t.Fatalf("not touched: %v", ss.LastSeen)
		}
		// Expired by absolute end (h3) and, with idle 90 s, h2 (last seen t0); h1 was touched.
		n, err := s.DeleteExpiredSessions(ctx, t0.Add(3*time.Hour), 0)
		if err != nil || n != 1 {
			t.Fatalf("expired: %d %v", n, err)
		}
		n, err = s.DeleteExpiredSessions(ctx, t0.Add(3*time.Minute), 150*time.Second)
		if err != nil || n != 1 {
			t.Fatalf("idle: %d %v", n, err)
		}
		if _, _, err := s.SessionByHash(ctx, "h1"); err != nil {
			t.Fatalf("h1 gone: %v", err)
		}
		mk("h4", id, t0.Add(time.Hour))
		if err := s.DeleteSession(ctx, "h4"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByHash(ctx, "h4"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted session: %v", err)
		}
		mk("h5", id, t0.Add(time.Hour))
		n, err = s.DeleteUserSessions(ctx, id)
		if err != nil || n != 2 {
			t.Fatalf("delete user sessions: %d %v", n, err)
		}
	})
}

func TestAccountsAPITokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		id, err := s.CreateAPIToken(ctx, APIToken{Name: "zalo-bot", Hash: "th1", Scopes: []string{"reports:submit"}, PartnerID: 3, CreatedBy: 1, Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		id2, err := s.CreateAPIToken(ctx, APIToken{Name: "cli", Hash: "th2", Scopes: nil, Created: t0})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.APITokenByHash(ctx, "th1")
		if err != nil || tok.ID != id || tok.Name != "zalo-bot" || !slices.Equal(tok.Scopes, []string{"reports:submit"}) ||
			tok.PartnerID != 3 || tok.CreatedBy != 1 || !tok.Created.Equal(t0) || !tok.LastUsed.IsZero() || !tok.Revoked.IsZero() {
			t.Fatalf("token %+v %v", tok, err)
		}
		if err := s.TouchAPIToken(ctx, id, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchAPIToken(ctx, id, t0.Add(time.Hour+30*time.Second)); err != nil {
			t.Fatal(err)
		}
		tok, _ = s.APITokenByHash(ctx, "th1")
		if !tok.LastUsed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("last used %v", tok.LastUsed)
		}
		if err := s.RevokeAPIToken(ctx, id, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIToken(ctx, id, t0.Add(3*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := s.APITokenByHash(ctx, "th1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked token found: %v", err)
		}
		list, err := s.APITokens(ctx)
		if err != nil || len(list) != 2 || list[0].ID != id2 || len(list[0].Scopes) != 0 || !list[1].Revoked.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("tokens %+v %v", list, err)
		}
	})
}

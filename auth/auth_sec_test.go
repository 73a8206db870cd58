package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// Someone who has a staff member's password must not get a fresh allowance of second-factor
// guesses at every password login: the login's failures are forgiven only when the whole login,
// second factor included, succeeds.
func TestTOTPGuessesSurvivePasswordLogin(t *testing.T) {
	e := newEnv(t, config.Auth{})
	e.addUser("lan", web.RoleAnalyst)
	owner := e.browser()
	owner.login("lan") // enrols
	u, _ := e.st.UserByLogin(t.Context(), "lan")
	sec, _ := e.keys.Open(u.TOTPSecret, TOTPColumn)
	wrong := func() string {
		// A code that is wrong at every step the server accepts now.
		for c := 0; ; c++ {
			s := strings.Repeat(string(rune('0'+c%10)), 6)
			ok := true
			for d := -1; d <= 1; d++ {
				if good, _ := TOTPCode(string(sec), e.clock.Now().Add(time.Duration(d)*30*time.Second)); good == s {
					ok = false
				}
			}
			if ok {
				return s
			}
		}
	}

	thief := e.browser()
	guesses := 0
	for cycle := 0; cycle < 5; cycle++ {
		r := thief.post("/login", "login", "lan", "password", testPassword)
		if r.code == http.StatusTooManyRequests {
			break
		}
		want(t, "password login", r, 303, "/login/totp")
		tok := thief.csrf("/login/totp")
		for range 5 {
			r := thief.post("/login/totp", "csrf", tok, "code", wrong())
			if r.code == http.StatusTooManyRequests {
				break
			}
			want(t, "wrong code", r, http.StatusUnauthorized, "")
			guesses++
		}
	}
	if guesses > 10 {
		t.Fatalf("%d second-factor guesses allowed with the password (limit 10 per window)", guesses)
	}
	// Even the right code is refused while the login is blocked.
	e.clock.Add(30 * time.Second)
	good, _ := TOTPCode(string(sec), e.clock.Now())
	r := thief.post("/login", "login", "lan", "password", testPassword)
	if r.code == http.StatusSeeOther {
		r = thief.post("/login/totp", "csrf", thief.csrf("/login/totp"), "code", good)
	}
	want(t, "blocked login", r, http.StatusTooManyRequests, "")

	// After the window the owner logs in, and a complete login forgives the failures.
	e.clock.Add(limitWindow)
	e.clock.Add(30 * time.Second)
	owner2 := e.browser()
	owner2.login("lan")
	want(t, "desk after a full login", owner2.get("/desk"), 200, "")
	if blocked, _ := e.m.byLogin.blocked("lan", e.clock.Now()); blocked {
		t.Fatal("a complete login did not clear the login's failures")
	}
}

// Argon2id runs a bounded number of times at once: each run takes 19 MiB, and a burst of
// logins must queue rather than take the server's memory.
func TestPasswordHashingIsBounded(t *testing.T) {
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	released := false
	defer func() {
		if !released {
			for range cap(hashSlots) {
				<-hashSlots
			}
		}
	}()
	done := make(chan bool, 1)
	go func() {
		ok, _ := VerifyPassword(h, "a long enough password")
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("a password was hashed while every slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	<-hashSlots
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the password did not verify")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a freed slot was not used")
	}
	for range cap(hashSlots) - 1 {
		<-hashSlots
	}
	released = true
}

// The audit log keeps no personal data and cannot forget what it keeps: what someone typed as a
// login (a name, a password in the wrong field) is not recorded unless it names an account, and
// addresses are recorded as their network.
func TestLoginAuditHoldsNoTypedLoginOrAddress(t *testing.T) {
	e := newEnv(t, totpOff())
	e.addUser("lan", web.RoleAnalyst)
	b := e.browser()
	want(t, "unknown login", b.post("/login", "login", "matkhau-cua-lan", "password", "x"), 401, "")
	want(t, "wrong password", b.post("/login", "login", "lan", "password", "not the password"), 401, "")
	b.login("lan")
	for range 10 {
		b.post("/login", "login", "someone.else", "password", "x")
	}
	want(t, "limited", b.post("/login", "login", "ghost.login", "password", "x"), http.StatusTooManyRequests, "")
	recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Action: "auth.", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Action] = true
		all := r.Object + " " + r.Detail
		for _, bad := range []string{"matkhau", "someone.else", "ghost.login", "127.0.0.1"} {
			if strings.Contains(all, bad) {
				t.Errorf("%s %s records %q: %s", r.Action, r.Object, bad, r.Detail)
			}
		}
		if !strings.Contains(r.Detail, `"net":"127.0.0.0/24"`) {
			t.Errorf("%s: no network in %s", r.Action, r.Detail)
		}
	}
	for _, a := range []string{"auth.login.failed", "auth.login", "auth.login.limited"} {
		if !seen[a] {
			t.Errorf("no %s record", a)
		}
	}
}

package auth

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// TokenOnly authenticates API tokens and nothing else, for a node that serves token routes
// without the hotline's pages (a feed node: /feed/v1 for filter vendors and filter nodes). It
// needs no data keys: sessions and second factors, which are sealed, are not served there.
func TokenOnly(st *store.Store, log *slog.Logger) web.Authenticator {
	if log == nil {
		log = slog.Default()
	}
	return tokenOnly{m: &Manager{st: st, log: log, now: time.Now}}
}

type tokenOnly struct{ m *Manager }

// Session implements web.Authenticator: there are no sessions on such a node.
func (tokenOnly) Session(*http.Request) (*web.Principal, error) { return nil, nil }

// Token implements web.Authenticator as the hotline's Manager does.
func (t tokenOnly) Token(r *http.Request, token string) (*web.Principal, error) {
	return t.m.Token(r, token)
}

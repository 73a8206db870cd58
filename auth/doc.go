// Package auth is who may use the hotline: staff and partner accounts with Argon2id passwords
// and TOTP second factors, browser sessions, API tokens for partners and machines, the login
// and account pages, and the administrator's pages for accounts, tokens and the audit log.
//
// The Manager implements web.Authenticator; the route guard in package web does the access
// check (roles, second factor done, CSRF token) for every Staff and Token route. Secrets are
// never stored as given: passwords as Argon2id hashes, session cookies and API tokens as
// SHA-256, TOTP secrets sealed by the data keys (Options.Sealer). Nothing here logs a
// password, a code, a token or a cookie.
//
// Login rate limiting is kept in memory, so on a multi-node deployment each node counts on its
// own: the effective limit is LoginAttempts times the number of nodes behind the balancer.
package auth

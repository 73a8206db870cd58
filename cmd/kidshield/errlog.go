package main

import (
	"io"
	"log"
	"log/slog"
	"regexp"
)

// clientAddrRE matches the client addresses net/http puts into its own messages ("http: TLS
// handshake error from 203.0.113.5:51234: EOF", "http: panic serving [2001:db8::1]:443").
var clientAddrRE = regexp.MustCompile(`\[[0-9A-Fa-f:.%]+(?:%[0-9A-Za-z_.-]+)?\](?::\d+)?|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b`)

// serverErrorLog is the http.Server's ErrorLog: its messages at level, without the client's
// address. A reporter's address is personal data the hotline keeps only as a keyed hash; a TLS
// handshake that failed on a child's phone must not write it into the log.
func serverErrorLog(h slog.Handler, level slog.Level) *log.Logger {
	return log.New(redactAddrs{slog.NewLogLogger(h, level).Writer()}, "", 0)
}

type redactAddrs struct{ w io.Writer }

func (r redactAddrs) Write(p []byte) (int, error) {
	if _, err := r.w.Write(clientAddrRE.ReplaceAll(p, []byte("[client]"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

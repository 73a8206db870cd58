package filter

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ServeUDP listens on addr with n SO_REUSEPORT sockets (the kernel spreads clients across them,
// so every core reads its own socket) and serves until ctx ends. It returns the bound address
// (useful with port 0) once all sockets are open.
func (s *Server) ServeUDP(ctx context.Context, addr string, n int) (netip.AddrPort, error) {
	if n < 1 {
		n = 1
	}
	lc := net.ListenConfig{Control: reusePort}
	var conns []*net.UDPConn
	bound := addr
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, "udp", bound)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return netip.AddrPort{}, err
		}
		c := pc.(*net.UDPConn)
		conns = append(conns, c)
		bound = c.LocalAddr().String() // the next sockets join the same port, even when addr had port 0
	}
	for _, c := range conns {
		go s.udpLoop(ctx, c)
	}
	go func() { <-ctx.Done(); closeAll(conns) }()
	return conns[0].LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

func closeAll(conns []*net.UDPConn) {
	for _, c := range conns {
		c.Close()
	}
}

func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func (s *Server) udpLoop(ctx context.Context, c *net.UDPConn) {
	buf := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	var q query
	ci := clientInfo{transport: transUDP}
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			continue
		}
		ci.addr = from.Addr()
		if !s.allowed(ci.addr) {
			s.count(&ci, resRefused)
			if n >= headerLen {
				if r := s.refuse(out[:0], buf[:n], &q); len(r) > 0 {
					_, _ = c.WriteToUDPAddrPort(r, from)
				}
			}
			continue
		}
		if s.limiter != nil && !s.limiter.allow(ci.addr, time.Now()) {
			// Dropped, not REFUSED: an answer to a flood is what a reflection attack wants.
			s.count(&ci, resRateLimited)
			continue
		}
		resp, pending := s.answer(ctx, out[:0], buf[:n], &ci, &q, 0, false)
		if pending {
			s.udpAsync(ctx, c, from, buf[:n], ci)
			continue
		}
		if len(resp) > 0 {
			_, _ = c.WriteToUDPAddrPort(resp, from)
		}
	}
}

// refuse answers a client outside the access list with REFUSED, so a misconfigured device
// gets a clear answer instead of a timeout.
func (s *Server) refuse(dst, msg []byte, q *query) []byte {
	if err := parseQuery(msg, q); err != nil {
		return nil
	}
	return errorAnswer(dst, msg, q, rcodeRefused, 18, "not allowed to use this resolver") // EDE 18: Prohibited
}

// udpAsync resolves a query that needs upstream in its own goroutine, bounded by inflight.
func (s *Server) udpAsync(ctx context.Context, c *net.UDPConn, from netip.AddrPort, msg []byte, ci clientInfo) {
	select {
	case s.inflight <- struct{}{}:
	default:
		s.count(&ci, resDropped) // overloaded: the client retries, as it would after a loss
		return
	}
	m := append([]byte(nil), msg...)
	go func() {
		defer func() { <-s.inflight }()
		var q query
		resp, _ := s.answer(ctx, make([]byte, 0, 1500), m, &ci, &q, 0, true)
		if len(resp) > 0 {
			_, _ = c.WriteToUDPAddrPort(resp, from)
		}
	}()
}

// ServeTCP serves DNS over TCP (RFC 7766) or, with a TLS listener, DoT (RFC 7858).
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener, isTLS bool, maxConns int, idle time.Duration) {
	sem := make(chan struct{}, max(maxConns, 1))
	var wg sync.WaitGroup
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				wg.Wait()
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: back off instead of spinning
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			conn.Close() // at the connection limit: shed the newest
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.serveConn(ctx, conn, isTLS, idle)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn, isTLS bool, idle time.Duration) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ci := clientInfo{transport: transTCP}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		ci.addr = ap.Addr()
	}
	if !s.allowed(ci.addr) {
		s.count(&ci, resRefused)
		return
	}
	if isTLS {
		ci.transport = transTLS
		tc := conn.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(idle))
		if err := tc.HandshakeContext(ctx); err != nil {
			return
		}
		ci.hint = s.profileFromServerName(tc.ConnectionState().ServerName)
	}
	var lenBuf [2]byte
	msg := make([]byte, 0, 512)
	out := make([]byte, 2, 1024)
	var q query
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(conn, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n < headerLen {
			return
		}
		msg = append(msg[:0], make([]byte, n)...)
		if _, err := io.ReadFull(conn, msg); err != nil {
			return
		}
		if s.limiter != nil && !s.limiter.allow(ci.addr, time.Now()) {
			s.count(&ci, resRateLimited)
			if parseQuery(msg, &q) != nil {
				return
			}
			out = errorAnswer(out[:2], msg, &q, rcodeRefused, 0, "")
		} else {
			out, _ = s.answer(ctx, out[:2], msg, &ci, &q, 65535, true)
		}
		if len(out) == 2 {
			continue
		}
		binary.BigEndian.PutUint16(out, uint16(len(out)-2))
		_ = conn.SetWriteDeadline(time.Now().Add(idle))
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

// profileFromServerName maps "anna.dns.example.org" to "anna" when the server name is
// "dns.example.org" (how Android's Private DNS names a profile).
func (s *Server) profileFromServerName(sni string) string {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	base := strings.ToLower(s.o.ServerName)
	if base == "" || !strings.HasSuffix(sni, "."+base) {
		return ""
	}
	label := strings.TrimSuffix(sni, "."+base)
	if strings.Contains(label, ".") {
		return ""
	}
	return label
}

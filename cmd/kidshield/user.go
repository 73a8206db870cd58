package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

const userUsage = `Usage:
  kidshield user add --login LOGIN --name NAME --roles ROLE[,ROLE] [--partner ID] [store flags]
      creates an account; the password is read from standard input (one line), or asked for
      twice when standard input is a terminal. Prints the new account's id.
  kidshield user list [store flags]
      lists the accounts.
  kidshield user reset --login LOGIN [--password] [--totp] [store flags]
      the way back into a locked-out account (the only administrator's included): --password
      sets a new password, read as for user add; --totp clears the second factor, which the
      user sets up again at the next login. Every session of the account ends.
  kidshield user disable --login LOGIN [store flags]
      disables an account and ends its sessions; user enable --login LOGIN undoes it.

Every command but add needs an existing database: it does not create one.

Roles: operator, analyst, supervisor, partner, admin. A partner account needs --partner.
Store flags (as for kidshield serve): --config FILE, --data-dir DIR, or --dsn DSN.
Staff log in with a second factor (TOTP): they set it up at their first login.
`

// userCmd manages staff and partner accounts from the command line: the first administrator is
// made here, the others on /admin/users.
func userCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	switch args[0] {
	case "add":
		return userAdd(args[1:], stdin, stdout, stderr)
	case "list":
		return userList(args[1:], stdout, stderr)
	case "reset":
		return userReset(args[1:], stdin, stdout, stderr)
	case "disable", "enable":
		return userSetDisabled(args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, userUsage)
		return 0
	}
	fmt.Fprintf(stderr, "kidshield user: unknown command %q\n\n%s", args[0], userUsage)
	return 2
}

func userFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, userUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func userAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var sf storeFlags
	var login, name, roleList string
	var partner int64
	fs := userFlagSet("user add", stderr)
	sf.register(fs)
	fs.StringVar(&login, "login", "", "login (lower-case letters, digits, . _ - @)")
	fs.StringVar(&name, "name", "", "the person's full name")
	fs.StringVar(&roleList, "roles", "", "comma-separated roles: operator, analyst, supervisor, partner, admin")
	fs.Int64Var(&partner, "partner", 0, "partner organisation id (partner accounts)")
	if code := parseSub(fs, args); code >= 0 {
		return code
	}
	if login == "" || name == "" || roleList == "" {
		fmt.Fprintln(stderr, "kidshield user add: --login, --name and --roles are required")
		return 2
	}
	roles, err := auth.ParseRoles(roleList)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user add:", err)
		return 2
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user add:", err)
		return 1
	}
	// Check before opening the store, so a weak password costs no migration or connection.
	if err := auth.CheckPassword(password, auth.NormalizeLogin(login)); err != nil {
		fmt.Fprintln(stderr, "kidshield user add:", err)
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	st, _, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user add:", err)
		return 1
	}
	defer st.Close()
	id, err := auth.AddUser(ctx, st, auth.NewUser{Login: login, Name: name, Roles: roles, PartnerID: partner, Password: password}, "cli")
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user add:", err)
		return 1
	}
	fmt.Fprintf(stdout, "created user %d\n", id)
	return 0
}

func userList(args []string, stdout, stderr io.Writer) int {
	var sf storeFlags
	fs := userFlagSet("user list", stderr)
	sf.register(fs)
	if code := parseSub(fs, args); code >= 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	st, _, err := sf.openExisting(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user list:", err)
		return 1
	}
	defer st.Close()
	users, err := st.Users(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield user list:", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLOGIN\tNAME\tROLES\tPARTNER\tTOTP\tSTATUS")
	for _, u := range users {
		partner, totp, status := "-", "no", "active"
		if u.PartnerID != 0 {
			partner = fmt.Sprint(u.PartnerID)
		}
		if u.TOTPSecret != "" {
			totp = "yes"
		}
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Login, u.Name, strings.Join(u.Roles, ","), partner, totp, status)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "kidshield user list:", err)
		return 1
	}
	return 0
}

func userReset(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var sf storeFlags
	var login string
	var password, totp bool
	fs := userFlagSet("user reset", stderr)
	sf.register(fs)
	fs.StringVar(&login, "login", "", "the account's login")
	fs.BoolVar(&password, "password", false, "set a new password, read from standard input")
	fs.BoolVar(&totp, "totp", false, "clear the second factor (the user sets it up again at the next login)")
	if code := parseSub(fs, args); code >= 0 {
		return code
	}
	if login == "" || (!password && !totp) {
		fmt.Fprintln(stderr, "kidshield user reset: --login and at least one of --password and --totp are required")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "kidshield user reset:", err)
		return 1
	}
	// The account is looked up before the password is asked for: typing a password twice to
	// learn that the login is wrong helps nobody. (No signal context yet: Ctrl-C at the prompt
	// must stop the command, not wait for Enter.)
	st, _, err := sf.openExisting(context.Background())
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	u, err := userByLogin(context.Background(), st, login)
	if err != nil {
		return fail(err)
	}
	r := auth.AccountReset{TOTP: totp}
	if password {
		if r.Password, err = readPassword(stdin, stderr); err != nil {
			return fail(err)
		}
		if err := auth.CheckPassword(r.Password, u.Login); err != nil {
			return fail(err)
		}
	}
	ctx, stop := signalContext()
	defer stop()
	ended, err := auth.ResetAccount(ctx, st, u.ID, r, "cli")
	if err != nil {
		return fail(err)
	}
	var done []string
	if password {
		done = append(done, "new password set")
	}
	if totp {
		done = append(done, "second factor cleared (set up again at the next login)")
	}
	fmt.Fprintf(stdout, "%s: %s; %d session(s) ended\n", u.Login, strings.Join(done, ", "), ended)
	if u.Disabled {
		fmt.Fprintf(stdout, "%s is disabled: kidshield user enable --login %s lets it log in again\n", u.Login, u.Login)
	}
	return 0
}

func userSetDisabled(verb string, args []string, stdout, stderr io.Writer) int {
	var sf storeFlags
	var login string
	fs := userFlagSet("user "+verb, stderr)
	sf.register(fs)
	fs.StringVar(&login, "login", "", "the account's login")
	if code := parseSub(fs, args); code >= 0 {
		return code
	}
	if login == "" {
		fmt.Fprintf(stderr, "kidshield user %s: --login is required\n", verb)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kidshield user %s: %v\n", verb, err)
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	st, _, err := sf.openExisting(ctx)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	u, err := userByLogin(ctx, st, login)
	if err != nil {
		return fail(err)
	}
	disable := verb == "disable"
	ended, err := auth.SetDisabled(ctx, st, u.ID, disable, "cli")
	if err != nil {
		return fail(err)
	}
	if disable {
		fmt.Fprintf(stdout, "%s: disabled; %d session(s) ended\n", u.Login, ended)
		if n, err := activeAdmins(ctx, st); err == nil && n == 0 {
			fmt.Fprintln(stderr, "warning: no active administrator is left; kidshield user enable or user add makes one")
		}
	} else {
		fmt.Fprintf(stdout, "%s: enabled\n", u.Login)
	}
	return 0
}

// userByLogin finds an account by its login as typed (any case, spaces around it).
func userByLogin(ctx context.Context, st *store.Store, login string) (store.User, error) {
	u, err := st.UserByLogin(ctx, auth.NormalizeLogin(login))
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("no account with the login %q (kidshield user list shows them)", auth.NormalizeLogin(login))
	}
	return u, err
}

func activeAdmins(ctx context.Context, st *store.Store) (int, error) {
	us, err := st.Users(ctx)
	n := 0
	for _, u := range us {
		if !u.Disabled && slices.Contains(u.Roles, string(web.RoleAdmin)) {
			n++
		}
	}
	return n, err
}

// readPassword reads one line from stdin. On a terminal it asks twice with echo off (through
// stty, which every Unix has, instead of a terminal library); anything else (a pipe, a file,
// /dev/null) is read as is, so scripts and secret managers can feed it.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		if err := stty(f, "-echo"); err != nil {
			return "", fmt.Errorf("cannot hide the password as it is typed (%v); pipe it instead: kidshield user ... < password-file", err)
		}
		defer stty(f, "echo")
		// Ctrl-C at the prompt must not leave the terminal without echo.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		done := make(chan struct{})
		defer func() { signal.Stop(sig); close(done) }()
		go func() {
			select {
			case <-sig:
				stty(f, "echo")
				fmt.Fprintln(stderr)
				os.Exit(130)
			case <-done:
			}
		}()
		r := bufio.NewReader(f)
		fmt.Fprint(stderr, "Password: ")
		p1, err := readLine(r)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Password again: ")
		p2, err := readLine(r)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", errors.New("the two passwords are not the same")
		}
		return p1, nil
	}
	p, err := readLine(bufio.NewReader(stdin))
	if err != nil {
		return "", err
	}
	return p, nil
}

// readLine returns one line without its line ending; spaces are part of the password.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on standard input")
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isTerminal reports whether f is a terminal. Being a character device is not enough
// (/dev/null is one, and a script run with </dev/null would be asked to type a password):
// a terminal is what answers a terminal ioctl. TIOCGWINSZ rather than TCGETS, which is Linux's
// name only (the BSDs and macOS call it TIOCGETA); every terminal driver answers the window
// size request, and no other device does.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	_, err = unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil
}

func stty(tty *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = tty
	return cmd.Run()
}

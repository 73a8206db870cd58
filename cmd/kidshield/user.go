package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/kidshield/kidshield/auth"
)

const userUsage = `Usage:
  kidshield user add --login LOGIN --name NAME --roles ROLE[,ROLE] [--partner ID] [store flags]
      creates an account; the password is read from standard input (one line), or asked for
      twice when standard input is a terminal. Prints the new account's id.
  kidshield user list [store flags]
      lists the accounts.

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
	fmt.Fprintln(stdout, id)
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
	st, _, err := sf.open(ctx)
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

// readPassword reads one line from stdin. On a terminal it asks twice with echo off (through
// stty, which every Unix has, instead of a terminal library); piped input is read as is, so
// scripts and secret managers can feed it.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		if err := stty(f, "-echo"); err != nil {
			return "", fmt.Errorf("cannot hide the password as it is typed (%v); pipe it instead: kidshield user add ... < password-file", err)
		}
		defer stty(f, "echo")
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

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func stty(tty *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = tty
	return cmd.Run()
}

package main

import (
	"fmt"
	"io"
)

// userCmd is being written (issue 3).
func userCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "kidshield user: not implemented yet")
	return 2
}

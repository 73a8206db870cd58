package main

import (
	"fmt"
	"io"
)

// auditCmd is being written (issue 3).
func auditCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "kidshield audit: not implemented yet")
	return 2
}

package main

import (
	"fmt"
	"io"
)

// keysCmd is being written (issue 3).
func keysCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "kidshield keys: not implemented yet")
	return 2
}

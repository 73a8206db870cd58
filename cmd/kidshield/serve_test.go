package main

import (
	"strings"
	"testing"

	"github.com/kidshield/kidshield/filter/lists"
)

func TestSameLists(t *testing.T) {
	l1, _, _ := lists.Compile(strings.NewReader("a.example\n"), lists.FormatDomains)
	l2, _, _ := lists.Compile(strings.NewReader("a.example\n"), lists.FormatDomains)
	cur := map[string]*lists.List{"a": l1}
	cases := []struct {
		name string
		next map[string]*lists.List
		same bool
	}{
		{"same pointers", map[string]*lists.List{"a": l1}, true},
		{"recompiled (same content, new list)", map[string]*lists.List{"a": l2}, false},
		{"a list appeared", map[string]*lists.List{"a": l1, "b": l2}, false},
		{"a list went away", map[string]*lists.List{}, false},
		{"renamed", map[string]*lists.List{"b": l1}, false},
	}
	for _, c := range cases {
		if got := sameLists(c.next, cur); got != c.same {
			t.Errorf("%s: sameLists = %v, want %v", c.name, got, c.same)
		}
	}
}

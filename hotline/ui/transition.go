package ui

import (
	"errors"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func isTransition(err error) bool {
	return errors.Is(err, lifecycle.ErrTransition) || errors.Is(err, lifecycle.ErrSamePerson)
}

// transitionReason is the refused step in words, without the store's wrapping.
func transitionReason(err error) error {
	var te *lifecycle.TransitionError
	if errors.As(err, &te) {
		return te
	}
	if errors.Is(err, lifecycle.ErrSamePerson) {
		return lifecycle.ErrSamePerson
	}
	return lifecycle.ErrTransition
}

package ui

import "github.com/kidshield/kidshield/web"

// deskRoutes is being written (issue 3).
func (u *UI) deskRoutes() []web.Route { return nil }

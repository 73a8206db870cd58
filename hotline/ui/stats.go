package ui

import "github.com/kidshield/kidshield/web"

// statsRoutes is being written (issue 3).
func (u *UI) statsRoutes() []web.Route { return nil }

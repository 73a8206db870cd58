package ui

import "github.com/kidshield/kidshield/web"

// publicRoutes is being written (issue 3).
func (u *UI) publicRoutes() []web.Route { return nil }

package ui

import "github.com/kidshield/kidshield/web"

// noticeRoutes is being written (issue 3).
func (u *UI) noticeRoutes() []web.Route { return nil }

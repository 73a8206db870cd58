package fetch

// SetSiteKey sets how the per-host politeness limit groups host names: hosts with the same
// key share one limit (in-flight requests and the interval between starts). nil, the
// default, keys each host name alone. One site often serves many names (www., m., cdn.…);
// the scanner keys them by registrable domain (scanner.HostKey), so that a site gets the
// limit we promise it and not that limit once per name. The Public Suffix List that needs
// is not imported here: its package pulls in net/http/cookiejar, which this package keeps
// out (TestImports). Set it before the first fetch.
func (c *Client) SetSiteKey(key func(host string) string) { c.limiter.setKey(key) }

// SiteKey is the key of host's politeness limit.
func (c *Client) SiteKey(host string) string { return c.limiter.keyOf(host) }

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/subscribe"
)

// Profiles from the control node (issue 4, "Several nodes"). The control node publishes its
// profiles, default profile and categories as policy.yaml in its signed HTTP feed; a filter
// node with `subscribe: policy:` runs with its own configuration file in which Profiles and
// DefaultProfile are replaced by the last good copy of that document. The merge is made in
// reload (so a SIGHUP re-reads the node's own file and keeps the remote profiles) and applied
// with swap, like every other policy change.

// policyState is a filter node's profile subscription. sub is set once, before the filter's
// first reload, and never changed; the other fields are guarded by app.mu.
type policyState struct {
	sub *subscribe.PolicySubscriber

	own     *config.Config // the node's own configuration (file and flags) behind merged
	merged  *config.Config // own with the control node's profiles
	digest  string         // the document merged into merged
	applied string         // the digest last put in force (logged once per change)

	// The control node's published document, rendered once per configuration.
	pubMu   sync.Mutex
	pubCfg  *config.Config
	pubYAML []byte
}

// startPolicy starts the profile subscription of a filter node with `subscribe: policy:`: the
// last copy is read at once, so the first policy already has the control node's profiles; on
// a first start (no copy) the control node is asked once before the filter loads.
func (a *app) startPolicy(ctx context.Context, bg *sync.WaitGroup) error {
	cfg := a.cfg()
	if !cfg.Subscribe.PolicyEnabled() {
		return nil
	}
	sub, err := subscribe.NewPolicy(subscribe.PolicyOptions{
		URL: cfg.Subscribe.Policy, Token: cfg.Subscribe.Token, PublicKey: cfg.Subscribe.PublicKey,
		Refresh: cfg.Subscribe.Refresh, Dir: filepath.Join(cfg.DataDir, "subscribe"), Logger: a.log,
		Check: a.policyFits,
		OnChange: func(p *subscribe.Policy) {
			if err := a.applyPolicy(); err != nil && ctx.Err() == nil {
				a.log.Error("profiles from the control node not applied; the filter keeps the previous ones", "digest", p.Digest, "err", err)
			}
		},
	})
	if err != nil {
		return err
	}
	a.pol.sub = sub
	if sub.Current() == nil {
		// Waiting briefly here spares the clients a first minute under this node's own profiles.
		// An unreachable control node only delays the start; its own profiles apply until it answers.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := sub.Refresh(rctx); err != nil {
			a.log.Warn("profiles from the control node not taken yet (no copy on disk); this node's own profiles apply until they are", "err", err)
		}
		cancel()
	}
	bg.Add(1)
	go func() { defer bg.Done(); sub.Run(ctx) }()
	return nil
}

// policyFits refuses a document this node could not apply over its own configuration (too
// many categories in all, say), before the subscriber keeps it.
func (a *app) policyFits(p *config.Policy) error {
	a.mu.Lock()
	own := a.pol.own
	if own == nil {
		own = a.cfg() // before the first reload the configuration in force is the node's own
	}
	a.mu.Unlock()
	_, err := own.WithPolicy(p)
	return err
}

// remoteProfiles returns cfg with the control node's profiles (cfg itself without a
// subscription or before the first copy). cfg is either freshly read (a reload from the file)
// or the configuration in force, which is already merged: then the merge starts again from
// the node's own. Called with a.mu held.
func (a *app) remoteProfiles(cfg *config.Config) (*config.Config, error) {
	ps := &a.pol
	if ps.sub == nil {
		return cfg, nil
	}
	if cfg == ps.merged {
		cfg = ps.own
	}
	ps.own = cfg
	p := ps.sub.Current()
	if p == nil {
		return cfg, nil
	}
	m, err := cfg.WithPolicy(p.Policy)
	if err != nil {
		return nil, fmt.Errorf("the control node's profiles (digest %.12s) do not fit this configuration: %w", p.Digest, err)
	}
	ps.merged, ps.digest = m, p.Digest
	return m, nil
}

// applyPolicy puts a new document in force over the lists already compiled; before the first
// policy is loaded it does nothing (the first load merges the document).
func (a *app) applyPolicy() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current == nil {
		return nil
	}
	cfg, err := a.remoteProfiles(a.cfg())
	if err != nil {
		return err
	}
	return a.swap(cfg, a.current)
}

// profilesApplied logs each new document once it is in force. Called by swap with a.mu held.
func (a *app) profilesApplied(cfg *config.Config) {
	ps := &a.pol
	if ps.sub == nil || cfg != ps.merged || ps.digest == ps.applied {
		return
	}
	ps.applied = ps.digest
	a.log.Info("profiles applied", "digest", ps.digest, "profiles", len(cfg.Profiles), "default_profile", cfg.DefaultProfile)
}

// publishedPolicy is the feed's policy.yaml: the profiles of the configuration in force.
func (a *app) publishedPolicy() ([]byte, error) {
	cfg := a.cfg()
	ps := &a.pol
	ps.pubMu.Lock()
	defer ps.pubMu.Unlock()
	if ps.pubCfg != cfg {
		b, err := cfg.PolicyYAML()
		if err != nil {
			return nil, err
		}
		ps.pubCfg, ps.pubYAML = cfg, b
	}
	return ps.pubYAML, nil
}

// reloadWithoutFilter answers SIGHUP on a node without the filter role. A node publishing the
// feed re-reads its configuration, so the profiles it shares (and the HTTP files' settings)
// follow; the RPZ primary and the roles keep what they were given at start.
func (a *app) reloadWithoutFilter(ctx context.Context) {
	if !a.has("feed") || a.flags.config == "" {
		// The scanner's hash lists are reloaded after this (reloadScannerLists); the rest of
		// the configuration is fixed at start on such a node.
		a.log.Info("SIGHUP: configuration not re-read on a node without the filter or feed role (restart it to change the configuration)")
		return
	}
	c, err := a.flags.loadConfig()
	if err != nil {
		a.log.Error("reload failed; keeping the previous configuration", "err", fmt.Errorf("configuration: %w", err))
		return
	}
	c.Roles = a.cfg().Roles
	c.DNS.Listen, c.DNS.TLSListen = nil, nil // as at start: no DNS on this node
	a.mu.Lock()
	a.cfgPtr.Store(c)
	a.mu.Unlock()
	a.log.Info("configuration reloaded", "profiles", len(c.Profiles), "default_profile", c.DefaultProfile)
	a.feedReloaded(ctx, c)
}

// checkPolicyNote is check-config's word on where a filter node's profiles come from.
func checkPolicyNote(w io.Writer, path string, c *config.Config) {
	if !c.Subscribe.PolicyEnabled() {
		return
	}
	fmt.Fprintf(w, "%s: profiles and default_profile come from the control node %s (policy.yaml); this file's are used only until a first copy is taken (last copy: %s)\n",
		path, c.Subscribe.Policy, filepath.Join(c.DataDir, "subscribe", subscribe.PolicyCopyFile))
}

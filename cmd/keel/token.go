package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keelhq/keel/cmd/keel/internal/keys"
	"github.com/keelhq/keel/pkg/auth"
)

// runToken mints a bearer token signed with the stack's token key.
func runToken(args []string, out io.Writer) error {
	fs := newFlags("token")
	tenantID := fs.String("tenant", "", "tenant the token acts for (required)")
	subject := fs.String("subject", "", "who the token is for, e.g. ana; audit records name them user:ana (required)")
	scopes := fs.String("scopes", strings.Join(auth.AllScopes, ","), "comma-separated scopes")
	ttl := fs.Duration("ttl", time.Hour, "lifetime, at most 24h")
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory holding keys/token.key (ignored when KEEL_TOKEN_KEY is set)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if *tenantID == "" || *subject == "" {
		fs.Usage()
		return fmt.Errorf("--tenant and --subject are required")
	}

	// Never create a key here: a token signed with a new key would be
	// refused by the running stack, which holds the old one.
	raw, _, err := keys.Load(keys.TokenKeyEnv, filepath.Join(*dataDir, "keys"), "token.key", false)
	if err != nil {
		return err
	}
	key, err := auth.DecodeKey(raw)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	var list []string
	for s := range strings.SplitSeq(*scopes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(auth.AllScopes, s) {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(auth.AllScopes, ", "))
		}
		list = append(list, s)
	}
	if len(list) == 0 {
		return fmt.Errorf("--scopes names no scope (known: %s)", strings.Join(auth.AllScopes, ", "))
	}
	tok, err := auth.Mint(key, *tenantID, *subject, list, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(out, tok)
	return nil
}

package qdrant

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultPort             = 6334
	DefaultCollectionPrefix = "keel_"
	DefaultTimeout          = 10 * time.Second
)

// validPrefix is what a collection prefix may hold: it starts every
// collection name Keel creates.
var validPrefix = regexp.MustCompile(`^[a-z0-9_-]*$`)

// Config says how to reach Qdrant.
type Config struct {
	// Address is the host:port of Qdrant's gRPC API; without a port,
	// DefaultPort.
	Address string
	// APIKey, when set, is sent as the api-key metadata of every call. It
	// is never logged; without TLS it crosses the network in clear.
	APIKey string
	// TLS dials with TLS 1.3 and the system's roots.
	TLS bool
	// CollectionPrefix starts the name of every collection Keel creates
	// and is how Keel tells its collections from others on the same
	// server (default DefaultCollectionPrefix).
	CollectionPrefix string
	// Timeout bounds each call whose context has no earlier deadline
	// (default DefaultTimeout).
	Timeout time.Duration
}

// withDefaults returns c with empty fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.CollectionPrefix == "" {
		c.CollectionPrefix = DefaultCollectionPrefix
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := c.hostPort(); err != nil {
		errs = append(errs, err)
	}
	if !validPrefix.MatchString(c.CollectionPrefix) {
		errs = append(errs, fmt.Errorf("qdrant collection prefix %q: want lowercase letters, digits, _ and -",
			c.CollectionPrefix))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("qdrant timeout %s is negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// hostPort splits Address into a host and a port.
func (c Config) hostPort() (string, int, error) {
	if c.Address == "" {
		return "", 0, errors.New("qdrant address is empty")
	}
	host, portText, err := net.SplitHostPort(c.Address)
	if err != nil {
		// A bare host takes the default port.
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) && addrErr.Err == "missing port in address" {
			return strings.Trim(c.Address, "[]"), DefaultPort, nil
		}
		return "", 0, fmt.Errorf("qdrant address %q: %w", c.Address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("qdrant address %q: bad port", c.Address)
	}
	if host == "" {
		return "", 0, fmt.Errorf("qdrant address %q: no host", c.Address)
	}
	return host, port, nil
}

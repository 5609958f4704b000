package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/cmd/keel/internal/keys"
	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// runAuditVerify asks the audit service of a running stack to verify one
// tenant's hash chain.
func runAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit verify")
	tenantID := fs.String("tenant", "", "tenant whose chain is verified (required)")
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of the running keel dev: its addresses and keys/service.key, unless KEEL_SERVICE_KEY is set")
	addr := fs.String("addr", "", "audit service gRPC address (default: from the running stack)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if *tenantID == "" {
		fs.Usage()
		return errors.New("--tenant is required")
	}
	if err := tenant.Valid(*tenantID); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	if *addr == "" {
		*addr = devstack.ReadInfo(*dataDir).GRPC["audit"]
	}

	// Never create a key here: the running stack holds the one it made.
	raw, _, err := keys.Load(keys.ServiceKeyEnv, filepath.Join(*dataDir, "keys"), "service.key", false)
	if err != nil {
		return err
	}
	serviceKey, err := auth.DecodeKey(raw)
	if err != nil {
		return fmt.Errorf("service key: %w", err)
	}
	res, err := verifyChain(ctx, *addr, *tenantID, serviceKey)
	if err != nil {
		return err
	}
	return printVerify(out, *tenantID, res)
}

func verifyChain(ctx context.Context, addr, tenantID string, serviceKey []byte) (*keelv1.VerifyChainResponse, error) {
	conn, err := grpcx.Dial(addr, grpcx.WithServiceToken(serviceKey, demo.ServiceName))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := keelv1.NewAuditLogServiceClient(conn).VerifyChain(tenant.With(ctx, tenantID), &keelv1.VerifyChainRequest{})
	if status.Code(err) == codes.Unavailable {
		return nil, fmt.Errorf("no audit service at %s; is keel dev running? (%w)", addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("verify audit chain at %s: %w", addr, err)
	}
	return res, nil
}

func printVerify(out io.Writer, tenantID string, res *keelv1.VerifyChainResponse) error {
	if res.GetIntact() {
		fmt.Fprintf(out, "audit chain of %s intact: %d records\n", tenantID, res.GetRecords())
		return nil
	}
	fmt.Fprintf(out, "audit chain of %s BROKEN at record %d of %d: %s\n",
		tenantID, res.GetFirstBrokenSeq(), res.GetRecords(), res.GetReason())
	return fmt.Errorf("audit chain of %s broken at record %d", tenantID, res.GetFirstBrokenSeq())
}

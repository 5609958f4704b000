package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/cmd/keel/internal/keys"
	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// retrieveFlags are the flags every `keel retrieve` command that talks to
// a running retrieve service shares.
type retrieveFlags struct {
	tenant, dataDir, addr string
}

func (f *retrieveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tenant, "tenant", "", "tenant to act for (required)")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "data directory of the running keel dev: its addresses and keys/service.key, unless KEEL_SERVICE_KEY is set")
	fs.StringVar(&f.addr, "addr", "", "retrieve service gRPC address (default: from the running stack)")
}

// dial checks the tenant and connects to the retrieve service with a
// service token of the stack's key.
func (f *retrieveFlags) dial(fs *flag.FlagSet) (keelv1.RetrieverServiceClient, *grpc.ClientConn, error) {
	if f.tenant == "" {
		fs.Usage()
		return nil, nil, errors.New("--tenant is required")
	}
	if err := tenant.Valid(f.tenant); err != nil {
		return nil, nil, fmt.Errorf("--tenant: %w", err)
	}
	if f.addr == "" {
		f.addr = devstack.ReadInfo(f.dataDir).GRPC["retrieve"]
	}
	if f.addr == "" {
		return nil, nil, fmt.Errorf("no retrieve address: is keel dev running with data dir %s? (or pass --addr)", f.dataDir)
	}
	raw, _, err := keys.Load(keys.ServiceKeyEnv, filepath.Join(f.dataDir, "keys"), "service.key", false)
	if err != nil {
		return nil, nil, err
	}
	serviceKey, err := auth.DecodeKey(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("service key: %w", err)
	}
	conn, err := grpcx.Dial(f.addr, grpcx.WithServiceToken(serviceKey, demo.ServiceName))
	if err != nil {
		return nil, nil, err
	}
	return keelv1.NewRetrieverServiceClient(conn), conn, nil
}

// callError explains a failed call to the retrieve service at addr.
func callError(addr string, err error) error {
	if status.Code(err) == codes.Unavailable {
		return fmt.Errorf("no retrieve service at %s; is keel dev running? (%w)", addr, err)
	}
	return err
}

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// runRetrieveSearch runs one search against the running retrieve service
// and prints its passages with their citations.
func runRetrieveSearch(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("retrieve search")
	var rf retrieveFlags
	rf.register(fs)
	topK := fs.Int("k", 5, "passages to return (at most 50)")
	var kinds, sources, tags, principals listFlag
	fs.Var(&kinds, "kind", "only these kinds (repeatable or comma-separated)")
	fs.Var(&sources, "source", "only these sources")
	fs.Var(&tags, "tag", "only documents with one of these tags")
	fs.Var(&principals, "as", "principals the caller acts as (user:ana, group:support); documents with readers show only to them")
	after := fs.String("after", "", "only documents created at or after this RFC 3339 time")
	before := fs.String("before", "", "only documents created before this RFC 3339 time")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	query := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(query) == "" {
		fs.Usage()
		return errors.New("a query is required: keel retrieve search --tenant T words...")
	}
	filter := &keelv1.SearchFilter{Kinds: kinds, Sources: sources, Tags: tags}
	var err error
	if filter.CreatedAfter, err = flagTime("after", *after); err != nil {
		return err
	}
	if filter.CreatedBefore, err = flagTime("before", *before); err != nil {
		return err
	}

	client, conn, err := rf.dial(fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := client.Search(tenant.With(ctx, rf.tenant), &keelv1.SearchRequest{
		Query: query, TopK: int32(*topK), Filter: filter, Principals: principals,
	})
	if err != nil {
		return callError(rf.addr, err)
	}
	printPassages(out, resp)
	return nil
}

// flagTime parses the RFC 3339 value of flag name; empty is no bound.
func flagTime(name, value string) (*timestamppb.Timestamp, error) {
	if value == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	return timestamppb.New(t), nil
}

// printPassages writes one block per passage: rank, scores, citation and
// the first line of its text.
func printPassages(out io.Writer, resp *keelv1.SearchResponse) {
	if resp.GetPartial() {
		fmt.Fprintf(out, "partial answer: the %s leg did not answer\n", strings.Join(resp.GetMissingLegs(), " and "))
	}
	if len(resp.GetPassages()) == 0 {
		fmt.Fprintln(out, "no passages")
		return
	}
	for i, p := range resp.GetPassages() {
		text := strings.Join(strings.Fields(p.GetText()), " ")
		if len(text) > 160 {
			text = text[:157] + "..."
		}
		fmt.Fprintf(out, "%d. %s  [%s, bytes %d-%d]  score %.4f (vector %.3f, keyword %.3f)\n   %s\n   %s\n",
			i+1, p.GetDocId(), strings.Join(p.GetHeadingPath(), " > "), p.GetStartOffset(), p.GetEndOffset(),
			p.GetScore(), p.GetVectorScore(), p.GetKeywordScore(), p.GetTitle(), text)
	}
	if resp.GetCached() {
		fmt.Fprintln(out, "(from the tenant's query cache)")
	}
}

// runRetrieveDelete removes one document, or every document about a data
// subject, from the running retrieve service's stores and caches.
func runRetrieveDelete(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("retrieve delete")
	var rf retrieveFlags
	rf.register(fs)
	docID := fs.String("doc", "", "id of the document to delete")
	subject := fs.String("subject", "", "data subject (customer account id or data_subjects entry) whose documents are deleted")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if (*docID == "") == (*subject == "") || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("give one of --doc and --subject")
	}
	client, conn, err := rf.dial(fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	tctx := tenant.With(ctx, rf.tenant)
	if *docID != "" {
		resp, err := client.DeleteDocument(tctx, &keelv1.DeleteDocumentRequest{DocId: *docID})
		if err != nil {
			return callError(rf.addr, err)
		}
		fmt.Fprintf(out, "deleted document %s (%d chunks)\n", *docID, resp.GetChunks())
		return nil
	}
	resp, err := client.DeleteSubject(tctx, &keelv1.DeleteSubjectRequest{Subject: *subject})
	if err != nil {
		return callError(rf.addr, err)
	}
	fmt.Fprintf(out, "erased %d documents about the subject: %s\n", len(resp.GetDocIds()), strings.Join(resp.GetDocIds(), ", "))
	return nil
}

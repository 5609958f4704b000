package retrieveeval

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/cmd/keel/internal/upstream"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Tenant is the tenant the knowledge base is loaded for.
const Tenant = "larkspur"

// callerName is the service name in the tokens of the evaluation's calls.
const callerName = "keel-cli"

// searchAttempts bounds the searches of one question that come back
// partial, which happens when the query could not be embedded in time.
const searchAttempts = 3

// Config says what to evaluate.
type Config struct {
	// KnowledgeBase is the folder of Markdown articles to load.
	KnowledgeBase string
	// Questions are asked in order.
	Questions []Question
	// DataDir holds NATS and index data; a temporary folder, removed
	// afterwards, when empty.
	DataDir string
	// Logger receives the services' logs; discarded when nil.
	Logger *slog.Logger
	// Timeout bounds the wait for the knowledge base to be indexed; 2
	// minutes when zero.
	Timeout time.Duration
}

// Report is the result of an evaluation.
type Report struct {
	// Model is the embedding model the embed service answered with.
	Model string `json:"model"`
	// Articles and Chunks are what the index held.
	Articles int   `json:"articles"`
	Chunks   int64 `json:"chunks"`
	// Overall scores every question; Splits scores each split apart.
	Overall Scores            `json:"overall"`
	Splits  map[string]Scores `json:"splits"`
	// Outcomes holds every question's passages, in the order asked.
	Outcomes []Outcome `json:"outcomes"`
}

// Run starts the embed and retrieve services on embedded NATS, loads every
// article of cfg.KnowledgeBase as the ingest service would publish it, waits
// until the index holds them all, asks every question and scores the
// answers. It returns an error when a service fails, the articles are not
// indexed within cfg.Timeout or a search fails.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	paths, err := filepath.Glob(filepath.Join(cfg.KnowledgeBase, "*.md"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no articles (*.md) in %s", cfg.KnowledgeBase)
	}
	sort.Strings(paths)
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "keel-retrieve-eval-")
		if err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}

	st, err := startStack(ctx, cfg.DataDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer st.stop()

	if err := publishArticles(ctx, bus.NewPublisher(st.js), paths); err != nil {
		return nil, err
	}
	conn, err := grpcx.Dial(st.retrieveAddr, grpcx.WithServiceToken(st.serviceKey, callerName))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	retriever := keelv1.NewRetrieverServiceClient(conn)
	tctx := tenant.With(ctx, Tenant)

	stats, err := waitForIndex(tctx, st, retriever, len(paths), cfg.Timeout)
	if err != nil {
		return nil, err
	}
	model, err := embeddingModel(tctx, st)
	if err != nil {
		return nil, err
	}

	report := &Report{Model: model, Articles: len(paths), Chunks: stats.GetChunks()}
	for _, q := range cfg.Questions {
		short, err := search(tctx, retriever, q.Text, ShortList)
		if err != nil {
			return nil, fmt.Errorf("question %s: %w", q.ID, err)
		}
		long, err := search(tctx, retriever, q.Text, LongList)
		if err != nil {
			return nil, fmt.Errorf("question %s: %w", q.ID, err)
		}
		report.Outcomes = append(report.Outcomes, newOutcome(q, short, long))
	}
	report.Overall = Summarize(report.Outcomes)
	report.Splits = BySplit(report.Outcomes)
	return report, nil
}

// publishArticles publishes every article as the ingest service publishes a
// redacted help-centre article.
func publishArticles(ctx context.Context, pub *bus.Publisher, paths []string) error {
	redactor := redact.New()
	for _, p := range paths {
		ev, err := upstream.ArticleEvent(p)
		if err != nil {
			return err
		}
		ev.TenantId = Tenant
		out := redactArticle(redactor, ev)
		if _, err := pub.Publish(ctx, bus.RedactedSubject(Tenant, out.GetKind()), out.GetEventId(), Tenant, out); err != nil {
			return fmt.Errorf("publish article %s: %w", out.GetEventId(), err)
		}
	}
	return nil
}

// redactArticle redacts an article the way the ingest service does: its
// published contact points (addresses, phone numbers, staff names) stay,
// identifiers and secrets are replaced.
//
// TODO: run the ingest service itself; it keeps originals in a Postgres
// vault, which this evaluation would have to start only for that.
func redactArticle(r *redact.Redactor, ev *keelv1.IngestEvent) *keelv1.RedactedEvent {
	doc := r.NewDocument()
	doc.Keep(redact.TypeEmail, redact.TypePhone, redact.TypeIP, redact.TypePerson, redact.TypeLocation)
	out := &keelv1.RedactedEvent{
		EventId:    ev.GetEventId(),
		TenantId:   ev.GetTenantId(),
		Kind:       ev.GetKind(),
		Source:     ev.GetSource(),
		Subject:    doc.Redact(ev.GetSubject()).Text,
		Title:      doc.Redact(ev.GetTitle()).Text,
		Body:       doc.Redact(ev.GetBody()).Text,
		ReceivedAt: ev.GetReceivedAt(),
		Metadata:   map[string]string{},
		VaultRef:   ev.GetEventId(),
	}
	keys := make([]string, 0, len(ev.GetMetadata()))
	for k := range ev.GetMetadata() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Metadata[k] = doc.Redact(ev.GetMetadata()[k]).Text
	}
	return out
}

// waitForIndex polls Stats until the tenant's index holds want documents.
func waitForIndex(
	ctx context.Context,
	st *stack,
	retriever keelv1.RetrieverServiceClient,
	want int,
	timeout time.Duration,
) (*keelv1.StatsResponse, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var have int64
	for {
		stats, err := retriever.Stats(ctx, &keelv1.StatsRequest{})
		if status.Code(err) == codes.Unauthenticated || status.Code(err) == codes.PermissionDenied {
			return nil, fmt.Errorf("retrieve refused the evaluation: %w", err)
		}
		if err == nil {
			if stats.GetDocuments() >= int64(want) {
				return stats, nil
			}
			have = stats.GetDocuments()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the index: %w", ctx.Err())
		case <-st.failed:
			return nil, st.err
		case <-deadline.C:
			return nil, fmt.Errorf("timed out after %s waiting for %d articles to be indexed; %d are", timeout, want, have)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// embeddingModel asks the embed service which model it embeds with.
func embeddingModel(ctx context.Context, st *stack) (string, error) {
	conn, err := grpcx.Dial(st.embedAddr, grpcx.WithServiceToken(st.serviceKey, callerName))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	res, err := keelv1.NewEmbedderServiceClient(conn).Embed(ctx, &keelv1.EmbedRequest{Texts: []string{"model"}})
	if err != nil {
		return "", fmt.Errorf("ask the embedding model: %w", err)
	}
	return res.GetModel(), nil
}

// search asks one question with topK and names the article of every
// passage. A partial answer, where the dense leg did not run, is asked
// again; it is an error when every attempt is partial.
func search(ctx context.Context, retriever keelv1.RetrieverServiceClient, question string, topK int) ([]Hit, error) {
	for range searchAttempts {
		res, err := retriever.Search(ctx, &keelv1.SearchRequest{Query: question, TopK: int32(topK)})
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		if res.GetPartial() {
			continue
		}
		hits := make([]Hit, len(res.GetPassages()))
		for i, p := range res.GetPassages() {
			hits[i] = Hit{
				Article:      ArticleOf(p.GetDocId()),
				Title:        p.GetTitle(),
				Score:        p.GetScore(),
				VectorScore:  p.GetVectorScore(),
				KeywordScore: p.GetKeywordScore(),
			}
		}
		return hits, nil
	}
	return nil, fmt.Errorf("search: every one of %d answers was partial", searchAttempts)
}

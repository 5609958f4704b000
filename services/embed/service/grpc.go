package service

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/embedder"
	"github.com/keelhq/keel/services/embed/internal/provider"
)

// Limits of one Embed call.
const (
	// MaxTexts is the most texts one Embed call may carry.
	MaxTexts = 256
	// MaxTextBytes is the largest text one Embed call may carry.
	MaxTextBytes = 32 << 10
)

// embedderServer implements EmbedderService over an Embedder.
type embedderServer struct {
	keelv1.UnimplementedEmbedderServiceServer
	embedder embedder.Embedder
}

func newEmbedderServer(e embedder.Embedder) *embedderServer {
	return &embedderServer{embedder: e}
}

// Embed returns one vector per text. It answers InvalidArgument, with the
// offending field in the details, for an empty request, more than MaxTexts
// texts or a text longer than MaxTextBytes, and the code of embedErrorCode
// when the embedder fails.
func (s *embedderServer) Embed(ctx context.Context, req *keelv1.EmbedRequest) (*keelv1.EmbedResponse, error) {
	if err := validateEmbedRequest(req); err != nil {
		return nil, err
	}

	vectors, err := s.embedder.Embed(ctx, req.GetTexts())
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(embedErrorCode(err), "embed: %v", err)
	}

	resp := &keelv1.EmbedResponse{
		Model:      s.embedder.Model(),
		Dimensions: int32(s.embedder.Dimensions()),
		Vectors:    make([]*keelv1.Vector, len(vectors)),
	}
	for i, v := range vectors {
		resp.Vectors[i] = &keelv1.Vector{Values: v}
	}
	return resp, nil
}

// embedErrorCode maps an embedding error to a gRPC code: Unavailable for a
// provider failure that may pass, so the caller may try again later,
// ResourceExhausted for an exhausted provider quota, and Internal for the
// rest.
func embedErrorCode(err error) codes.Code {
	switch {
	case provider.Retryable(err):
		return codes.Unavailable
	case errors.Is(err, provider.ErrQuotaExhausted):
		return codes.ResourceExhausted
	default:
		return codes.Internal
	}
}

// validateEmbedRequest returns an InvalidArgument status naming the first
// field that breaks the limits, or nil.
func validateEmbedRequest(req *keelv1.EmbedRequest) error {
	texts := req.GetTexts()
	switch {
	case len(texts) == 0:
		return invalidArgument("texts", "at least one text is required")
	case len(texts) > MaxTexts:
		return invalidArgument("texts", fmt.Sprintf("%d texts, at most %d per call", len(texts), MaxTexts))
	}
	for i, text := range texts {
		if len(text) > MaxTextBytes {
			return invalidArgument(fmt.Sprintf("texts[%d]", i),
				fmt.Sprintf("%d bytes, at most %d", len(text), MaxTextBytes))
		}
	}
	return nil
}

// invalidArgument returns an InvalidArgument status with a BadRequest
// detail for field.
func invalidArgument(field, description string) error {
	st := status.New(codes.InvalidArgument, field+": "+description)
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}},
	})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

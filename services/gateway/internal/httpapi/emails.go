package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Limits on the fields of a submitted email, in bytes. The body is bounded
// by MaxBodyBytes.
const (
	maxSubjectLen = 1000
	maxNameLen    = 200
	maxAccountLen = 200
)

// submitEmailRequest is the body of POST /v1/emails. It has no tenant: the
// tenant is the token's.
type submitEmailRequest struct {
	EventID   string `json:"event_id"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	FromEmail string `json:"from_email"`
	FromName  string `json:"from_name"`
	AccountID string `json:"account_id"`
}

// submitEmailResponse is the 202 answer to POST /v1/emails.
type submitEmailResponse struct {
	EventID    string `json:"event_id"`
	WorkflowID string `json:"workflow_id"`
	Duplicate  bool   `json:"duplicate"`
}

// validate reports every problem of req in one message.
func (req submitEmailRequest) validate() error {
	var problems []string
	if req.EventID != "" {
		if msg := validEventID(req.EventID); msg != "" {
			problems = append(problems, msg)
		}
	}
	if strings.TrimSpace(req.Subject) == "" {
		problems = append(problems, "subject is required")
	}
	if len(req.Subject) > maxSubjectLen {
		problems = append(problems, "subject must be at most "+strconv.Itoa(maxSubjectLen)+" bytes")
	}
	if strings.TrimSpace(req.Body) == "" {
		problems = append(problems, "body is required")
	}
	if msg := validEmailAddress(req.FromEmail); msg != "" {
		problems = append(problems, msg)
	}
	if len(req.FromName) > maxNameLen {
		problems = append(problems, "from_name must be at most "+strconv.Itoa(maxNameLen)+" bytes")
	}
	if len(req.AccountID) > maxAccountLen {
		problems = append(problems, "account_id must be at most "+strconv.Itoa(maxAccountLen)+" bytes")
	}
	if len(problems) > 0 {
		return badRequest("%s", strings.Join(problems, "; "))
	}
	return nil
}

func validEmailAddress(s string) string {
	if s == "" {
		return "from_email is required"
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "from_email must be a bare email address such as ana@example.com"
	}
	return ""
}

// defaultEventID derives an event id from the content of an email, so that
// submitting the same email twice is recognised as a duplicate.
func defaultEventID(req submitEmailRequest) string {
	sum := sha256.New()
	// NUL separators keep ("ab", "c") and ("a", "bc") apart.
	for _, part := range []string{req.Subject, req.Body, req.FromEmail} {
		sum.Write([]byte(part))
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// submitEmail handles POST /v1/emails: it hands the email to the ingest
// service, which redacts it and starts a copilot run.
func (h *handler) submitEmail(w http.ResponseWriter, r *http.Request) error {
	var req submitEmailRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if req.EventID == "" {
		req.EventID = defaultEventID(req)
	}

	// The tenant travels in gRPC metadata from the context; tenant_id stays
	// empty so that ingest can only take the credential's tenant.
	event := &keelv1.IngestEvent{
		EventId: req.EventID,
		Kind:    "email",
		Source:  "gateway",
		Subject: req.Subject,
		Body:    req.Body,
		Customer: &keelv1.Customer{
			Email:     req.FromEmail,
			Name:      req.FromName,
			AccountId: req.AccountID,
		},
		ReceivedAt: timestamppb.New(h.now()),
	}
	resp, err := h.ingest.Submit(r.Context(), &keelv1.SubmitRequest{Event: event})
	if err != nil {
		return upstreamError(err)
	}
	if resp == nil {
		return internalError(errors.New("ingest returned no response"))
	}

	eventID := resp.GetEventId()
	if eventID == "" {
		eventID = req.EventID
	}
	claims := claimsFrom(r.Context())
	h.audit(r.Context(), "email.submitted", eventID, map[string]string{
		"duplicate": strconv.FormatBool(resp.GetDuplicate()),
	})

	w.Header().Set("Location", "/v1/reviews/"+url.PathEscape(eventID))
	writeJSON(w, http.StatusAccepted, submitEmailResponse{
		EventID:    eventID,
		WorkflowID: temporalx.CopilotWorkflowID(claims.Tenant, eventID),
		Duplicate:  resp.GetDuplicate(),
	})
	return nil
}

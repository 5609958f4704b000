package routing

import "context"

type subjectKey struct{}

// WithSubject returns a copy of ctx that names what the model calls made
// with it belong to (a workflow or event id); usage and audit records carry
// it.
func WithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject)
}

// SubjectFrom returns the subject set by WithSubject, or "".
func SubjectFrom(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

// Package message turns real input into text that redaction can run over:
// raw RFC 5322 / MIME email (Parse), plain notes (Note, or DecodeNote to
// keep their line endings) and unified diffs (ParseDiff).
//
// Every entry point bounds the work it does by Limits, never panics on bad
// input, and rejects what it cannot read with an *Error whose Kind is one of
// ErrTooLarge, ErrBinary, ErrEncoding or ErrMalformed, so callers can tell
// the cases apart with errors.Is. Decisions that lose information without
// rejecting the input (an undeclared charset guessed, invalid bytes
// replaced, a truncated multipart body) are reported as warnings. Warnings
// and errors never quote the content itself, since the content is what
// still has to be redacted.
package message

package httpbody

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestFixed(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("hello, next"))
	b := NewFixed(br, 5)
	p := make([]byte, 16)
	n, err := b.Read(p)
	if string(p[:n]) != "hello" || err != io.EOF {
		t.Errorf("Read = %q, %v; want the five bytes with io.EOF", p[:n], err)
	}
	if n, err := b.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read after the end = %d, %v", n, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != ", next" {
		t.Errorf("left on the connection %q, want what follows the body", rest)
	}

	short := NewFixed(bufio.NewReader(strings.NewReader("abc")), 5)
	got, err := io.ReadAll(short)
	if string(got) != "abc" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut short: %q, %v; want io.ErrUnexpectedEOF", got, err)
	}
	if _, err := short.Read(p); err != io.EOF {
		t.Errorf("after io.ErrUnexpectedEOF: %v, want io.EOF", err)
	}

	closed := NewFixed(bufio.NewReader(strings.NewReader("abc")), 3)
	_ = closed.Close()
	if _, err := closed.Read(p); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Errorf("read after Close: %v", err)
	}
}

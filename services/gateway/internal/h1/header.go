package h1

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxSortedFields is how many fields writeHeader sorts on its own stack;
// a larger header is written by http.Header.Write.
const maxSortedFields = 32

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// writeHeader writes the fields of h as http.Header.Write does (sorted by
// name, invalid names dropped, CR and LF in values turned to spaces, values
// trimmed), and beside them a Content-Length of contentLength when it is
// not negative and a Date of date when it is not empty, each in its sorted
// place unless h has that field itself. It saves the sorting buffer and
// the map entries that writing through http.Header would cost.
func writeHeader(bw *bufio.Writer, h http.Header, contentLength int64, date string) {
	_, hasLength := h["Content-Length"]
	_, hasDate := h["Date"]
	addLength, addDate := !hasLength && contentLength >= 0, !hasDate && date != ""
	extra := 0
	if addLength {
		extra++
	}
	if addDate {
		extra++
	}
	if len(h)+extra > maxSortedFields {
		writeHeaderSlow(bw, h, contentLength, date)
		return
	}
	var stack [maxSortedFields]string
	names := stack[:0]
	for name := range h {
		names = append(names, name)
	}
	if addLength {
		names = append(names, "Content-Length")
	}
	if addDate {
		names = append(names, "Date")
	}
	// Insertion sort: headers are short, and sort.Strings would move the
	// slice to the heap.
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	for _, name := range names {
		values, ok := h[name]
		if !ok {
			_, _ = bw.WriteString(name)
			_, _ = bw.WriteString(": ")
			if name == "Date" {
				_, _ = bw.WriteString(date)
			} else {
				_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), contentLength, 10))
			}
			_, _ = bw.WriteString("\r\n")
			continue
		}
		if !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n") {
				v = newlineToSpace.Replace(v)
			}
			_, _ = bw.WriteString(name)
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(textproto.TrimString(v))
			_, _ = bw.WriteString("\r\n")
		}
	}
}

// writeHeaderSlow is writeHeader for a header too large to sort on the
// stack.
func writeHeaderSlow(bw *bufio.Writer, h http.Header, contentLength int64, date string) {
	h = h.Clone()
	if _, ok := h["Content-Length"]; !ok && contentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(contentLength, 10))
	}
	if _, ok := h["Date"]; !ok && date != "" {
		h.Set("Date", date)
	}
	_ = h.Write(bw)
}

package provider

import (
	"errors"
	"math"
	"testing"
)

// checkDecoded fails the test when a decoder returned vectors without an
// error that are not n vectors of dims finite values, or an error of no
// class.
func checkDecoded(t *testing.T, vectors [][]float32, err error, n, dims int) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("error of no class: %v", err)
		}
		if vectors != nil {
			t.Fatalf("vectors returned with error %v", err)
		}
		return
	}
	if len(vectors) != n {
		t.Fatalf("%d vectors for %d texts without error", len(vectors), n)
	}
	for i, v := range vectors {
		if len(v) != dims {
			t.Fatalf("vector %d has %d values, want %d, without error", i, len(v), dims)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("vector %d holds %v without error", i, x)
			}
		}
	}
}

func FuzzOpenAIResponse(f *testing.F) {
	f.Add([]byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`), uint8(1), uint8(2))
	f.Add([]byte(`{"object":"list","data":[{"index":1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}`), uint8(2), uint8(2))
	f.Add([]byte(`{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}`), uint8(2), uint8(2))
	f.Add([]byte(`{"data":[{"embedding":[1]}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"data":[{"index":0,"embedding":[1e39]}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"data":[{"index":0,"embedding":"AACAPw=="}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"error":{"message":"x","type":"y","code":null}}`), uint8(1), uint8(1))
	f.Add([]byte(`{"data":[]}`), uint8(0), uint8(3))
	f.Add([]byte(`null`), uint8(0), uint8(1))

	f.Fuzz(func(t *testing.T, body []byte, n, dims uint8) {
		texts, size := int(n%16), int(dims%16)+1
		vectors, err := decodeOpenAIResponse(body, texts, size)
		checkDecoded(t, vectors, err, texts, size)
		_ = decodeOpenAIError(body)
	})
}

func FuzzGeminiResponse(f *testing.F) {
	f.Add([]byte(`{"embeddings":[{"values":[0.1,0.2]}]}`), uint8(1), uint8(2))
	f.Add([]byte(`{"embeddings":[{"values":[0.1,0.2]},{"values":[0.3]}]}`), uint8(2), uint8(2))
	f.Add([]byte(`{"embeddings":[{}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"embeddings":[{"values":[-1e40]}]}`), uint8(1), uint8(1))
	f.Add([]byte(`{"embeddings":null}`), uint8(0), uint8(1))
	f.Add([]byte(`{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}`), uint8(1), uint8(1))
	f.Add([]byte(`[]`), uint8(0), uint8(1))

	f.Fuzz(func(t *testing.T, body []byte, n, dims uint8) {
		texts, size := int(n%16), int(dims%16)+1
		vectors, err := decodeGeminiResponse(body, texts, size)
		checkDecoded(t, vectors, err, texts, size)
		details := decodeGeminiError(body)
		if details.retryAfter < 0 {
			t.Fatalf("negative retry delay %v", details.retryAfter)
		}
	})
}

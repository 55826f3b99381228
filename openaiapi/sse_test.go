package openaiapi

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func decodeAll(r io.Reader) ([]sseEvent, error) {
	d := newSSEDecoder(r)
	var evs []sseEvent
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestSSEDecoder(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []sseEvent
		wantErr error
	}{
		{"lf", "data: a\n\ndata: b\n\n", []sseEvent{{Data: "a"}, {Data: "b"}}, nil},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []sseEvent{{Data: "a"}, {Data: "b"}}, nil},
		{"bare cr", "data: a\r\rdata: b\r\r\n", []sseEvent{{Data: "a"}, {Data: "b"}}, nil},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", []sseEvent{{Data: "{\"a\":\n1}"}}, nil},
		{"comments and unknown fields", ": hi\nid: 4\nretry: 10\nfoo: bar\ndata: x\n\n", []sseEvent{{Data: "x"}}, nil},
		{"no space after colon", "data:x\n\n", []sseEvent{{Data: "x"}}, nil},
		{"two spaces keep one", "data:  x\n\n", []sseEvent{{Data: " x"}}, nil},
		{"field without colon", "data\ndata\n\n", []sseEvent{{Data: "\n"}}, nil},
		{"event type", "event: error\ndata: {}\n\n", []sseEvent{{Event: "error", Data: "{}"}}, nil},
		{"event without data is dropped", "event: ping\n\ndata: x\n\n", []sseEvent{{Data: "x"}}, nil},
		{"bom", "\xEF\xBB\xBFdata: x\n\n", []sseEvent{{Data: "x"}}, nil},
		{"leading blank lines", "\n\n\ndata: x\n\n", []sseEvent{{Data: "x"}}, nil},
		{"done", "data: [DONE]\n\n", []sseEvent{{Data: "[DONE]"}}, nil},
		{"empty", "", nil, nil},
		{"only a comment at eof", ": bye", nil, nil},
		{"cut mid-line", "data: a\n\ndata: {\"x", []sseEvent{{Data: "a"}}, io.ErrUnexpectedEOF},
		{"cut before blank line", "data: a\n\ndata: b\n", []sseEvent{{Data: "a"}}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, reader := range []struct {
				name string
				r    io.Reader
			}{
				{"whole", strings.NewReader(tt.in)},
				{"byte by byte", iotest.OneByteReader(strings.NewReader(tt.in))},
			} {
				got, err := decodeAll(reader.r)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: events (-want +got):\n%s", reader.name, diff)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: err = %v, want %v", reader.name, err, tt.wantErr)
				}
			}
		})
	}
}

func TestSSEDecoderReadError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := decodeAll(io.MultiReader(strings.NewReader("data: a\n\ndata: "), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the read error", err)
	}
}

// encodeSSE writes events the way an OpenAI-protocol server does.
func encodeSSE(evs []sseEvent, eol string) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Event != "" {
			b.WriteString("event: " + ev.Event + eol)
		}
		for line := range strings.SplitSeq(ev.Data, "\n") {
			b.WriteString("data: " + line + eol)
		}
		b.WriteString(eol)
	}
	return b.String()
}

// FuzzSSEDecode checks that the decoder never panics or loops on any input,
// and that events encoded by a server come back unchanged. Seeds are in
// testdata/fuzz/FuzzSSEDecode.
func FuzzSSEDecode(f *testing.F) {
	f.Add("data: {\"a\":1}\n\ndata: [DONE]\n\n", "x", "", false)
	f.Add("event: error\r\ndata: boom\r\n\r\n", "multi\nline", "error", true)
	f.Fuzz(func(t *testing.T, raw, data, event string, crlf bool) {
		// Any input: no panic, termination, and a bounded number of events.
		evs, _ := decodeAll(strings.NewReader(raw))
		if len(evs) > len(raw) {
			t.Fatalf("%d events from %d bytes", len(evs), len(raw))
		}
		// Round trip of well-formed events. Data and event names cannot
		// hold CR; event names cannot hold LF.
		if strings.ContainsAny(data, "\r") || strings.ContainsAny(event, "\r\n") {
			return
		}
		eol := "\n"
		if crlf {
			eol = "\r\n"
		}
		want := []sseEvent{{Event: event, Data: data}, {Data: "[DONE]"}}
		got, err := decodeAll(strings.NewReader(encodeSSE(want, eol)))
		if err != nil {
			t.Fatalf("decode of well-formed stream: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}

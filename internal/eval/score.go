package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// maxTextFile caps a predictions or references file.
const maxTextFile = 1 << 30

// IsJSONLines reports whether [ReadPredictions] and [ReadReferences] read
// path as JSON Lines (a name ending in .jsonl, .ndjson or .json) rather
// than as plain text, one text per line.
func IsJSONLines(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return true
	}
	return false
}

// ReadPredictions reads a file of predictions, one per line. A JSON Lines
// file (see [IsJSONLines]) holds on each line a JSON string, or an object
// with a "prediction" string (or, failing that, a "text" string); other
// fields are ignored. Any other file is plain text: each line, without
// its line ending, is one prediction, and an empty line is an empty
// prediction. A bad JSON line is an error naming the file and the line,
// never its text.
func ReadPredictions(path string) ([]string, error) {
	return readTexts(path, func(line string) string { return line }, func(b []byte) (string, error) {
		switch firstByte(b) {
		case '"':
			var s string
			err := json.Unmarshal(b, &s)
			return s, err
		case '{':
			var o struct {
				Prediction *string `json:"prediction"`
				Text       *string `json:"text"`
			}
			if err := json.Unmarshal(b, &o); err != nil {
				return "", err
			}
			switch {
			case o.Prediction != nil:
				return *o.Prediction, nil
			case o.Text != nil:
				return *o.Text, nil
			}
			return "", errors.New(`an object without a "prediction" or "text" string`)
		}
		return "", errors.New(`want a JSON string, or an object with a "prediction" or "text" string`)
	})
}

// ReadReferences reads a file of references, one line per prediction. A
// JSON Lines file (see [IsJSONLines]) holds on each line a JSON string
// (one reference), an array of strings (several references), or an
// object with "references" (a string or an array of strings), or failing
// that a "reference" or "text" string. Any other file is plain text, one
// reference per line. A line with an empty list of references, or a bad
// JSON line, is an error naming the file and the line, never its text.
func ReadReferences(path string) ([][]string, error) {
	return readTexts(path, func(line string) []string { return []string{line} }, func(b []byte) ([]string, error) {
		switch firstByte(b) {
		case '"', '[':
			return decodeRefs(b)
		case '{':
			var o struct {
				References json.RawMessage `json:"references"`
				Reference  *string         `json:"reference"`
				Text       *string         `json:"text"`
			}
			if err := json.Unmarshal(b, &o); err != nil {
				return nil, err
			}
			switch {
			case o.References != nil:
				return decodeRefs(o.References)
			case o.Reference != nil:
				return []string{*o.Reference}, nil
			case o.Text != nil:
				return []string{*o.Text}, nil
			}
			return nil, errors.New(`an object without "references", "reference" or "text"`)
		}
		return nil, errors.New(`want a JSON string, an array of strings, or an object with "references", "reference" or "text"`)
	})
}

// decodeRefs decodes a JSON string or a non-empty array of strings.
func decodeRefs(b []byte) ([]string, error) {
	if firstByte(b) == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		return []string{s}, err
	}
	var refs []string
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, errors.New("an empty list of references")
	}
	return refs, nil
}

// readTexts reads path line by line: each line with decode for a JSON
// Lines file, with plain otherwise. A final line ending adds no line; a
// UTF-8 byte order mark at the start and "\r" before each "\n" are
// dropped.
func readTexts[T any](path string, plain func(string) T, decode func([]byte) (T, error)) ([]T, error) {
	data, err := regfile.ReadFile(path, maxTextFile)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	out := make([]T, len(lines))
	jsonl := IsJSONLines(path)
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if !jsonl {
			out[i] = plain(line)
			continue
		}
		if strings.TrimSpace(line) == "" {
			return nil, fmt.Errorf("%s:%d: an empty line (JSON Lines has one JSON value on every line)", path, i+1)
		}
		if out[i], err = decode([]byte(line)); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return out, nil
}

// firstByte returns the first byte of b that is not JSON whitespace, or 0.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

module github.com/cogenesis/cogenesis

go 1.26.8

require (
	github.com/ardanlabs/jinja v1.8.0
	github.com/google/go-cmp v0.7.0
	github.com/ollama/ollama v0.17.4
	golang.org/x/sync v0.25.0
	golang.org/x/term v0.46.0
	golang.org/x/time v0.16.0
)

require golang.org/x/sys v0.49.0 // indirect

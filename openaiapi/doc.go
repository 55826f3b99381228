// Package openaiapi speaks the OpenAI HTTP protocol and the extensions of
// the servers cogenesis talks to: vLLM, SGLang, the llama.cpp server and
// Ollama.
//
// It holds two things:
//
//   - Wire types ([ChatCompletionRequest], [CompletionRequest],
//     [ChatCompletionChunk], [TokenizeRequest], [ErrorResponse], ...) whose
//     JSON matches vLLM's exactly, so that the same types serve both this
//     package's [Client] and cogenesis's own vLLM-compatible server. The
//     llama.cpp ([LlamaCompletionRequest]) and Ollama
//     ([OllamaGenerateRequest]) native endpoints have their own types.
//   - A [Client] with retries, backoff, a concurrency limit, a rate limit and
//     usage counting, plus the high-level calls the collaboration strategies
//     need: [Client.NextTokenTopK] and [Client.ScoreSequence].
//
// # Capabilities
//
// Servers differ in what they can do (DESIGN §6). A [Kind] names the server
// and [Kind.Supports] answers for each [Capability]. Asking a client for
// something its kind cannot do fails with an [*UnsupportedError] (which
// matches [ErrUnsupported]) naming the kind and the capability; the client
// never silently falls back to a weaker request.
//
// # Privacy
//
// The client sends exactly the request it is given: it is the caller's job
// (the privacy boundary) to give it public text only, and the job of the
// egress choke point (an [net/http.RoundTripper] passed in [Config]) to
// check and record every byte. Errors and logs produced here never contain
// request text: they name the operation, status codes, lengths and the
// server's own message, and a server message that quotes the request is
// withheld.
//
// # Retries
//
// Requests are retried with exponential backoff and full jitter on 429, 500,
// 502, 503 and 504, on attempt timeouts and on dropped connections, honouring
// Retry-After, for as long as the context allows. 400, 401, 403 and 404 are
// never retried. A streaming request is retried only until the first byte of
// its body has been read.
package openaiapi

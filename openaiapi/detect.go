package openaiapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// DetectProbeTimeout bounds each probe of [Client.Detect] (or the client's
// [Config.Timeout], when that is shorter). The probes ask for small static
// answers, so a server that takes longer is treated as not answering.
const DetectProbeTimeout = 5 * time.Second

// maxProbeBody bounds a probe's answer: llama.cpp's /props carries the
// chat template and SGLang's server info every server argument (tens of
// kilobytes).
const maxProbeBody = 4 << 20

// The probes of Detect, in the order they are sent. Each asks for a route
// that only one kind of server has, so that a 404 from one means only "not
// this kind"; the generic /v1/models comes after the specific routes.
var (
	epProbeProps      = endpoint{op: "detect", method: http.MethodGet, path: "/props", native: true}
	epProbeOllama     = endpoint{op: "detect", method: http.MethodGet, path: "/api/version", native: true}
	epProbeServerInfo = endpoint{op: "detect", method: http.MethodGet, path: "/get_server_info", native: true}
	epProbeModels     = endpoint{op: "detect", method: http.MethodGet, path: "/models"}
	epProbeVersion    = endpoint{op: "detect", method: http.MethodGet, path: "/version", native: true}
)

// Detection is what [Client.Detect] learned about the server behind a
// client's base URL.
type Detection struct {
	// URL is the server's root URL: the base URL without a trailing /v1.
	URL string
	// Kind is the server's kind. When Conclusive is false it is
	// KindOpenAI: a server that answers only the generic OpenAI routes,
	// treated as the most restrictive kind.
	Kind Kind
	// Conclusive reports a positive identification: the server answered a
	// route or named itself in a way only Kind's software does.
	Conclusive bool
	// Evidence says what decided Kind, such as "GET /props answered with
	// default_generation_settings".
	Evidence string
	// Probes lists every probe sent and its outcome, in order, such as
	// "GET /props: 404".
	Probes []string
	// Version is the server software's version when it reports one.
	Version string
	// ContextSize is the server's context in tokens when it reports one
	// (llama.cpp's slot context, vLLM's and SGLang's max_model_len), and 0
	// when it does not.
	ContextSize int
}

// Detect asks the server behind c which software it runs, with a few GET
// requests that carry no body: GET /props (llama.cpp server), GET
// /api/version (Ollama), GET /get_server_info (SGLang), GET /v1/models
// (vLLM names itself in owned_by, as do SGLang and llama.cpp; cogen cloud
// names itself "cogenesis" and speaks vLLM's protocol) and, for vLLM, GET
// /version. Native routes are resolved against the base URL without /v1.
// It stops at the first positive identification, after at most one more
// request for the version or the context size.
//
// Each probe is sent once, never retried, through the client's HTTP client
// (the egress choke point), and bounded by [DetectProbeTimeout]. A 4xx or
// 5xx answer means "not this kind" and the next probe follows; a transport
// error (a refused connection, a timeout) ends the detection with that
// error. A server that answers none of the specific routes but lists
// models on /v1/models is reported as KindOpenAI with Conclusive false; one
// that answers nothing usable is an error naming the URL and every probe.
// The kind the client was made with plays no part.
func (c *Client) Detect(ctx context.Context) (Detection, error) {
	d := Detection{URL: c.root.String()}
	fail := func(p probeResult, err error) (Detection, error) {
		return d, fmt.Errorf("detect the server at %s: %s: %w", d.URL, p.name, err)
	}
	get := func(e endpoint) (probeResult, error) {
		p, err := c.probe(ctx, e)
		if err != nil {
			d.Probes = append(d.Probes, p.name+": "+err.Error())
		} else {
			d.Probes = append(d.Probes, p.name+": "+strings.TrimSpace(fmt.Sprintf("%d %s", p.status, p.note())))
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "detect probe",
			slog.String(logKeyOp, p.name), slog.Int(logKeyStatus, p.status), slog.Int(logKeyBytes, len(p.body)))
		return p, err
	}

	// llama.cpp server.
	p, err := get(epProbeProps)
	if err != nil {
		return fail(p, err)
	}
	if props, ok := decodeProbe[llamaProps](p); ok && props.DefaultGenerationSettings != nil {
		d.Kind, d.Conclusive = KindLlamaCpp, true
		d.Evidence = p.name + " answered with default_generation_settings"
		d.Version = props.BuildInfo
		d.ContextSize = props.DefaultGenerationSettings.NCtx
		return d, nil
	}

	// Ollama.
	if p, err = get(epProbeOllama); err != nil {
		return fail(p, err)
	}
	if v, ok := decodeProbe[versionAnswer](p); ok && v.Version != nil && *v.Version != "" {
		d.Kind, d.Conclusive = KindOllama, true
		d.Evidence = p.name + " answered with a version"
		d.Version = *v.Version
		return d, nil
	}

	// SGLang.
	if p, err = get(epProbeServerInfo); err != nil {
		return fail(p, err)
	}
	if info, ok := decodeProbe[sglangServerInfo](p); ok && info.Version != nil && (info.ModelPath != nil || info.MaxTotalNumTokens != nil || info.InternalStates != nil) {
		d.Kind, d.Conclusive = KindSGLang, true
		d.Evidence = p.name + " answered with SGLang's server arguments"
		d.Version = *info.Version
		if info.ContextLength != nil {
			d.ContextSize = *info.ContextLength
		}
		if d.ContextSize == 0 {
			// The model's own context (server argument context_length
			// null): /v1/models reports it as max_model_len.
			mp, err := get(epProbeModels)
			if err != nil && ctx.Err() != nil {
				return fail(mp, err)
			}
			if list, ok := decodeProbe[modelsAnswer](mp); ok {
				d.ContextSize = list.contextSize(c.model)
			}
		}
		return d, nil
	}

	// vLLM (and cogen cloud) name themselves in /v1/models.
	if p, err = get(epProbeModels); err != nil {
		return fail(p, err)
	}
	list, listed := decodeProbe[modelsAnswer](p)
	if listed && list.Data == nil {
		listed = false // not a model list
	}
	if listed {
		if kind, owner := list.kind(); kind != "" {
			d.Kind, d.Conclusive = kind, true
			d.Evidence = fmt.Sprintf("%s lists models owned_by %q", p.name, owner)
			if owner == ownerCogenesis {
				d.Evidence += " (cogen cloud, which speaks vLLM's protocol)"
			}
			d.ContextSize = list.contextSize(c.model)
			if kind == KindVLLM {
				vp, err := get(epProbeVersion)
				if err != nil && ctx.Err() != nil {
					return fail(vp, err)
				}
				if v, ok := decodeProbe[versionAnswer](vp); ok && v.Version != nil {
					d.Version = *v.Version
				}
			}
			return d, nil
		}
		d.Kind = KindOpenAI
		d.Evidence = p.name + " lists models, with no owner that names the server software"
		d.ContextSize = list.contextSize(c.model)
		return d, nil
	}
	hint := ""
	if p.status == http.StatusUnauthorized || p.status == http.StatusForbidden {
		hint = "; the server refused the API key, or wants one"
	}
	return d, fmt.Errorf("detect the server at %s: no answer identifies it, and it lists no models (%s)%s", d.URL, strings.Join(d.Probes, "; "), hint)
}

// KindMismatchError is a server kind given by the user that the server
// contradicts: it identified itself as another kind.
type KindMismatchError struct {
	Given, Detected Kind
	// URL is the server's root URL; Evidence says what identified it.
	URL, Evidence string
}

// Error returns "kind <given> was given, but <url> looks like <detected>
// (<evidence>)".
func (e *KindMismatchError) Error() string {
	return fmt.Sprintf("kind %s was given, but %s looks like %s (%s)", e.Given, e.URL, e.Detected, e.Evidence)
}

// ResolveKind returns the kind to use for the server behind c when the
// user gave the kind given: with [KindAuto] (or "") the detected kind (see
// [Client.Detect]; a server that only answers the generic OpenAI routes is
// KindOpenAI), and an error when nothing answers. A given kind is trusted
// when detection is inconclusive or finds nothing, and is a
// [*KindMismatchError] when the server positively identifies as another
// kind. The Detection is returned in every case, with what was tried.
//
// c's own kind plays no part: a caller dials a client for detection, then
// one with the resolved kind.
func ResolveKind(ctx context.Context, c *Client, given Kind) (Kind, Detection, error) {
	if given == "" {
		given = KindAuto
	}
	if given != KindAuto && !given.Valid() {
		return "", Detection{}, fmt.Errorf("resolve server kind: unknown kind %q", given)
	}
	d, err := c.Detect(ctx)
	switch {
	case err != nil && (given == KindAuto || ctx.Err() != nil):
		return "", d, err
	case err != nil:
		return given, d, nil
	case given == KindAuto:
		return d.Kind, d, nil
	case d.Conclusive && d.Kind != given:
		return "", d, &KindMismatchError{Given: given, Detected: d.Kind, URL: d.URL, Evidence: d.Evidence}
	}
	return given, d, nil
}

// probeResult is the answer to one probe.
type probeResult struct {
	name   string // "GET /props"
	status int
	body   []byte // nil when over maxProbeBody
	over   bool
}

func (p probeResult) ok() bool { return p.status >= 200 && p.status <= 299 }

// note is a short word on the body of a 2xx answer that identified
// nothing.
func (p probeResult) note() string {
	switch {
	case !p.ok():
		return ""
	case p.over:
		return fmt.Sprintf("(body over %d bytes)", maxProbeBody)
	case !json.Valid(p.body):
		return "(not JSON)"
	}
	return ""
}

// decodeProbe decodes a 2xx JSON answer into a T.
func decodeProbe[T any](p probeResult) (T, bool) {
	var v T
	if !p.ok() || p.body == nil {
		return v, false
	}
	if err := json.Unmarshal(p.body, &v); err != nil {
		return v, false
	}
	return v, true
}

// probe sends one GET with no body to e: once (no retries), with the API
// key, bounded by DetectProbeTimeout. Any status is a result; only a
// transport error or an unreadable body is an error.
func (c *Client) probe(ctx context.Context, e endpoint) (probeResult, error) {
	target := c.url(e)
	p := probeResult{name: e.method + " " + strings.TrimPrefix(target, c.root.String())}
	if err := ctx.Err(); err != nil {
		return p, err
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return p, fmt.Errorf("rate limit: %w", err)
		}
	}
	if c.sem != nil {
		if err := c.sem.Acquire(ctx, 1); err != nil {
			return p, fmt.Errorf("concurrency limit: %w", err)
		}
		defer c.sem.Release(1)
	}
	limit := min(c.timeout, DetectProbeTimeout)
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, e.method, target, http.NoBody)
	if err != nil {
		return p, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	c.requests.Add(1)
	timedOut := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case pctx.Err() != nil:
			return fmt.Errorf("%w after %s", ErrTimeout, limit)
		}
		return c.scrubErr(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return p, timedOut(err)
	}
	defer resp.Body.Close()
	p.status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody+1))
	if err != nil {
		return p, fmt.Errorf("read response: %w", timedOut(err))
	}
	if len(body) > maxProbeBody {
		p.over = true
		return p, nil
	}
	p.body = body
	return p, nil
}

// llamaProps is the part of llama.cpp's GET /props that identifies it.
type llamaProps struct {
	DefaultGenerationSettings *struct {
		NCtx int `json:"n_ctx"`
	} `json:"default_generation_settings"`
	BuildInfo string `json:"build_info"`
}

// versionAnswer is Ollama's GET /api/version and vLLM's GET /version.
type versionAnswer struct {
	Version *string `json:"version"`
}

// sglangServerInfo is the part of SGLang's GET /get_server_info used here:
// its server arguments, scheduler info and version.
type sglangServerInfo struct {
	Version           *string         `json:"version"`
	ModelPath         *string         `json:"model_path"`
	MaxTotalNumTokens *int            `json:"max_total_num_tokens"`
	InternalStates    json.RawMessage `json:"internal_states"`
	ContextLength     *int            `json:"context_length"`
}

// ownerCogenesis is the owned_by of cogen cloud's models.
const ownerCogenesis = "cogenesis"

// owners maps the owned_by with which a server names itself in its model
// list to its kind.
var owners = map[string]Kind{
	"vllm":         KindVLLM,
	ownerCogenesis: KindVLLM,
	"sglang":       KindSGLang,
	"llamacpp":     KindLlamaCpp,
}

// modelsAnswer is a GET /v1/models answer.
type modelsAnswer struct {
	Data []struct {
		ID          string `json:"id"`
		OwnedBy     string `json:"owned_by"`
		MaxModelLen int    `json:"max_model_len"`
	} `json:"data"`
}

// kind returns the kind its entries name, when they all name the same
// one, and the owner that did.
func (m modelsAnswer) kind() (Kind, string) {
	var kind Kind
	var owner string
	for _, e := range m.Data {
		k, ok := owners[e.OwnedBy]
		switch {
		case !ok:
			return "", ""
		case kind != "" && k != kind:
			return "", "" // a proxy in front of several servers
		}
		kind, owner = k, e.OwnedBy
	}
	return kind, owner
}

// contextSize returns the max_model_len of the model named model, or of
// the first entry that has one.
func (m modelsAnswer) contextSize(model string) int {
	for _, e := range m.Data {
		if model != "" && e.ID == model && e.MaxModelLen > 0 {
			return e.MaxModelLen
		}
	}
	for _, e := range m.Data {
		if e.MaxModelLen > 0 {
			return e.MaxModelLen
		}
	}
	return 0
}

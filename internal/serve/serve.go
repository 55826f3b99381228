// Package serve is cogen serve: the gateway that puts the collaboration
// strategies behind the OpenAI chat protocol, with the vault and the
// egress audit log over a REST API and a web UI.
//
// # Protocol
//
// POST /v1/chat/completions takes an OpenAI chat request in which model
// names a strategy ("cogen-sketch", "cogen-logits", ...; GET /v1/models
// lists them) and user names the vault user whose private context the
// local model reads. The last user message is the task; every other
// message is ignored, so a request can carry no context of its own. A
// streaming response carries, beside each chunk's text, the small model's
// weight for it in an extension field ("cogen": {"w": ..}) that OpenAI
// clients ignore.
//
// # What never leaves the device, and who can read what
//
// The gateway sends the cloud only what the strategies send (DESIGN §2),
// every request checked by the guard of the user named in the request and
// recorded in the audit log with that user's id and the request id. A
// chat response holds only generated text. Private context comes only
// from the vault of the user the request names: the local model sees that
// user's context and no other, and the guard checks the request's egress
// against that user's vault.
//
// The gateway binds loopback by default. Bound elsewhere it needs a
// bearer token, which every API request must carry; that token opens every
// user's vault (it is one person's device). A user token (vault
// CreateToken, POST /v1/vault/users/{id}/tokens, cogen vault token) is
// bound to one user: a request carrying it chats only as that user (an
// empty user field means that user, another one is refused), reads and
// updates only that user's vault entry, sees only that user's audit
// records, and reaches nothing else: GET /v1/vault/users lists that one
// user, which is how the web UI, given a user token, shows and chats as
// only that user. The log holds request ids, user ids, strategies,
// lengths and durations, never text.
//
// # Web pages of other origins
//
// A page the user visits can make the browser send requests to the
// gateway on loopback, which needs no token there. The API refuses them
// (see origin.go): a request whose Sec-Fetch-Site or Origin header shows
// it comes from a page of another origin (another site, or the same host
// on another port) gets 403 unless that origin is in
// [Server.AllowOrigins] (cogen serve --allow-origin), and a request that
// changes state whose Content-Type is not application/json (the types a
// page may send without a CORS preflight: none, text/plain, form data)
// gets 415; only a DELETE may carry no body and no type.
// Clients that are not browsers send neither header and are unaffected;
// they send JSON, as every route, the dataset import included, expects.
package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/internal/statecache"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
	"github.com/cogenesis/cogenesis/privacy/guardmodel"
)

// Limits and defaults.
const (
	// DefaultMaxRequestBytes bounds a request body (the import route
	// allows DefaultMaxImportBytes).
	DefaultMaxRequestBytes = 1 << 20
	// DefaultMaxImportBytes bounds a dataset upload.
	DefaultMaxImportBytes = 64 << 20
	// DefaultMaxTokens is the completion length when a request gives none,
	// and the most a request may ask for unless MaxTokens says otherwise.
	DefaultMaxTokens = 512
	// DefaultMaxQueue bounds the chat requests running or waiting for the
	// engine; more get 429.
	DefaultMaxQueue = 64
	// ModelPrefix starts every model id: "cogen-" + strategy.
	ModelPrefix = "cogen-"
)

// Log attribute keys.
const (
	keyReq      = "req"
	keyUser     = "user"
	keyStrategy = "strategy"
)

// Server is the gateway. Fill Store, SLM and (for every strategy but slm)
// Cloud, then serve Handler. A Server is safe for concurrent use.
type Server struct {
	Store *vault.Store
	SLM   *llamacpp.Model
	// Cloud is the cloud model behind the egress choke point (collab
	// DialCloud with the audit log); nil offers only cogen-slm.
	Cloud *collab.Cloud
	// AuditPath is the audit log the cloud records to, served by
	// GET /v1/audit.
	AuditPath string
	// Token, when set, is the bearer token every API request must carry.
	Token string
	// AllowOrigins are the origins ("https://app.example") beside the
	// gateway's own whose web pages may call the API (see [ValidOrigin]);
	// they get CORS headers. Pages of every other origin are refused.
	AllowOrigins []string
	// Private is the grant of --allow-private-egress: it offers
	// cogen-llm-context, the baseline that sends the private context to
	// the cloud (the cloud's egress client holds the same grant). Nil for
	// none.
	Private *egress.Grant
	// MaxRequestBytes bounds request bodies (default
	// DefaultMaxRequestBytes).
	MaxRequestBytes int64
	// MaxTokens caps a request's max_tokens (default DefaultMaxTokens);
	// CloudMaxTokens bounds the cloud's outline or draft (default 512).
	MaxTokens      int
	CloudMaxTokens int
	// MaxQueue bounds the chat requests in progress (default
	// DefaultMaxQueue).
	MaxQueue int
	// GuardModel asks the local model, once per request, which spans of
	// the public instruction reveal the user's context (package
	// guardmodel; --guard-model local); its findings only add to the
	// guard's.
	GuardModel bool
	// PerTokenFallback lets cogen-speculative run per-token fusion (the
	// same output distribution, one round trip per token) against a cloud
	// that cannot score a sequence in one request; without it such a
	// request is refused (collab.Options.PerTokenFallback).
	PerTokenFallback bool
	// States, when set, keeps each user's evaluated context on the device
	// (encrypted; collab.EngineWithStates): a user's requests after the
	// first evaluate only their task. Updating or deleting a user deletes
	// their states.
	States  *statecache.Cache
	Logger  *slog.Logger
	Created time.Time

	queue chan struct{}

	mu      sync.Mutex
	runners map[string]cachedRunner // by user id
}

// cachedRunner is a user's runner: the guard built from the user's vault
// as last updated, and the runner's one-time check that the cloud shares
// the local model's tokenizer.
type cachedRunner struct {
	updated time.Time
	runner  *collab.Runner
}

// maxRunners bounds the runner cache; past it the cache starts over.
const maxRunners = 1024

// runner returns the runner for u, reusing the cached one while the
// user's vault is unchanged.
func (s *Server) runner(u *vault.User) (*collab.Runner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.runners[u.ID]; ok && c.updated.Equal(u.Updated) {
		return c.runner, nil
	}
	if s.runners == nil || len(s.runners) >= maxRunners {
		s.runners = map[string]cachedRunner{}
	}
	r := &collab.Runner{
		SLM: s.localModel(), Guard: privacy.NewGuard(u.Vault()), Private: s.Private,
		Logger: s.logger().With(keyUser, u.ID),
	}
	if s.Cloud != nil { // a nil *Cloud in the interface would not read as none
		r.Cloud = s.Cloud
	}
	if s.GuardModel {
		c, err := guardmodel.New(s.SLM, u.Vault(), guardmodel.Options{Logger: r.Logger})
		if err != nil {
			return nil, err
		}
		r.GuardModel = c
	}
	s.runners[u.ID] = cachedRunner{updated: u.Updated, runner: r}
	return r, nil
}

// localModel is the local model as the strategies use it, with the
// users' saved states when there are any.
func (s *Server) localModel() collab.LocalModel {
	if s.States == nil {
		return collab.Engine(s.SLM)
	}
	return collab.EngineWithStates(s.SLM, s.States)
}

// forgetStates deletes a user's saved states (after an update or a
// delete); a failure is logged, never the request's.
func (s *Server) forgetStates(id string) {
	if s.States == nil {
		return
	}
	if err := s.States.Delete(id); err != nil {
		s.logger().Warn("context cache: states not deleted", keyUser, id, "err", err)
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Handler returns the HTTP handler with every route. Call it once.
func (s *Server) Handler() http.Handler {
	if s.MaxQueue <= 0 {
		s.MaxQueue = DefaultMaxQueue
	}
	s.queue = make(chan struct{}, s.MaxQueue)
	if s.Created.IsZero() {
		s.Created = time.Now()
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/models", s.models)
	api.HandleFunc("POST /v1/chat/completions", s.chat)
	api.HandleFunc("GET /v1/vault/users", s.listUsers)
	api.HandleFunc("POST /v1/vault/users", s.createUser)
	api.HandleFunc("GET /v1/vault/users/{id}", s.getUser)
	api.HandleFunc("PUT /v1/vault/users/{id}", s.updateUser)
	api.HandleFunc("DELETE /v1/vault/users/{id}", s.deleteUser)
	api.HandleFunc("POST /v1/vault/users/{id}/tokens", s.createToken)
	api.HandleFunc("POST /v1/vault/import", s.importDataset)
	api.HandleFunc("GET /v1/vault/export", s.exportDataset)
	api.HandleFunc("GET /v1/audit", s.auditLog)
	api.HandleFunc("GET /v1/audit/verify", s.auditVerify)
	api.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, http.StatusNotFound, "not_found_error", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})

	mux := http.NewServeMux()
	mux.Handle("/v1/", s.browserGuard(s.authorize(api)))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	// The web UI's files are public program code, served without the
	// token; everything they show comes from the API, which needs it.
	mux.Handle("/", webHandler())
	return s.limits(mux)
}

// limits bounds request bodies, refuses requests whose Host is not
// loopback when no token guards the server (DNS rebinding), and logs one
// line per request without any text.
func (s *Server) limits(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpapi.StatusWriter{ResponseWriter: w}
		limit := s.MaxRequestBytes
		if limit <= 0 {
			limit = DefaultMaxRequestBytes
		}
		if r.URL.Path == "/v1/vault/import" {
			limit = max(limit, DefaultMaxImportBytes)
		}
		if r.ContentLength > limit {
			httpapi.WriteError(sw, http.StatusRequestEntityTooLarge, "invalid_request_error", fmt.Sprintf("request body larger than %d bytes", limit))
		} else if s.Token == "" && !httpapi.LoopbackHost(r.Host) {
			httpapi.WriteError(sw, http.StatusForbidden, "permission_error", "this server answers only requests to a loopback host name; start it with --token to serve others")
		} else {
			r.Body = http.MaxBytesReader(sw, r.Body, limit)
			h.ServeHTTP(sw, r)
		}
		s.logger().Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.Status, "duration", time.Since(start))
	})
}

// authorize requires the server's token, when one is set, or a user token
// from the vault, which confines the request to its user.
func (s *Server) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got = strings.TrimSpace(got)
		unauthorized := func(msg string) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cogen"`)
			httpapi.WriteError(w, http.StatusUnauthorized, "authentication_error", msg)
		}
		if bearer && strings.HasPrefix(got, vault.TokenPrefix) {
			id, err := s.Store.TokenUser(r.Context(), got)
			if err != nil {
				unauthorized("unknown user token")
				return
			}
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scopeKey{}, id)))
			return
		}
		if s.Token != "" && (!bearer || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1) {
			unauthorized("missing or wrong bearer token (Authorization: Bearer TOKEN)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type scopeKey struct{}

// scope returns the user a request's token confines it to, or "" for the
// server's own token (or none, on loopback without a token).
func scope(r *http.Request) string {
	id, _ := r.Context().Value(scopeKey{}).(string)
	return id
}

// errScope answers a user token used beyond its user.
var errScope = &httpapi.Error{Status: http.StatusForbidden, Type: "permission_error", Message: "a user token reaches only its own user: chat as that user, that user's vault entry and audit records"}

// adminOnly refuses a request confined to one user; it reports whether
// the request may go on.
func (s *Server) adminOnly(w http.ResponseWriter, r *http.Request) bool {
	if scope(r) != "" {
		s.fail(w, errScope)
		return false
	}
	return true
}

// ownUser refuses a request confined to another user than id.
func (s *Server) ownUser(w http.ResponseWriter, r *http.Request, id string) bool {
	if sc := scope(r); sc != "" && sc != id {
		s.fail(w, errScope)
		return false
	}
	return true
}

// ErrTokenRequired is returned by [CheckBind] for a non-loopback address
// without a token.
var ErrTokenRequired = httpapi.ErrKeyRequired

// CheckBind refuses to serve a non-loopback address without a token: the
// gateway hands out private context to whoever can reach it.
func CheckBind(addr, token string) error {
	return httpapi.CheckBind(addr, token, "pass --token or set COGEN_SERVE_TOKEN")
}

// fail writes err in OpenAI's error shape. Messages never quote request
// or vault text.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var ae *httpapi.Error
	var mbe *http.MaxBytesError
	var fe *vault.FieldError
	switch {
	case errors.As(err, &ae):
		httpapi.WriteError(w, ae.Status, ae.Type, ae.Message)
	case errors.As(err, &mbe):
		httpapi.WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	case errors.As(err, &fe):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
	case errors.Is(err, vault.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "not_found_error", err.Error())
	case errors.Is(err, vault.ErrExists):
		httpapi.WriteError(w, http.StatusConflict, "conflict_error", err.Error())
	case errors.Is(err, collab.ErrPrivateEgressNotAllowed):
		httpapi.WriteError(w, http.StatusForbidden, "permission_error", "llm-context sends the private context to the cloud; start cogen serve with --allow-private-egress to offer it")
	case errors.Is(err, llamacpp.ErrContextFull), errors.Is(err, openaiapi.ErrUnsupported):
		// Unsupported: the strategy needs what this gateway's cloud lacks.
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		httpapi.WriteError(w, http.StatusServiceUnavailable, "server_error", "request cancelled")
	default:
		s.logger().Warn("request failed", "err", err)
		httpapi.WriteError(w, http.StatusInternalServerError, "server_error", err.Error())
	}
}

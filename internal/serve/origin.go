package serve

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cogenesis/cogenesis/internal/httpapi"
)

// Cross-site request forgery. Without a token, on loopback, the gateway
// trusts whoever reaches it, and a web page the user visits reaches it
// too: the browser sends the page's requests. browserGuard refuses them.
//
// A page of another origin can send, without asking the gateway first (a
// CORS preflight), only GET, HEAD and POST with a body of type text/plain,
// application/x-www-form-urlencoded or multipart/form-data, or none. Every
// API request that changes state must therefore be JSON (and carry
// Content-Type: application/json, which a browser sends cross-origin only
// after a preflight this server grants to no origin but those allowed).
// Beside that, browsers say where a request comes from: Sec-Fetch-Site
// (every current browser) and Origin (on every cross-origin request and
// every same-origin one but GET and HEAD). The guard follows
// net/http.CrossOriginProtection, for every method: Sec-Fetch-Site
// "same-origin" or "none" (the user typed the address) passes, any other
// value is refused unless the Origin is allowed; without Sec-Fetch-Site
// an Origin whose host is not the request's Host is refused unless it is
// allowed; a request with neither header is no browser's cross-origin
// request and passes. A same-site page on another port is another origin
// and is refused.

// ValidOrigin checks an origin for [Server.AllowOrigins] and returns it
// as browsers send it: "scheme://host[:port]", lower case, with no
// default port, path, query or fragment.
func ValidOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port], such as https://app.example or http://127.0.0.1:3000", origin)
	}
	host := strings.ToLower(u.Host)
	if u.Port() == map[string]string{"http": "80", "https": "443"}[u.Scheme] {
		host = strings.TrimSuffix(host, ":"+u.Port())
	}
	return u.Scheme + "://" + host, nil
}

// browserGuard refuses API requests that a web page of another origin
// may have sent (403), and state-changing requests of a type a page may
// send without a preflight (415). A page of an allowed origin gets CORS
// headers and its preflights answered, so that it can call the API.
func (s *Server) browserGuard(h http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.AllowOrigins {
		if v, err := ValidOrigin(o); err == nil {
			allowed[v] = true
		} else {
			s.logger().Warn("allowed origin ignored", "err", err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := crossOrigin(r, allowed); msg != "" {
			httpapi.WriteError(w, http.StatusForbidden, "permission_error", msg)
			return
		}
		if origin := r.Header.Get("Origin"); allowed[origin] {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
				hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				hd.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if msg := unsafeContentType(r); msg != "" {
			httpapi.WriteError(w, http.StatusUnsupportedMediaType, "invalid_request_error", msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// crossOrigin returns why a request comes from a page of an origin that
// is neither the server's nor allowed, or "".
func crossOrigin(r *http.Request, allowed map[string]bool) string {
	origin := r.Header.Get("Origin")
	const hint = "; a page of another origin may call the API only when cogen serve is started with --allow-origin ORIGIN"
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return ""
	case "":
		if origin == "" || allowed[origin] {
			return ""
		}
		if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
			return ""
		}
		return fmt.Sprintf("cross-origin request refused: Origin %.100q is not this server's (%.100q)%s", origin, r.Host, hint)
	default:
		if allowed[origin] {
			return ""
		}
		return fmt.Sprintf("cross-origin request refused: the browser says it comes from a %.20q page, Origin %.100q%s", site, origin, hint)
	}
}

// unsafeContentType returns why a request that changes state has a body
// type a web page could send without a preflight, or "". Every API
// request body is JSON; a DELETE, which no page can send without a
// preflight, may have none.
func unsafeContentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		return ""
	case r.Method == http.MethodDelete && ct == "":
		return ""
	case ct == "":
		return fmt.Sprintf("%s %s needs Content-Type: application/json", r.Method, r.URL.Path)
	}
	if httpapi.IsJSON(ct) {
		return ""
	}
	return fmt.Sprintf("content type %.100q: %s %s needs application/json", ct, r.Method, r.URL.Path)
}

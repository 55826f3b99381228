package serve

import (
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/internal/vault"
)

// The vault's REST API: users as [vault.User] JSON.
//
//	GET    /v1/vault/users          list (ids, names, counts); a user token's user alone
//	POST   /v1/vault/users          create (201; 409 when the id is taken)
//	GET    /v1/vault/users/{id}     read
//	PUT    /v1/vault/users/{id}     replace the fields (404 when unknown)
//	DELETE /v1/vault/users/{id}     delete (204)
//	POST   /v1/vault/users/{id}/tokens   a user token (201)
//	POST   /v1/vault/import?index=N&user=ID   a dataset file as the body
//	GET    /v1/vault/export?user=ID           dataset records

// listUsers lists the users the request reaches: every user, or a user
// token's own.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	list, err := s.Store.List(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	if sc := scope(r); sc != "" {
		list = slices.DeleteFunc(list, func(u vault.Summary) bool { return u.ID != sc })
	}
	if list == nil {
		list = []vault.Summary{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": list})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	if !s.ownUser(w, r, r.PathValue("id")) {
		return
	}
	u, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, u)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	var u vault.User
	if err := httpapi.Decode(r, &u); err != nil {
		s.fail(w, err)
		return
	}
	u.ProfileBlock = ""
	out, err := s.Store.Create(r.Context(), u)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.logger().Info("vault user created", keyUser, out.ID)
	httpapi.WriteJSON(w, http.StatusCreated, out)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	if !s.ownUser(w, r, r.PathValue("id")) {
		return
	}
	var u vault.User
	if err := httpapi.Decode(r, &u); err != nil {
		s.fail(w, err)
		return
	}
	id := r.PathValue("id")
	if u.ID == "" {
		u.ID = id
	}
	if u.ID != id {
		s.fail(w, httpapi.BadRequest("id %q in the body differs from %q in the path", u.ID, id))
		return
	}
	out, err := s.Store.Update(r.Context(), u)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.forgetStates(out.ID)
	s.logger().Info("vault user updated", keyUser, out.ID)
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := s.Store.Delete(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	s.forgetStates(id)
	s.logger().Info("vault user deleted", keyUser, id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) importDataset(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	o := vault.ImportOptions{Index: -1, User: r.URL.Query().Get("user")}
	if v := r.URL.Query().Get("index"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, httpapi.BadRequest("index %q: want a record number from 0", v))
			return
		}
		o.Index = n
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.Store.Import(r.Context(), "upload", body, o)
	if err != nil {
		s.fail(w, httpapi.BadRequest("%v", err))
		return
	}
	s.logger().Info("vault import", "records", res.Records, "users", res.Users, "bytes", len(body))
	httpapi.WriteJSON(w, http.StatusOK, res)
}

func (s *Server) exportDataset(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	var ids []string
	if id := r.URL.Query().Get("user"); id != "" {
		ids = []string{id}
	}
	recs, skipped, err := s.Store.Export(r.Context(), ids...)
	if err != nil {
		s.fail(w, err)
		return
	}
	if skipped != nil {
		w.Header().Set("X-Cogen-Skipped-Users", strconv.Itoa(len(skipped)))
	}
	httpapi.WriteJSON(w, http.StatusOK, recs)
}

// createToken makes a user token: POST /v1/vault/users/{id}/tokens
// returns {"user": id, "token": ...} once; the vault keeps only a hash.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	id := r.PathValue("id")
	tok, err := s.Store.CreateToken(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.logger().Info("user token created", keyUser, id)
	httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"user": id, "token": tok})
}

// AuditPage is the body of GET /v1/audit.
type AuditPage struct {
	Object string         `json:"object"`
	Data   []audit.Record `json:"data"`
	// Total counts the records that matched before the limit.
	Total int `json:"total"`
	// ChainOK reports whether the whole log verified; Error says where it
	// broke.
	ChainOK bool   `json:"chain_ok"`
	Error   string `json:"error,omitempty"`
}

// auditLog serves the audit log: GET /v1/audit?user=&request=&strategy=
// &verdict=&since=SEQ&limit=N (default 100, newest last).
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.fail(w, httpapi.BadRequest("limit %q: want 1 to 10000", v))
			return
		}
		limit = n
	}
	since := 0
	if v := q.Get("since"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, httpapi.BadRequest("since %q: want a record number", v))
			return
		}
		since = n
	}
	user := q.Get("user")
	if sc := scope(r); sc != "" {
		if user != "" && user != sc {
			s.fail(w, errScope)
			return
		}
		user = sc
	}
	page := AuditPage{Object: "list", Data: []audit.Record{}, ChainOK: true}
	recs, err := s.readAudit()
	if err != nil {
		page.ChainOK, page.Error = false, err.Error()
	}
	for _, rec := range recs {
		if rec.Seq <= since ||
			!match(user, rec.User) || !match(q.Get("request"), rec.Request) ||
			!match(q.Get("strategy"), rec.Strategy) || !match(q.Get("verdict"), rec.Verdict) {
			continue
		}
		page.Data = append(page.Data, rec)
	}
	page.Total = len(page.Data)
	if len(page.Data) > limit {
		page.Data = page.Data[len(page.Data)-limit:]
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
}

func match(want, got string) bool { return want == "" || want == got }

// readAudit reads the whole log; a log not written yet is empty.
func (s *Server) readAudit() ([]audit.Record, error) {
	if s.AuditPath == "" {
		return nil, nil
	}
	recs, err := audit.Read(s.AuditPath)
	if err != nil && recs == nil && isNotExist(s.AuditPath) {
		return nil, nil
	}
	return recs, err
}

// auditVerify checks the chain: GET /v1/audit/verify.
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request) {
	if !s.adminOnly(w, r) {
		return
	}
	recs, err := s.readAudit()
	if err == nil && s.AuditPath != "" && !isNotExist(s.AuditPath) {
		// The chain, and its end against the head file: records cut
		// from the end leave a valid chain that only the head shows.
		_, err = audit.VerifyFile(s.AuditPath)
	}
	sum := audit.Summarize(recs)
	out := map[string]any{
		"ok": err == nil, "records": sum.Records, "bytes": sum.Bytes, "last_hash": sum.LastHash,
		"by_verdict": sum.ByVerdict, "by_strategy": sum.ByStrategy,
	}
	if err != nil {
		out["error"] = err.Error()
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

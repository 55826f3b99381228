package eval

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// localCloud returns the in-process cloud serving the model at ref,
// starting it once; the generation cloud and the judge share it.
func (r *runner) localCloud(ctx context.Context, ref string) (*localcloud.Cloud, error) {
	path, err := r.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if lc, ok := r.locals[path]; ok {
		return lc, nil
	}
	lc, err := localcloud.Start(path, localcloud.Options{Threads: r.cfg.Threads, Logger: r.logger.With("component", "cloud")})
	if err != nil {
		return nil, err
	}
	r.locals[path] = lc
	return lc, nil
}

// closeLocals stops the local clouds started by localCloud.
func (r *runner) closeLocals() {
	for _, lc := range r.locals {
		if err := lc.Close(); err != nil {
			r.logger.Warn("close local cloud", "err", err)
		}
	}
}

// endpoint returns api set to reach a target, starting a local cloud for
// local:PATH.
func (r *runner) endpoint(ctx context.Context, target, kind, model string, api openaiapi.Config) (openaiapi.Config, error) {
	if p, ok := cutLocal(target); ok {
		lc, err := r.localCloud(ctx, p)
		if err != nil {
			return api, err
		}
		return lc.Reach(api), nil
	}
	api.BaseURL, api.Kind, api.Model = target, openaiapi.Kind(kind), model
	return api, nil
}

// cloudPool dials the generation cloud for each strategy entry behind
// the entry's own audit log (OUT/audit/NAME.jsonl): once per generation
// worker, so that the client's usage counts are one worker's, and thus
// one job's at a time. It is safe for concurrent use; close closes the
// audit logs.
type cloudPool struct {
	r     *runner
	detok func(ids []int32) string

	mu      sync.Mutex
	entries map[int]*cloudEntry      // by strategy
	clouds  map[[2]int]*collab.Cloud // by worker and strategy
	closers []func()
}

// cloudEntry is what the workers' clients of one strategy entry share:
// the resolved endpoint and the egress settings with the audit log.
type cloudEntry struct {
	api  openaiapi.Config
	ecfg egress.Config
}

// newCloudPool returns an empty pool whose clouds turn the small model's
// tokens into text with detok.
func (r *runner) newCloudPool(detok func(ids []int32) string) *cloudPool {
	return &cloudPool{r: r, detok: detok, entries: map[int]*cloudEntry{}, clouds: map[[2]int]*collab.Cloud{}}
}

// cloudFor returns worker's cloud of strategy entry si, dialling it on
// first use; the entry's target is resolved (its kind detected) and its
// audit log opened once for all workers.
func (p *cloudPool) cloudFor(ctx context.Context, worker, si int) (*collab.Cloud, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cloud := p.clouds[[2]int{worker, si}]; cloud != nil {
		return cloud, nil
	}
	e := p.entries[si]
	if e == nil {
		r, s := p.r, p.r.cfg.Strategies[si]
		api, err := r.endpoint(ctx, r.cfg.Cloud.Target, r.cfg.Cloud.Kind, r.cfg.Cloud.Model,
			openaiapi.Config{Timeout: 5 * time.Minute, Logger: r.logger.With("component", "cloud")})
		if err != nil {
			return nil, err
		}
		log, err := audit.Open(filepath.Join(r.cfg.Out, "audit", safeName(s.Name)+".jsonl"))
		if err != nil {
			return nil, err
		}
		// Each run brings its record's guard; the client has none of its
		// own, so a request without one is not sent.
		ecfg := egress.Config{Policy: egress.User, Log: log, Detokenize: p.detok, Private: r.cloudGrant()}
		if api, err = r.resolveKind(ctx, ecfg, api, r.cfg.Cloud.Target, "cloud"); err != nil {
			log.Close()
			return nil, err
		}
		p.closers = append(p.closers, func() { log.Close() })
		e = &cloudEntry{api: api, ecfg: ecfg}
		p.entries[si] = e
	}
	c, err := egress.Dial(e.ecfg, e.api)
	if err != nil {
		return nil, err
	}
	cloud := collab.NewCloud(c)
	p.clouds[[2]int{worker, si}] = cloud
	return cloud, nil
}

// close closes the audit logs of the dialled clouds.
func (p *cloudPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.closers {
		c()
	}
}

// cloudGrant is the grant of cloud.allow_private_egress (the llm-context
// baseline); nil when it is not set.
func (r *runner) cloudGrant() *egress.Grant {
	return r.grant(&r.grants.cloud, r.cfg.Cloud.AllowPrivateEgress, "cloud.allow_private_egress")
}

// judgeGrant is the grant of judge.allow_private, which the judge's
// prompts need (they hold the outputs, written with private context).
func (r *runner) judgeGrant() *egress.Grant {
	return r.grant(&r.grants.judge, r.cfg.Judge.AllowPrivate, "judge.allow_private")
}

// grant returns *g, made once from the opt-in flag when on is set; nil
// when it is not.
func (r *runner) grant(g **egress.Grant, on bool, flag string) *egress.Grant {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on && *g == nil {
		*g = egress.AllowPrivate(flag)
	}
	return *g
}

// withJudgeGuard returns ctx carrying the guard of the record being
// judged, and the judge's grant.
func (r *runner) withJudgeGuard(ctx context.Context, g *privacy.Guard) context.Context {
	return egress.WithGrant(egress.WithGuard(ctx, g), r.judgeGrant())
}

// judgeClient dials the judge behind its own audit log: every judge
// request is checked by the record's guard and recorded; findings are let
// through with the verdict "private" under judge.allow_private, and
// blocked without it.
func (r *runner) judgeClient(ctx context.Context) (*openaiapi.Client, func(), error) {
	j := r.cfg.Judge
	api, err := r.endpoint(ctx, j.Target, j.Kind, j.Model,
		openaiapi.Config{Timeout: 10 * time.Minute, Logger: r.logger.With("component", "judge")})
	if err != nil {
		return nil, nil, err
	}
	log, err := audit.Open(filepath.Join(r.cfg.Out, "judge-audit.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	ecfg := egress.Config{Policy: egress.Judge, Log: log, Private: r.judgeGrant()}
	if api, err = r.resolveKind(ctx, ecfg, api, j.Target, "judge"); err == nil && j.Grammar {
		if err = grammarKind(api.Kind); err != nil {
			err = fmt.Errorf("judge.grammar: the judge at %s: %w", api.BaseURL, err)
		}
	}
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	c, err := egress.Dial(ecfg, api)
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	return c, func() { log.Close() }, nil
}

// resolveKind returns api with the kind to use for the server of a cloud
// or judge target (egress.ResolveKind): kind auto takes the detected kind,
// and a given kind that the server contradicts is an error naming both. A
// local: target is cogen cloud, whose kind api already has. field names
// the config table ("cloud" or "judge").
func (r *runner) resolveKind(ctx context.Context, ecfg egress.Config, api openaiapi.Config, target, field string) (openaiapi.Config, error) {
	if _, local := cutLocal(target); local {
		return api, nil
	}
	if _, err := openaiapi.ParseKind(string(api.Kind)); err != nil {
		return api, fmt.Errorf("%s.kind: %w", field, err)
	}
	ecfg.Guard = nil // the probes carry nothing private: a guard with no vault checks them
	if api.Logger == nil {
		api.Logger = r.logger.With("component", field)
	}
	api, _, err := egress.ResolveKind(ctx, ecfg, api)
	if me, ok := errors.AsType[*openaiapi.KindMismatchError](err); ok {
		return api, fmt.Errorf("%s.kind %s, but %s looks like %s (%s); set %s.kind = %q or \"auto\"", field, me.Given, me.URL, me.Detected, me.Evidence, field, me.Detected)
	}
	if err != nil {
		return api, fmt.Errorf("%s.target: %w; to skip detection, name the server software in %s.kind", field, err, field)
	}
	return api, nil
}

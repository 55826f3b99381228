//go:build cgo

package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// server is one cloud server the suite runs against.
type server struct {
	name  string // "llama-server", "ollama", "cogen cloud"
	kind  openaiapi.Kind
	url   string // OpenAI base URL (…/v1)
	model string // the model name requests give
	// kv is the KV cache type it runs with: "f32", or "f16" for Ollama,
	// which offers no F32 cache.
	kv   string
	stop func()
	// env, bin and dir are Ollama's: its environment, binary and
	// directory, for importing more models.
	env      []string
	bin, dir string
}

// The servers and models are made once for the package and stopped in
// TestMain, also when a test fails; every server process also dies with
// the test binary (Pdeathsig).
var suite struct {
	mu      sync.Mutex
	dir     string
	cloud   string // the cloud model's GGUF
	servers map[string]*server
	errs    map[string]error
	// modelsMu guards models; startServer holds mu while cogen cloud
	// opens its model.
	modelsMu sync.Mutex
	models   map[string]*llamacpp.Model
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	suite.dir = dir
	suite.servers = map[string]*server{}
	suite.errs = map[string]error{}
	suite.models = map[string]*llamacpp.Model{}
	code := m.Run()
	for _, s := range suite.servers {
		s.stop()
	}
	for _, mod := range suite.models {
		mod.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// cloudModel writes, once, the cloud's random-weight model: a tiny llama
// with the local model's tokenizer and an 8192-token training context, for
// llm-context's prompts of about 6,000 tokens (the shared 260K model
// trains on 128 tokens, which llama-server will not exceed).
func cloudModel(t testing.TB) string {
	t.Helper()
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if suite.cloud != "" {
		return suite.cloud
	}
	tiny, _ := enginetest.ShapeByName("tiny")
	tiny.Context = cloudContext
	p := filepath.Join(suite.dir, "cloud.gguf")
	err := enginetest.Write(p, enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: enginetest.SharedModel(t), Seed: 7, Scale: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	suite.cloud = p
	return p
}

// cloudContext is the cloud model's training context and every server's.
const cloudContext = 8192

// engineModel opens path in the in-process engine once per options.
func engineModel(t testing.TB, path string, o llamacpp.Options) *llamacpp.Model {
	t.Helper()
	key := fmt.Sprintf("%s %+v", path, o)
	suite.modelsMu.Lock()
	defer suite.modelsMu.Unlock()
	if m, ok := suite.models[key]; ok {
		return m
	}
	m, err := llamacpp.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	suite.models[key] = m
	return m
}

// serverNames are the server kinds the suite runs, in table order.
var serverNames = []string{"llama-server", "ollama", "cogen cloud"}

// startServer returns the named server, starting it on first use.
func startServer(t testing.TB, name string) *server {
	t.Helper()
	model := cloudModel(t)
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if s, ok := suite.servers[name]; ok {
		return s
	}
	if err, ok := suite.errs[name]; ok {
		t.Fatalf("%s did not start earlier: %v", name, err)
	}
	var s *server
	var err error
	switch name {
	case "llama-server":
		s, err = startLlamaServer(t, model, "llama-server", cloudContext)
	case "ollama":
		s, err = startOllama(t, model)
	case "cogen cloud":
		s, err = startCogenCloud(t, model)
	default:
		t.Fatalf("unknown server %q", name)
	}
	if err != nil {
		suite.errs[name] = err
		t.Fatalf("start %s: %v", name, err)
	}
	suite.servers[name] = s
	return s
}

// binary returns the path of a built third-party server: $env if set,
// otherwise what the build script prints (it builds once per machine into
// ~/.cache/cogenesis, and answers at once after that).
func binary(t testing.TB, env, script string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(filepath.Join(filepath.Dir(file), "..", "build", script))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		deptest.Missing(t, "%s: build/%s failed (%v): %s; make test builds it, or set %s", env, script, err, strings.TrimSpace(stderr.String()), env)
	}
	return strings.TrimSpace(string(out))
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a started server process, in its own process group.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProcess(logPath string, env []string, name string, args ...string) (*process, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process group: SIGTERM, then SIGKILL after 5 s.
func (p *process) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	// Ollama's model runner is a child of the server in the same group;
	// make sure nothing of the group outlives it.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// tail returns the last lines of the process's log, for failure messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// waitHealthy polls url until it answers 200, the process exits or the
// time runs out. The probes are the test's own, to a server it started;
// they carry no text.
func (p *process) waitHealthy(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was healthy:\n%s", p.tail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not healthy at %s within %v:\n%s", url, within, p.tail())
}

// startOnFreePort starts a server with start(port) until one binds: a
// free port can be taken between the check and the bind.
func startOnFreePort(start func(port int) (*process, string, error)) (*process, string, error) {
	var err error
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			return nil, "", err
		}
		var p *process
		var health string
		if p, health, err = start(port); err != nil {
			return nil, "", err
		}
		if err = p.waitHealthy(health, 2*time.Minute); err == nil {
			return p, fmt.Sprintf("http://127.0.0.1:%d", port), nil
		}
		p.stop()
		if !strings.Contains(err.Error(), "address already in use") && !strings.Contains(err.Error(), "bind") {
			return nil, "", err
		}
	}
	return nil, "", err
}

// startLlamaServer runs llama.cpp's server on model: one slot, one
// thread, a context of nctx tokens, an F32 KV cache and no flash attention:
// the engine's precise mode, so that their log-probabilities compare
// (with flash attention on, its default on CPU, they differ by up to 0.015).
func startLlamaServer(t testing.TB, model, name string, nctx int) (*server, error) {
	bin := binary(t, "COGEN_LLAMA_SERVER", "llama-server.sh")
	dir := filepath.Join(suite.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, url, err := startOnFreePort(func(port int) (*process, string, error) {
		p, err := startProcess(filepath.Join(dir, "server.log"), nil, bin,
			"-m", model, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
			"-t", "1", "-tb", "1", "-np", "1", "-c", fmt.Sprint(nctx), "-ctk", "f32", "-ctv", "f32", "-fa", "off",
			"--no-webui", "-a", "cloud")
		return p, fmt.Sprintf("http://127.0.0.1:%d/health", port), err
	})
	if err != nil {
		return nil, err
	}
	return &server{name: "llama-server", kind: openaiapi.KindLlamaCpp, url: url + "/v1", model: "cloud", kv: "f32", stop: p.stop}, nil
}

// startOllama runs Ollama's server with a private model directory and
// home, imports model with a Modelfile FROM, and loads it once. Ollama
// has no F32 KV cache (OLLAMA_KV_CACHE_TYPE takes f16, q8_0 or q4_0;
// llama/llama.go kvCacheTypeFromStr), so its cache is F16; flash attention
// is off, as in the engine it is compared with.
func startOllama(t testing.TB, model string) (*server, error) {
	bin := binary(t, "COGEN_OLLAMA", "ollama.sh")
	dir := filepath.Join(suite.dir, "ollama")
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o700); err != nil {
		return nil, err
	}
	var env []string
	p, url, err := startOnFreePort(func(port int) (*process, string, error) {
		env = []string{
			"HOME=" + dir, "OLLAMA_MODELS=" + filepath.Join(dir, "models"),
			fmt.Sprintf("OLLAMA_HOST=127.0.0.1:%d", port), "OLLAMA_NUM_PARALLEL=1",
			"OLLAMA_KEEP_ALIVE=-1", fmt.Sprintf("OLLAMA_CONTEXT_LENGTH=%d", cloudContext), "OLLAMA_NOPRUNE=1",
			"OLLAMA_FLASH_ATTENTION=0",
		}
		p, err := startProcess(filepath.Join(dir, "server.log"), env, bin, "serve")
		return p, fmt.Sprintf("http://127.0.0.1:%d/api/version", port), err
	})
	if err != nil {
		return nil, err
	}
	s := &server{name: "ollama", kind: openaiapi.KindOllama, url: url + "/v1", model: "cloud", kv: "f16", stop: p.stop, env: env, bin: bin, dir: dir}
	if err := ollamaCreate(s, "cloud", model, cloudContext); err != nil {
		p.stop()
		return nil, err
	}
	return s, nil
}

// ollamaCreate imports the GGUF at path into a running Ollama as name,
// with a context of nctx tokens and one thread.
func ollamaCreate(s *server, name, path string, nctx int) error {
	modelfile := filepath.Join(s.dir, name+".Modelfile")
	mf := fmt.Sprintf("FROM %s\nPARAMETER num_ctx %d\nPARAMETER num_thread 1\n", path, nctx)
	if err := os.WriteFile(modelfile, []byte(mf), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "create", name, "-f", modelfile)
	cmd.Env = append(os.Environ(), s.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ollama create: %v: %s", err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// startCogenCloud serves model with cogen cloud's handler in this process
// (precise: F32 KV cache).
func startCogenCloud(t testing.TB, model string) (*server, error) {
	m := engineModel(t, model, llamacpp.Options{ContextSize: cloudContext, Threads: 1, Parallel: 2, Precise: true})
	srv := httptest.NewServer((&cloud.Server{Model: m, Name: "cloud"}).Handler())
	return &server{name: "cogen cloud", kind: openaiapi.KindVLLM, url: srv.URL + "/v1", model: "cloud", kv: "f32", stop: srv.Close}, nil
}

package deploy

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracekit/tracekit/libs/config"
	"go.yaml.in/yaml/v3"
)

const root = ".."

// binaryExists reports whether a binary of that name is built by `make build`.
func binaryExists(name string) bool {
	for _, dir := range []string{"services", "tools"} {
		if _, err := os.Stat(filepath.Join(root, dir, name, "main.go")); err == nil {
			return true
		}
	}
	return false
}

// loadConfig parses a deploy config strictly: every key must be one tracekit knows.
func loadConfig(t *testing.T, path string, environ []string) *config.Loaded {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	l, err := config.Parse(data, environ)
	require.NoError(t, err, path)
	assert.Empty(t, l.Warnings, "%s has keys tracekit does not use", path)
	return l
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	return p
}

// listenPorts are the non-HTTP ports the config opens, by the binary that opens them.
func listenPorts(t *testing.T, c *config.Config) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, o := range c.Inputs.OpenTelemetry {
		if o.GRPC != nil {
			out["receiver-otlp"] = append(out["receiver-otlp"], port(t, o.GRPC.Addr)+"/tcp")
		}
	}
	for _, s := range c.Inputs.SkyWalking {
		out["receiver-skywalking"] = append(out["receiver-skywalking"], port(t, s.Address)+"/tcp")
	}
	for _, p := range c.Inputs.Pinpoint {
		out["receiver-pinpoint"] = append(out["receiver-pinpoint"], port(t, p.Address)+"/tcp")
	}
	for _, ct := range c.Inputs.CAT {
		out["receiver-cat"] = append(out["receiver-cat"], ct.TCPPort+"/tcp")
	}
	for _, j := range c.Inputs.Jaeger {
		if j.Address != "" {
			out["receiver-jaeger"] = append(out["receiver-jaeger"], port(t, j.Address)+"/udp")
		}
	}
	return out
}

// httpPaths are the HTTP routes the config mounts, by receiver binary.
func httpPaths(c *config.Config) map[string][]string {
	out := map[string][]string{"gateway": {"/v1/write/metric", "/v1/ping"}}
	for _, d := range c.Inputs.DDTrace {
		out["receiver-ddtrace"] = append(out["receiver-ddtrace"], append([]string{"/info"}, d.Endpoints...)...)
	}
	for _, j := range c.Inputs.Jaeger {
		out["receiver-jaeger"] = append(out["receiver-jaeger"], j.Endpoint)
	}
	for _, o := range c.Inputs.OpenTelemetry {
		if o.HTTP != nil {
			out["receiver-otlp"] = append(out["receiver-otlp"], o.HTTP.TraceAPI)
		}
	}
	for _, z := range c.Inputs.Zipkin {
		out["receiver-zipkin"] = append(out["receiver-zipkin"], z.PathV1, z.PathV2)
	}
	if len(c.Inputs.SkyWalking) > 0 {
		out["receiver-skywalking"] = []string{"/v3/trace", "/v3/segments"}
	}
	if len(c.Inputs.CAT) > 0 {
		out["receiver-cat"] = []string{"/cat/s/router"}
	}
	return out
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Profiles    []string          `yaml:"profiles"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

func TestDockerCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var doc struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc))
	require.Contains(t, doc.Services, "nats")
	require.Contains(t, doc.Services, "dataway-sim")

	published := map[string]string{} // host port/proto → service
	for name, svc := range doc.Services {
		t.Run(name, func(t *testing.T) {
			require.NotNil(t, svc.Healthcheck, "every service has a health check")
			for dep, cond := range svc.DependsOn {
				target, ok := doc.Services[dep]
				require.True(t, ok, "depends on unknown service %s", dep)
				if cond.Condition == "service_healthy" {
					assert.NotNil(t, target.Healthcheck, "%s waits for %s to be healthy but it has no health check", name, dep)
				}
			}
			for _, p := range svc.Ports {
				hostPort := strings.SplitN(p, ":", 2)[0]
				proto := "tcp"
				if strings.HasSuffix(p, "/udp") {
					proto = "udp"
				}
				key := hostPort + "/" + proto
				if len(svc.Profiles) == 0 {
					assert.NotContains(t, published, key, "host port %s published twice", key)
					published[key] = name
				}
			}
			for _, v := range svc.Volumes {
				src := strings.SplitN(v, ":", 2)[0]
				if strings.HasPrefix(src, "./") {
					_, err := os.Stat(filepath.Join(root, src))
					assert.NoError(t, err, "mounted file %s", src)
				} else {
					assert.Contains(t, doc.Volumes, src, "named volume %s is declared", src)
				}
			}
			bin, isTracekit := strings.CutPrefix(strings.SplitN(svc.Image, ":", 2)[0], "tracekit/")
			if !isTracekit {
				return
			}
			require.True(t, binaryExists(bin), "image %s names no binary in services/ or tools/", svc.Image)
			checkHealthcheck(t, bin, svc)
			if bin == "dataway-sim" {
				return
			}
			// The command's -config path must be a mounted file that parses cleanly with
			// the service's environment applied.
			require.GreaterOrEqual(t, len(svc.Command), 2)
			assert.Equal(t, "-config", svc.Command[0])
			host := ""
			for _, v := range svc.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) >= 2 && parts[1] == svc.Command[1] {
					host = parts[0]
				}
			}
			require.NotEmpty(t, host, "config %s is not mounted", svc.Command[1])
			var environ []string
			for k, v := range svc.Environment {
				require.True(t, strings.HasPrefix(k, config.EnvPrefix), "env %s", k)
				environ = append(environ, k+"="+v)
			}
			l := loadConfig(t, filepath.Join(root, host), environ)
			if bin != "tracekit" && bin != "filter" && bin != "sender" && bin != "gateway" {
				for _, p := range listenPorts(t, l.Config)[bin] {
					var found bool
					for _, sp := range svc.Ports {
						proto := "tcp"
						if strings.HasSuffix(sp, "/udp") {
							proto = "udp"
						}
						hp := strings.TrimSuffix(strings.SplitN(sp, ":", 2)[1], "/udp")
						if hp+"/"+proto == p {
							found = true
						}
					}
					assert.True(t, found, "%s listens on %s but does not publish it", bin, p)
				}
			}
		})
	}
	for _, p := range []string{"9529/tcp", "4317/tcp", "11800/tcp", "9991/tcp", "2280/tcp", "6831/udp"} {
		assert.Contains(t, published, p, "DataKit port %s is published", p)
	}
	checkEdge(t, doc.Services)
}

// binaryFlags are the command-line flags a binary defines: every service parses its flags
// in libs/service, the tools in their own main.go.
func binaryFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	file := filepath.Join(root, "libs/service/service.go")
	if _, err := os.Stat(filepath.Join(root, "tools", bin, "main.go")); err == nil {
		file = filepath.Join(root, "tools", bin, "main.go")
	}
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	flags := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		// fs.String("name", ...) or fs.StringVar(&v, "name", ...)
		arg := 0
		if strings.HasSuffix(sel.Sel.Name, "Var") {
			arg = 1
		}
		switch strings.TrimSuffix(sel.Sel.Name, "Var") {
		case "String", "Bool", "Int", "Int64", "Uint", "Uint64", "Float64", "Duration", "Func", "":
		default:
			return true
		}
		if len(call.Args) <= arg {
			return true
		}
		if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			flags[strings.Trim(lit.Value, "`\"")] = true
		}
		return true
	})
	require.NotEmpty(t, flags, "no flags found in %s", file)
	return flags
}

// checkHealthcheck checks that a tracekit image's health check runs the image's binary with
// flags it really has: a wrong flag makes the container unhealthy forever and every
// depends_on: service_healthy behind it never starts.
func checkHealthcheck(t *testing.T, bin string, svc composeService) {
	t.Helper()
	test := svc.Healthcheck.Test
	require.GreaterOrEqual(t, len(test), 3, "health check %v", test)
	assert.Equal(t, "CMD", test[0], "exec form: the distroless image has no shell")
	dockerfile, err := os.ReadFile(filepath.Join(root, "deploy/docker/Dockerfile"))
	require.NoError(t, err)
	assert.Contains(t, string(dockerfile), "COPY --from=build /out/app "+test[1], "the health check runs the image's binary")
	flags := binaryFlags(t, bin)
	for i, a := range test[2:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		assert.True(t, flags[name], "%s has no flag %s (health check %v)", bin, a, test)
		if bin == "dataway-sim" && name == "healthcheck" {
			require.Greater(t, len(test), i+3, "-healthcheck takes a URL")
			u, err := url.Parse(test[i+3])
			require.NoError(t, err)
			listen := ""
			for j := 0; j+1 < len(svc.Command); j++ {
				if svc.Command[j] == "-listen" {
					listen = svc.Command[j+1]
				}
			}
			require.NotEmpty(t, listen, "dataway-sim's -listen")
			assert.Equal(t, port(t, listen), u.Port(), "the health check probes the port dataway-sim listens on")
		}
	}
	if bin != "dataway-sim" {
		assert.Contains(t, test, "-healthcheck")
		assert.Contains(t, test, "-config", "the probe reads [http] listen from the same config")
	}
}

// checkEdge checks that the edge router sends every HTTP path of the config to the service
// that serves it.
func checkEdge(t *testing.T, services map[string]composeService) {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(root, "deploy/compose/edge.conf"))
	require.NoError(t, err)
	upstreams := map[string]string{}
	for _, m := range regexp.MustCompile(`upstream (\S+)\s*\{\s*server ([^:;]+):(\d+);`).FindAllStringSubmatch(string(conf), -1) {
		require.Contains(t, services, m[2], "upstream %s points at unknown service %s", m[1], m[2])
		assert.Equal(t, "9529", m[3])
		upstreams[m[1]] = m[2]
	}
	type loc struct {
		kind, pattern, upstream string
	}
	var locs []loc
	for _, m := range regexp.MustCompile(`location\s+(~|=)?\s*(\S+)\s*\{\s*proxy_pass http://([^;]+);`).FindAllStringSubmatch(string(conf), -1) {
		locs = append(locs, loc{m[1], m[2], m[3]})
	}
	route := func(path string) string {
		for _, l := range locs { // exact and regex first, as nginx does
			switch l.kind {
			case "=":
				if path == l.pattern {
					return upstreams[l.upstream]
				}
			case "~":
				if regexp.MustCompile(l.pattern).MatchString(path) {
					return upstreams[l.upstream]
				}
			}
		}
		best, svc := "", ""
		for _, l := range locs {
			if l.kind == "" && strings.HasPrefix(path, l.pattern) && len(l.pattern) > len(best) {
				best, svc = l.pattern, upstreams[l.upstream]
			}
		}
		return svc
	}
	l := loadConfig(t, filepath.Join(root, "deploy/config/tracekit.toml"), nil)
	for bin, paths := range httpPaths(l.Config) {
		for _, p := range paths {
			assert.Equal(t, bin, route(p), "edge routes %s", p)
		}
	}
}

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Raw map[string]any `yaml:"-"`
}

func readObjects(t *testing.T, path string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var raw map[string]any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, path)
		if raw == nil {
			continue
		}
		b, _ := yaml.Marshal(raw)
		var o k8sObject
		require.NoError(t, yaml.Unmarshal(b, &o))
		o.Raw = raw
		require.NotEmpty(t, o.Kind, path)
		require.NotEmpty(t, o.Metadata.Name, path)
		out = append(out, o)
	}
	return out
}

// dig walks nested maps and lists: dig(x, "spec", "template", 0).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func labelsMatch(selector, labels any) bool {
	sel, _ := selector.(map[string]any)
	lab, _ := labels.(map[string]any)
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lab[k] != v {
			return false
		}
	}
	return true
}

type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name string `yaml:"name"`
	} `yaml:"images"`
	Patches []struct {
		Target struct {
			Kind          string `yaml:"kind"`
			Name          string `yaml:"name"`
			LabelSelector string `yaml:"labelSelector"`
		} `yaml:"target"`
		Patch string `yaml:"patch"`
	} `yaml:"patches"`
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	var k kustomization
	require.NoError(t, yaml.Unmarshal(data, &k))
	return k
}

func TestKubernetesBase(t *testing.T) {
	dir := filepath.Join(root, "deploy/k8s/base")
	k := readKustomization(t, dir)
	var objs []k8sObject
	for _, r := range k.Resources {
		objs = append(objs, readObjects(t, filepath.Join(dir, r))...)
	}
	byKind := map[string]map[string]k8sObject{}
	for _, o := range objs {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]k8sObject{}
		}
		assert.NotContains(t, byKind[o.Kind], o.Metadata.Name, "duplicate %s/%s", o.Kind, o.Metadata.Name)
		byKind[o.Kind][o.Metadata.Name] = o
	}
	configMaps := map[string]bool{}
	for n := range byKind["ConfigMap"] {
		configMaps[n] = true
	}
	var cfg *config.Loaded
	for _, g := range k.ConfigMapGenerator {
		configMaps[g.Name] = true
		for _, f := range g.Files {
			if strings.HasSuffix(f, ".toml") {
				cfg = loadConfig(t, filepath.Join(dir, f), []string{"TRACEKIT_DATAWAY_URLS=https://openway.guance.com?token=tkn_x"})
			}
		}
	}
	require.NotNil(t, cfg, "the tracekit config is generated into a ConfigMap")
	ports := listenPorts(t, cfg.Config)

	require.Contains(t, byKind["StatefulSet"], "nats")
	assert.Equal(t, 3, dig(byKind["StatefulSet"]["nats"].Raw, "spec", "replicas"), "a 3-node NATS cluster")
	assert.NotNil(t, dig(byKind["StatefulSet"]["nats"].Raw, "spec", "volumeClaimTemplates", 0), "JetStream on PVCs")
	assert.Equal(t, 3, cfg.Bus.Replicas, "streams replicated across the cluster")
	assert.Equal(t, "nats://nats:4222", cfg.Bus.URL)
	require.Contains(t, byKind["Service"], "nats", "the bus URL's Service exists")

	for name, d := range byKind["Deployment"] {
		t.Run(name, func(t *testing.T) {
			require.True(t, binaryExists(name), "deployment %s names no binary", name)
			pod := dig(d.Raw, "spec", "template")
			assert.True(t, labelsMatch(dig(d.Raw, "spec", "selector", "matchLabels"), dig(pod, "metadata", "labels")))
			c := dig(pod, "spec", "containers", 0)
			assert.Equal(t, "tracekit/"+name+":dev", str(dig(c, "image")))
			portNames := map[string]string{}
			for _, p := range dig(c, "ports").([]any) {
				proto := strings.ToLower(str(dig(p, "protocol")))
				if proto == "" {
					proto = "tcp"
				}
				portNames[str(dig(p, "name"))] = yamlScalar(dig(p, "containerPort")) + "/" + proto
			}
			assert.Equal(t, "9529/tcp", portNames["http"], "the HTTP listener of the config")
			for _, want := range ports[name] {
				assert.Contains(t, values(portNames), want, "%s listens on %s per the config", name, want)
			}
			assert.Equal(t, "/readyz", str(dig(c, "readinessProbe", "httpGet", "path")))
			assert.Equal(t, "/healthz", str(dig(c, "livenessProbe", "httpGet", "path")))
			assert.Contains(t, portNames, str(dig(c, "readinessProbe", "httpGet", "port")))
			for _, v := range dig(pod, "spec", "volumes").([]any) {
				if cm := str(dig(v, "configMap", "name")); cm != "" {
					assert.True(t, configMaps[cm], "ConfigMap %s exists", cm)
				}
			}
			for _, e := range dig(c, "env").([]any) {
				if s := str(dig(e, "valueFrom", "secretKeyRef", "name")); s != "" {
					sec, ok := byKind["Secret"][s]
					require.True(t, ok, "Secret %s exists", s)
					assert.NotNil(t, dig(sec.Raw, "stringData", str(dig(e, "valueFrom", "secretKeyRef", "key"))))
				}
			}
			svc, ok := byKind["Service"][name]
			require.True(t, ok, "Service %s exists", name)
			assert.True(t, labelsMatch(dig(svc.Raw, "spec", "selector"), dig(pod, "metadata", "labels")), "Service selects the pods")
			for _, p := range dig(svc.Raw, "spec", "ports").([]any) {
				assert.Contains(t, portNames, str(dig(p, "targetPort")), "Service target port exists")
			}
			hpa, ok := byKind["HorizontalPodAutoscaler"][name]
			require.True(t, ok, "HPA %s exists", name)
			assert.Equal(t, name, str(dig(hpa.Raw, "spec", "scaleTargetRef", "name")))
			pdb, ok := byKind["PodDisruptionBudget"][name]
			require.True(t, ok, "PDB %s exists", name)
			assert.True(t, labelsMatch(dig(pdb.Raw, "spec", "selector", "matchLabels"), dig(pod, "metadata", "labels")))
		})
	}
	for _, ing := range byKind["Ingress"] {
		for _, r := range dig(ing.Raw, "spec", "rules").([]any) {
			for _, p := range dig(r, "http", "paths").([]any) {
				svc := str(dig(p, "backend", "service", "name"))
				require.Contains(t, byKind["Service"], svc, "Ingress backend")
			}
		}
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func yamlScalar(v any) string {
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

func TestKubernetesOverlays(t *testing.T) {
	base := filepath.Join(root, "deploy/k8s/base")
	bk := readKustomization(t, base)
	var objs []k8sObject
	for _, r := range bk.Resources {
		objs = append(objs, readObjects(t, filepath.Join(base, r))...)
	}
	for _, overlay := range []string{"dev", "prod"} {
		t.Run(overlay, func(t *testing.T) {
			dir := filepath.Join(root, "deploy/k8s/overlays", overlay)
			k := readKustomization(t, dir)
			for _, r := range k.Resources {
				_, err := os.Stat(filepath.Join(dir, r, "kustomization.yaml"))
				require.NoError(t, err, "resource %s", r)
			}
			for _, p := range k.Patches {
				n := 0
				for _, o := range objs {
					if o.Kind != p.Target.Kind || (p.Target.Name != "" && o.Metadata.Name != p.Target.Name) {
						continue
					}
					if sel := p.Target.LabelSelector; sel != "" {
						kv := strings.SplitN(sel, "=", 2)
						if o.Metadata.Labels[kv[0]] != kv[1] {
							continue
						}
					}
					n++
				}
				assert.Positive(t, n, "patch target %+v matches an object", p.Target)
				var ops []map[string]any
				require.NoError(t, yaml.Unmarshal([]byte(p.Patch), &ops), "patch is a JSON6902 list")
			}
			for _, img := range k.Images {
				assert.True(t, binaryExists(strings.TrimPrefix(img.Name, "tracekit/")), "image %s", img.Name)
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "deploy/docker/Dockerfile"))
	require.NoError(t, err)
	s := string(data)
	assert.Contains(t, s, "ARG SERVICE")
	assert.Contains(t, s, "./services/${SERVICE}")
	assert.Contains(t, s, "./tools/${SERVICE}")
	assert.Regexp(t, `(?m)^FROM gcr.io/distroless/static`, s, "static binary on a minimal base")
	assert.Contains(t, s, "CGO_ENABLED=0")
	assert.Regexp(t, `(?m)^USER nonroot`, s)
	// The all-in-one writes its JetStream store under store_dir: the image must hand that
	// directory to the user it runs as.
	l := loadConfig(t, filepath.Join(root, "deploy/config/tracekit.toml"), nil)
	m := regexp.MustCompile(`(?m)^COPY --from=build --chown=(?:nonroot|65532):(?:nonroot|65532) \S+ (\S+)$`).FindStringSubmatch(s)
	require.NotNil(t, m, "a data directory owned by nonroot")
	assert.True(t, strings.HasPrefix(l.Bus.StoreDir, strings.TrimSuffix(m[1], "/")+"/"), "store_dir %s lies in the nonroot directory %s", l.Bus.StoreDir, m[1])
}

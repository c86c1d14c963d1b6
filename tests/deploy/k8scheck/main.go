// k8scheck validates mcsink's Kubernetes manifests against the real API types.
//
// It builds every kustomization (deploy/k8s/base and each deploy/k8s/overlays/*) in process
// with kustomize's own library, and decodes every resulting object, and every standalone
// manifest file under the given directories, strictly into its Go type: Kubernetes built-in
// types from k8s.io/api, Istio's from istio.io/client-go (their specs again with protojson,
// which rejects unknown fields where Istio's own decoder ignores them), the Prometheus
// Operator's from prometheus-operator's monitoring/v1. An unknown kind or an unknown field is
// an error. Then it checks what types cannot: references between the objects of one build
// resolve (Service selectors and target ports, probes, HPA and PDB targets, ConfigMaps, Istio
// hosts), gRPC ports are named so the mesh knows the protocol, and no ConfigMap holds a secret.
//
// Usage: k8scheck -kustomize DIR [-kustomize DIR...] -files DIR [-files DIR...]
package main

import (
	stdjson "encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

// decoder decodes YAML or JSON into the registered Go types, rejecting unknown and duplicate
// fields.
type decoder struct {
	serializer *json.Serializer
}

func newDecoder() (*decoder, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, istionetworking.AddToScheme, istiosecurity.AddToScheme,
		monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	s := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	return &decoder{serializer: s}, nil
}

func (d *decoder) decode(doc []byte) (runtime.Object, error) {
	obj, _, err := d.serializer.Decode(doc, nil, nil)
	if err != nil {
		return nil, err
	}
	// Istio's generated JSON decoders ignore unknown fields: decode the spec again strictly.
	var spec proto.Message
	switch o := obj.(type) {
	case *istionetworking.DestinationRule:
		spec = &o.Spec
	case *istionetworking.VirtualService:
		spec = &o.Spec
	case *istiosecurity.PeerAuthentication:
		spec = &o.Spec
	case *istiosecurity.AuthorizationPolicy:
		spec = &o.Spec
	}
	if spec != nil {
		docJSON, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		var raw struct {
			Spec stdjson.RawMessage `json:"spec"`
		}
		if err := stdjson.Unmarshal(docJSON, &raw); err != nil {
			return nil, err
		}
		specJSON := []byte(raw.Spec)
		proto.Reset(spec)
		if err := (protojson.UnmarshalOptions{}).Unmarshal(specJSON, spec); err != nil {
			return nil, fmt.Errorf("spec: %w", err)
		}
	}
	return obj, nil
}

// object is one decoded manifest and where it came from.
type object struct {
	where string
	obj   runtime.Object
}

type checker struct {
	dec    *decoder
	errs   []string
	counts map[string]int
}

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// build runs kustomize on dir and decodes each resulting object.
func (c *checker) build(dir string) []object {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		c.errorf("%s: kustomize build failed: %v", dir, err)
		return nil
	}
	var out []object
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		where := fmt.Sprintf("%s: %s/%s", dir, r.GetKind(), r.GetName())
		if err != nil {
			c.errorf("%s: %v", where, err)
			continue
		}
		obj, err := c.dec.decode(doc)
		if err != nil {
			c.errorf("%s: %v", where, err)
			continue
		}
		out = append(out, object{where: where, obj: obj})
	}
	c.counts["built objects"] += len(out)
	return out
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// files decodes every manifest file under dir: YAML documents with apiVersion and kind that
// are not kustomize's own (Kustomization, Component) or JSON 6902 patches.
func (c *checker) files(dir string) {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range docSeparator.Split(string(text), -1) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				c.errorf("%s (document %d): not YAML: %v", path, i+1, err)
				continue
			}
			if head.Kind == "" || strings.HasPrefix(head.APIVersion, "kustomize.config.k8s.io/") {
				continue
			}
			if _, err := c.dec.decode([]byte(doc)); err != nil {
				c.errorf("%s (document %d, %s): %v", path, i+1, head.Kind, err)
				continue
			}
			c.counts["manifest files' objects"]++
		}
		return nil
	})
	if err != nil {
		c.errorf("%s: %v", dir, err)
	}
}

// secretKey names configuration keys whose value must never be written in a ConfigMap.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|access_?key|credential)`)

// checkConfigMapValue walks a ConfigMap value parsed as JSON: a secret-looking key must hold a
// reference ({"env": ...} or {"file": ...}), never a value.
func checkConfigMapValue(path string, v any, report func(string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			p := path + "." + k
			if secretKey.MatchString(k) {
				switch ref := child.(type) {
				case map[string]any:
					if isSecretRef(ref) {
						continue
					}
					// A map of references (kafkaSecrets).
					all := len(ref) > 0
					for _, r := range ref {
						m, ok := r.(map[string]any)
						all = all && ok && isSecretRef(m)
					}
					if all {
						continue
					}
				}
				report(p)
				continue
			}
			checkConfigMapValue(p, child, report)
		}
	case []any:
		for i, child := range t {
			checkConfigMapValue(fmt.Sprintf("%s[%d]", path, i), child, report)
		}
	}
}

func isSecretRef(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k, v := range m {
		_, isString := v.(string)
		return isString && (k == "env" || k == "file")
	}
	return false
}

func portNamed(ports []corev1.ContainerPort, p intstr.IntOrString) bool {
	for _, cp := range ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) ||
			(p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return true
		}
	}
	return false
}

// references checks what the types cannot: within one build, names and selectors resolve.
func (c *checker) references(build string, objs []object) {
	deployments := map[string]*appsv1.Deployment{}
	services := map[string]*corev1.Service{}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		switch t := o.obj.(type) {
		case *appsv1.Deployment:
			deployments[t.Name] = t
		case *corev1.Service:
			services[t.Name] = t
		case *corev1.ConfigMap:
			configMaps[t.Name] = t
		}
	}
	matching := func(sel map[string]string) []*appsv1.Deployment {
		var out []*appsv1.Deployment
		for _, d := range deployments {
			if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
				out = append(out, d)
			}
		}
		return out
	}
	for _, d := range deployments {
		where := fmt.Sprintf("%s: Deployment/%s", build, d.Name)
		sel := d.Spec.Selector.MatchLabels
		if !labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			c.errorf("%s: selector %v does not match its pod template's labels", where, sel)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil {
				c.errorf("%s: volume %s names ConfigMap %s, which this build does not have",
					where, v.Name, v.ConfigMap.Name)
			}
		}
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() ||
				ctr.Resources.Limits.Memory().IsZero() {
				c.errorf("%s: container %s needs cpu and memory requests and a memory limit", where,
					ctr.Name)
			}
			if ctr.ReadinessProbe == nil || ctr.LivenessProbe == nil {
				c.errorf("%s: container %s needs readiness and liveness probes", where, ctr.Name)
			}
			for name, p := range map[string]*corev1.Probe{"startup": ctr.StartupProbe,
				"readiness": ctr.ReadinessProbe, "liveness": ctr.LivenessProbe} {
				if p == nil {
					continue
				}
				var port intstr.IntOrString
				switch {
				case p.GRPC != nil:
					port = intstr.FromInt32(p.GRPC.Port)
				case p.TCPSocket != nil:
					port = p.TCPSocket.Port
				case p.HTTPGet != nil:
					port = p.HTTPGet.Port
				default:
					continue
				}
				if !portNamed(ctr.Ports, port) {
					c.errorf("%s: container %s's %s probe checks port %s, which it does not expose",
						where, ctr.Name, name, port.String())
				}
			}
			for _, m := range ctr.VolumeMounts {
				found := false
				for _, v := range d.Spec.Template.Spec.Volumes {
					found = found || v.Name == m.Name
				}
				if !found {
					c.errorf("%s: container %s mounts volume %s, which the pod does not have", where,
						ctr.Name, m.Name)
				}
			}
		}
	}
	for _, s := range services {
		where := fmt.Sprintf("%s: Service/%s", build, s.Name)
		targets := matching(s.Spec.Selector)
		if len(targets) == 0 {
			c.errorf("%s: selector %v matches no Deployment's pods", where, s.Spec.Selector)
		}
		for _, p := range s.Spec.Ports {
			if (p.Name == "grpc" || strings.HasPrefix(p.Name, "grpc-")) !=
				(p.AppProtocol != nil && *p.AppProtocol == "grpc") {
				c.errorf("%s: port %s: a gRPC port needs both the name grpc[-*] and appProtocol "+
					"grpc (Istio's protocol selection), other ports neither", where, p.Name)
			}
			for _, d := range targets {
				if !portNamed(d.Spec.Template.Spec.Containers[0].Ports, p.TargetPort) {
					c.errorf("%s: port %s targets %s, which Deployment/%s's container does not "+
						"expose", where, p.Name, p.TargetPort.String(), d.Name)
				}
			}
		}
	}
	for _, o := range objs {
		switch t := o.obj.(type) {
		case *corev1.ConfigMap:
			for key, value := range t.Data {
				if secretKey.MatchString(key) {
					c.errorf("%s: ConfigMap/%s has key %s: secrets belong in a Secret", build,
						t.Name, key)
				}
				var parsed any
				if err := stdjson.Unmarshal([]byte(value), &parsed); err != nil {
					continue
				}
				checkConfigMapValue(key, parsed, func(path string) {
					c.errorf("%s: ConfigMap/%s: %s holds a value, not a secret reference "+
						`({"env": NAME} or {"file": PATH}): secrets belong in a Secret`, build,
						t.Name, path)
				})
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := t.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" || deployments[ref.Name] == nil {
				c.errorf("%s: HorizontalPodAutoscaler/%s scales %s/%s, which this build does not "+
					"have", build, t.Name, ref.Kind, ref.Name)
			}
		case *policyv1.PodDisruptionBudget:
			if t.Spec.Selector == nil || len(matching(t.Spec.Selector.MatchLabels)) == 0 {
				c.errorf("%s: PodDisruptionBudget/%s selects no Deployment's pods", build, t.Name)
			}
		case *istionetworking.DestinationRule:
			host := strings.Split(t.Spec.Host, ".")[0]
			if services[host] == nil {
				c.errorf("%s: DestinationRule/%s is for host %s, which is no Service of this build",
					build, t.Name, t.Spec.Host)
			}
		case *monitoringv1.ServiceMonitor:
			found := false
			for _, s := range services {
				if !labels.SelectorFromSet(t.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
					continue
				}
				for _, e := range t.Spec.Endpoints {
					for _, p := range s.Spec.Ports {
						found = found || p.Name == e.Port
					}
				}
			}
			if !found {
				c.errorf("%s: ServiceMonitor/%s selects no Service port", build, t.Name)
			}
		}
	}
}

func main() {
	var kustomizations, fileDirs dirList
	flag.Var(&kustomizations, "kustomize", "a kustomization directory to build and check")
	flag.Var(&fileDirs, "files", "a directory whose manifest files to check one by one")
	flag.Parse()
	if len(kustomizations) == 0 && len(fileDirs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: k8scheck -kustomize DIR... -files DIR...")
		os.Exit(2)
	}
	dec, err := newDecoder()
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8scheck:", err)
		os.Exit(1)
	}
	c := &checker{dec: dec, counts: map[string]int{}}
	for _, dir := range kustomizations {
		objs := c.build(dir)
		c.references(dir, objs)
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.obj.GetObjectKind().GroupVersionKind().Kind]++
		}
		var summary []string
		for k, n := range kinds {
			summary = append(summary, fmt.Sprintf("%d %s", n, k))
		}
		sort.Strings(summary)
		fmt.Printf("%s: %s\n", dir, strings.Join(summary, ", "))
	}
	for _, dir := range fileDirs {
		c.files(dir)
	}
	fmt.Printf("checked %d built objects and %d objects in manifest files\n",
		c.counts["built objects"], c.counts["manifest files' objects"])
	for _, e := range c.errs {
		fmt.Fprintln(os.Stderr, "error:", e)
	}
	if len(c.errs) > 0 {
		fmt.Fprintf(os.Stderr, "k8scheck: %d errors\n", len(c.errs))
		os.Exit(1)
	}
}

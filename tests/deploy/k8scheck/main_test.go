package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// expectation reads the "# expect: <text>" first line of a test case.
func expectation(t *testing.T, path string) string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(text), "\n")
	want, ok := strings.CutPrefix(first, "# expect: ")
	if !ok {
		t.Fatalf("%s: first line must be '# expect: <part of the error>'", path)
	}
	return want
}

func newChecker(t *testing.T) *checker {
	t.Helper()
	dec, err := newDecoder()
	if err != nil {
		t.Fatal(err)
	}
	return &checker{dec: dec, counts: map[string]int{}}
}

func requireError(t *testing.T, c *checker, want string) {
	t.Helper()
	for _, e := range c.errs {
		if strings.Contains(e, want) {
			return
		}
	}
	t.Errorf("want an error containing %q, got %q", want, c.errs)
}

func TestBadManifestFilesAreRejected(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases in testdata/bad: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := newChecker(t)
			c.files(f)
			requireError(t, c, expectation(t, f))
		})
	}
}

func TestBrokenReferencesInABuildAreRejected(t *testing.T) {
	for _, dir := range []string{"testdata/secret-in-configmap", "testdata/service-port-mismatch"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := newChecker(t)
			objs := c.build(dir)
			if len(objs) == 0 {
				t.Fatalf("%s built nothing: %q", dir, c.errs)
			}
			c.references(dir, objs)
			requireError(t, c, expectation(t, filepath.Join(dir, "kustomization.yaml")))
		})
	}
}

func TestSecretReferencesInAConfigMapAreAccepted(t *testing.T) {
	var reported []string
	value := map[string]any{
		"target": map[string]any{
			"accessKeyId":     map[string]any{"env": "ID"},
			"accessKeySecret": map[string]any{"file": "/run/secret"},
		},
		"kafkaSecrets": map[string]any{"sasl.password": map[string]any{"file": "/run/kafka"}},
	}
	checkConfigMapValue("c", value, func(p string) { reported = append(reported, p) })
	if len(reported) != 0 {
		t.Errorf("references reported as secrets: %q", reported)
	}
}

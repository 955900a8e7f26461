// Package spanmodeltest holds the translators' golden-file helpers. A golden file is the
// protojson of the expected message, rewritten from the translator with `go test -update`
// and compared semantically (protocmp), so protojson's unstable whitespace and field order
// never make a test fail.
package spanmodeltest

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// WriteGolden writes m to path as indented protojson ending in a newline.
func WriteGolden(t testing.TB, path string, m proto.Message) {
	t.Helper()
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		t.Fatalf("marshal golden %s: %v", path, err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatalf("write golden: %v", err)
	}
}

// ReadGolden reads the golden file at path into m.
func ReadGolden(t testing.TB, path string, m proto.Message) {
	t.Helper()
	if err := readGolden(path, m); err != nil {
		t.Fatal(err)
	}
}

// CompareGolden checks got against the golden file at path, after rewriting that file from
// got when update is set (the test package's -update flag). A difference is reported with
// t.Errorf, so the caller's further checks still run; the result says whether they matched.
func CompareGolden(t testing.TB, path string, got proto.Message, update bool) bool {
	t.Helper()
	if update {
		WriteGolden(t, path, got)
	}
	d, err := diffGolden(path, got)
	if err != nil {
		t.Fatal(err)
	}
	if d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
		return false
	}
	return true
}

func readGolden(path string, m proto.Message) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read golden (run go test -update to create it): %w", err)
	}
	if err := protojson.Unmarshal(raw, m); err != nil {
		return fmt.Errorf("decode golden %s: %w", path, err)
	}
	return nil
}

// diffGolden is the protocmp diff (-want +got) of the golden file at path and got.
func diffGolden(path string, got proto.Message) (string, error) {
	want := got.ProtoReflect().New().Interface()
	if err := readGolden(path, want); err != nil {
		return "", err
	}
	return cmp.Diff(want, got, protocmp.Transform()), nil
}

package awsconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeProfiles writes a config of n profiles with six keys each.
func writeProfiles(b *testing.B, n int) string {
	var sb strings.Builder
	sb.WriteString("[default]\nregion = eu-west-1\noutput = json\n\n")
	for i := range n {
		fmt.Fprintf(&sb, "[profile p%d]\n", i)
		sb.WriteString("region = us-east-1\nsource_profile = default\n")
		fmt.Fprintf(&sb, "role_arn = arn:aws:iam::123456789012:role/role-%d\n", i)
		sb.WriteString("mfa_serial = arn:aws:iam::123456789012:mfa/user\noutput = json\nduration_seconds = 3600\n\n")
	}
	path := filepath.Join(b.TempDir(), "config")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchmarkLoad(b *testing.B, n int, name string) {
	path := writeProfiles(b, n)
	b.ReportAllocs()
	for b.Loop() {
		f, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := f.Profile(name)
		if err != nil || p.RoleARN == "" {
			b.Fatal(p, err)
		}
	}
}

// BenchmarkLoad10000 is broker's warm path with a large config: load the
// file and resolve one profile in the middle of it.
func BenchmarkLoad10000(b *testing.B) { benchmarkLoad(b, 10000, "p5000") }

func BenchmarkLoad1(b *testing.B) { benchmarkLoad(b, 1, "p0") }

func BenchmarkParse10000(b *testing.B) {
	data, err := os.ReadFile(writeProfiles(b, 10000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("config", data); err != nil {
			b.Fatal(err)
		}
	}
}

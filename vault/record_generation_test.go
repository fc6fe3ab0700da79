package vault

import (
	"path/filepath"
	"testing"

	"github.com/broker-dev/broker/broker/agent/wire"
)

// The agent's generation is beside the backend record, so every process
// that finds the keychain through the same record sees the same changes of
// keys (see wire.GenerationPath).
func TestAgentGenerationBesideRecord(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	record, err := RecordPath()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := wire.GenerationPath()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(record) != filepath.Dir(gen) {
		t.Errorf("the generation %s is not beside the record %s", gen, record)
	}
}

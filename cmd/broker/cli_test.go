//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// listRow is the part of `broker list --json` the tests read.
type listRow struct {
	Name     string `json:"name"`
	KeyID    string `json:"key_id"`
	NoMFA    bool   `json:"no_mfa"`
	Sessions []struct {
		RoleARN    string    `json:"role_arn"`
		Expiration time.Time `json:"expiration"`
	} `json:"sessions"`
}

func decodeList(s string) []listRow {
	var rows []listRow
	_ = json.Unmarshal([]byte(s), &rows)
	return rows
}

// exported is the credential_process document.
type exported struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func decodeExport(t *testing.T, s string) exported {
	t.Helper()
	var e exported
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatalf("export printed something that is not JSON: %v", err)
	}
	if e.Version != 1 || e.AccessKeyID == "" || e.SecretAccessKey == "" || e.SessionToken == "" {
		t.Fatalf("incomplete credential_process document: version %d, key %q", e.Version, e.AccessKeyID)
	}
	if _, err := time.Parse(time.RFC3339, e.Expiration); err != nil || !strings.HasSuffix(e.Expiration, "Z") {
		t.Fatalf("Expiration %q is not RFC 3339 UTC", e.Expiration)
	}
	return e
}

// setupDev makes a world with a user, its key stored for profile dev, and dev
// wired into the AWS config through broker setup.
func setupDev(t *testing.T) (*world, user) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.writeConfig(fmt.Sprintf(`# my AWS config
[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile other]
region = us-east-2
`, u.serial, w.mfaProcess("123456")))
	w.addKey("dev", u)
	w.mustBroker("setup", "dev")
	return w, u
}

func TestAWSCLIThroughCredentialProcess(t *testing.T) {
	w, u := setupDev(t)
	for i := 0; i < 2; i++ {
		r := w.cmd(nil, "aws", "--profile", "dev", "sts", "get-caller-identity", "--output", "json")
		if r.code != 0 {
			t.Fatalf("aws sts get-caller-identity: exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, `"Arn"`) {
			t.Fatalf("aws printed no identity: %s", r.stdout)
		}
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA code asked %d times for two CLI calls, want 1", n)
	}
	calls := w.calls("GetSessionToken")
	if len(calls) != 1 {
		t.Fatalf("moto saw %d GetSessionToken calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Params["SerialNumber"] != u.serial || c.Params["TokenCode"] != "123456" {
		t.Errorf("GetSessionToken carried SerialNumber %q TokenCode %q", c.Params["SerialNumber"], c.Params["TokenCode"])
	}
	if c.SigningKeyID != u.keyID {
		t.Errorf("GetSessionToken was signed by %s, want the stored long-term key", c.SigningKeyID)
	}
	assertNoCLICache(t, w)
	// The other lines of the config are untouched.
	b, _ := os.ReadFile(w.config)
	if !strings.Contains(string(b), "# my AWS config\n[profile dev]\n") || !strings.Contains(string(b), "[profile other]\nregion = us-east-2\n") {
		t.Errorf("setup changed other lines of the config:\n%s", b)
	}
}

func TestAWSCLIRoleProfile(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("bob")
	role := w.aws.NewRole(t, "deployer")
	w.writeConfig(fmt.Sprintf(`[profile base]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile deploy]
source_profile = base
role_arn = %s
region = eu-central-1
`, u.serial, w.mfaProcess("654321"), role))
	w.addKey("base", u)
	w.mustBroker("setup", "deploy")
	for i := 0; i < 2; i++ {
		r := w.cmd(nil, "aws", "--profile", "deploy", "sts", "get-caller-identity", "--output", "json")
		if r.code != 0 {
			t.Fatalf("aws sts get-caller-identity: exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "deployer") {
			t.Errorf("the CLI is not acting as the role: %s", r.stdout)
		}
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA code asked %d times, want 1", n)
	}
	gst, ar := w.calls("GetSessionToken"), w.calls("AssumeRole")
	if len(gst) != 1 || len(ar) != 1 {
		t.Fatalf("moto saw %d GetSessionToken and %d AssumeRole calls, want 1 and 1", len(gst), len(ar))
	}
	if gst[0].Params["SerialNumber"] != u.serial || gst[0].Params["TokenCode"] != "654321" {
		t.Errorf("GetSessionToken carried no MFA: %v", gst[0].Params)
	}
	if ar[0].Params["RoleArn"] != role || !ar[0].SecurityToken {
		t.Errorf("AssumeRole was not made from the MFA session: %v, token %v", ar[0].Params, ar[0].SecurityToken)
	}
	assertNoCLICache(t, w)
	b, _ := os.ReadFile(w.config)
	if strings.Contains(string(b), "\nrole_arn") || !strings.Contains(string(b), "broker_role_arn = "+role) {
		t.Errorf("setup left role_arn where the CLI would assume the role itself:\n%s", b)
	}
}

// assertNoCLICache: the AWS CLI caches role credentials in plaintext there.
func assertNoCLICache(t *testing.T, w *world) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(w.home, ".aws", "cli", "cache"))
	if len(entries) != 0 {
		t.Errorf("~/.aws/cli/cache holds %d files", len(entries))
	}
}

func TestBoto3AndGoSDK(t *testing.T) {
	w, u := setupDev(t)
	script := `import boto3
s = boto3.Session(profile_name="dev")
c = s.get_credentials().get_frozen_credentials()
print(c.access_key)
print(s.client("sts").get_caller_identity()["Arn"])
`
	r := w.cmd(nil, "python3", "-c", script)
	if r.code != 0 {
		t.Fatalf("boto3: exit %d: %s", r.code, r.stderr)
	}
	session := decodeExport(t, w.mustBroker("export", "dev"))
	if lines := strings.Fields(r.stdout); len(lines) != 2 || lines[0] != session.AccessKeyID || lines[0] == u.keyID {
		t.Fatalf("boto3 did not get the session credentials: %q", r.stdout)
	}

	for _, kv := range w.env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile("dev"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatalf("aws-sdk-go-v2 could not get credentials: %v", err)
	}
	if creds.AccessKeyID != session.AccessKeyID || creds.SessionToken != session.SessionToken || !creds.CanExpire {
		t.Errorf("aws-sdk-go-v2 got %s, token %v, expiring %v: want a session", creds.AccessKeyID, creds.SessionToken != "", creds.CanExpire)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q, want the profile's eu-west-1", cfg.Region)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || out.Arn == nil {
		t.Fatalf("GetCallerIdentity with broker's credentials: %v", err)
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA asked %d times across boto3 and the Go SDK, want 1", n)
	}
	if n := len(w.calls("GetSessionToken")); n != 1 {
		t.Errorf("%d GetSessionToken calls, want 1", n)
	}
}

func TestConcurrentColdExports(t *testing.T) {
	w, _ := setupDev(t)
	const n = 30
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.cmd(nil, brokerBin, "export", "dev")
		}()
	}
	wg.Wait()
	var first exported
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("export %d: exit %d: %s", i, r.code, r.stderr)
		}
		e := decodeExport(t, r.stdout)
		if i == 0 {
			first = e
		} else if e != first {
			t.Errorf("export %d got a different session", i)
		}
	}
	if asks := w.mfaAsks(); asks != 1 {
		t.Errorf("%d concurrent cold exports asked for %d MFA codes, want 1", n, asks)
	}
	if calls := len(w.calls("GetSessionToken")); calls != 1 {
		t.Errorf("%d concurrent cold exports made %d GetSessionToken calls, want 1", n, calls)
	}
}

func TestExec(t *testing.T) {
	w, u := setupDev(t)
	dump := filepath.Join(w.root, "child-env")
	r := w.cmd([]string{"AWS_PROFILE=other", "AWS_ACCESS_KEY_ID=AKIAINHERITEDEXAMPLE"}, brokerBin, "exec", "dev", "--",
		"sh", "-c", "env > "+dump+"; exit 7")
	if r.code != 7 {
		t.Fatalf("exec exited %d, want the child's 7; stderr: %s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("exec printed on stdout: %q", r.stdout)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	session := decodeExport(t, w.mustBroker("export", "dev"))
	if env["AWS_ACCESS_KEY_ID"] != session.AccessKeyID || env["AWS_SESSION_TOKEN"] != session.SessionToken ||
		env["AWS_SECRET_ACCESS_KEY"] != session.SecretAccessKey {
		t.Errorf("child has key %q and token %v: want the cached session", env["AWS_ACCESS_KEY_ID"], env["AWS_SESSION_TOKEN"] != "")
	}
	if env["AWS_SECRET_ACCESS_KEY"] == u.secret || strings.Contains(string(b), u.secret) || strings.Contains(string(b), u.keyID) {
		t.Error("the child's environment holds the long-term key")
	}
	if env["AWS_REGION"] != "eu-west-1" || env["AWS_DEFAULT_REGION"] != "eu-west-1" {
		t.Errorf("child region %q/%q, want eu-west-1", env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
	}
	if _, ok := env["AWS_PROFILE"]; ok {
		t.Error("the inherited AWS_PROFILE reached the child")
	}
	if env["BROKER_PROFILE"] != "dev" {
		t.Errorf("child's BROKER_PROFILE = %q", env["BROKER_PROFILE"])
	}
	os.Remove(dump)

	// A nested exec says what is going on and stacks nothing.
	r = w.cmd(nil, brokerBin, "exec", "dev", "--", brokerBin, "exec", "dev", "--", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "already inside `broker exec` for profile \"dev\"") {
		t.Errorf("nested exec: exit %d, stderr %q", r.code, r.stderr)
	}
	// A signal sent to broker's process reaches the command.
	r = w.cmd(nil, brokerBin, "exec", "dev", "--", "sh", "-c", "trap 'exit 42' TERM; kill -TERM $$; sleep 5")
	if r.code != 42 {
		t.Errorf("a TERM sent to exec's process ended it with %d, want the child's trap (42)", r.code)
	}
}

// TestNoSecretsAtRest runs the whole main path and then looks for the
// long-term secret and the session token in every file and in every argv
// seen while broker worked.
func TestNoSecretsAtRest(t *testing.T) {
	w, u := setupDev(t)
	psDump := filepath.Join(w.root, "argv")
	// The MFA process and the exec'd child record every process's argv.
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = sh -c 'ps -eo args >> %s; echo asked >> %s; echo 123456'
`, u.serial, psDump, w.mfaLog))
	w.mustBroker("setup", "dev")
	if r := w.cmd(nil, "aws", "--profile", "dev", "sts", "get-caller-identity"); r.code != 0 {
		t.Fatalf("aws: %s", r.stderr)
	}
	e := decodeExport(t, w.mustBroker("export", "dev"))
	env := w.mustBroker("export", "--format", "env", "dev")
	if !strings.Contains(env, "export AWS_SESSION_TOKEN='"+e.SessionToken+"'") {
		t.Errorf("export --format env does not carry the session: %q", env)
	}
	if r := w.cmd(nil, brokerBin, "exec", "dev", "--", "sh", "-c", "ps -eo args >> "+psDump); r.code != 0 {
		t.Fatalf("exec: %s", r.stderr)
	}
	w.mustBroker("clear")
	w.mustBroker("export", "dev") // a fresh session after clear
	w.mustBroker("list")
	w.mustBroker("list", "--json")

	argv, err := os.ReadFile(psDump)
	if err != nil || len(argv) == 0 {
		t.Fatalf("no argv recorded: %v", err)
	}
	for _, s := range []string{u.secret, e.SecretAccessKey, e.SessionToken} {
		if strings.Contains(string(argv), s) {
			t.Error("a secret appeared in some process's argv")
		}
	}
	w.scanForSecrets(u.secret, e.SecretAccessKey, e.SessionToken)
}

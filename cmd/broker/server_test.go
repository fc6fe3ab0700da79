//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// sdkChildVar makes the test binary act as an aws-sdk-go-v2 program: the
// child of `broker exec --server` in TestExecServer. It is read in init, not
// TestMain, so the child neither builds broker nor runs tests.
const sdkChildVar = "BROKER_TEST_SDK_CHILD"

func init() {
	if os.Getenv(sdkChildVar) == "1" {
		os.Exit(sdkChild())
	}
}

// sdkReport is what the SDK child found.
type sdkReport struct {
	AccessKeyID, SessionToken, Source, Arn, Region string
	CanExpire                                      bool
}

// sdkChild loads the default config, as any Go program would, and prints
// the credentials it got and who STS says they belong to.
func sdkChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading config:", err)
		return 2
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "retrieving credentials:", err)
		return 2
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "GetCallerIdentity:", err)
		return 2
	}
	_ = json.NewEncoder(os.Stdout).Encode(sdkReport{
		AccessKeyID: creds.AccessKeyID, SessionToken: creds.SessionToken, Source: creds.Source,
		Arn: aws.ToString(out.Arn), Region: cfg.Region, CanExpire: creds.CanExpire,
	})
	return 0
}

// boto3Child gets credentials through boto3's default chain, then probes the
// endpoint the way an attacker on the machine would, and reports everything
// including its environment and every process's argv.
const boto3Child = `import boto3, http.client, json, os, subprocess, sys, urllib.parse
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
tok = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
s = boto3.Session()
c = s.get_credentials()
f = c.get_frozen_credentials()
arn = s.client("sts").get_caller_identity()["Arn"]
u = urllib.parse.urlsplit(uri)
def status(method, path, headers):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status
probes = {
    "good": status("GET", u.path, {"Authorization": tok}),
    "no token": status("GET", u.path, {}),
    "wrong token": status("GET", u.path, {"Authorization": "0" * 64}),
    "foreign host": status("GET", u.path, {"Authorization": tok, "Host": "attacker.example:%d" % u.port}),
    "POST": status("POST", u.path, {"Authorization": tok}),
    "other path": status("GET", "/", {"Authorization": tok}),
}
ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
json.dump({"key": f.access_key, "token": f.token, "method": c.method, "arn": arn, "port": u.port,
           "probes": probes, "env": dict(os.environ), "argv": ps}, sys.stdout)
sys.exit(3)
`

type boto3Report struct {
	Key, Token, Method, Arn, Argv string
	Port                          int
	Probes                        map[string]int
	Env                           map[string]string
}

// serverWorld is a world with alice's key stored for dev and a role profile
// deploy on top of it: AssumeRole returns new random credentials each time,
// so equal credentials mean the same cached session.
func serverWorld(t *testing.T) (*world, user) {
	w := newWorld(t)
	u := w.newUser("alice")
	role := w.aws.NewRole(t, "deployer")
	w.writeConfig(fmt.Sprintf(`[profile dev]
region = eu-west-1
mfa_serial = %s
mfa_process = %s

[profile deploy]
source_profile = dev
role_arn = %s
region = eu-central-1
`, u.serial, w.mfaProcess("123456"), role))
	w.addKey("dev", u)
	return w, u
}

func TestExecServer(t *testing.T) {
	w, u := serverWorld(t)
	inherited := []string{"AWS_ACCESS_KEY_ID=AKIAINHERITEDEXAMPLE", "AWS_SECRET_ACCESS_KEY=inherited/secret", "AWS_PROFILE=dev"}
	r := w.cmd(inherited, brokerBin, "exec", "--server", "deploy", "--", "python3", "-c", boto3Child)
	if r.code != 3 {
		t.Fatalf("exec --server exited %d, want the child's 3; stderr: %s", r.code, r.stderr)
	}
	var py boto3Report
	if err := json.Unmarshal([]byte(r.stdout), &py); err != nil {
		t.Fatalf("the boto3 child printed no report (%v); stderr: %s", err, r.stderr)
	}
	session := decodeExport(t, w.mustBroker("export", "deploy"))
	if py.Key != session.AccessKeyID || py.Token != session.SessionToken || py.Method != "container-role" {
		t.Errorf("boto3 got key %s by %q, want the cached role session %s from the container provider", py.Key, py.Method, session.AccessKeyID)
	}
	if !strings.Contains(py.Arn, "deployer") {
		t.Errorf("boto3 is not acting as the role: %s", py.Arn)
	}
	want := map[string]int{"good": 200, "no token": 401, "wrong token": 403, "foreign host": 421, "POST": 405, "other path": 404}
	for name, status := range want {
		if py.Probes[name] != status {
			t.Errorf("%s: status %d, want %d", name, py.Probes[name], status)
		}
	}

	// The environment: an endpoint and a token, no credentials.
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		if _, ok := py.Env[name]; ok {
			t.Errorf("the child's environment has %s", name)
		}
	}
	for name, value := range py.Env {
		for _, secret := range []string{u.secret, session.SecretAccessKey, session.SessionToken} {
			if strings.Contains(value, secret) {
				t.Errorf("the child's %s holds a secret", name)
			}
		}
	}
	uri := py.Env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
	if !strings.HasPrefix(uri, "http://127.0.0.1:"+strconv.Itoa(py.Port)+"/") {
		t.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI = %q", uri)
	}
	tok := py.Env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Errorf("the token is %d characters, want 256 bits in hex", len(tok))
	}
	if strings.Contains(py.Argv, tok) {
		t.Error("the token appears in some process's argv")
	}
	if py.Env["BROKER_PROFILE"] != "deploy" || py.Env["AWS_REGION"] != "eu-central-1" || py.Env["AWS_DEFAULT_REGION"] != "eu-central-1" {
		t.Errorf("child has BROKER_PROFILE %q, AWS_REGION %q, AWS_DEFAULT_REGION %q",
			py.Env["BROKER_PROFILE"], py.Env["AWS_REGION"], py.Env["AWS_DEFAULT_REGION"])
	}
	// The server stopped with the child.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(py.Port), 5*time.Second); err == nil {
		c.Close()
		t.Error("the endpoint still accepts connections after the child exited")
	}

	// An aws-sdk-go-v2 program gets the same session, with no new MFA code.
	test, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r = w.cmd(append(inherited, sdkChildVar+"=1"), brokerBin, "exec", "--server", "deploy", "--", test)
	if r.code != 0 {
		t.Fatalf("exec --server with the Go SDK child: exit %d; stderr: %s", r.code, r.stderr)
	}
	var gosdk sdkReport
	if err := json.Unmarshal([]byte(r.stdout), &gosdk); err != nil {
		t.Fatalf("the Go SDK child printed no report (%v): %q", err, r.stdout)
	}
	if gosdk.AccessKeyID != session.AccessKeyID || gosdk.SessionToken != session.SessionToken || !gosdk.CanExpire {
		t.Errorf("aws-sdk-go-v2 got key %s from %s (expiring %v), want the cached role session %s",
			gosdk.AccessKeyID, gosdk.Source, gosdk.CanExpire, session.AccessKeyID)
	}
	if !strings.Contains(gosdk.Arn, "deployer") || gosdk.Region != "eu-central-1" {
		t.Errorf("aws-sdk-go-v2 acts as %s in %s", gosdk.Arn, gosdk.Region)
	}
	if n := w.mfaAsks(); n != 1 {
		t.Errorf("MFA asked %d times, want 1", n)
	}
	w.scanForSecrets(u.secret, session.SecretAccessKey, session.SessionToken, tok)
}

// TestExecServerSignals: broker passes on SIGTERM and the child's status,
// 128+N for a child killed by signal N.
func TestExecServerSignals(t *testing.T) {
	w, _ := serverWorld(t)
	r := w.cmd(nil, brokerBin, "exec", "--server", "dev", "--", "sh", "-c",
		`trap 'exit 42' TERM; kill -TERM $PPID; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 1`)
	if r.code != 42 {
		t.Errorf("a TERM sent to broker ended the child with %d, want its trap's 42; stderr: %s", r.code, r.stderr)
	}
	r = w.cmd(nil, brokerBin, "exec", "--server", "dev", "--", "sh", "-c", "kill -KILL $$")
	if r.code != 128+9 {
		t.Errorf("a child killed by SIGKILL made broker exit %d, want 137", r.code)
	}
	// A failure to get credentials stops before the child runs.
	r = w.cmd(nil, brokerBin, "exec", "--server", "nosuch", "--", "sh", "-c", "echo ran")
	if r.code == 0 || strings.Contains(r.stdout, "ran") {
		t.Errorf("exec --server for a missing profile: exit %d, stdout %q", r.code, r.stdout)
	}
}

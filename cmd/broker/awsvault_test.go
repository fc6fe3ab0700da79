//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/broker-dev/broker/internal/moto"
)

// TestAWSVaultConfigs runs aws-vault configs through broker against moto and
// checks what STS received and what a child got, entry by entry. One world
// for all cases: each rewrites the config and clears the session cache.
func TestAWSVaultConfigs(t *testing.T) {
	w := newWorld(t)
	u := w.newUser("alice")
	w.addKey("source", u)
	mfa := fmt.Sprintf("mfa_serial = %s\nmfa_process = %s\n", u.serial, w.mfaProcess("123456"))
	const admin, target = "arn:aws:iam::123456789012:role/admin", "arn:aws:iam::123456789012:role/target"

	// step runs broker with the config and returns what STS received.
	step := func(t *testing.T, config string, env []string, args ...string) (result, []moto.Request) {
		t.Helper()
		w.writeConfig(config)
		w.mustBroker("clear")
		before := len(w.aws.Requests(t))
		r := w.cmd(env, brokerBin, args...)
		return r, w.aws.Requests(t)[before:]
	}
	ok := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}

	t.Run("chained roles over 1h are capped, a single one is not", func(t *testing.T) {
		config := "[profile source]\n" + mfa +
			"[profile admin]\nsource_profile = source\nrole_arn = " + admin + "\nduration_seconds = 43200\n" +
			"[profile target]\nsource_profile = admin\nrole_arn = " + target + "\nduration_seconds = 43200\n"
		r, reqs := step(t, config, nil, "--debug", "export", "target")
		ok(t, r)
		roles := only(reqs, "AssumeRole")
		if len(roles) != 2 {
			t.Fatalf("%d AssumeRole calls, want 2", len(roles))
		}
		first, second := roles[0], roles[1]
		if first.Params["RoleArn"] != admin || first.Params["DurationSeconds"] != "43200" ||
			first.SigningKeyID != u.keyID || first.SecurityToken || first.Params["SerialNumber"] != u.serial {
			t.Errorf("admin: %v signed by %s (token %v), want 43200 s from the long-term key with MFA", first.Params, first.SigningKeyID, first.SecurityToken)
		}
		if second.Params["RoleArn"] != target || second.Params["DurationSeconds"] != "3600" || !second.SecurityToken {
			t.Errorf("target: %v (session token %v), want 3600 s from the admin session", second.Params, second.SecurityToken)
		}
		if n := strings.Count(r.stderr, "STS grants a chained role 1h at most"); n != 1 {
			t.Errorf("the cap is said %d times in the debug log, want once:\n%s", n, r.stderr)
		}
		if notes := listNotes(t, w, "target"); !containsText(notes, `duration_seconds 12h0m0s of profile "target" is capped to 1h0m0s`) {
			t.Errorf("broker list notes for target: %q", notes)
		}
		if notes := listNotes(t, w, "admin"); len(notes) != 0 {
			t.Errorf("broker list notes for admin, which is not capped: %q", notes)
		}
	})

	t.Run("exec sets each variable once and the caller's AWS_REGION wins", func(t *testing.T) {
		config := "[profile source]\nregion = eu-west-1\n" + mfa
		inherited := []string{
			"AWS_REGION=us-west-2", "AWS_DEFAULT_REGION=ap-south-1",
			"AWS_ACCESS_KEY_ID=AKIA0INHERITEDEXAMPL", "AWS_SECRET_ACCESS_KEY=inherited", "AWS_SESSION_TOKEN=inherited",
			"AWS_SECURITY_TOKEN=inherited", "AWS_CREDENTIAL_EXPIRATION=2000-01-01T00:00:00Z",
			"AWS_SESSION_EXPIRATION=2000-01-01T00:00:00Z", "AWS_PROFILE=other",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/", "AWS_CONTAINER_AUTHORIZATION_TOKEN=x",
		}
		cases := []struct {
			name   string
			env    []string
			region string
		}{
			{"AWS_REGION over AWS_DEFAULT_REGION and the profile", inherited, "us-west-2"},
			{"AWS_DEFAULT_REGION over the profile", []string{"AWS_DEFAULT_REGION=ap-south-1"}, "ap-south-1"},
			{"the profile's region", nil, "eu-west-1"},
		}
		for _, c := range cases {
			for _, mode := range [][]string{{"exec", "source", "--", "env", "-0"}, {"exec", "--server", "source", "--", "env", "-0"}} {
				r, reqs := step(t, config, c.env, mode...)
				ok(t, r)
				env := environEntries(t, r.stdout)
				want := map[string]string{"AWS_REGION": c.region, "AWS_DEFAULT_REGION": c.region, "BROKER_PROFILE": "source"}
				if mode[1] == "--server" {
					want["AWS_CONTAINER_CREDENTIALS_FULL_URI"], want["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "", "" // values checked below
					if slices.Contains(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "http://127.0.0.1:1/") || slices.Contains(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"], "x") {
						t.Errorf("%s: the inherited container variables reached the child", c.name)
					}
				} else {
					want["AWS_ACCESS_KEY_ID"], want["AWS_SESSION_TOKEN"] = moto.FixedSessionKeyID, moto.FixedSessionToken
					want["AWS_SECRET_ACCESS_KEY"], want["AWS_CREDENTIAL_EXPIRATION"] = moto.FixedSessionSecret, ""
				}
				for name, value := range want {
					got := env[name]
					if len(got) != 1 || value != "" && got[0] != value {
						t.Errorf("%s, %s: the child has %s = %q, want one entry %q", c.name, mode[1], name, got, value)
					}
				}
				for name, values := range env {
					if len(values) != 1 {
						t.Errorf("%s, %s: the child has %d entries for %s", c.name, mode[1], len(values), name)
					}
					if strings.HasPrefix(strings.Join(values, ""), "inherited") || name == "AWS_PROFILE" || name == "AWS_SESSION_EXPIRATION" ||
						name == "AWS_SECURITY_TOKEN" {
						t.Errorf("%s, %s: the inherited %s reached the child", c.name, mode[1], name)
					}
				}
				if mode[1] != "--server" {
					for _, req := range only(reqs, "GetSessionToken") {
						if req.Region != c.region {
							t.Errorf("%s: GetSessionToken signed for %s, the child got %s", c.name, req.Region, c.region)
						}
					}
				}
				if n := len(only(reqs, "GetSessionToken")); n != 1 {
					t.Errorf("%s, %s: %d GetSessionToken calls, want 1", c.name, mode[1], n)
				}
			}
		}
	})

	t.Run("[default] fills in what a profile lacks, but not role_arn", func(t *testing.T) {
		config := "[default]\nregion = ap-northeast-1\nrole_session_name = alice-session\n" + mfa +
			"role_arn = arn:aws:iam::123456789012:role/not-for-everyone\n" +
			"[profile source]\n" +
			"[profile target]\nsource_profile = source\nrole_arn = " + target + "\n"
		r, reqs := step(t, config, nil, "export", "target")
		ok(t, r)
		gst, roles := only(reqs, "GetSessionToken"), only(reqs, "AssumeRole")
		if len(gst) != 1 || gst[0].Params["SerialNumber"] != u.serial || gst[0].Region != "ap-northeast-1" {
			t.Errorf("GetSessionToken calls: %+v, want one with [default]'s mfa_serial, in its region", gst)
		}
		if len(roles) != 1 || roles[0].Params["RoleArn"] != target || roles[0].Params["RoleSessionName"] != "alice-session" {
			t.Errorf("AssumeRole calls: %+v, want target's role with [default]'s role_session_name", roles)
		}
		r, reqs = step(t, config, nil, "export", "source")
		ok(t, r)
		if n := len(only(reqs, "AssumeRole")); n != 0 {
			t.Errorf("source assumed [default]'s role_arn (%d AssumeRole calls)", n)
		}
	})

	t.Run("source identity and session tags reach STS", func(t *testing.T) {
		config := "[profile source]\n" + mfa + "output = json\ncli_pager =\ns3 =\n  addressing_style = path\n" +
			"[profile tagged]\nsource_profile = source\nrole_arn = " + target + "\n" +
			"source_identity = alice-fixed\nsession_tags = team=infra, cost = 42\ntransitive_session_tags = team\nsesion_tags = typo=1\n" +
			"[profile user]\nsource_profile = source\nrole_arn = " + admin + "\nbroker_source_identity = user\n"
		r, reqs := step(t, config, nil, "export", "tagged")
		ok(t, r)
		roles := only(reqs, "AssumeRole")
		want := map[string]string{"SourceIdentity": "alice-fixed", "Tags.member.1.Key": "team", "Tags.member.1.Value": "infra",
			"Tags.member.2.Key": "cost", "Tags.member.2.Value": "42", "TransitiveTagKeys.member.1": "team"}
		if len(roles) != 1 || !hasParams(roles[0], want) {
			t.Errorf("AssumeRole calls %+v, want one with %v", roles, want)
		}
		// aws-vault's variables override the profile's.
		r, reqs = step(t, config, []string{"AWS_SESSION_TAGS=project=x", "AWS_TRANSITIVE_TAGS=project"}, "export", "tagged")
		ok(t, r)
		roles = only(reqs, "AssumeRole")
		want = map[string]string{"Tags.member.1.Key": "project", "Tags.member.1.Value": "x", "TransitiveTagKeys.member.1": "project"}
		if len(roles) != 1 || !hasParams(roles[0], want) || roles[0].Params["Tags.member.2.Key"] != "" {
			t.Errorf("with AWS_SESSION_TAGS: AssumeRole calls %+v, want only %v", roles, want)
		}
		r, reqs = step(t, config, nil, "export", "user")
		ok(t, r)
		if ids, roles := only(reqs, "GetCallerIdentity"), only(reqs, "AssumeRole"); len(ids) != 1 || ids[0].SigningKeyID != u.keyID ||
			len(roles) != 1 || roles[0].Params["SourceIdentity"] != "alice" {
			t.Errorf("broker_source_identity = user: GetCallerIdentity %+v, AssumeRole %+v; want the user's name alice", ids, roles)
		}
		if notes := listNotes(t, w, "tagged"); !slices.Equal(notes, []string{"unknown config keys, ignored: sesion_tags"}) {
			t.Errorf("broker list notes for tagged: %q", notes)
		}
		if notes := listNotes(t, w, "source"); len(notes) != 0 {
			t.Errorf("broker list reports the AWS CLI's own keys: %q", notes)
		}
	})

	t.Run("session tags along a role chain, as STS accepts them", func(t *testing.T) {
		chain := "[default]\nsession_tags = team=infra,cost=42\ntransitive_session_tags = team\n" +
			"[profile source]\n" + mfa +
			"[profile admin]\nsource_profile = source\nrole_arn = " + admin + "\n" +
			"[profile target]\nsource_profile = admin\nrole_arn = " + target + "\n"
		// tagsOf is the Tags and TransitiveTagKeys an AssumeRole sent.
		tagsOf := func(r moto.Request) (tags, transitive []string) {
			for i := 1; r.Params[fmt.Sprintf("Tags.member.%d.Key", i)] != ""; i++ {
				tags = append(tags, r.Params[fmt.Sprintf("Tags.member.%d.Key", i)]+"="+r.Params[fmt.Sprintf("Tags.member.%d.Value", i)])
			}
			for i := 1; r.Params[fmt.Sprintf("TransitiveTagKeys.member.%d", i)] != ""; i++ {
				transitive = append(transitive, r.Params[fmt.Sprintf("TransitiveTagKeys.member.%d", i)])
			}
			return tags, transitive
		}
		for _, tt := range []struct {
			name, own              string
			second, secondTransitv []string
		}{
			// [default]'s on both roles, as in aws-vault, but not team
			// again: admin's session carries it, and STS refuses it twice.
			{"from [default]", "", []string{"cost=42"}, nil},
			// target's own tags, and no transitive key naming a tag not sent.
			{"target's own", "session_tags = k=v\n", []string{"k=v"}, nil},
		} {
			r, reqs := step(t, chain+tt.own, nil, "export", "target")
			ok(t, r)
			roles := only(reqs, "AssumeRole")
			if len(roles) != 2 {
				t.Fatalf("%s: %d AssumeRole calls, want 2", tt.name, len(roles))
			}
			tags, transitive := tagsOf(roles[0])
			if !slices.Equal(tags, []string{"team=infra", "cost=42"}) || !slices.Equal(transitive, []string{"team"}) {
				t.Errorf("%s: admin's AssumeRole sent tags %q, transitive %q", tt.name, tags, transitive)
			}
			tags, transitive = tagsOf(roles[1])
			if !slices.Equal(tags, tt.second) || !slices.Equal(transitive, tt.secondTransitv) {
				t.Errorf("%s: target's AssumeRole sent tags %q, transitive %q; want %q, %q", tt.name, tags, transitive, tt.second, tt.secondTransitv)
			}
		}
		// Setting again a tag the chain made transitive: refused before STS.
		r, reqs := step(t, chain+"session_tags = team=other\n", nil, "export", "target")
		assertFailure(t, r, `session_tags of profile "target" sets team, which profile "admin"'s role already made transitive`)
		if !strings.Contains(r.stderr, "hint: leave team out of session_tags") {
			t.Errorf("no hint: %s", r.stderr)
		}
		if n := len(only(reqs, "AssumeRole")); n != 0 {
			t.Errorf("%d AssumeRole calls for a refused tag", n)
		}
	})

	t.Run("source identity is checked before STS, and can be turned off", func(t *testing.T) {
		config := "[default]\nbroker_source_identity = user\n[profile source]\n" + mfa +
			"[profile off]\nsource_profile = source\nrole_arn = " + target + "\nbroker_source_identity = none\n" +
			"[profile spaced]\nsource_profile = source\nrole_arn = " + target + "\nsource_identity = alice smith\n"
		r, reqs := step(t, config, nil, "export", "off")
		ok(t, r)
		if roles, ids := only(reqs, "AssumeRole"), only(reqs, "GetCallerIdentity"); len(roles) != 1 || roles[0].Params["SourceIdentity"] != "" || len(ids) != 0 {
			t.Errorf("broker_source_identity = none under [default]'s user: AssumeRole %+v, GetCallerIdentity %d", roles, len(ids))
		}
		r, reqs = step(t, config, nil, "export", "spaced")
		assertFailure(t, r, w.config+":13: source_identity: source identity \"alice smith\" may hold only letters, digits and _ + = , . @ -")
		if len(reqs) != 0 {
			t.Errorf("a bad source_identity reached AWS: %+v", reqs)
		}
		r, reqs = step(t, config, []string{"AWS_SOURCE_IDENTITY=alice smith"}, "export", "off")
		assertFailure(t, r, "AWS_SOURCE_IDENTITY: source identity \"alice smith\"")
		if len(reqs) != 0 {
			t.Errorf("a bad AWS_SOURCE_IDENTITY reached AWS: %+v", reqs)
		}
	})

	t.Run("endpoint_url and services sections, in the SDKs' order", func(t *testing.T) {
		const dead = "http://127.0.0.1:1"
		base := slices.DeleteFunc(slices.Clone(w.env), func(kv string) bool { return strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") })
		saved := w.env
		w.env = base
		defer func() { w.env = saved }()
		services := func(url string) string {
			return "[services local]\nsts =\n  endpoint_url = " + url + "\n"
		}
		cases := []struct {
			name, profile, services string
			env                     []string
		}{
			{"profile endpoint_url", "endpoint_url = " + w.aws.URL + "\n", "", nil},
			{"services over the profile", "endpoint_url = " + dead + "\nservices = local\n", services(w.aws.URL), nil},
			{"AWS_ENDPOINT_URL over services", "services = local\n", services(dead), []string{"AWS_ENDPOINT_URL=" + w.aws.URL}},
			{"AWS_ENDPOINT_URL_STS over AWS_ENDPOINT_URL", "endpoint_url = " + dead + "\n", "",
				[]string{"AWS_ENDPOINT_URL=" + dead, "AWS_ENDPOINT_URL_STS=" + w.aws.URL}},
		}
		for _, c := range cases {
			r, reqs := step(t, "[profile source]\n"+mfa+c.profile+c.services, c.env, "export", "source")
			if r.code != 0 {
				t.Errorf("%s: exit %d: %s", c.name, r.code, r.stderr)
				continue
			}
			if n := len(only(reqs, "GetSessionToken")); n != 1 {
				t.Errorf("%s: moto got %d GetSessionToken calls, want 1", c.name, n)
			}
		}
		r, reqs := step(t, "[profile source]\n"+mfa+"endpoint_url = "+dead+"\n", nil, "export", "source")
		if r.code == 0 || len(reqs) != 0 || !strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("a dead endpoint_url: exit %d, %d calls reached moto, stderr %q", r.code, len(reqs), r.stderr)
		}
	})

	t.Run("region comes from the profile itself, not its source", func(t *testing.T) {
		config := "[profile source]\nregion = eu-central-1\n" + mfa +
			"[profile target]\nsource_profile = source\nrole_arn = " + target + "\n"
		r, reqs := step(t, config, nil, "exec", "target", "--", "env", "-0")
		ok(t, r)
		for _, req := range reqs {
			if req.Region != "us-east-1" {
				t.Errorf("%s signed for %s, want us-east-1 (target names no region)", req.Action, req.Region)
			}
		}
		if env := environEntries(t, r.stdout); env["AWS_REGION"] != nil || env["AWS_DEFAULT_REGION"] != nil {
			t.Errorf("the child got a region: %q %q", env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
		}
	})

	t.Run("aws-vault's variables are read or named", func(t *testing.T) {
		config := "[profile source]\nmfa_serial = arn:aws:iam::123456789012:mfa/wrong\nmfa_process = " + w.mfaProcess("123456") + "\n" +
			"[profile target]\nsource_profile = source\nrole_arn = " + target + "\nduration_seconds = 900\n"
		env := []string{"AWS_MFA_SERIAL=" + u.serial, "AWS_ASSUME_ROLE_TTL=45m", "AWS_CHAINED_SESSION_TOKEN_TTL=10h"}
		r, reqs := step(t, config, env, "export", "target")
		ok(t, r)
		gst, roles := only(reqs, "GetSessionToken"), only(reqs, "AssumeRole")
		if len(gst) != 1 || gst[0].Params["SerialNumber"] != u.serial || gst[0].Params["DurationSeconds"] != "36000" {
			t.Errorf("GetSessionToken calls %+v, want AWS_MFA_SERIAL's device for 10 h", gst)
		}
		if len(roles) != 1 || roles[0].Params["DurationSeconds"] != "2700" {
			t.Errorf("AssumeRole calls %+v, want AWS_ASSUME_ROLE_TTL's 45 min", roles)
		}
		l := w.cmd([]string{"AWS_VAULT_BACKEND=file", "AWS_ROLE_ARN=" + admin}, brokerBin, "list", "--json")
		if l.code != 0 || len(decodeList(l.stdout)) == 0 ||
			!strings.Contains(l.stderr, "AWS_VAULT_BACKEND is aws-vault's and broker ignores it; use BROKER_BACKEND") ||
			!strings.Contains(l.stderr, "AWS_ROLE_ARN is aws-vault's and broker ignores it") {
			t.Errorf("broker list with aws-vault's variables set: exit %d, stderr %q", l.code, l.stderr)
		}
	})

	t.Run("exec refuses inside an aws-vault shell", func(t *testing.T) {
		for _, args := range [][]string{{"exec", "source", "--", "env"}, {"exec", "--server", "source", "--", "env"}} {
			r, reqs := step(t, "[profile source]\n"+mfa, []string{"AWS_VAULT=outer"}, args...)
			if r.code == 0 || r.stdout != "" || len(reqs) != 0 || !strings.Contains(r.stderr, `inside an aws-vault shell for profile "outer"`) {
				t.Errorf("%v with AWS_VAULT set: exit %d, stdout %q, %d STS calls, stderr %q", args, r.code, r.stdout, len(reqs), r.stderr)
			}
		}
	})
}

func only(reqs []moto.Request, action string) []moto.Request {
	var out []moto.Request
	for _, r := range reqs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

func hasParams(r moto.Request, want map[string]string) bool {
	for k, v := range want {
		if r.Params[k] != v {
			return false
		}
	}
	return true
}

// environEntries splits `env -0` output into its entries by name, keeping
// every entry of a name given more than once.
func environEntries(t *testing.T, out string) map[string][]string {
	t.Helper()
	env := map[string][]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("env -0 printed %q", kv)
		}
		env[name] = append(env[name], value)
	}
	return env
}

// listNotes are the notes `broker list --json` gives for profile.
func listNotes(t *testing.T, w *world, profile string) []string {
	t.Helper()
	var rows []struct {
		Name  string   `json:"name"`
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(w.mustBroker("list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == profile {
			return r.Notes
		}
	}
	t.Fatalf("broker list has no profile %q", profile)
	return nil
}

func containsText(notes []string, s string) bool {
	return slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, s) })
}

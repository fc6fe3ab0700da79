package moto

import (
	"encoding/base64"
	"fmt"
	"testing"
)

func entry(headers, method, url, body string, encoded bool) string {
	b := "null"
	if body != "" || encoded {
		if encoded {
			body = base64.StdEncoding.EncodeToString([]byte(body))
		}
		b = fmt.Sprintf("%q", body)
	}
	return fmt.Sprintf(`{"headers": {%s}, "method": %q, "url": %q, "body": %s, "body_encoded": %v}`, headers, method, url, b, encoded)
}

const (
	formCT  = `"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"`
	authSTS = `"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE1/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"`
	authIAM = `"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE2/20260101/eu-west-1/iam/aws4_request, SignedHeaders=host, Signature=abc", "X-Amz-Security-Token": "tok"`
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		name string
		line string
		keep bool
		want Request
	}{
		{
			name: "query protocol, base64 body",
			line: entry(formCT+", "+authSTS, "POST", "http://127.0.0.1:1/",
				"Action=GetSessionToken&Version=2011-06-15&SerialNumber=arn%3Aaws%3Aiam%3A%3A1%3Amfa%2Fa&TokenCode=123456", true),
			keep: true,
			want: Request{Action: "GetSessionToken", SigningKeyID: "AKIAEXAMPLE1", Service: "sts", Region: "us-east-1",
				Params: map[string]string{"Version": "2011-06-15", "SerialNumber": "arn:aws:iam::1:mfa/a", "TokenCode": "123456"}},
		},
		{
			name: "session credentials, plain body",
			line: entry(`"content-type": "application/x-www-form-urlencoded", `+authIAM, "POST", "http://127.0.0.1:1/",
				"Action=ListUsers", false),
			keep: true,
			want: Request{Action: "ListUsers", SigningKeyID: "ASIAEXAMPLE2", Service: "iam", Region: "eu-west-1", SecurityToken: true,
				Params: map[string]string{}},
		},
		{
			name: "GET with query string",
			line: entry(authSTS, "GET", "http://127.0.0.1:1/?Action=GetCallerIdentity&Version=2011-06-15", "", false),
			keep: true,
			want: Request{Action: "GetCallerIdentity", SigningKeyID: "AKIAEXAMPLE1", Service: "sts", Region: "us-east-1",
				Params: map[string]string{"Version": "2011-06-15"}},
		},
		{
			name: "presigned",
			line: entry("", "GET", "http://127.0.0.1:1/?Action=GetCallerIdentity&X-Amz-Credential=AKIAP%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Security-Token=t", "", true),
			keep: true,
			want: Request{Action: "GetCallerIdentity", SigningKeyID: "AKIAP", Service: "sts", Region: "us-east-1", SecurityToken: true,
				Params: map[string]string{"X-Amz-Credential": "AKIAP/20260101/us-east-1/sts/aws4_request", "X-Amz-Security-Token": "t"}},
		},
		{
			name: "JSON protocol",
			line: entry(`"X-Amz-Target": "AWSSecurityTokenServiceV20110615.AssumeRole", "Content-Type": "application/x-amz-json-1.0", `+authSTS,
				"POST", "http://127.0.0.1:1/", `{"RoleArn":"arn:r","DurationSeconds":900}`, true),
			keep: true,
			want: Request{Action: "AssumeRole", SigningKeyID: "AKIAEXAMPLE1", Service: "sts", Region: "us-east-1",
				Params: map[string]string{"RoleArn": "arn:r", "DurationSeconds": "900"}},
		},
		{
			name: "unsigned",
			line: entry(formCT, "POST", "http://127.0.0.1:1/", "Action=GetSessionToken", true),
			keep: true,
			want: Request{Action: "GetSessionToken", Params: map[string]string{}},
		},
		{name: "moto-api", line: entry("", "POST", "http://127.0.0.1:1/moto-api/reset", "", true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, keep, err := parseEntry([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if keep != tt.keep {
				t.Fatalf("keep = %v, want %v", keep, tt.keep)
			}
			if !keep {
				return
			}
			if got.Action != tt.want.Action || got.SigningKeyID != tt.want.SigningKeyID || got.Service != tt.want.Service ||
				got.Region != tt.want.Region || got.SecurityToken != tt.want.SecurityToken {
				t.Errorf("got %q %q %q %q token=%v, want %q %q %q %q token=%v",
					got.Action, got.SigningKeyID, got.Service, got.Region, got.SecurityToken,
					tt.want.Action, tt.want.SigningKeyID, tt.want.Service, tt.want.Region, tt.want.SecurityToken)
			}
			if fmt.Sprint(got.Params) != fmt.Sprint(tt.want.Params) {
				t.Errorf("Params = %v, want %v", got.Params, tt.want.Params)
			}
		})
	}
}

func TestParseRecordingRejectsGarbage(t *testing.T) {
	if _, err := parseRecording([]byte("{\"url\": \"http://x/\"}\nnot json\n")); err == nil {
		t.Error("no error for a line that is not JSON")
	}
	reqs, err := parseRecording([]byte("\n\n"))
	if err != nil || len(reqs) != 0 {
		t.Errorf("blank recording: %v, %v", reqs, err)
	}
}

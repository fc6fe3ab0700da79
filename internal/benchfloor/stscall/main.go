// Command stscall is the floor of scripts/bench.sh's cold case: the one STS
// call a cold `broker export` of an MFA profile makes, and nothing else. It
// sends one GetSessionToken (with the same serial number, code and duration
// broker sends) signed with static credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY to AWS_ENDPOINT_URL with aws-sdk-go-v2, as
// broker/aws.go builds its client, and prints the session as a
// credential_process document.
//
// Everything broker's cold call costs above this program is broker's own:
// its larger binary starting, config, keychain, lock, the MFA process and
// the cache write.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type document struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "stscall:", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		return fmt.Errorf("AWS_ENDPOINT_URL is not set")
	}
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	client := sts.New(sts.Options{
		Region: "eu-west-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Timeout: 10 * time.Second},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		DurationSeconds: aws.Int32(8 * 3600), // broker's default session,
		SerialNumber:    aws.String("arn:aws:iam::123456789012:mfa/bench"),
		TokenCode:       aws.String("123456"),
	})
	if err != nil {
		return err
	}
	c := out.Credentials
	w := bufio.NewWriter(os.Stdout)
	err = json.NewEncoder(w).Encode(document{
		Version:         1,
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expiration:      aws.ToTime(c.Expiration).UTC().Format(time.RFC3339),
	})
	if err == nil {
		err = w.Flush()
	}
	return err
}
